"""The demo's nights (``observations.demo_night``, run by ``seed_demo``): a few nights per
telescope executed through the services on the simulator's plan, graded mostly A and B, one
abort with its reason and the hour lost to weather, each night closed, raw frames landed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archive.models import ArchiveFile, QuarantinedFile
from dataflow.astro.nights import night_boundaries
from observations import demo_night, night
from observations.models import Execution, NightNote, Visit, VisitState
from proposals.review.models import LedgerEntry, LedgerKind
from tests.observations.test_night import accepted_ob
from tests.scheduling.test_nightlog import night_world

pytestmark = pytest.mark.django_db


def test_the_demo_executes_a_few_nights_on_the_simulators_plan_through_the_services(
    settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # given eight accepted OBs of a run (more than a demo night executes) and an operator
    settings.RAW_DATA_LANDING = tmp_path
    world = night_world(n_obs=0)
    obs = [
        accepted_ob(world.phase2, world.phase2.root(world.phase2.sm), f"OB {k}") for k in range(8)
    ]
    period = world.phase2.proposal.period
    # when the demo walks the period's nights
    with django_capture_on_commit_callbacks(execute=True):
        done = demo_night.walk(period, operator=world.operator, rng=np.random.default_rng(5))
    # then two or three nights of the period were walked, each closed, by the operator
    closed = sorted(
        NightNote.objects.filter(text=night.NIGHT_CLOSED).values_list("night", flat=True)
    )
    assert done.nights == len(closed) and 2 <= len(closed) <= 3
    assert all(period.start <= n <= period.end for n in closed)
    nights = sorted(set(Visit.objects.values_list("night", flat=True)))
    assert len(nights) >= 2 and set(nights) <= set(closed)
    assert set(Visit.objects.values_list("operator", flat=True)) == {world.operator.pk}
    # and every visit ran in the astronomical night and ended, none left running
    site = world.phase2.sm.telescope.site.as_astro()
    for visit in Visit.objects.all():
        bounds = night_boundaries(site, visit.night)
        assert bounds.astronomical_dusk is not None and bounds.astronomical_dawn is not None
        dusk = bounds.astronomical_dusk.to_datetime().replace(tzinfo=dt.UTC)
        dawn = bounds.sunrise.to_datetime().replace(tzinfo=dt.UTC)
        assert visit.state != VisitState.RUNNING and visit.ended_at is not None
        # (the simulator's Sun is sampled every 5 minutes)
        assert dusk - dt.timedelta(minutes=5) <= visit.started_at < visit.ended_at <= dawn, visit
    # and the grades are A, B or C, one visit aborted with its reason, an hour lost to weather
    executions = list(Execution.objects.all())
    graded = [e.grade for e in executions if not e.aborted]
    assert graded and set(graded) <= {"A", "B", "C"}
    assert sum(g in "AB" for g in graded) > len(graded) / 2
    aborted = [e for e in executions if e.aborted]
    assert [e.reason for e in aborted] == [demo_night.ABORT_REASON]
    weather = NightNote.objects.get(kind=NightNote.Kind.WEATHER)
    assert weather.lost_s == demo_night.LOST_TO_WIND_S
    assert done.visits == len(Visit.objects.all()) and done.aborted == 1
    # and every execution charged the run's ledger, in whole seconds
    charges = LedgerEntry.objects.filter(kind=LedgerKind.CHARGE, run=world.phase2.sm)
    assert charges.count() == len(executions)
    assert sum(-c.seconds for c in charges) == sum(e.charged_s for e in executions)
    # and the frames of each graded execution and each night's calibrations landed, and were
    # ingested by the archive as they landed (Celery is eager here)
    manifests = {p.name for p in (tmp_path / ".manifests").iterdir()}
    for e in executions:
        assert (f"execution-{e.pk}.json" in manifests) == (not e.aborted)
    assert sum(name.startswith("calibrations-") for name in manifests) == len(nights)
    assert not list(tmp_path.glob("*.fits"))
    archived = ArchiveFile.objects.all()
    assert archived.count() > len(graded) and not QuarantinedFile.objects.exists()
    assert {f.execution_id for f in archived if f.execution_id} == {
        e.pk for e in executions if not e.aborted
    }
    assert {o.pk for o in obs} >= {e.ob_id for e in executions}
