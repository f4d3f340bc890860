"""Ingestion end to end through the production configuration: an operator completes a visit and
closes the night; a real Celery worker on the Redis broker, sharing the PostgreSQL test
database, the landing directory and the archive storage, writes the frames and calibrations,
and the landing area's scan each writing task queues has the same worker ingest them (a scan
queued again on top changes nothing): each frame archived once with the bytes written, linked
to its execution and programme, checksums verified, the landing area emptied.

Run: ``CELERY_BROKER_URL=redis://127.0.0.1:6379/12
DATABASE_URL=postgres://postgres@127.0.0.1:5432/dataflow_ingest pytest -m services
tests/integration/test_archive_worker.py``."""

from __future__ import annotations

import hashlib
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from archive.models import ArchiveFile, Category, QuarantinedFile, Transfer, TransferStatus
from archive.tasks_ingest import scan_landing
from observations import night
from observations.models import Execution
from tests.integration.conftest import NEEDS_REDIS
from tests.integration.test_night_worker import wait_for
from tests.scheduling.test_nightlog import HOUR, night_world

pytestmark = [pytest.mark.services, NEEDS_REDIS]

WAIT_S = 120


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[Path, Path]:
    """The landing area and archive storage of this process and of the worker (requested
    before the worker starts: it reads them from its environment)."""
    landing, root = tmp_path / "landing", tmp_path / "archive"
    landing.mkdir()
    root.mkdir()
    monkeypatch.setenv("DATAFLOW_RAW_DATA_LANDING", str(landing))
    monkeypatch.setenv("DATAFLOW_ARCHIVE_ROOT", str(root))
    settings.RAW_DATA_LANDING = landing
    settings.ARCHIVE_ROOT = root
    return landing, root


def wait_until_ingested(n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    finished = (TransferStatus.INGESTED, TransferStatus.QUARANTINED)
    while Transfer.objects.filter(status__in=finished).count() < n:
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.communicate()[0]}")
        if time.monotonic() > deadline:
            states = list(Transfer.objects.values_list("file_name", "status"))
            pytest.fail(f"Not ingested within {WAIT_S} s: {states}")
        time.sleep(0.25)


def test_a_worker_ingests_what_a_night_produced(
    folders: tuple[Path, Path], worker: tuple[subprocess.Popen[str], Path]
) -> None:
    landing, root = folders
    proc, _ = worker
    # given a night: an OB executed and graded A, the night closed; the worker writes the
    # frames and the calibrations into the landing area
    world = night_world(n_obs=1)
    ob = world.obs[0]
    visit = night.visit_start(
        telescope_id=world.telescope_id, ob_id=ob.pk, actor=world.operator, at=world.evening
    )
    night.visit_complete(
        visit_id=visit.pk, grade="A", actor=world.operator, at=world.evening + HOUR
    )
    execution = Execution.objects.get(visit=visit)
    frames = wait_for(landing / ".manifests" / f"execution-{execution.pk}.json", proc)
    night.night_close(telescope_id=world.telescope_id, night=world.night, actor=world.operator)
    instrument = world.phase2.sm.instrument_id
    name = f"calibrations-{world.telescope_id}-{world.night}-{instrument}.json"
    calibrations = wait_for(landing / ".manifests" / name, proc)
    names = {p.name for p in frames + calibrations}
    # when: a scan queued on top of the writers' own (a redelivered or overlapping scan)
    scan_landing.delay()
    # then the worker archives every frame once: the bytes stored are those it checksummed
    wait_until_ingested(len(names), proc)
    assert not QuarantinedFile.objects.exists()
    archived = {f.arcfile: f for f in ArchiveFile.objects.all()}
    assert set(archived) == names
    for f in archived.values():
        stored = root / f.storage_path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == f.sha256
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # astropy only warns on a checksum mismatch
            with fits.open(stored, checksum=True) as hdus:
                assert hdus[0].header["ARCFILE"] == f.arcfile
    # the execution's frames linked to it, its OB, run and programme; calibrations public
    for path in frames:
        f = archived[path.name]
        assert (f.execution_id, f.ob_id, f.run_id) == (execution.pk, ob.pk, ob.run_id)
        assert f.proposal_id == world.phase2.proposal.pk
    for path in calibrations:
        f = archived[path.name]
        assert f.category == Category.CALIB and f.release_date == f.ingested_at.date()
    # and the landing area holds no frame any more (its manifests stay, the writer's)
    assert not list(landing.glob("*.fits"))
    assert (landing / ".manifests").is_dir()
