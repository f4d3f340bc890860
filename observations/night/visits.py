"""Visits: an OB, or a concatenation's OBs, started, then completed with a QC grade or
aborted; the time charged to the run's ledger, and staff refunds."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.permissions import is_staff_member
from observations import night_selectors as sel
from observations import status as st
from observations import tasks
from observations.models import (
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    Phase2Event,
    Visit,
    VisitState,
)
from observations.night.base import (
    CONDITION_FIELDS,
    EVENT_KIND,
    ConditionsData,
    _bump_containers,
    _busy,
    _conditions,
    _ensure_operator,
    _has_running_visit,
    _lock_obs,
    _lock_runs,
    _lock_telescope,
    _text,
    _transition,
    _unknown,
    _when,
    charge_seconds,
    elapsed_seconds,
    night_begins,
    night_of,
    split_abort_charge,
)
from proposals.models import ObservingRun
from proposals.review.models import LedgerEntry, LedgerKind

# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------


def _startable(obs: Sequence[ObservationBlock]) -> None:
    bad = [ob for ob in obs if ob.status not in st.sources(st.Action.START)]
    if bad:
        allowed = ", ".join(f"'{s}'" for s in sorted(st.sources(st.Action.START)))
        named = "; ".join(
            f"OB {ob.pk} '{ob.name}' is {st.LABELS.get(ob.status, ob.status)} ('{ob.status}')"
            for ob in bad
        )
        raise TransitionNotAllowed(
            f"Cannot start: {named}. Only OBs in status {allowed} (accepted, must repeat, "
            "aborted) can be started.",
            {"ob_id": [named]},
        )


def _ensure_in_timelink_window(ob: ObservationBlock, at: dt.datetime) -> None:
    window = sel.timelink_windows([ob.container_id])[ob.pk]
    if window is None:
        return
    if window == sel.NOT_YET:
        problem = (
            f"OB {ob.pk} '{ob.name}' waits for the previous OB of time link "
            f"'{ob.container.name}' to be completed."
        )
    else:
        earliest, latest = window
        if at < earliest:
            problem = f"OB {ob.pk}'s time-link window opens at {earliest:%Y-%m-%d %H:%M:%S} UTC."
        elif latest is not None and at > latest:
            problem = (
                f"OB {ob.pk}'s time-link window closed at {latest:%Y-%m-%d %H:%M:%S} UTC: it fails."
            )
        else:
            return
    raise TransitionNotAllowed(f"Cannot start: {problem}", {"ob_id": [problem]})


@transaction.atomic
def visit_start(
    *,
    telescope_id: int,
    ob_id: int,
    actor: User,
    at: dt.datetime | None = None,
    conditions: ConditionsData | None = None,
) -> Visit:
    """Start an OB (``S``) on a telescope, or, for an OB of a Concatenation, all of the
    concatenation's OBs not yet completed, in order; refused while another visit runs."""
    _ensure_operator(actor, "start OBs")
    when = _when(at)
    given = _conditions(conditions) if conditions is not None else None
    # The telescope's row lock serialises starts: a second operator waits here, then sees the
    # first one's running visit. The unique constraint is the backstop below.
    telescope = _lock_telescope(telescope_id)
    if _has_running_visit(telescope.pk):
        raise _busy(telescope)
    found = ObservationBlock.objects.filter(pk=ob_id).values_list("run_id", "container_id").first()
    if found is None:
        raise _unknown("ob_id", f"OB {ob_id}")
    run_id, container_id = found
    run = _lock_runs([run_id])[run_id]
    if run.telescope_id != telescope.pk:
        message = f"OB {ob_id} belongs to run {run}, which observes on another telescope."
        raise InvalidInput(f"Not an OB of {telescope.name}.", {"ob_id": [message]})
    container = Container.objects.get(pk=container_id)
    concatenation = container if container.item_type == ItemType.CONCATENATION else None
    if concatenation is not None:
        member_ids = concatenation.obs.values_list("pk", flat=True)
        locked = _lock_obs(member_ids)
        members = sorted(locked.values(), key=lambda o: (o.position, o.pk))
        # Members already completed (per-OB grades) stay done; the rest run back to back.
        obs = [ob for ob in members if ob.status != st.COMPLETED]
        if not obs:
            raise TransitionNotAllowed(
                f"Every OB of concatenation '{container.name}' is completed.",
                {"ob_id": ["Nothing left to execute."]},
            )
    else:
        obs = list(_lock_obs([ob_id]).values())
    _startable(obs)
    if container.item_type == ItemType.TIMELINK:
        _ensure_in_timelink_window(obs[0], when)
    night = night_of(telescope.site.longitude_deg, when)
    if given is None:
        reading = sel.latest_weather(
            telescope.pk, since=night_begins(telescope.site.longitude_deg, night), until=when
        )
        given = {f: getattr(reading, f) for f in CONDITION_FIELDS} if reading else {}
    try:
        with transaction.atomic():  # a savepoint: the refusal below still may query
            visit = Visit.objects.create(
                telescope=telescope,
                night=night,
                concatenation=concatenation,
                started_at=when,
                operator=actor,
                **given,
            )
    except IntegrityError:
        raise _busy(telescope) from None
    for position, ob in enumerate(obs):
        Execution.objects.create(visit=visit, ob=ob, position=position, status_before=ob.status)
        ob.executed = True
        _transition(ob, run, st.Action.START, actor, when, f"visit {visit.pk}", "executed")
    _bump_containers(obs)
    return visit


def _lock_visit(visit_id: int) -> tuple[Visit, list[Execution], dict[int, ObservingRun]]:
    """Lock a running visit (its telescope first), its runs and OBs; its executions in order,
    each with its OB (locked)."""
    telescope_id = Visit.objects.filter(pk=visit_id).values_list("telescope_id", flat=True).first()
    if telescope_id is None:
        raise _unknown("visit_id", f"visit {visit_id}")
    _lock_telescope(telescope_id)
    visit = Visit.objects.select_for_update(of=("self",)).get(pk=visit_id)
    if visit.state != VisitState.RUNNING:
        raise TransitionNotAllowed(
            f"Visit {visit.pk} is already {visit.state}.",
            {"visit_id": [f"Visit {visit.pk} ended at {visit.ended_at:%Y-%m-%d %H:%M} UTC."]},
        )
    # The runs before the executions, as execution_refund does (a visit's executions are
    # fixed at its start, so reading their runs unlocked is safe).
    runs = _lock_runs(Execution.objects.filter(visit=visit).values_list("ob__run_id", flat=True))
    executions = list(
        Execution.objects.select_for_update().filter(visit=visit).order_by("position", "pk")
    )
    obs = _lock_obs(e.ob_id for e in executions)
    for execution in executions:
        execution.ob = obs[execution.ob_id]
    return visit, executions, runs


def _ended(visit: Visit, at: dt.datetime | None) -> dt.datetime:
    when = _when(at)
    if when < visit.started_at:
        raise InvalidInput(
            "The end precedes the start.",
            {"at": [f"Visit {visit.pk} started at {visit.started_at:%Y-%m-%d %H:%M:%S} UTC."]},
        )
    return when


def _charge(
    execution: Execution, run: ObservingRun, seconds: int, actor: User, at: dt.datetime, note: str
) -> None:
    execution.charged_s = seconds
    if seconds > 0:
        execution.charge = LedgerEntry.objects.create(
            run=run, kind=LedgerKind.CHARGE, seconds=-seconds, note=note[:300], actor=actor, at=at
        )


def _grades(
    executions: Sequence[Execution], grade: str | None, grades: Mapping[int, str] | None
) -> dict[int, str]:
    """The QC grade of each execution's OB: ``grades`` by OB id, else ``grade``."""
    per_ob = dict(grades or {})
    ob_ids = {e.ob_id for e in executions}
    errors: dict[str, list[str]] = {}
    unknown = sorted(str(k) for k in per_ob if k not in ob_ids)
    if unknown:
        errors["grades"] = [f"Not OBs of this visit: {', '.join(unknown)}."]
    out: dict[int, str] = {}
    missing = []
    for execution in executions:
        value = per_ob.get(execution.ob_id, grade)
        if value in (None, ""):
            missing.append(str(execution.ob_id))
        elif value not in st.GRADES:
            errors.setdefault("grades" if execution.ob_id in per_ob else "grade", []).append(
                f"Unknown QC grade '{value}': use one of {', '.join(st.GRADES)}."
            )
        else:
            out[execution.ob_id] = str(value)
    if missing:
        errors.setdefault("grade", []).append(f"Give a QC grade for OB {', '.join(missing)}.")
    if errors:
        raise InvalidInput("Invalid QC grade.", errors)
    return out


@transaction.atomic
def visit_complete(
    *,
    visit_id: int,
    grade: str | None,
    actor: User,
    comment: str = "",
    grades: Mapping[int, str] | None = None,
    at: dt.datetime | None = None,
) -> Visit:
    """End a running visit with a QC grade (one for the visit, or ``grades`` by OB id for a
    concatenation's OBs): A, B and D complete an OB (``C``), C means it must be repeated
    (``M``); each execution charges its OB's execution time to its run's ledger."""
    _ensure_operator(actor, "complete OBs")
    visit, executions, runs = _lock_visit(visit_id)
    when = _ended(visit, at)
    by_ob = _grades(executions, grade, grades)
    text = _text(comment)
    for execution in executions:
        ob, run, qc = execution.ob, runs[execution.ob.run_id], by_ob[execution.ob_id]
        seconds = charge_seconds(ob.execution_time_s)
        note = f"OB {ob.pk} '{ob.name}', visit {visit.pk} on {visit.night}: grade {qc}"
        _charge(execution, run, seconds, actor, when, note)
        execution.grade, execution.ended_at, execution.comment = qc, when, text
        execution.save(update_fields=["grade", "ended_at", "comment", "charged_s", "charge"])
        message = f"visit {visit.pk}: grade {qc}" + (f": {text}" if text else "")
        _transition(ob, run, st.grade_action(qc), actor, when, message)
    visit.state, visit.ended_at = VisitState.DONE, when
    visit.save(update_fields=["state", "ended_at"])
    _bump_containers(e.ob for e in executions)
    for execution in executions:  # every one graded: its raw frames, once the grade is stored
        queue = functools.partial(tasks.write_frames.delay, execution.pk)
        transaction.on_commit(queue)
    return visit


@transaction.atomic
def visit_abort(*, visit_id: int, reason: str, actor: User, at: dt.datetime | None = None) -> Visit:
    """Abort a running visit (its OBs ``A``) with a reason; the time elapsed is charged, at
    most the OBs' execution time, to the OBs in their order (see the module's doc)."""
    _ensure_operator(actor, "abort OBs")
    text = _text(reason)
    if not text:
        raise InvalidInput("Say why.", {"reason": ["Give the reason for the abort."]})
    visit, executions, runs = _lock_visit(visit_id)
    when = _ended(visit, at)
    own = [charge_seconds(e.ob.execution_time_s) for e in executions]
    shares = split_abort_charge(elapsed_seconds(visit.started_at, when), own)
    for execution, seconds in zip(executions, shares, strict=True):
        ob, run = execution.ob, runs[execution.ob.run_id]
        note = f"OB {ob.pk} '{ob.name}', visit {visit.pk} on {visit.night}: aborted"
        _charge(execution, run, seconds, actor, when, note)
        execution.aborted, execution.reason, execution.ended_at = True, text, when
        execution.save(update_fields=["aborted", "reason", "ended_at", "charged_s", "charge"])
        _transition(ob, run, st.Action.ABORT, actor, when, f"visit {visit.pk} aborted: {text}")
    visit.state, visit.ended_at = VisitState.ABORTED, when
    visit.save(update_fields=["state", "ended_at"])
    _bump_containers(e.ob for e in executions)
    return visit


@transaction.atomic
def execution_refund(
    *, execution_id: int, reason: str, actor: User, seconds: int | None = None
) -> LedgerEntry:
    """Staff give back an execution's charge (the observatory at fault), once: all of it, or
    ``seconds`` of it."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff refund time.")
    text = _text(reason)
    if not text:
        raise InvalidInput("Say why.", {"reason": ["Say what went wrong at the observatory."]})
    run_id = Execution.objects.filter(pk=execution_id).values_list("ob__run_id", flat=True).first()
    if run_id is None:
        raise _unknown("execution_id", f"execution {execution_id}")
    run = _lock_runs([run_id])[run_id]
    execution = (
        Execution.objects.select_for_update(of=("self",))
        .select_related("ob", "charge", "refund")
        .get(pk=execution_id)
    )
    if execution.refund is not None:
        message = (
            f"Execution {execution.pk} was refunded already ({execution.refund.seconds} s on "
            f"{execution.refund.at:%Y-%m-%d})."
        )
        raise TransitionNotAllowed(message, {"execution_id": [message]})
    if execution.charge is None:
        message = f"Nothing was charged for execution {execution.pk}."
        raise TransitionNotAllowed(message, {"execution_id": [message]})
    charged = -execution.charge.seconds
    amount = charged if seconds is None else seconds
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= charged:
        raise InvalidInput(
            "Invalid refund.",
            {"seconds": [f"Give whole seconds from 1 to the {charged} s charged."]},
        )
    entry = LedgerEntry.objects.create(
        run=run,
        kind=LedgerKind.REFUND,
        seconds=amount,
        note=f"OB {execution.ob_id}, execution {execution.pk}: {text}"[:300],
        actor=actor,
    )
    execution.refund = entry
    execution.save(update_fields=["refund"])
    Phase2Event.objects.create(
        run=run,
        ob=execution.ob,
        actor=actor,
        kind=EVENT_KIND,
        message=f"refund of {amount} s for execution {execution.pk}: {text}",
    )
    return entry
