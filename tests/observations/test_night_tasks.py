"""Raw frames as background work (``observations.tasks``): a completed visit queues its
executions' frames once its grades are committed, an aborted one queues nothing, the tasks are
idempotent; closing a night (``night.night_close``, operators and staff) logs it and queues its
calibrations; each writing task then queues the archive's scan of the landing area. Celery runs
eagerly here, the scan is recorded instead of run (the archive's tests ingest);
tests/integration/test_night_worker.py and test_archive_worker.py run a worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from dataflow.accounts.models import Role
from dataflow.errors import NotAllowed
from observations import night, tasks
from observations.models import Execution, NightNote
from tests.factories import UserFactory
from tests.scheduling.test_nightlog import HOUR, night_world

pytestmark = pytest.mark.django_db


class ScanRecorder:
    """Stands for ``archive.tasks_ingest.scan_landing``: counts the scans queued."""

    def __init__(self) -> None:
        self.queued = 0

    def delay(self) -> None:
        self.queued += 1


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> ScanRecorder:
    recorder = ScanRecorder()
    monkeypatch.setattr(tasks, "scan_landing", recorder)
    return recorder


@pytest.fixture
def landing(settings: Any, tmp_path: Path, scans: ScanRecorder) -> Path:
    settings.RAW_DATA_LANDING = tmp_path
    return tmp_path


def test_a_completed_visit_queues_its_frames_on_commit(
    landing: Path, scans: ScanRecorder, django_capture_on_commit_callbacks: Any
) -> None:
    # given a started visit
    world = night_world(n_obs=1)
    visit = night.visit_start(
        telescope_id=world.telescope_id,
        ob_id=world.obs[0].pk,
        actor=world.operator,
        at=world.evening,
    )
    # when the operator grades it
    with django_capture_on_commit_callbacks(execute=False) as queued:
        night.visit_complete(
            visit_id=visit.pk, grade="B", actor=world.operator, at=world.evening + HOUR
        )
    # then nothing is written before the commit, one task is queued for its execution
    assert not list(landing.glob("*.fits"))
    assert len(queued) == 1
    queued[0]()
    # and once it runs, the execution's frames are in the landing area and open with astropy
    execution = Execution.objects.get(visit=visit)
    frames = sorted(landing.glob("*.fits"))
    assert frames and (landing / ".manifests" / f"execution-{execution.pk}.json").exists()
    with fits.open(frames[0], checksum=True) as hdul:
        assert hdul[0].header["HIERARCH ESO OBS ID"] == world.obs[0].pk
    # and running it again writes nothing more; each run queued the archive's scan
    assert tasks.write_frames.delay(execution.pk).get() == len(frames)
    assert sorted(landing.glob("*.fits")) == frames
    assert scans.queued == 2


def test_an_aborted_visit_queues_no_frames(
    landing: Path, django_capture_on_commit_callbacks: Any
) -> None:
    world = night_world(n_obs=1)
    visit = night.visit_start(
        telescope_id=world.telescope_id,
        ob_id=world.obs[0].pk,
        actor=world.operator,
        at=world.evening,
    )
    with django_capture_on_commit_callbacks(execute=True) as queued:
        night.visit_abort(
            visit_id=visit.pk, reason="Clouds.", actor=world.operator, at=world.evening + HOUR
        )
    assert queued == [] and not list(landing.glob("*.fits"))


def test_closing_a_night_logs_it_and_queues_its_calibrations(
    landing: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # given a night with a completed execution
    world = night_world(n_obs=1)
    visit = night.visit_start(
        telescope_id=world.telescope_id,
        ob_id=world.obs[0].pk,
        actor=world.operator,
        at=world.evening,
    )
    night.visit_complete(
        visit_id=visit.pk, grade="A", actor=world.operator, at=world.evening + HOUR
    )
    # when the operator closes it
    with django_capture_on_commit_callbacks(execute=True) as queued:
        note = night.night_close(
            telescope_id=world.telescope_id, night=world.night, actor=world.operator
        )
    # then the log has its line and the calibrations of the night's instrument landed
    assert (note.kind, note.text, note.night) == ("comment", night.NIGHT_CLOSED, world.night)
    assert len(queued) == 1
    manifests = [p.name for p in (landing / ".manifests").iterdir()]
    instrument = world.phase2.sm.instrument_id
    assert manifests == [f"calibrations-{world.telescope_id}-{world.night}-{instrument}.json"]
    assert list(landing.glob("*.fits"))


def test_only_operators_and_staff_close_a_night_and_not_while_a_visit_runs() -> None:
    world = night_world(n_obs=1)
    reviewer = UserFactory.create(username="rita", roles=[Role.REVIEWER])
    with pytest.raises(NotAllowed):
        night.night_close(telescope_id=world.telescope_id, night=world.night, actor=reviewer)
    with pytest.raises(NotAllowed):
        night.night_close(telescope_id=world.telescope_id, night=world.night, actor=world.phase2.pi)
    night.visit_start(
        telescope_id=world.telescope_id,
        ob_id=world.obs[0].pk,
        actor=world.operator,
        at=world.evening,
    )
    with pytest.raises(night.TelescopeBusy, match="is busy with visit"):
        night.night_close(
            telescope_id=world.telescope_id, night=world.night, actor=world.phase2.staff
        )
    assert not NightNote.objects.exists()
