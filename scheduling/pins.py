"""Staff pins and links of VM runs, from the schedule pages and the API (the admin edits the
same rows). The adapter passes every pin and link of a period into the problem, so the next
solve places a pinned run on its pinned slot and keeps linked runs together.

A pin or link that cannot hold is refused at once with a message naming the run: a run that is
not an approved visitor-mode run of the period, a night outside the period or technical /
closed on the run's telescope (``CalendarNight``), a night the engine itself rules out (moon,
instrument, visibility, impossible dates: ``feasibility.start_problems`` on the adapter's
problem), and conflicts with the period's other pins and links that the engine sees without a
search (``feasibility.check_pins``, ``adapter.check_period_problem``). Each change is one
function here: staff only, under the run's lock, with a ``ScheduleEvent`` row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import NoReturn

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.permissions import is_staff_member
from proposals.models import Mode, ObservingRun, Period
from proposals.review.models import RunDecision
from scheduling import adapter
from scheduling.engine.longterm.feasibility import check_pins, start_problems, vm_options
from scheduling.engine.longterm.problem import Link, Pin, ProblemError, ScheduleConflict
from scheduling.engine.longterm.problem import Run as EngineRun
from scheduling.models import CalendarNight, LinkKind, RunLink, RunPin, ScheduleEvent

# -------------------------------------------------------------------------------------- reads


def pinnable_runs(period_id: int) -> QuerySet[ObservingRun]:
    """The period's approved VM runs (the forms' choices; the services check them again)."""
    return (
        ObservingRun.objects.filter(
            proposal__period_id=period_id,
            proposal__status__in=adapter.SCHEDULED_STATUSES,
            mode=Mode.VM,
            decision__approved=True,
        )
        .select_related("proposal", "telescope", "instrument")
        .order_by("proposal__programme_number", "letter")
    )


def period_pins(period_id: int) -> QuerySet[RunPin]:
    """The pins of the period's runs, by night."""
    return (
        RunPin.objects.filter(run__proposal__period_id=period_id)
        .select_related("run__proposal", "run__telescope", "run__instrument", "by")
        .order_by("start", "run__proposal__programme_number", "run__letter")
    )


def period_links(period_id: int) -> QuerySet[RunLink]:
    """The links of the period's runs (by their first run's period, as the adapter reads them)."""
    return (
        RunLink.objects.filter(first__proposal__period_id=period_id)
        .select_related(
            "first__proposal",
            "first__telescope",
            "first__instrument",
            "second__proposal",
            "second__telescope",
            "second__instrument",
        )
        .order_by("pk")
    )


# --------------------------------------------------------------------------------------- pins


@transaction.atomic
def pin_set(
    *,
    period_id: int,
    run_id: int,
    start: dt.date,
    second_half: bool = False,
    actor: User,
) -> RunPin:
    """Pin a VM run of the period to start on ``start`` (its second half if asked), or move
    its pin there (staff only). 400 naming the run when the pin cannot hold (see the module);
    pinning a run where it is already pinned changes nothing."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff pin runs.")
    period = Period.objects.get(pk=period_id)
    run = _locked_run(run_id, "run")
    pin = Pin(str(run), start, second_half)
    what = f"Cannot {pin.describe()}"
    _refuse_run(run, period, what, "run")
    if not period.start <= start <= period.end:
        _refuse(
            what,
            "start",
            f"{start.isoformat()} is outside {period} "
            f"({period.start.isoformat()} to {period.end.isoformat()}).",
        )
    nights = _nights(_allocated_nights(run), start, second_half)
    closed = [
        f"{night.date.isoformat()} is a {night.get_kind_display().lower()}"
        f"{f' ({night.note})' if night.note else ''} on {run.telescope.name}, in the nights "
        f"of {run}."
        for night in CalendarNight.objects.filter(
            telescope_id=run.telescope_id, date__in=nights
        ).order_by("date")
    ]
    if closed:
        _refuse(what, "start", *closed)
    _refuse_engine(period, pin, what)

    existing = RunPin.objects.select_for_update().filter(run=run).first()
    if existing is not None and (existing.start, existing.second_half) == (start, second_half):
        return existing
    was = (
        f" (was {Pin(str(run), existing.start, existing.second_half).describe()})"
        if existing is not None
        else ""
    )
    row = existing or RunPin(run=run)
    row.start, row.second_half, row.by, row.at = start, second_half, actor, timezone.now()
    row.save()
    ScheduleEvent.objects.create(
        period=period, actor=actor, action="pin set", note=f"{pin.describe()}{was}"
    )
    return row


@transaction.atomic
def pin_remove(*, pin_id: int, actor: User) -> None:
    """Remove a pin (staff only): the next solve may place the run anywhere. 409 if it is gone
    already. Event row."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff remove pins.")
    row = (
        RunPin.objects.select_for_update(of=("self",))
        .select_related("run__proposal")
        .filter(pk=pin_id)
        .first()
    )
    if row is None:
        raise TransitionNotAllowed("This pin was removed already.")
    note = Pin(str(row.run), row.start, row.second_half).describe()
    period_id = row.run.proposal.period_id
    row.delete()
    ScheduleEvent.objects.create(period_id=period_id, actor=actor, action="pin removed", note=note)


def _refuse_engine(period: Period, pin: Pin, what: str) -> None:
    """The engine's own checks of the pin on the period's problem: the nights it covers (moon,
    instrument, visibility, calendar, length), then overlaps with the other pins and links
    between pinned runs."""
    pp = _problem(period, what)
    problem = pp.problem
    run = _engine_run(pp, pin.run, what, "run")
    slot = 2 * problem.night_index(pin.start) + int(pin.second_half)
    why = start_problems(problem, run, slot)
    if why:
        _refuse(what, "start", *why)
    trial = dataclasses.replace(problem, pins=(*(p for p in problem.pins if p.run != pin.run), pin))
    conflicts = [c for c in check_pins(trial, vm_options(trial)) if pin.describe() in c]
    if conflicts:
        _refuse(what, "start", *conflicts)


# -------------------------------------------------------------------------------------- links


@transaction.atomic
def link_add(
    *,
    period_id: int,
    first_id: int,
    second_id: int,
    kind: str,
    min_days: int | None = None,
    max_days: int | None = None,
    ordered: bool = True,
    actor: User,
) -> RunLink:
    """Link two VM runs of the period (staff only): on the same nights (two telescopes), or
    their starts ``min_days``..``max_days`` nights apart (``ordered``: the second after the
    first). 400 naming the runs when the link cannot hold: not approved VM runs of the period,
    a run linked to itself, bounds that make no sense, runs already linked, or no pair of
    nights on which both fit (``adapter.check_period_problem``). Event row."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff link runs.")
    period = Period.objects.get(pk=period_id)
    if first_id == second_id:
        raise InvalidInput("A run cannot be linked to itself.", {"second": ["Pick another run."]})
    if kind not in LinkKind.values:
        raise InvalidInput(
            "Unknown link kind.", {"kind": [f"One of {', '.join(LinkKind.values)}."]}
        )
    # Both runs locked in primary-key order: two staff linking one pair cannot deadlock.
    fields = {first_id: "first", second_id: "second"}
    locked = {pk: _locked_run(pk, fields[pk]) for pk in sorted(fields)}
    first, second = locked[first_id], locked[second_id]
    link = Link(
        str(first),
        str(second),
        kind="same_nights" if kind == LinkKind.SAME_NIGHTS else "apart",
        min_days=None if kind == LinkKind.SAME_NIGHTS else min_days,
        max_days=None if kind == LinkKind.SAME_NIGHTS else max_days,
        ordered=ordered,
    )
    what = f"Cannot add {link.describe()}"
    _refuse_run(first, period, what, "first")
    _refuse_run(second, period, what, "second")
    if kind == LinkKind.SAME_NIGHTS and first.telescope_id == second.telescope_id:
        _refuse(what, "second", f"{first} and {second} are both on {first.telescope.name}.")
    if kind == LinkKind.APART:
        _refuse_bounds(what, link)
    pair = {first.pk, second.pk}
    if any(
        {r.first_id, r.second_id} == pair
        for r in RunLink.objects.filter(first_id__in=pair, second_id__in=pair)
    ):
        _refuse(what, "second", f"{first} and {second} are linked already.")
    pp = _problem(period, what)
    _engine_run(pp, link.first, what, "first")
    _engine_run(pp, link.second, what, "second")
    trial = dataclasses.replace(pp.problem, links=(*pp.problem.links, link))
    found = adapter.check_period_problem(adapter.PeriodProblem(problem=trial, runs=pp.runs))
    mine = [m for m in found if link.describe() in m]
    if mine:
        _refuse(what, "second", *mine)

    row = RunLink.objects.create(
        first=first,
        second=second,
        kind=kind,
        min_days=link.min_days,
        max_days=link.max_days,
        ordered=ordered,
    )
    ScheduleEvent.objects.create(
        period=period, actor=actor, action="link added", note=link.describe()
    )
    return row


@transaction.atomic
def link_remove(*, link_id: int, actor: User) -> None:
    """Remove a link (staff only). 409 if it is gone already. Event row."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff remove links.")
    row = (
        RunLink.objects.select_for_update(of=("self",))
        .select_related("first__proposal", "second__proposal")
        .filter(pk=link_id)
        .first()
    )
    if row is None:
        raise TransitionNotAllowed("This link was removed already.")
    note = describe_link(row)
    period_id = row.first.proposal.period_id
    row.delete()
    ScheduleEvent.objects.create(period_id=period_id, actor=actor, action="link removed", note=note)


def describe_link(row: RunLink) -> str:
    """A stored link in the engine's words, e.g. "link 120.C-0002(A) 2..5 nights after …"."""
    same = row.kind == LinkKind.SAME_NIGHTS
    return Link(
        str(row.first),
        str(row.second),
        kind="same_nights" if same else "apart",
        min_days=row.min_days,
        max_days=row.max_days,
        ordered=row.ordered,
    ).describe()


def _refuse_bounds(what: str, link: Link) -> None:
    lo, hi = link.min_days, link.max_days
    if lo is None and hi is None:
        _refuse(what, "min_days", "Give at least one of the bounds (days apart).")
    if (lo is not None and lo < 0) or (hi is not None and hi < 0):
        _refuse(what, "min_days", "Days apart are zero or more.")
    if lo is not None and hi is not None and lo > hi:
        _refuse(what, "max_days", f"At most {hi} is less than at least {lo}.")


# ------------------------------------------------------------------------------------ helpers


def _locked_run(run_id: int, field: str) -> ObservingRun:
    """The run under its lock (serialises two pins or links of one run)."""
    run = (
        ObservingRun.objects.select_for_update(of=("self",))
        .select_related("proposal", "telescope")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise InvalidInput("No such run.", {field: ["No such run."]})
    return run


def _refuse(what: str, field: str, *messages: str) -> NoReturn:
    raise InvalidInput(f"{what}: " + " ".join(messages), {field: list(messages)})


def _refuse_run(run: ObservingRun, period: Period, what: str, field: str) -> None:
    """Unless ``run`` is an approved VM run of ``period``, as the adapter takes them."""
    why = ""
    if run.proposal.period_id != period.pk:
        why = f"{run} is not a run of {period}."
    elif run.mode != Mode.VM:
        why = f"{run} is a service-mode run: only visitor-mode runs are pinned and linked."
    elif run.proposal.status not in adapter.SCHEDULED_STATUSES:
        why = f"{run} belongs to a proposal that is {run.proposal.get_status_display().lower()}."
    elif not RunDecision.objects.filter(run=run, approved=True).exists():
        why = f"{run} is not approved."
    elif _allocated_nights(run) <= 0:
        why = f"{run} has no nights allocated."
    if why:
        _refuse(what, field, why)


def _allocated_nights(run: ObservingRun) -> float:
    """The VM run's nights, as the adapter takes them (the decision's, else the request's)."""
    decision = RunDecision.objects.filter(run=run).first()
    allocated = decision.allocated_nights if decision is not None else None
    return float(allocated or run.nights or 0.0)


def _nights(nights: float, start: dt.date, second_half: bool) -> list[dt.date]:
    """The local dates of the nights a run of ``nights`` covers from its start slot."""
    first = int(second_half)
    last = first + int(round(2 * nights)) - 1
    return [start + dt.timedelta(days=n) for n in range(0, last // 2 + 1)]


def _problem(period: Period, what: str) -> adapter.PeriodProblem:
    try:
        return adapter.problem_for_period(period)
    except (ProblemError, ScheduleConflict) as exc:
        _refuse(what, "run", f"The period cannot be scheduled: {exc}")


def _engine_run(pp: adapter.PeriodProblem, run_id: str, what: str, field: str) -> EngineRun:
    for run in pp.problem.runs:
        if run.id == run_id and run.mode == "VM":
            return run
    _refuse(what, field, f"{run_id} is not an approved visitor-mode run of the period.")
