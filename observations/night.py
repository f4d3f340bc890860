"""Every write of the night: weather readings, visits (an OB, or a concatenation's OBs, started
then completed with a QC grade or aborted), the time charged to and refunded on the run's
ledger, time-link windows expiring, and the night log's notes.

Each service runs in one transaction: a refusal leaves nothing written. Rows are locked in one
order everywhere, so two services never wait for each other in a cycle: the telescope (every
visit service: it serialises two operators starting OBs at once), the visit, the runs (by id;
Phase 2's services lock a run first too), then the OBs and executions. Every OB status change
goes through the table of ``observations.status``, bumps the OB's version (and its scheduling
container's) and writes a ``Phase2Event`` of kind ``"night"``.

Time is charged in integer seconds, rounded half up (``ROUND_HALF_UP``: 1799.5 s charges
1800 s): a completed execution (any grade) charges its OB's execution time with overheads; an
aborted visit charges the time elapsed since its start, at most the execution time of its OBs,
given to its OBs in their order (each at most its own execution time; later OBs get the rest,
possibly nothing). Nothing charged, no ledger entry. Staff refund a charge once (the
observatory at fault), the whole of it unless they say how many seconds.

Only night operators and staff run the night (``dataflow.permissions.may_operate``); only staff
refund.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from dataflow.errors import DomainError, InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.observatory.models import Telescope
from dataflow.permissions import is_staff_member, may_operate
from observations import night_selectors as sel
from observations import status as st
from observations import tasks
from observations.models import (
    SCHEDULING_CONTAINERS,
    Container,
    Execution,
    ItemType,
    NightNote,
    ObservationBlock,
    Phase2Event,
    SkyTransparency,
    Visit,
    VisitState,
    WeatherReading,
)
from proposals.models import ObservingRun
from proposals.review.models import LedgerEntry, LedgerKind

EVENT_KIND = "night"  # Phase2Event.kind of every night status change and refund
WEATHER_SOURCES = ("operator", "station")
MAX_LOST_S = 86_400  # a night-log line loses at most a day


class TelescopeBusy(DomainError):
    """Another visit runs on the telescope: one OB (or concatenation) at a time."""

    status_code = HTTPStatus.CONFLICT


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConditionsData:
    """Sky and weather as measured: seeing (arcsec, 0-10), transparency (p2's names:
    Photometric, Clear, Thin, Variable), wind speed (m/s, 0-80) and the direction it blows
    from (degrees, 0-360, N=0 E=90), precipitable water vapour (mm, 0-50). ``None``/"":
    not measured."""

    seeing_arcsec: float | None = None
    transparency: str = ""
    wind_speed_ms: float | None = None
    wind_direction_deg: float | None = None
    water_vapour_mm: float | None = None


# field -> (low, high, unit, low excluded)
_RANGES: Mapping[str, tuple[float, float, str, bool]] = {
    "seeing_arcsec": (0.0, 10.0, "arcsec", True),
    "wind_speed_ms": (0.0, 80.0, "m/s", False),
    "wind_direction_deg": (0.0, 360.0, "degrees", False),
    "water_vapour_mm": (0.0, 50.0, "mm", False),
}
CONDITION_FIELDS = (*_RANGES, "transparency")


def _conditions(data: ConditionsData) -> dict[str, float | str | None]:
    """The measured values as model fields; ``InvalidInput`` naming each bad field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, float | str | None] = {}
    for name, (low, high, unit, open_low) in _RANGES.items():
        value = getattr(data, name)
        if value is None:
            values[name] = None
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            errors[name] = ["Give a number."]
            continue
        if (value <= low if open_low else value < low) or value > high:
            lower = f"more than {low:g}" if open_low else f"at least {low:g}"
            errors[name] = [f"Must be {lower} and at most {high:g} {unit}."]
            continue
        values[name] = float(value)
    transparency = data.transparency
    if transparency is None or transparency == "":
        values["transparency"] = ""
    elif transparency not in SkyTransparency.values:
        errors["transparency"] = [f"Choose one of {', '.join(SkyTransparency.values)}."]
    else:
        values["transparency"] = transparency
    if errors:
        raise InvalidInput("Invalid conditions.", errors)
    return values


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def _when(at: dt.datetime | None, field: str = "at") -> dt.datetime:
    if at is None:
        return timezone.now()
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise InvalidInput("Invalid time.", {field: ["Give a time with its time zone (UTC)."]})
    if not EARLIEST <= at <= LATEST:  # night dates and FITS times need a real epoch
        raise InvalidInput("Invalid time.", {field: ["Give a time between 1990 and 2099."]})
    return at


def _unknown(field: str, what: str) -> InvalidInput:
    return InvalidInput(f"No {what}.", {field: [f"No {what}."]})


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------------------------
# Nights, seconds
# --------------------------------------------------------------------------------------------


def night_of(longitude_deg: float, at: dt.datetime) -> dt.date:
    """The night ``at`` belongs to: the local evening date at a site of ``longitude_deg``
    (east positive), local mean solar time as in ``dataflow.astro.nights`` (a night runs from
    local mean noon to the next local mean noon)."""
    local = at.astimezone(dt.UTC) + dt.timedelta(hours=longitude_deg / 15.0)
    return (local - dt.timedelta(hours=12)).date()


def night_begins(longitude_deg: float, night: dt.date) -> dt.datetime:
    """Local mean noon of ``night``'s evening date, UTC: when that night begins."""
    noon = dt.datetime.combine(night, dt.time(12), tzinfo=dt.UTC)
    return noon - dt.timedelta(hours=longitude_deg / 15.0)


def charge_seconds(execution_time_s: float) -> int:
    """Execution time in whole seconds, rounded half up (exactly, on the float's value)."""
    if not math.isfinite(execution_time_s) or execution_time_s <= 0:
        return 0
    return int(Decimal(execution_time_s).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def elapsed_seconds(start: dt.datetime, end: dt.datetime) -> int:
    """Whole seconds from ``start`` to ``end``, rounded half up (integer microseconds)."""
    micro = (end - start) // dt.timedelta(microseconds=1)
    return max(0, (micro + 500_000) // 1_000_000)


def split_abort_charge(elapsed_s: int, execution_s: Sequence[int]) -> list[int]:
    """An aborted visit's charge per OB, in their order: ``elapsed_s`` capped at the sum of
    the OBs' execution times, each OB taking at most its own before the next gets any."""
    left = min(max(elapsed_s, 0), sum(execution_s))
    shares = []
    for own in execution_s:
        share = min(left, own)
        shares.append(share)
        left -= share
    return shares


# --------------------------------------------------------------------------------------------
# Locks, events
# --------------------------------------------------------------------------------------------


def _ensure_operator(actor: User, what: str) -> None:
    if not may_operate(actor):
        raise NotAllowed(f"Only night operators and staff {what}.")


def _lock_telescope(telescope_id: int, field: str = "telescope_id") -> Telescope:
    telescope = (
        Telescope.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(pk=telescope_id)
        .first()
    )
    if telescope is None:
        raise _unknown(field, f"telescope {telescope_id}")
    return telescope


def _lock_runs(run_ids: Iterable[int]) -> dict[int, ObservingRun]:
    """Lock runs in id order (every writer of a run's Phase 2 locks its row first)."""
    ids = sorted(set(run_ids))
    locked = ObservingRun.objects.select_for_update(of=("self",)).select_related("proposal")
    return {run.pk: run for run in locked.filter(pk__in=ids).order_by("pk")}


def _lock_obs(ob_ids: Iterable[int]) -> dict[int, ObservationBlock]:
    locked = ObservationBlock.objects.select_for_update(of=("self",)).select_related("container")
    return {ob.pk: ob for ob in locked.filter(pk__in=sorted(set(ob_ids))).order_by("pk")}


def _transition(
    ob: ObservationBlock,
    run: ObservingRun,
    action: st.Action,
    actor: User | None,
    at: dt.datetime,
    message: str,
    *extra: str,
) -> None:
    """Move ``ob`` by the status table, bump its version, write the event (``extra``: more
    fields already set on ``ob`` to save)."""
    old = ob.status
    ob.status = st.next_status(old, action)
    ob.version += 1
    ob.save(update_fields=["status", "version", *extra])
    Phase2Event.objects.create(
        run=run,
        ob=ob,
        actor=actor,
        kind=EVENT_KIND,
        from_status=old,
        to_status=ob.status,
        message=message,
        at=at,
    )


def _bump_containers(obs: Iterable[ObservationBlock]) -> None:
    """A scheduling container's status derives from its OBs': one new version each."""
    ids = {ob.container_id for ob in obs if ob.container.item_type in SCHEDULING_CONTAINERS}
    for container in Container.objects.select_for_update().filter(pk__in=sorted(ids)):
        container.version += 1
        container.save(update_fields=["version"])


def _has_running_visit(telescope_id: int) -> bool:
    return Visit.objects.filter(telescope_id=telescope_id, state=VisitState.RUNNING).exists()


def _busy(telescope: Telescope) -> TelescopeBusy:
    """The refusal naming what runs on ``telescope`` now."""
    running = (
        Visit.objects.filter(telescope=telescope, state=VisitState.RUNNING)
        .select_related("operator")
        .first()
    )
    if running is None:  # it ended meanwhile; the caller may try again
        what = "another visit"
    else:
        obs = list(
            Execution.objects.filter(visit=running)
            .order_by("position")
            .values_list("ob_id", "ob__name")
        )
        named = ", ".join(f"OB {pk} '{name}'" for pk, name in obs)
        who = f" by {running.operator.username}" if running.operator else ""
        what = f"visit {running.pk} ({named}), started {running.started_at:%Y-%m-%d %H:%M} UTC{who}"
    message = f"{telescope.name} is busy with {what}: complete or abort it first."
    return TelescopeBusy(message, {"telescope_id": [message]})


# --------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------


@transaction.atomic
def weather_post(
    *,
    telescope_id: int,
    data: ConditionsData,
    actor: User,
    source: str = "operator",
    at: dt.datetime | None = None,
) -> WeatherReading:
    """Record the conditions at a telescope (typed in by an operator or posted by a station)."""
    _ensure_operator(actor, "post the weather")
    when = _when(at)
    values = _conditions(data)
    if source not in WEATHER_SOURCES:
        raise InvalidInput("Invalid source.", {"source": [f"Use {' or '.join(WEATHER_SOURCES)}."]})
    if all(v in (None, "") for v in values.values()):
        raise InvalidInput(
            "Nothing measured.",
            {"conditions": ["Give at least one of seeing, transparency, wind or water vapour."]},
        )
    telescope = Telescope.objects.filter(pk=telescope_id).first()
    if telescope is None:
        raise _unknown("telescope_id", f"telescope {telescope_id}")
    return WeatherReading.objects.create(
        telescope=telescope, at=when, source=source, author=actor, **values
    )


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


# --------------------------------------------------------------------------------------------
# Time links
# --------------------------------------------------------------------------------------------


@transaction.atomic
def timelinks_expire(
    *, now: dt.datetime, telescope_id: int | None = None, actor: User | None = None
) -> list[ObservationBlock]:
    """Fail (``F``) each time-link OB awaiting execution whose window closed before ``now``
    without it being completed, and those after an OB of its link that failed (the link
    cannot go on); ``actor`` None: the system (a periodic task)."""
    if actor is not None:
        _ensure_operator(actor, "expire time links")
    when = _when(now, "now")
    waiting = st.sources(st.Action.FAIL)
    links = Container.objects.filter(item_type=ItemType.TIMELINK, obs__status__in=waiting)
    if telescope_id is not None:
        links = links.filter(run__telescope_id=telescope_id)
    pairs = set(links.values_list("pk", "run_id"))
    if not pairs:
        return []
    runs = _lock_runs(run_id for _, run_id in pairs)
    ids = sorted(pk for pk, _ in pairs)
    members = list(
        ObservationBlock.objects.select_for_update(of=("self",))
        .select_related("container")
        .filter(container_id__in=ids)
        .order_by("container_id", "position", "pk")
    )
    windows = sel.timelink_windows(ids)  # under the runs' locks: no execution lands meanwhile
    failed: list[ObservationBlock] = []
    previous: ObservationBlock | None = None
    for ob in members:
        if previous is not None and previous.container_id != ob.container_id:
            previous = None
        window = windows.get(ob.pk)
        if ob.status in waiting:
            message = ""
            if previous is not None and previous.status == st.FAILED:
                message = f"the previous OB of the time link (OB {previous.pk}) failed"
            elif isinstance(window, tuple) and window[1] is not None and window[1] < when:
                message = f"its time-link window closed at {window[1]:%Y-%m-%d %H:%M:%S} UTC"
            if message:
                _transition(ob, runs[ob.run_id], st.Action.FAIL, actor, when, message)
                failed.append(ob)
        previous = ob
    _bump_containers(failed)
    return failed


# --------------------------------------------------------------------------------------------
# The night log
# --------------------------------------------------------------------------------------------


@transaction.atomic
def night_note_add(
    *,
    telescope_id: int,
    kind: str,
    actor: User,
    lost_s: int = 0,
    text: str = "",
    night: dt.date | None = None,
    at: dt.datetime | None = None,
) -> NightNote:
    """Write a line of a telescope's night log: time lost to weather or a technical fault
    (``lost_s`` > 0), or a comment (``text``); ``night`` defaults to the night of ``at``."""
    _ensure_operator(actor, "write the night log")
    when = _when(at)
    body = _text(text)
    errors: dict[str, list[str]] = {}
    if kind not in NightNote.Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(NightNote.Kind.values)}."]
    if isinstance(lost_s, bool) or not isinstance(lost_s, int) or not 0 <= lost_s <= MAX_LOST_S:
        errors["lost_s"] = [f"Give whole seconds from 0 to {MAX_LOST_S}."]
    elif kind == NightNote.Kind.COMMENT and lost_s:
        errors["lost_s"] = ["A comment loses no time: log the loss as weather or technical."]
    elif kind in (NightNote.Kind.WEATHER, NightNote.Kind.TECHNICAL) and not lost_s:
        errors["lost_s"] = ["Say how many seconds were lost."]
    if kind == NightNote.Kind.COMMENT and not body:
        errors["text"] = ["Write the comment."]
    if night is not None and (not isinstance(night, dt.date) or isinstance(night, dt.datetime)):
        errors["night"] = ["Give the night's evening date."]
    telescope = Telescope.objects.select_related("site").filter(pk=telescope_id).first()
    if telescope is None:
        errors["telescope_id"] = [f"No telescope {telescope_id}."]
    if errors or telescope is None:
        raise InvalidInput("Invalid night-log line.", errors)
    return NightNote.objects.create(
        telescope=telescope,
        night=night or night_of(telescope.site.longitude_deg, when),
        kind=kind,
        lost_s=lost_s,
        text=body,
        author=actor,
        at=when,
    )


# --------------------------------------------------------------------------------------------
# Closing a night (issue 12's raw data: the night's calibrations)
# --------------------------------------------------------------------------------------------

NIGHT_CLOSED = "night closed"  # the log's comment that records the closing


@transaction.atomic
def night_close(
    *, telescope_id: int, night: dt.date, actor: User, at: dt.datetime | None = None
) -> NightNote:
    """Close a telescope's night: a "night closed" comment in its log (written ``at``, default
    now), and the night's calibration frames queued (on commit; idempotent, so closing again
    only re-queues them). Refused while a visit of that night runs."""
    _ensure_operator(actor, "close the night")
    if not isinstance(night, dt.date) or isinstance(night, dt.datetime):
        raise InvalidInput("Invalid night.", {"night": ["Give the night's evening date."]})
    telescope = _lock_telescope(telescope_id)  # no visit starts or ends meanwhile
    running = Visit.objects.filter(telescope=telescope, night=night, state=VisitState.RUNNING)
    if running.exists():
        raise _busy(telescope)
    note = night_note_add(
        telescope_id=telescope.pk,
        kind=NightNote.Kind.COMMENT,
        actor=actor,
        text=NIGHT_CLOSED,
        night=night,
        at=at,
    )
    queue = functools.partial(tasks.write_calibrations.delay, telescope.pk, night.isoformat())
    transaction.on_commit(queue)
    return note
