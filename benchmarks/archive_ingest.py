"""Archive ingestion benchmark: the header work per file in one process, and the ingestion's
throughput with one and with two real Celery workers, on PostgreSQL (``DATABASE_URL``, default
the local server) in a throwaway database created and dropped here, with the Redis broker
(``CELERY_BROKER_URL``, default ``redis://127.0.0.1:6379/12``; its queue is purged first).

Run: ``.venv/bin/python -m benchmarks.archive_ingest`` (``--quick`` for a smoke run).

Files: raw frames of the night's planner (``observations.rawdata_plan``: a 64x64 int16 image,
~50 header cards, a TAN WCS, CHECKSUM/DATASUM), an acquisition and nine science exposures per
execution, all of one OB of an approved programme, so every file is linked as in production.

Timed:

(a) header work in process, files/s: ``archive.ingest.read_raw_frame`` over the files' bytes
    (structure, CHECKSUM/DATASUM, sha256, keywords, WCS footprint), against a baseline in the
    same run doing the same with astropy (``fits.open(checksum=True)`` with its warnings as
    errors, the data read, ``WCS(header).calc_footprint()``, hashlib);
(b) the whole ingestion in process (``archive.services.ingest_file``: read, check, link,
    store, row, event, transfer), files/s, for reference;
(c) the landing area's scan queued to one Celery worker (``--pool=solo``), then a new set of
    files to two: files/s from the first transfer started to the last finished, and the ratio.

Targets (the issue's): (a) >= 500 files/s per worker process; (c) two workers >= 1.6x one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/archive_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/12"
FRAMES_PER_EXECUTION = 10
WORKER_TIMEOUT_S = 600


@dataclass(frozen=True)
class Targets:
    header_files_per_s: float = 500.0
    two_workers_ratio: float = 1.6


def verdict(ok: bool) -> str:
    return "MET " if ok else "MISS"


def _setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dataflow.settings.test"
    import django

    django.setup()


# --- files -----------------------------------------------------------------------------------


def make_frames(n: int, *, run_id: str, ob_id: int, day: int) -> dict[str, bytes]:
    """``n`` raw frames (file name -> bytes) of one OB, executions an hour apart from ``day``."""
    from tests.archive.frames import execution_frames, frame_bytes

    files: dict[str, bytes] = {}
    start = dt.datetime(2027, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=60 * day)
    k = 0
    while len(files) < n:
        frames = execution_frames(
            run_id=run_id,
            ob_id=ob_id,
            start=start + dt.timedelta(hours=k),
            science_exposures=(30.0,) * (FRAMES_PER_EXECUTION - 1),
        )
        for frame in frames[: n - len(files)]:
            files[frame.arcfile] = frame_bytes(frame)
        k += 1
    return files


def astropy_header_work(data: bytes) -> None:
    """The baseline: what the reader does, through astropy's public API."""
    from astropy.io import fits
    from astropy.wcs import WCS

    hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Checksum verification failed" is a warning there
        with fits.open(io.BytesIO(data), checksum=True) as hdul:
            header = hdul[0].header
            hdul[0].data  # noqa: B018  # the datasum is checked when the data are read
            if "CTYPE1" in header:
                WCS(header).calc_footprint()
            {k: header[k] for k in ("ARCFILE", "INSTRUME", "DATE-OBS", "MJD-OBS", "EXPTIME")}


@dataclass(frozen=True)
class Rate:
    """Files per second of wall-clock time and of this process's CPU time (on a shared
    machine the CPU rate is what one worker process with a core of its own would do)."""

    wall: float
    cpu: float


def rate(work: Callable[[bytes], object], blobs: list[bytes]) -> Rate:
    t0, c0 = time.perf_counter(), time.process_time()
    for data in blobs:
        work(data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Rate(len(blobs) / wall, len(blobs) / max(cpu, 1e-9))


def header_rate(files: dict[str, bytes], baseline_n: int) -> tuple[Rate, Rate]:
    from archive import ingest

    blobs = list(files.values())
    for data in blobs[:20]:
        ingest.read_raw_frame(data)  # warm up
        astropy_header_work(data)
    return rate(ingest.read_raw_frame, blobs), rate(astropy_header_work, blobs[:baseline_n])


# --- the world and the workers ---------------------------------------------------------------


def make_world() -> tuple[str, int]:
    """An approved programme's run with one OB; (run id, OB id)."""
    from django.contrib.auth.models import User

    from observations.models import Container, ItemType, ObservationBlock
    from proposals.models import Proposal, ProposalStatus
    from tests.factories import PeriodFactory, RunFactory

    pi = User.objects.create(username="bench-pi", email="pi@example.org")
    run = RunFactory.create(proposal__period=PeriodFactory.create(number=130), proposal__pi=pi)
    Proposal.objects.filter(pk=run.proposal_id).update(
        status=ProposalStatus.APPROVED, programme_number=1, programme_id="130.C-0001"
    )
    folder = Container.objects.create(run=run, item_type=ItemType.FOLDER, name="bench")
    ob = ObservationBlock.objects.create(run=run, container=folder, name="OB", status="C")
    return "130.C-0001(A)", ob.pk


def land(files: dict[str, bytes], landing: Path) -> None:
    for name, data in files.items():
        (landing / name).write_bytes(data)


def in_process_rate(files: dict[str, bytes], landing: Path) -> float:
    from archive import services
    from archive.models import ArchiveFile

    land(files, landing)
    paths = sorted(landing.glob("*.fits"))
    cache = services.LinkCache()
    t0 = time.perf_counter()
    for path in paths:
        services.ingest_file(path=path, cache=cache)
    rate = len(paths) / (time.perf_counter() - t0)
    assert ArchiveFile.objects.filter(arcfile__in=list(files)).count() == len(files)
    return rate


def start_workers(n: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = open(logs / f"worker-{n}-{i}.log", "wb")  # noqa: SIM115  # closed with the process
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dataflow", "worker", "--pool=solo",
                 "--concurrency=1", "--loglevel=warning", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"bench{n}-{i}@%h"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def worker_rate(
    n_workers: int, files: dict[str, bytes], landing: Path, env: dict[str, str], logs: Path
) -> float:
    """Files/s of ``n_workers`` Celery workers, first start to last finish."""
    from django.db.models import Max, Min

    from archive.landing import landing_scan
    from archive.models import Transfer, TransferStatus

    land(files, landing)
    procs = start_workers(n_workers, env, logs)
    try:
        time.sleep(3.0)  # let them connect, so the queue is shared from the first batch
        ids = landing_scan(queue=True)
        assert len(ids) == len(files), (len(ids), len(files))
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        done = (TransferStatus.INGESTED, TransferStatus.QUARANTINED)
        while Transfer.objects.filter(pk__in=ids, status__in=done).count() < len(ids):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited; see {logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ingested within {WORKER_TIMEOUT_S} s; see {logs}")
            time.sleep(0.2)
    finally:
        stop(procs)
    span = Transfer.objects.filter(pk__in=ids).aggregate(a=Min("started_at"), b=Max("finished_at"))
    quarantined = Transfer.objects.filter(pk__in=ids, status=TransferStatus.QUARANTINED).count()
    assert quarantined == 0, f"{quarantined} files quarantined"
    return len(ids) / (span["b"] - span["a"]).total_seconds()


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.archive_ingest")
    parser.add_argument("--quick", action="store_true", help="fewer files")
    parser.add_argument("--files", type=int, default=2000, help="files per worker run")
    args = parser.parse_args(argv)
    n = 300 if args.quick else args.files
    targets = Targets()
    _setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from dataflow.celery import app as celery_app

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print(
        f"archive ingestion benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (shared machine: timings are noisy); {connection.vendor}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    landing, root, logs = tmp / "landing", tmp / "archive", tmp / "logs"
    for folder in (landing, root, logs):
        folder.mkdir()
    settings.RAW_DATA_LANDING, settings.ARCHIVE_ROOT = landing, root
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    verdicts: list[bool] = []
    try:
        run_id, ob_id = make_world()
        files = [make_frames(n, run_id=run_id, ob_id=ob_id, day=d) for d in range(4)]
        # (a)
        ours, theirs = header_rate(files[0], baseline_n=min(n, 300))
        ok = ours.cpu >= targets.header_files_per_s
        verdicts.append(ok)
        print(
            f"  {verdict(ok)} (a) header work >= {targets.header_files_per_s:g} files/s per "
            f"worker process: {ours.cpu:,.0f} files/s of CPU time ({1e3 / ours.cpu:.2f} ms a "
            f"file; {ours.wall:,.0f} files/s wall-clock here); astropy's way {theirs.cpu:,.0f} "
            f"files/s of CPU ({theirs.wall:,.0f} wall): {ours.cpu / theirs.cpu:.1f}x"
        )
        # (b)
        rate = in_process_rate(files[1], landing)
        print(f"  (b) whole ingestion in one process (PostgreSQL writes): {rate:,.0f} files/s")
        # (c)
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dataflow.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DATAFLOW_RAW_DATA_LANDING": str(landing),
            "DATAFLOW_ARCHIVE_ROOT": str(root),
        }
        celery_app.conf.task_always_eager = False
        celery_app.control.purge()
        one = worker_rate(1, files[2], landing, env, logs)
        two = worker_rate(2, files[3], landing, env, logs)
        ratio = two / one
        ok = ratio >= targets.two_workers_ratio
        verdicts.append(ok)
        print(f"  (c) one Celery worker: {one:,.0f} files/s; two: {two:,.0f} files/s")
        print(
            f"  {verdict(ok)} (c) two workers >= {targets.two_workers_ratio:g}x one: {ratio:.2f}x"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"  {sum(verdicts)} of {len(verdicts)} targets met")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
