"""Raw data end to end through the production configuration: an operator completes a visit and
closes the night; a real Celery worker on the Redis broker, sharing the PostgreSQL test
database, the landing directory and the archive's storage, writes the execution's frames and
the night's calibrations, then ingests them (the scan each writing task queues); as archived
they open with astropy and verify their checksums."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from django.conf import settings

from archive.models import ArchiveFile
from observations import night
from observations.models import Execution
from tests.integration.conftest import NEEDS_REDIS
from tests.scheduling.test_nightlog import HOUR, night_world

pytestmark = [pytest.mark.services, NEEDS_REDIS]

WAIT_S = 120


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Path:
    """The landing directory of this process and of the worker (requested before it starts:
    the worker reads it from its environment)."""
    path, root = tmp_path / "landing", tmp_path / "archive"
    path.mkdir()
    root.mkdir()
    monkeypatch.setenv("DATAFLOW_RAW_DATA_LANDING", str(path))
    monkeypatch.setenv("DATAFLOW_ARCHIVE_ROOT", str(root))
    settings.RAW_DATA_LANDING = path
    settings.ARCHIVE_ROOT = root
    return path


def archived(frames: list[Path], proc: subprocess.Popen[str]) -> list[Path]:
    """Where the archive stored ``frames`` (by name), once the worker ingested them all."""
    names = [frame.name for frame in frames]
    deadline = time.monotonic() + WAIT_S
    while ArchiveFile.objects.filter(arcfile__in=names).count() < len(names):
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.communicate()[0]}")
        if time.monotonic() > deadline:
            pytest.fail(f"The worker archived not all of {names} within {WAIT_S} s")
        time.sleep(0.25)
    stored = dict(
        ArchiveFile.objects.filter(arcfile__in=names).values_list("arcfile", "storage_path")
    )
    return [Path(settings.ARCHIVE_ROOT) / stored[name] for name in names]


def wait_for(path: Path, proc: subprocess.Popen[str]) -> list[Path]:
    """The frames a manifest names, once the worker wrote it."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.communicate()[0]}")
        if time.monotonic() > deadline:
            pytest.fail(f"The worker wrote no {path.name} within {WAIT_S} s")
        time.sleep(0.25)
    return [path.parent.parent / name for name in json.loads(path.read_text())["files"]]


def assert_valid_frames(frames: list[Path]) -> None:
    assert frames
    for frame in frames:
        with fits.open(frame, checksum=True) as hdul:
            for hdu in hdul:
                assert "CHECKSUM" in hdu.header and "DATASUM" in hdu.header, frame
                assert hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1, frame


def test_a_worker_writes_a_completed_visits_frames_and_the_nights_calibrations(
    landing: Path, worker: tuple[subprocess.Popen[str], Path]
) -> None:
    proc, _ = worker
    # given an accepted OB started by the operator (committed: the worker sees it)
    world = night_world(n_obs=1)
    ob = world.obs[0]
    visit = night.visit_start(
        telescope_id=world.telescope_id, ob_id=ob.pk, actor=world.operator, at=world.evening
    )
    # when the operator grades it A
    night.visit_complete(
        visit_id=visit.pk, grade="A", actor=world.operator, at=world.evening + HOUR
    )
    # then the worker writes its frames to the landing area: they open, verify their
    # checksums and name the OB and its programme
    execution = Execution.objects.get(visit=visit)
    frames = archived(
        wait_for(landing / ".manifests" / f"execution-{execution.pk}.json", proc), proc
    )
    assert_valid_frames(frames)
    header = fits.getheader(frames[-1])
    assert header["HIERARCH ESO OBS ID"] == ob.pk
    assert header["HIERARCH ESO OBS PROG ID"] == f"{world.phase2.proposal.programme_id}(A)"
    assert header["TELESCOP"] == world.phase2.sm.telescope.name
    assert header["ARCFILE"] == frames[-1].name
    # when the operator closes the night
    night.night_close(telescope_id=world.telescope_id, night=world.night, actor=world.operator)
    # then the worker writes the night's calibrations, valid too
    instrument = world.phase2.sm.instrument_id
    name = f"calibrations-{world.telescope_id}-{world.night}-{instrument}.json"
    calibrations = archived(wait_for(landing / ".manifests" / name, proc), proc)
    assert_valid_frames(calibrations)
    assert not set(calibrations) & set(frames)
