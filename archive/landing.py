"""The landing area (where the night's frames are written) and its transfers: a scan records a
waiting transfer for every new file, science first, and queues their ingestion in batches
(``archive.tasks_ingest``); each file then goes through the one write path
(``archive.services.ingest_file``), which closes its transfer."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from archive import ingest
from archive.models import ArchiveFile, QuarantineSource, Transfer, TransferStatus
from archive.services import (
    FINISHED,
    PRIORITIES,
    UNREADABLE_PRIORITY,
    IngestResult,
    LinkCache,
    finish_transfer,
    ingest_file,
    landing_dir,
    name_lock,
)

#: Landing files queued per ingestion task.
BATCH = 50
IN_FLIGHT = (TransferStatus.WAITING, TransferStatus.INGESTING)
#: A transfer in flight for longer is queued again by the next scan.
STALE = datetime.timedelta(minutes=15)


def landing_files(directory: Path | None = None) -> list[Path]:
    """``*.fits`` at the landing area's top level (dot-files are the writer's)."""
    landing = directory or landing_dir()
    if not landing.is_dir():
        return []
    return sorted(
        p
        for p in landing.iterdir()
        if p.name.endswith(".fits") and not p.name.startswith(".") and p.is_file()
    )


def landing_scan(*, queue: bool = True) -> list[int]:
    """A waiting transfer for every landing file not yet in flight, science first; queues
    their ingestion in batches after the commit (``queue``), with the transfers in flight for
    longer than ``STALE`` whose file is still there (a lost message, a worker that died). The
    new transfers' ids."""
    stale_before = timezone.now() - STALE
    with transaction.atomic():
        name_lock("landing-scan")
        in_flight = dict(
            Transfer.objects.filter(status__in=IN_FLIGHT).values_list("file_name", "queued_at")
        )
        new: list[Transfer] = []
        stale: list[str] = []
        for path in landing_files():
            if path.name in in_flight:
                if in_flight[path.name] < stale_before:
                    stale.append(path.name)
                continue
            try:
                size = path.stat().st_size
                category, night = _peek(path)
            except FileNotFoundError:
                continue  # ingested meanwhile
            new.append(
                Transfer(
                    file_name=path.name,
                    instrument_name=path.name.split(".", 1)[0][:32],
                    night=night,
                    size_bytes=size,
                    priority=PRIORITIES.get(category, UNREADABLE_PRIORITY),
                )
            )
        new.sort(key=lambda t: (t.priority, t.file_name))
        created = Transfer.objects.bulk_create(new)
        ids = [t.pk for t in created]
        if not ids or ids[0] is None:  # backends without RETURNING on bulk inserts
            names = [t.file_name for t in new]
            by_name = dict(
                Transfer.objects.filter(
                    file_name__in=names, status=TransferStatus.WAITING
                ).values_list("file_name", "pk")
            )
            ids = [by_name[n] for n in names if n in by_name]
        again = list(
            Transfer.objects.filter(file_name__in=stale, status__in=IN_FLIGHT).values_list(
                "pk", flat=True
            )
        )
        if queue and (ids or again):
            transaction.on_commit(lambda: queue_transfers([*ids, *again]))
    return ids


def queue_transfers(ids: Sequence[int]) -> None:
    from archive.tasks_ingest import ingest_transfers

    for start in range(0, len(ids), BATCH):
        ingest_transfers.delay(list(ids[start : start + BATCH]))


def _peek(path: Path) -> tuple[str, datetime.date | None]:
    """A landing file's category and night from its first header blocks (for the priority
    and the monitor); blanks when unreadable (the ingestion says why)."""
    with path.open("rb") as f:
        head = f.read(ingest.BLOCK * 4)
    try:
        end = head.index(b"END" + b" " * 77)
        values = ingest.parse_cards(head[: end + 80].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return "", None
    category = str(values.get(ingest.DPR_CATG) or "").strip().upper()
    night = None
    lon, date_obs = values.get(ingest.GEOLON), values.get("DATE-OBS")
    if isinstance(lon, int | float) and isinstance(date_obs, str):
        try:
            instant = datetime.datetime.fromisoformat(date_obs).replace(tzinfo=datetime.UTC)
            night = ingest.night_of(instant, float(lon))
        except ValueError:
            pass
    return category, night


def transfer_ingest(*, transfer_id: int, cache: LinkCache | None = None) -> IngestResult:
    """Ingest a transfer's file (idempotent: a finished transfer is left as it is)."""
    return transfers_ingest(transfer_ids=[transfer_id], cache=cache)[0]


def transfers_ingest(
    *, transfer_ids: Sequence[int], cache: LinkCache | None = None
) -> list[IngestResult]:
    """Ingest a batch of transfers' files, one transaction each, after marking them all
    "ingesting" at once; a finished transfer is left as it is (a redelivered batch)."""
    with transaction.atomic():
        rows = {
            t.pk: t for t in Transfer.objects.select_for_update().filter(pk__in=list(transfer_ids))
        }
        # In flight includes "ingesting": a worker that died mid-batch left them so.
        pending = [pk for pk, t in rows.items() if t.status not in FINISHED]
        Transfer.objects.filter(pk__in=pending).update(
            status=TransferStatus.INGESTING, started_at=timezone.now()
        )
    cache = cache or LinkCache()
    results = []
    for pk in transfer_ids:
        transfer = rows[pk]
        if transfer.status in FINISHED:
            results.append(
                IngestResult(
                    "duplicate" if transfer.archive_file_id else "quarantined",
                    archive_file=transfer.archive_file,
                    quarantined=transfer.quarantined,
                )
            )
            continue
        results.append(_transfer_file(transfer, cache))
    return results


def _transfer_file(transfer: Transfer, cache: LinkCache) -> IngestResult:
    path = landing_dir() / transfer.file_name
    try:
        return ingest_file(
            path=path, source=QuarantineSource.LANDING, transfer_id=transfer.pk, cache=cache
        )
    except FileNotFoundError:
        # Gone: ingested by another transfer meanwhile (then this one is that file's too).
        archived = ArchiveFile.objects.filter(arcfile=transfer.file_name).first()
        with transaction.atomic():
            if archived is not None:
                finish_transfer(transfer.pk, TransferStatus.INGESTED, archive_file=archived)
                return IngestResult("duplicate", archive_file=archived)
            Transfer.objects.filter(pk=transfer.pk).update(status=TransferStatus.WAITING)
        return IngestResult("missing", reason=f"{transfer.file_name} is not in the landing area")
