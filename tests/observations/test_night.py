"""The night's write path (observations.night) and what follows from its records
(observations.night_selectors): starting, grading and aborting visits, the ledger's charges and
refunds in integer seconds, time-link windows and their expiry, concatenations executed as a
whole, one visit at a time per telescope (also under two concurrent starts), group scores,
weather and the night log; only operators and staff run the night, only staff refund.

Built on the ``phase2`` world: OBs are created, submitted and accepted through the Phase 2
services, so they are accepted (``+``) as at the telescope."""

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction

from dataflow.accounts.models import Role
from dataflow.astro.nights import night_boundaries
from dataflow.astro.site import PARANAL
from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.permissions import ensure_operator, is_operator, may_operate
from observations import night, services
from observations import night_selectors as sel
from observations.commands import OBData
from observations.models import (
    Container,
    Execution,
    ItemType,
    NightNote,
    ObservationBlock,
    OBStatus,
    Phase2Event,
    Visit,
    VisitState,
    WeatherReading,
)
from proposals.review.models import LedgerEntry, LedgerKind
from tests.factories import TelescopeFactory, UserFactory
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------------------------
# The world: accepted OBs, an operator, a reviewer
# --------------------------------------------------------------------------------------------


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory.create(username="nico", roles=[Role.OPERATOR])


@pytest.fixture
def reviewer(db: None) -> User:
    return UserFactory.create(username="rita", roles=[Role.REVIEWER])


def accepted_ob(
    phase2: Phase2, container: Container, name: str, *, dit: float | None = None, **data: Any
) -> ObservationBlock:
    """An OB built, submitted and accepted through the services (``+``); ``dit``: the science
    exposure, seconds; ``data``: OB fields (contribution, delays)."""
    pi = phase2.pi
    ob = services.ob_create(container_id=container.pk, name=name, actor=pi)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=pi)
    values: dict[str, Any] = {"INS.FILT": "R_SPECIAL"}
    if dit is not None:
        values["DET.DIT"] = dit
    services.template_set_values(template_id=science.pk, values=values, actor=pi)
    if data:
        services.ob_update(ob_id=ob.pk, data=OBData(**data), actor=pi)
    services.ob_submit(ob_id=ob.pk, actor=pi)
    services.ob_accept(ob_id=ob.pk, actor=phase2.staff)
    return ObservationBlock.objects.get(pk=ob.pk)


def container(phase2: Phase2, item_type: str, name: str) -> Container:
    return services.container_create(
        parent_id=phase2.root(phase2.sm).pk, item_type=item_type, name=name, actor=phase2.pi
    )


def night_start(phase2: Phase2) -> dt.datetime:
    """03:00 UTC after the period's first evening: night at Paranal (22:18 local mean time)."""
    first = phase2.proposal.period.start
    return dt.datetime.combine(first + DAY, dt.time(3), tzinfo=dt.UTC)


def fresh(ob: ObservationBlock) -> ObservationBlock:
    return ObservationBlock.objects.get(pk=ob.pk)


def half_up(seconds: float) -> int:
    return int(Decimal(seconds).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def snapshot() -> tuple[Any, ...]:
    """Everything the night writes, to show a refused call changed nothing."""
    return (
        list(ObservationBlock.objects.order_by("pk").values_list("pk", "status", "version")),
        list(Container.objects.order_by("pk").values_list("pk", "version")),
        list(Visit.objects.order_by("pk").values_list("pk", "state", "ended_at")),
        list(Execution.objects.order_by("pk").values_list("pk", "grade", "charge", "refund")),
        LedgerEntry.objects.count(),
        Phase2Event.objects.count(),
        WeatherReading.objects.count(),
        NightNote.objects.count(),
    )


# --------------------------------------------------------------------------------------------
# QC grades and the ledger
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "status"), [("A", "C"), ("B", "C"), ("C", "M"), ("D", "C")])
def test_each_qc_grade_gives_its_status(
    phase2: Phase2, operator: User, grade: str, status: str
) -> None:
    # given an accepted OB, started by the operator
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=start
    )
    started = fresh(ob)
    assert started.status == OBStatus.STARTED and started.executed
    assert started.version == ob.version + 1
    # when it is completed with the grade
    night.visit_complete(
        visit_id=visit.pk, grade=grade, actor=operator, comment=" clouds late ", at=start + HOUR
    )
    # then the OB's status follows the grade, the execution records it, one event per change
    done = fresh(ob)
    assert done.status == status and done.version == ob.version + 2
    execution = Execution.objects.get(visit=visit)
    assert (execution.grade, execution.comment, execution.ended_at) == (
        grade,
        "clouds late",
        start + HOUR,
    )
    assert execution.status_before == OBStatus.ACCEPTED and not execution.aborted
    events = list(
        Phase2Event.objects.filter(ob=ob, kind="night").values_list("from_status", "to_status")
    )
    assert events == [("+", "S"), ("S", status)]
    visit.refresh_from_db()
    assert (visit.state, visit.ended_at, visit.operator) == (
        VisitState.DONE,
        start + HOUR,
        operator,
    )
    assert visit.night == phase2.proposal.period.start


def test_a_completed_execution_charges_its_execution_time_in_integer_seconds_half_up(
    phase2: Phase2, operator: User
) -> None:
    # given an OB whose execution time ends in half a second
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single", dit=3599.5)
    assert ob.execution_time_s % 1 == 0.5
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).exists()  # not at the start
    # when it is completed (a must-repeat grade is charged too)
    night.visit_complete(visit_id=visit.pk, grade="C", actor=operator)
    # then its run is charged the execution time, rounded half up, as a negative entry
    execution = Execution.objects.select_related("charge").get(visit=visit)
    seconds = int(ob.execution_time_s + 0.5)
    assert execution.charged_s == seconds == half_up(ob.execution_time_s)
    assert execution.charge is not None
    assert (execution.charge.run_id, execution.charge.kind, execution.charge.seconds) == (
        phase2.sm.pk,
        LedgerKind.CHARGE,
        -seconds,
    )
    assert execution.charge.actor == operator


def test_half_up_rounding_uses_the_floats_exact_value() -> None:
    assert night.charge_seconds(2.5) == 3
    assert night.charge_seconds(3.5) == 4  # not to even
    assert night.charge_seconds(0.49999999999999994) == 0  # float(x + 0.5) would give 1
    assert night.charge_seconds(0.0) == 0


def test_a_bad_grade_leaves_the_visit_running_and_charges_nothing(
    phase2: Phase2, operator: User
) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        night.visit_complete(visit_id=visit.pk, grade="E", actor=operator)
    assert "A, B, C, D" in refused.value.errors["grade"][0]
    with pytest.raises(InvalidInput) as refused:
        night.visit_complete(visit_id=visit.pk, grade=None, actor=operator)
    assert str(ob.pk) in refused.value.errors["grade"][0]
    assert snapshot() == before


def test_a_visit_ends_once(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    night.visit_complete(visit_id=visit.pk, grade="A", actor=operator)
    before = snapshot()
    with pytest.raises(TransitionNotAllowed, match="already done"):
        night.visit_complete(visit_id=visit.pk, grade="A", actor=operator)
    with pytest.raises(TransitionNotAllowed, match="already done"):
        night.visit_abort(visit_id=visit.pk, reason="wind", actor=operator)
    assert snapshot() == before


def test_an_aborted_visit_charges_the_elapsed_seconds(phase2: Phase2, operator: User) -> None:
    # given a started OB
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=start
    )
    # when it is aborted after 600.5 s
    end = start + dt.timedelta(seconds=600, microseconds=500_000)
    night.visit_abort(visit_id=visit.pk, reason="  dome closed: humidity ", actor=operator, at=end)
    # then the OB is aborted, 601 s charged, the reason recorded
    assert fresh(ob).status == OBStatus.ABORTED
    execution = Execution.objects.select_related("charge", "visit").get(visit=visit)
    assert execution.aborted and execution.reason == "dome closed: humidity"
    assert execution.charged_s == 601 and execution.charge is not None
    assert execution.charge.seconds == -601
    assert execution.visit.state == VisitState.ABORTED
    event = Phase2Event.objects.filter(ob=ob, kind="night").last()
    assert event is not None and (event.from_status, event.to_status) == ("S", "A")
    assert "dome closed" in event.message
    # and it can be started again, as an aborted OB
    again = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=end
    )
    assert Execution.objects.get(visit=again).status_before == OBStatus.ABORTED


def test_an_abort_charges_at_most_the_execution_time(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=start
    )
    night.visit_abort(visit_id=visit.pk, reason="forgotten", actor=operator, at=start + 9 * HOUR)
    assert Execution.objects.get(visit=visit).charged_s == half_up(ob.execution_time_s)


def test_an_abort_needs_a_reason_and_then_changes_nothing(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        night.visit_abort(visit_id=visit.pk, reason="  ", actor=operator)
    assert refused.value.errors["reason"]
    assert snapshot() == before


def test_an_end_before_the_start_is_refused(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=start
    )
    with pytest.raises(InvalidInput) as refused:
        night.visit_complete(visit_id=visit.pk, grade="A", actor=operator, at=start - HOUR)
    assert refused.value.errors["at"]
    with pytest.raises(InvalidInput) as refused:
        night.visit_abort(
            visit_id=visit.pk, reason="x", actor=operator, at=start.replace(tzinfo=None)
        )
    assert refused.value.errors["at"]


def test_the_abort_charge_fills_the_obs_in_order() -> None:
    assert night.split_abort_charge(5000, [3000, 4000]) == [3000, 2000]
    assert night.split_abort_charge(2000, [3000, 4000]) == [2000, 0]
    assert night.split_abort_charge(99_999, [3000, 4000]) == [3000, 4000]
    assert night.split_abort_charge(-5, [3000]) == [0]
    start = dt.datetime(2027, 3, 11, tzinfo=dt.UTC)
    assert night.elapsed_seconds(start, start + dt.timedelta(microseconds=499_999)) == 0
    assert night.elapsed_seconds(start, start + dt.timedelta(microseconds=500_000)) == 1


# --------------------------------------------------------------------------------------------
# Refunds
# --------------------------------------------------------------------------------------------


def _executed(phase2: Phase2, operator: User) -> Execution:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    night.visit_complete(visit_id=visit.pk, grade="A", actor=operator)
    return Execution.objects.select_related("charge").get(visit=visit)


def test_staff_refund_the_whole_charge_once(phase2: Phase2, operator: User) -> None:
    # given an execution charged to the run
    execution = _executed(phase2, operator)
    assert execution.charge is not None
    charged = -execution.charge.seconds
    # when staff refund it (the observatory at fault)
    entry = night.execution_refund(
        execution_id=execution.pk, reason="guiding camera failed", actor=phase2.staff
    )
    # then a positive refund of the whole charge is linked to the execution, with an event
    assert (entry.kind, entry.seconds, entry.run_id) == (LedgerKind.REFUND, charged, phase2.sm.pk)
    execution.refresh_from_db()
    assert execution.refund == entry
    assert Phase2Event.objects.filter(
        ob_id=execution.ob_id, kind="night", message__contains="guiding camera"
    ).exists()
    balance = sum(
        LedgerEntry.objects.filter(run=phase2.sm, kind__in=["charge", "refund"]).values_list(
            "seconds", flat=True
        )
    )
    assert balance == 0
    # and a second refund is refused
    before = snapshot()
    with pytest.raises(TransitionNotAllowed, match="refunded already"):
        night.execution_refund(execution_id=execution.pk, reason="again", actor=phase2.staff)
    assert snapshot() == before


def test_a_partial_refund_gives_back_the_seconds_asked(phase2: Phase2, operator: User) -> None:
    execution = _executed(phase2, operator)
    assert execution.charge is not None
    charged = -execution.charge.seconds
    bads: list[Any] = [0, charged + 1, 12.5, True]  # untyped input, as from a form
    for bad in bads:
        with pytest.raises(InvalidInput) as refused:
            night.execution_refund(
                execution_id=execution.pk, reason="r", actor=phase2.staff, seconds=bad
            )
        assert refused.value.errors["seconds"]
    entry = night.execution_refund(
        execution_id=execution.pk, reason="lost 10 min", actor=phase2.staff, seconds=600
    )
    assert entry.seconds == 600


@pytest.mark.parametrize("who", ["operator", "pi"])
def test_only_staff_refund(phase2: Phase2, operator: User, who: str) -> None:
    execution = _executed(phase2, operator)
    before = snapshot()
    with pytest.raises(NotAllowed):
        night.execution_refund(
            execution_id=execution.pk,
            reason="mine",
            actor=operator if who == "operator" else phase2.pi,
        )
    assert snapshot() == before


def test_a_running_execution_has_nothing_to_refund(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    execution = Execution.objects.get(visit=visit)
    with pytest.raises(TransitionNotAllowed, match="Nothing was charged"):
        night.execution_refund(execution_id=execution.pk, reason="x", actor=phase2.staff)


# --------------------------------------------------------------------------------------------
# Starting: what may start, where, by whom
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["P", "D", "-", "C", "F"])
def test_only_accepted_repeat_or_aborted_obs_start(
    phase2: Phase2, operator: User, status: str
) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    ObservationBlock.objects.filter(pk=ob.pk).update(status=status)  # as if it got there
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator)
    assert f"'{status}'" in refused.value.errors["ob_id"][0]
    assert snapshot() == before


def test_an_ob_starts_only_on_its_runs_telescope(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    other = TelescopeFactory.create(name="UT4")
    with pytest.raises(InvalidInput) as refused:
        night.visit_start(telescope_id=other.pk, ob_id=ob.pk, actor=operator)
    assert "another telescope" in refused.value.errors["ob_id"][0]
    with pytest.raises(InvalidInput) as refused:
        night.visit_start(telescope_id=other.pk + 99, ob_id=ob.pk, actor=operator)
    assert refused.value.errors["telescope_id"]
    assert not Visit.objects.exists()


def test_a_second_start_on_a_busy_telescope_is_refused_naming_the_running_ob(
    phase2: Phase2, operator: User
) -> None:
    # given a running visit
    first = accepted_ob(phase2, phase2.root(phase2.sm), "first")
    second = accepted_ob(phase2, phase2.root(phase2.sm), "second")
    telescope = phase2.sm.telescope_id
    visit = night.visit_start(telescope_id=telescope, ob_id=first.pk, actor=operator)
    before = snapshot()
    # when staff start another OB on the same telescope
    with pytest.raises(night.TelescopeBusy) as refused:
        night.visit_start(telescope_id=telescope, ob_id=second.pk, actor=phase2.staff)
    # then it is refused (409) naming what runs, and nothing changed
    assert refused.value.status_code == 409
    assert f"OB {first.pk} 'first'" in refused.value.errors["telescope_id"][0]
    assert "nico" in refused.value.message
    assert snapshot() == before
    # and once the first visit is done, it starts
    night.visit_complete(visit_id=visit.pk, grade="A", actor=operator)
    night.visit_start(telescope_id=telescope, ob_id=second.pk, actor=phase2.staff)
    assert fresh(second).status == OBStatus.STARTED


def test_the_unique_constraint_refuses_a_second_running_visit_past_the_check(
    phase2: Phase2, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running visit, and the service's check blinded (as if it raced past it)
    first = accepted_ob(phase2, phase2.root(phase2.sm), "first")
    second = accepted_ob(phase2, phase2.root(phase2.sm), "second")
    telescope = phase2.sm.telescope_id
    night.visit_start(telescope_id=telescope, ob_id=first.pk, actor=operator)
    monkeypatch.setattr(night.visits, "_has_running_visit", lambda telescope_id: False)
    before = snapshot()
    # when a second visit starts, then the database refuses it, as a 409 naming the running OB
    with pytest.raises(night.TelescopeBusy) as refused:
        night.visit_start(telescope_id=telescope, ob_id=second.pk, actor=operator)
    assert f"OB {first.pk}" in refused.value.message
    assert snapshot() == before


def test_the_database_holds_one_running_visit_per_telescope(phase2: Phase2) -> None:
    start = night_start(phase2)
    kwargs = {"telescope_id": phase2.sm.telescope_id, "night": start.date(), "started_at": start}
    Visit.objects.create(**kwargs)
    Visit.objects.create(**kwargs, state=VisitState.DONE)  # ended ones do not count
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(**kwargs)


# --------------------------------------------------------------------------------------------
# Who runs the night
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["pi", "outsider", "reviewer"])
def test_only_operators_and_staff_run_the_night(
    phase2: Phase2, operator: User, reviewer: User, who: str
) -> None:
    # given an accepted OB and a running visit of another OB on another run's telescope
    actor = {"pi": phase2.pi, "outsider": phase2.outsider, "reviewer": reviewer}[who]
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    running = accepted_ob(phase2, phase2.root(phase2.sm), "running")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=running.pk, actor=operator)
    telescope = phase2.sm.telescope_id
    before = snapshot()
    # when anyone else acts, then each write is refused and nothing changed
    calls = [
        lambda: night.visit_start(telescope_id=telescope, ob_id=ob.pk, actor=actor),
        lambda: night.visit_complete(visit_id=visit.pk, grade="A", actor=actor),
        lambda: night.visit_abort(visit_id=visit.pk, reason="mine", actor=actor),
        lambda: night.weather_post(
            telescope_id=telescope, data=night.ConditionsData(seeing_arcsec=0.8), actor=actor
        ),
        lambda: night.night_note_add(
            telescope_id=telescope, kind="comment", text="hello", actor=actor
        ),
        lambda: night.timelinks_expire(now=night_start(phase2), actor=actor),
    ]
    for call in calls:
        with pytest.raises(NotAllowed, match="operators and staff"):
            call()
    assert snapshot() == before


def test_staff_run_the_night_too(phase2: Phase2) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=phase2.staff)
    night.visit_complete(visit_id=visit.pk, grade="B", actor=phase2.staff)
    assert fresh(ob).status == OBStatus.COMPLETED


def test_the_operator_checks(phase2: Phase2, operator: User, reviewer: User) -> None:
    from django.core.exceptions import PermissionDenied

    assert is_operator(operator) and may_operate(operator)
    assert not is_operator(phase2.staff) and may_operate(phase2.staff)
    assert not may_operate(reviewer) and not may_operate(phase2.pi)
    ensure_operator(operator, "rank")
    with pytest.raises(PermissionDenied, match="operators and staff rank"):
        ensure_operator(reviewer, "rank")


# --------------------------------------------------------------------------------------------
# Concatenations: started and closed as a whole
# --------------------------------------------------------------------------------------------


def test_a_concatenation_starts_and_completes_as_a_whole(phase2: Phase2, operator: User) -> None:
    # given a concatenation of three accepted OBs
    concat = container(phase2, ItemType.CONCATENATION, "Back to back")
    obs = [accepted_ob(phase2, concat, f"part {i}") for i in range(3)]
    version = Container.objects.get(pk=concat.pk).version
    # when the operator starts its second OB
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=obs[1].pk, actor=operator, at=start
    )
    # then every OB starts, in order, one execution each, in one visit of the concatenation
    assert visit.concatenation_id == concat.pk
    executions = list(Execution.objects.filter(visit=visit).order_by("position"))
    assert [e.ob_id for e in executions] == [ob.pk for ob in obs]
    assert [fresh(ob).status for ob in obs] == [OBStatus.STARTED] * 3
    assert Container.objects.get(pk=concat.pk).version == version + 1  # once, not per OB
    # when it is completed with a grade per OB
    night.visit_complete(
        visit_id=visit.pk,
        grade=None,
        grades={obs[0].pk: "A", obs[1].pk: "C", obs[2].pk: "D"},
        actor=operator,
        at=start + 3 * HOUR,
    )
    # then each OB closes by its own grade, each charged its own time
    assert [fresh(ob).status for ob in obs] == ["C", "M", "C"]
    charges = list(
        Execution.objects.filter(visit=visit)
        .order_by("position")
        .values_list("charged_s", flat=True)
    )
    assert charges == [half_up(ob.execution_time_s) for ob in obs]
    # and starting it again executes only what is not completed
    again = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=obs[0].pk, actor=operator, at=start + 4 * HOUR
    )
    assert list(Execution.objects.filter(visit=again).values_list("ob_id", flat=True)) == [
        obs[1].pk
    ]


def test_one_grade_closes_a_whole_concatenation(phase2: Phase2, operator: User) -> None:
    concat = container(phase2, ItemType.CONCATENATION, "Back to back")
    obs = [accepted_ob(phase2, concat, f"part {i}") for i in range(2)]
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=obs[0].pk, actor=operator)
    night.visit_complete(visit_id=visit.pk, grade="B", grades={obs[1].pk: "C"}, actor=operator)
    assert [fresh(ob).status for ob in obs] == ["C", "M"]


def test_grades_for_obs_outside_the_visit_are_refused(phase2: Phase2, operator: User) -> None:
    concat = container(phase2, ItemType.CONCATENATION, "Back to back")
    obs = [accepted_ob(phase2, concat, f"part {i}") for i in range(2)]
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=obs[0].pk, actor=operator)
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        night.visit_complete(visit_id=visit.pk, grade="A", grades={999_999: "A"}, actor=operator)
    assert "999999" in refused.value.errors["grades"][0]
    assert snapshot() == before


def test_a_concatenation_with_a_member_not_startable_starts_nothing(
    phase2: Phase2, operator: User
) -> None:
    concat = container(phase2, ItemType.CONCATENATION, "Back to back")
    obs = [accepted_ob(phase2, concat, f"part {i}") for i in range(2)]
    services.ob_create(container_id=concat.pk, name="unfinished", actor=phase2.pi)  # P
    before = snapshot()
    with pytest.raises(TransitionNotAllowed) as refused:
        night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=obs[0].pk, actor=operator)
    assert "'unfinished'" in refused.value.message
    assert snapshot() == before


def test_an_aborted_concatenation_aborts_every_ob_and_splits_the_time_in_order(
    phase2: Phase2, operator: User
) -> None:
    concat = container(phase2, ItemType.CONCATENATION, "Back to back")
    obs = [accepted_ob(phase2, concat, f"part {i}") for i in range(2)]
    start = night_start(phase2)
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=obs[0].pk, actor=operator, at=start
    )
    first_s = half_up(obs[0].execution_time_s)
    night.visit_abort(
        visit_id=visit.pk,
        reason="wind",
        actor=operator,
        at=start + dt.timedelta(seconds=first_s + 100),
    )
    assert [fresh(ob).status for ob in obs] == ["A", "A"]
    charged = Execution.objects.filter(visit=visit).order_by("position")
    assert list(charged.values_list("charged_s", flat=True)) == [first_s, 100]
    assert LedgerEntry.objects.filter(kind=LedgerKind.CHARGE).count() == 2


# --------------------------------------------------------------------------------------------
# Time links and group scores follow from the records
# --------------------------------------------------------------------------------------------


def _timelink(phase2: Phase2, members: int = 2) -> tuple[Container, list[ObservationBlock]]:
    """A time link whose later OBs come 1 to 3 days after the previous one."""
    link = container(phase2, ItemType.TIMELINK, "Monitoring")
    obs = [accepted_ob(phase2, link, "epoch 0")]
    obs += [
        accepted_ob(
            phase2, link, f"epoch {i}", min_delay_s=int(DAY.total_seconds()), max_delay_s=3 * 86400
        )
        for i in range(1, members)
    ]
    return link, obs


def _execute(
    phase2: Phase2, ob: ObservationBlock, actor: User, at: dt.datetime, grade: str = "A"
) -> Visit:
    visit = night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=actor, at=at)
    return night.visit_complete(visit_id=visit.pk, grade=grade, actor=actor, at=at + HOUR)


def test_time_link_windows_follow_from_the_previous_obs_completion(
    phase2: Phase2, operator: User
) -> None:
    # given a time link of three OBs, nothing executed
    link, obs = _timelink(phase2, 3)
    windows = sel.timelink_windows([link.pk])
    assert windows == {obs[0].pk: None, obs[1].pk: sel.NOT_YET, obs[2].pk: sel.NOT_YET}
    # when the first is executed but must be repeated, then the second still waits
    start = night_start(phase2)
    _execute(phase2, obs[0], operator, start, grade="C")
    assert sel.timelink_windows([link.pk])[obs[1].pk] == sel.NOT_YET
    # when it is repeated and completed, then the second's window opens a day after its end
    _execute(phase2, obs[0], operator, start + 2 * HOUR)
    end = start + 3 * HOUR
    windows = sel.timelink_windows([link.pk])
    assert windows[obs[1].pk] == (end + DAY, end + 3 * DAY)
    assert windows[obs[2].pk] == sel.NOT_YET
    # and the second cannot start before its window
    with pytest.raises(TransitionNotAllowed, match="opens at"):
        night.visit_start(
            telescope_id=phase2.sm.telescope_id, ob_id=obs[1].pk, actor=operator, at=end + HOUR
        )
    with pytest.raises(TransitionNotAllowed, match="waits for the previous OB"):
        night.visit_start(
            telescope_id=phase2.sm.telescope_id, ob_id=obs[2].pk, actor=operator, at=end + HOUR
        )
    # but within it, it does
    _execute(phase2, obs[1], operator, end + 2 * DAY)
    assert fresh(obs[1]).status == OBStatus.COMPLETED


def test_a_passed_time_link_window_fails_the_ob_and_the_rest_of_the_link(
    phase2: Phase2, operator: User
) -> None:
    # given a time link of three whose first OB was completed
    _, obs = _timelink(phase2, 3)
    start = night_start(phase2)
    _execute(phase2, obs[0], operator, start)
    end = start + HOUR
    # when the expiry runs within the second's window, then nothing fails
    assert night.timelinks_expire(now=end + 3 * DAY) == []
    assert fresh(obs[1]).status == OBStatus.ACCEPTED
    # when it runs after the window
    failed = night.timelinks_expire(now=end + 3 * DAY + dt.timedelta(seconds=1), actor=operator)
    # then the second fails (final), and the third, which can never follow it
    assert [ob.pk for ob in failed] == [obs[1].pk, obs[2].pk]
    assert [fresh(ob).status for ob in obs] == ["C", "F", "F"]
    event = Phase2Event.objects.get(ob=obs[1], kind="night", to_status="F")
    assert event.from_status == "+" and "window closed" in event.message
    # and it can no longer start
    with pytest.raises(TransitionNotAllowed):
        night.visit_start(telescope_id=phase2.sm.telescope_id, ob_id=obs[1].pk, actor=operator)
    # and running it again changes nothing
    assert night.timelinks_expire(now=end + 9 * DAY) == []


def test_time_links_of_other_telescopes_are_left_alone(phase2: Phase2, operator: User) -> None:
    _, obs = _timelink(phase2)
    start = night_start(phase2)
    _execute(phase2, obs[0], operator, start)
    other = TelescopeFactory.create(name="UT4")
    assert night.timelinks_expire(now=start + 9 * DAY, telescope_id=other.pk) == []
    failed = night.timelinks_expire(now=start + 9 * DAY, telescope_id=phase2.sm.telescope_id)
    assert [ob.pk for ob in failed] == [obs[1].pk]


def test_group_scores_follow_from_completed_obs(phase2: Phase2, operator: User) -> None:
    # given a group of OBs contributing 1 and 3, and an empty group
    group = container(phase2, ItemType.GROUP, "Mosaic")
    empty = container(phase2, ItemType.GROUP, "Empty")
    small = accepted_ob(phase2, group, "small", contribution=1.0)
    large = accepted_ob(phase2, group, "large", contribution=3.0)
    assert sel.group_scores([group.pk, empty.pk]) == {group.pk: 0.0, empty.pk: 0.0}
    # when the large one is executed but must be repeated, then the score stays
    start = night_start(phase2)
    _execute(phase2, large, operator, start, grade="C")
    assert sel.group_scores([group.pk]) == {group.pk: 0.0}
    # when it is completed, then it counts for its share
    _execute(phase2, large, operator, start + 2 * HOUR, grade="D")
    assert sel.group_scores([group.pk]) == {group.pk: 0.75}
    _execute(phase2, small, operator, start + 4 * HOUR, grade="B")
    assert sel.group_scores([group.pk]) == {group.pk: 1.0}


def test_the_selectors_cost_constant_queries(
    phase2: Phase2, operator: User, django_assert_num_queries: Any
) -> None:
    links = [_timelink(phase2)[0] for _ in range(2)]
    groups = [container(phase2, ItemType.GROUP, f"G{i}") for i in range(2)]
    for group in groups:
        accepted_ob(phase2, group, "tile")
    with django_assert_num_queries(2):
        sel.timelink_windows([link.pk for link in links])
    with django_assert_num_queries(1):
        sel.group_scores([group.pk for group in groups])


def test_an_obs_executions_by_night(phase2: Phase2, operator: User) -> None:
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    start = night_start(phase2)
    _execute(phase2, ob, operator, start, grade="C")
    _execute(phase2, ob, operator, start + DAY, grade="A")
    first_night = phase2.proposal.period.start
    assert [e.grade for e in sel.ob_executions(ob.pk)] == ["C", "A"]
    [found] = sel.ob_executions(ob.pk, night=first_night + dt.timedelta(days=1))
    assert found.grade == "A" and found.visit.operator == operator
    assert list(sel.ob_executions(ob.pk, night=first_night - DAY)) == []


# --------------------------------------------------------------------------------------------
# Weather, conditions at the start, the night log
# --------------------------------------------------------------------------------------------


def test_weather_is_recorded_and_out_of_range_values_refused_by_field(
    phase2: Phase2, operator: User
) -> None:
    telescope = phase2.sm.telescope_id
    bad = night.ConditionsData(
        seeing_arcsec=0.0,
        wind_speed_ms=81.0,
        wind_direction_deg=-1.0,
        water_vapour_mm=float("nan"),
        transparency="Cloudy",
    )
    with pytest.raises(InvalidInput) as refused:
        night.weather_post(telescope_id=telescope, data=bad, actor=operator)
    assert set(refused.value.errors) == {
        "seeing_arcsec",
        "wind_speed_ms",
        "wind_direction_deg",
        "water_vapour_mm",
        "transparency",
    }
    with pytest.raises(InvalidInput) as refused:
        night.weather_post(telescope_id=telescope, data=night.ConditionsData(), actor=operator)
    assert refused.value.errors["conditions"]
    with pytest.raises(InvalidInput) as refused:
        night.weather_post(
            telescope_id=telescope,
            data=night.ConditionsData(seeing_arcsec=1.0),
            actor=operator,
            source="satellite",
        )
    assert refused.value.errors["source"]
    assert not WeatherReading.objects.exists()
    # the extremes are accepted
    edge = night.ConditionsData(
        seeing_arcsec=10.0,
        wind_speed_ms=0.0,
        wind_direction_deg=360.0,
        water_vapour_mm=50.0,
        transparency="Clear",
    )
    reading = night.weather_post(
        telescope_id=telescope, data=edge, actor=operator, source="station"
    )
    assert (reading.seeing_arcsec, reading.transparency, reading.source) == (
        10.0,
        "Clear",
        "station",
    )
    assert reading.author == operator


def test_a_visit_records_the_nights_latest_weather_or_the_conditions_given(
    phase2: Phase2, operator: User
) -> None:
    # given readings from the previous night, earlier tonight, and after the start
    telescope = phase2.sm.telescope_id
    start = night_start(phase2)
    for at, seeing in ((start - DAY, 2.5), (start - HOUR, 0.7), (start + HOUR, 1.9)):
        night.weather_post(
            telescope_id=telescope,
            data=night.ConditionsData(seeing_arcsec=seeing, wind_speed_ms=4.0),
            actor=operator,
            at=at,
        )
    first, second = (
        accepted_ob(phase2, phase2.root(phase2.sm), name) for name in ("first", "second")
    )
    # when an OB starts without conditions, then the latest reading up to the start is kept
    visit = night.visit_start(telescope_id=telescope, ob_id=first.pk, actor=operator, at=start)
    assert (visit.seeing_arcsec, visit.wind_speed_ms) == (0.7, 4.0)
    night.visit_complete(visit_id=visit.pk, grade="A", actor=operator, at=start)
    # when the operator gives them, they are kept (and checked)
    with pytest.raises(InvalidInput):
        night.visit_start(
            telescope_id=telescope,
            ob_id=second.pk,
            actor=operator,
            at=start,
            conditions=night.ConditionsData(seeing_arcsec=11.0),
        )
    visit = night.visit_start(
        telescope_id=telescope,
        ob_id=second.pk,
        actor=operator,
        at=start,
        conditions=night.ConditionsData(seeing_arcsec=1.1, transparency="Thin"),
    )
    assert (visit.seeing_arcsec, visit.transparency, visit.wind_speed_ms) == (1.1, "Thin", None)


def test_a_visit_without_weather_that_night_has_no_conditions(
    phase2: Phase2, operator: User
) -> None:
    start = night_start(phase2)
    night.weather_post(
        telescope_id=phase2.sm.telescope_id,
        data=night.ConditionsData(seeing_arcsec=2.0),
        actor=operator,
        at=start - DAY,
    )
    ob = accepted_ob(phase2, phase2.root(phase2.sm), "single")
    visit = night.visit_start(
        telescope_id=phase2.sm.telescope_id, ob_id=ob.pk, actor=operator, at=start
    )
    assert visit.seeing_arcsec is None and visit.transparency == ""


def test_the_night_log_takes_losses_and_comments(phase2: Phase2, operator: User) -> None:
    telescope = phase2.sm.telescope_id
    start = night_start(phase2)
    note = night.night_note_add(
        telescope_id=telescope, kind="weather", lost_s=5400, text="fog", actor=operator, at=start
    )
    assert (note.night, note.lost_s, note.text, note.author) == (
        phase2.proposal.period.start,
        5400,
        "fog",
        operator,
    )
    for kwargs, field in (
        ({"kind": "comment", "text": " "}, "text"),
        ({"kind": "comment", "text": "x", "lost_s": 60}, "lost_s"),
        ({"kind": "technical"}, "lost_s"),
        ({"kind": "technical", "lost_s": 86_401}, "lost_s"),
        ({"kind": "party", "text": "x"}, "kind"),
        ({"kind": "comment", "text": "x", "night": start}, "night"),
    ):
        with pytest.raises(InvalidInput) as refused:
            night.night_note_add(telescope_id=telescope, actor=operator, **kwargs)
        assert refused.value.errors[field], kwargs
    assert NightNote.objects.count() == 1


@pytest.mark.parametrize(
    ("at", "evening"),
    [
        ("2027-03-11T04:05:06+00:00", "2027-03-10"),  # 23:23 local mean time
        ("2027-03-10T23:30:00+00:00", "2027-03-10"),  # 18:48
        ("2027-03-10T16:30:00+00:00", "2027-03-09"),  # 11:48: still the previous night's
        ("2027-03-10T17:00:00+00:00", "2027-03-10"),  # 12:18
    ],
)
def test_a_night_is_named_after_its_local_evening(at: str, evening: str) -> None:
    when = dt.datetime.fromisoformat(at)
    date = night.night_of(PARANAL.longitude_deg, when)
    assert date.isoformat() == evening
    assert night.night_begins(PARANAL.longitude_deg, date) <= when
    assert when < night.night_begins(PARANAL.longitude_deg, date + DAY)


def test_the_night_of_a_dark_instant_is_the_one_dataflow_astro_computes() -> None:
    when = dt.datetime(2027, 3, 11, 4, 5, 6, tzinfo=dt.UTC)
    boundaries = night_boundaries(PARANAL, night.night_of(PARANAL.longitude_deg, when))
    assert boundaries.sunset.datetime.replace(tzinfo=dt.UTC) < when
    assert when < boundaries.sunrise.datetime.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------------
# Two operators starting at once (real transactions, one thread each)
# --------------------------------------------------------------------------------------------


@contextmanager
def database_for_threads(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Yield what each thread calls first to use the test's database with real concurrency.

    PostgreSQL: nothing to do (each thread opens its own connection to the test database).
    SQLite: the test database lives in memory with a shared cache, whose table locks refuse a
    second writer at once ("database table is locked") instead of making it wait, unlike the
    project's file database (``dataflow.settings.base``: immediate transactions, 20 s
    timeout). So the committed test database is copied to a file, and this thread and the
    others use the file with the project's settings, as ``make run`` does.
    """
    if connection.vendor != "sqlite":
        yield lambda: None
        return
    path = tmp_path / "night.sqlite3"
    copy = sqlite3.connect(path)
    connection.ensure_connection()
    connection.connection.backup(copy)
    copy.close()
    settings_dict = {**connection.settings_dict, "NAME": str(path)}
    memory = connections[DEFAULT_DB_ALIAS]

    def use_file() -> None:
        connections[DEFAULT_DB_ALIAS] = type(memory)(settings_dict, DEFAULT_DB_ALIAS)

    use_file()
    try:
        yield use_file
    finally:
        connections[DEFAULT_DB_ALIAS].close()
        connections[DEFAULT_DB_ALIAS] = memory  # the test's teardown empties the test database


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_on_one_telescope_one_is_refused(
    phase2: Phase2, operator: User, tmp_path: Path
) -> None:
    # given two accepted OBs on one telescope, and two operators
    second_operator = UserFactory.create(username="olga", roles=[Role.OPERATOR])
    obs = [accepted_ob(phase2, phase2.root(phase2.sm), name) for name in ("left", "right")]
    telescope = phase2.sm.telescope_id
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}
    with database_for_threads(tmp_path) as use_database:

        def start(who: User, ob: ObservationBlock) -> None:
            use_database()
            try:
                barrier.wait(timeout=10)
                outcomes[who.username] = night.visit_start(
                    telescope_id=telescope, ob_id=ob.pk, actor=who
                )
            except Exception as exc:  # noqa: BLE001  (the test reads what each thread met)
                outcomes[who.username] = exc
            finally:
                connection.close()  # this thread's own connection

        threads = [
            threading.Thread(target=start, args=(operator, obs[0])),
            threading.Thread(target=start, args=(second_operator, obs[1])),
        ]
        # when both start at once
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # then one visit runs, the other start was refused naming it, its OB did not move
        visits = [o for o in outcomes.values() if isinstance(o, Visit)]
        refusals = [o for o in outcomes.values() if isinstance(o, night.TelescopeBusy)]
        assert len(visits) == 1 and len(refusals) == 1, outcomes
        [running] = Visit.objects.filter(state=VisitState.RUNNING)
        [execution] = Execution.objects.all()
        assert running.pk == visits[0].pk and f"OB {execution.ob_id}" in refusals[0].message
        statuses = ObservationBlock.objects.filter(pk__in=[o.pk for o in obs]).values_list(
            "status", flat=True
        )
        assert sorted(statuses) == ["+", "S"]


def test_a_time_outside_any_real_night_is_refused_not_a_crash() -> None:
    # A start near year 1 overflowed computing its night (a server error).
    from observations.night.base import _when

    with pytest.raises(InvalidInput) as refused:
        _when(dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.UTC))
    assert "at" in refused.value.errors
