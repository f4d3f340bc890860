"""Synthetic archive rows for the VO benchmarks and for trying TAP on a big table.

``manage.py archive_fake_obscore --count 1000000`` writes rows ``FAKE.<seed>.<n>`` (PostgreSQL:
COPY, about 20 s a million; other databases: bulk inserts): positions uniform on the sky south
of +30°, a 0.12° square footprint each, four instruments, exposures over five years, 80 %
science (half still proprietary) and 20 % public calibrations. No files in storage.
``--delete`` removes them again. Rows only, as a benchmark needs: the ingestion is not used.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from archive.models import ArchiveFile, Category

INSTRUMENTS = [("FORS2", "ESO-VLT-U1"), ("UVES", "ESO-VLT-U2"), ("SPHERE", "ESO-VLT-U3"),
               ("MUSE", "ESO-VLT-U4")]  # fmt: skip
MJD_UNIX_EPOCH = 40587.0
HALF_SIDE_DEG = 0.06
COLUMNS = [
    "dp_id", "arcfile", "origfile", "category", "dpr_type", "dpr_tech", "calib_level",
    "instrument_name", "telescope_name", "object_name", "ra_deg", "dec_deg", "footprint",
    "fov_deg", "date_obs", "t_min", "t_max", "exptime_s", "prog_id", "sha256", "size_bytes",
    "storage_path", "header_text", "ingested_at", "release_date", "provenance",
]  # fmt: skip


def fake_rows(count: int, seed: int, start: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed + start)
    ra = rng.uniform(0, 360, count)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 0.5, count)))
    when = rng.uniform(1.7e9, 1.7e9 + 5 * 365.25 * 86400, count)
    exptime = rng.choice([1.0, 30.0, 120.0, 600.0, 1200.0], count)
    instrument = rng.integers(0, len(INSTRUMENTS), count)
    calib = rng.random(count) < 0.2
    proprietary = (~calib) & (rng.random(count) < 0.5)
    today = dt.date.today()
    rows = []
    for i in range(count):
        n = start + i
        date_obs = dt.datetime.fromtimestamp(float(when[i]), tz=dt.UTC)
        stamp = date_obs.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        name, telescope = INSTRUMENTS[int(instrument[i])]
        dp_id = f"FAKE.{seed}.{n:08d}"
        r, d = float(ra[i]), float(dec[i])
        cos_d = max(np.cos(np.radians(d)), 1e-3)
        w = HALF_SIDE_DEG / cos_d
        low, high = d - HALF_SIDE_DEG, d + HALF_SIDE_DEG
        west, east = (r - w) % 360, (r + w) % 360
        footprint = [[west, low], [east, low], [east, high], [west, high]]
        t_min = float(when[i]) / 86400 + MJD_UNIX_EPOCH
        release = (
            today + dt.timedelta(days=365) if proprietary[i] else today - dt.timedelta(days=30)
        )
        rows.append({
            "dp_id": dp_id, "arcfile": dp_id + ".fits", "origfile": f"{name}_{stamp}.fits",
            "category": Category.CALIB if calib[i] else Category.SCIENCE,
            "dpr_type": "FLAT" if calib[i] else "OBJECT", "dpr_tech": "IMAGE",
            "calib_level": 1, "instrument_name": name, "telescope_name": telescope,
            "object_name": "" if calib[i] else f"Field {n % 5000}",
            "ra_deg": r, "dec_deg": d, "footprint": footprint,
            "fov_deg": 2 * HALF_SIDE_DEG * np.sqrt(2), "date_obs": date_obs,
            "t_min": t_min, "t_max": t_min + float(exptime[i]) / 86400,
            "exptime_s": float(exptime[i]), "prog_id": "" if calib[i] else "120.C-0001(A)",
            "sha256": f"{n:064x}", "size_bytes": 2_880 * 1_000,
            "storage_path": f"fake/{dp_id}.fits", "header_text": "",
            "ingested_at": date_obs, "release_date": release, "provenance": [],
        })  # fmt: skip
    return rows


class Command(BaseCommand):
    help = "Write N synthetic ArchiveFile rows (FAKE.<seed>.<n>) for the VO benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch", type=int, default=100_000)
        parser.add_argument("--delete", action="store_true", help="remove the seed's rows")

    def handle(self, *args: Any, **options: Any) -> None:
        seed: int = options["seed"]
        if options["delete"]:
            deleted, _ = ArchiveFile.objects.filter(dp_id__startswith=f"FAKE.{seed}.").delete()
            self.stdout.write(f"Deleted {deleted} rows")
            return
        written = write_fake(options["count"], seed=seed, batch=options["batch"])
        self.stdout.write(f"Wrote {written} rows")


def write_fake(count: int, *, seed: int = 1, batch: int = 100_000) -> int:
    """Write ``count`` more rows of ``seed`` (continuing its numbering); PostgreSQL computes
    them itself (INSERT ... SELECT over generate_series, a fixed random seed)."""
    start = ArchiveFile.objects.filter(dp_id__startswith=f"FAKE.{seed}.").count()
    if connection.vendor == "postgresql":
        # A bulk load: secondary indexes dropped and built again after (much faster than
        # maintaining a GiST and eight B-trees row by row).
        rebuilt = _drop_secondary_indexes() if count >= 100_000 else []
        try:
            for offset in range(0, count, batch):
                first = start + offset
                last = first + min(batch, count - offset) - 1
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SELECT setseed(%s)", [((seed * 7919 + first) % 10_000) / 1e4])
                    cursor.execute(PG_INSERT, {"seed": seed, "first": first, "last": last})
        finally:
            with connection.cursor() as cursor:
                for definition in rebuilt:
                    cursor.execute(definition)
                cursor.execute("ANALYZE archive_archivefile")
        return count
    written = 0
    while written < count:
        size = min(batch, count - written)
        rows = fake_rows(size, seed, start + written)
        ArchiveFile.objects.bulk_create((ArchiveFile(**row) for row in rows), batch_size=2000)
        written += size
    return written


def _drop_secondary_indexes() -> list[str]:
    """Drop the table's indexes that back no constraint; their definitions, to rebuild."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = 'archive_archivefile'::regclass AND NOT i.indisunique "
            "AND NOT i.indisprimary"
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes]


# The same distributions as fake_rows, drawn by PostgreSQL (a million rows in seconds).
PG_INSERT = f"""
INSERT INTO archive_archivefile ({", ".join(COLUMNS)})
SELECT
  'FAKE.' || %(seed)s || '.' || lpad(n::text, 8, '0'),
  'FAKE.' || %(seed)s || '.' || lpad(n::text, 8, '0') || '.fits',
  '', CASE WHEN calib THEN 'CALIB' ELSE 'SCIENCE' END,
  CASE WHEN calib THEN 'FLAT' ELSE 'OBJECT' END, 'IMAGE', 1,
  (ARRAY['FORS2', 'UVES', 'SPHERE', 'MUSE'])[inst],
  (ARRAY['ESO-VLT-U1', 'ESO-VLT-U2', 'ESO-VLT-U3', 'ESO-VLT-U4'])[inst],
  CASE WHEN calib THEN '' ELSE 'Field ' || mod(n, 5000) END,
  ra, dec,
  jsonb_build_array(
    jsonb_build_array(mod((ra - w + 360)::numeric, 360)::float8, dec - {HALF_SIDE_DEG}),
    jsonb_build_array(mod((ra + w)::numeric, 360)::float8, dec - {HALF_SIDE_DEG}),
    jsonb_build_array(mod((ra + w)::numeric, 360)::float8, dec + {HALF_SIDE_DEG}),
    jsonb_build_array(mod((ra - w + 360)::numeric, 360)::float8, dec + {HALF_SIDE_DEG})),
  {2 * HALF_SIDE_DEG * 2**0.5}, to_timestamp(t), t / 86400 + {MJD_UNIX_EPOCH},
  t / 86400 + {MJD_UNIX_EPOCH} + exptime / 86400, exptime,
  CASE WHEN calib THEN '' ELSE '120.C-0001(A)' END,
  lpad(to_hex(n), 64, '0'), 2880000,
  'fake/FAKE.' || %(seed)s || '.' || lpad(n::text, 8, '0') || '.fits', '',
  to_timestamp(t),
  CASE WHEN NOT calib AND proprietary THEN CURRENT_DATE + 365 ELSE CURRENT_DATE - 30 END,
  '[]'::jsonb
FROM (
  SELECT n, ra, dec, t, exptime, inst, calib, proprietary,
         {HALF_SIDE_DEG} / greatest(cos(radians(dec)), 1e-3) AS w
  FROM (
    SELECT n, random() * 360 AS ra, degrees(asin(random() * 1.5 - 1)) AS dec,
           1.7e9 + random() * 5 * 365.25 * 86400 AS t,
           (ARRAY[1.0, 30.0, 120.0, 600.0, 1200.0])[1 + floor(random() * 5)::int] AS exptime,
           1 + floor(random() * 4)::int AS inst, random() < 0.2 AS calib,
           random() < 0.5 AS proprietary
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
  ) AS drawn
) AS fake
"""
