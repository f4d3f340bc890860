"""Reads of the staff review of Phase 2, shaped for its pages and the two homes: the queue of
submitted OBs (status ``D``) grouped by run, one OB in full for review, the count on the staff
home, and the astronomers' open runs with what was sent back to them.

Who reads what is ``observations.access``'s :func:`readable_runs_q` (staff: every open run;
the pages check staff first). Every read here costs a fixed number of queries whatever the
number of OBs: a page of the queue asks for its OBs, their runs' totals and their containers
once each, and verifies the page's OBs together (``rules.verify_many``: a fixed number of
queries and one sky computation per run on the page).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from dataflow.permissions import AnyUser, investigator_q
from observations import rules
from observations.access import readable_runs_q
from observations.models import (
    Container,
    ObservationBlock,
    OBStatus,
    Phase2Event,
)
from observations.selectors import OBDetail, ob_detail, phase2_runs
from observations.verification import SHORT_OB_S
from proposals.models import Mode, ObservingRun, Proposal
from proposals.review.models import LedgerEntry, LedgerKind


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """The queue's filters (``None``: any): a period by number, a telescope and an instrument
    by name (an instrument's name may be mounted on several telescopes)."""

    period: int | None = None
    telescope: str | None = None
    instrument: str | None = None


def _readable_runs(user: AnyUser) -> QuerySet[ObservingRun, Any]:
    return ObservingRun.objects.filter(readable_runs_q(user)).values("pk")


def _last_event(column: str, to_status: str) -> Subquery:
    """The ``column`` of the OB's latest event into ``to_status`` (its latest submission for
    ``D``, its latest send-back for ``-``)."""
    events = Phase2Event.objects.filter(ob=OuterRef("pk"), to_status=to_status)
    return Subquery(events.order_by("-at", "-pk").values(column)[:1])


def _pending(user: AnyUser) -> QuerySet[ObservationBlock]:
    return ObservationBlock.objects.filter(
        status=OBStatus.DEFINED, run__in=_readable_runs(user)
    ).order_by()


def pending_count(user: AnyUser) -> int:
    """How many submitted OBs of open runs await review (one query)."""
    return _pending(user).count()


def pending_obs(user: AnyUser, filters: QueueFilter | None = None) -> QuerySet[ObservationBlock]:
    """The submitted OBs awaiting review, oldest submission first (an OB in ``D`` without a
    submission event, which only an import makes, first of all), with their run, its
    proposal, period, telescope and instrument, and their container; ``submitted_at``: the
    time of their latest submission."""
    filters = filters or QueueFilter()
    obs = _pending(user)
    if filters.period is not None:
        obs = obs.filter(run__proposal__period__number=filters.period)
    if filters.telescope:
        obs = obs.filter(run__telescope__name=filters.telescope)
    if filters.instrument:
        obs = obs.filter(run__instrument__name=filters.instrument)
    return (
        obs.select_related(
            "run__proposal__period", "run__telescope", "run__instrument", "container"
        )
        .annotate(submitted_at=_last_event("at", OBStatus.DEFINED))
        .order_by(F("submitted_at").asc(nulls_first=True), "pk")
    )


# ---------------------------------------------------------------------------------------------
# A page of the queue, grouped by run
# ---------------------------------------------------------------------------------------------


def constraints_summary(ob: ObservationBlock) -> str:
    """The constraint set in one line, as a reviewer compares it with Phase 1."""
    parts = [
        f"airmass ≤ {ob.max_airmass:g}",
        f"seeing ≤ {ob.seeing_arcsec:g}″",
        ob.sky_transparency,
        f"FLI ≤ {ob.max_fli:g}",
        f"moon ≥ {ob.min_moon_distance_deg:g}°",
    ]
    if ob.twilight_min:
        parts.append(f"twilight {ob.twilight_min:+g} min")
    if ob.water_vapour_mm < 30.0:
        parts.append(f"PWV ≤ {ob.water_vapour_mm:g} mm")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class QueueRow:
    ob: ObservationBlock
    submitted_at: dt.datetime | None
    constraints: str
    verification: rules.Verification


@dataclass(frozen=True, slots=True)
class PendingContainer:
    """A container and how many submitted OBs are under it (in it and in the containers
    inside it): what accepting the container accepts (``services.container_accept``)."""

    id: int
    item_type: str
    name: str
    version: int
    pending: int
    is_root: bool


@dataclass(slots=True)
class QueueRun:
    """A run of the queue's page: its totals (``run`` is annotated with ``allocated_s``,
    ``total_execution_s``, ``ob_total``, ``pending``, ``pending_execution_s``), its rows on
    the page and its containers holding submitted OBs."""

    run: ObservingRun
    rows: list[QueueRow] = field(default_factory=list)
    containers: list[PendingContainer] = field(default_factory=list)

    @property
    def over_allocation(self) -> bool:
        allocated = getattr(self.run, "allocated_s", 0)
        return bool(allocated) and getattr(self.run, "total_execution_s", 0.0) > allocated


def _sum(queryset: QuerySet[Any], column: str, output: IntegerField | FloatField) -> Coalesce:
    """A correlated ``SUM(column)`` of ``queryset`` per run (0 when there is none)."""
    summed = queryset.order_by().values("run").annotate(s=Sum(column)).values("s")
    return Coalesce(Subquery(summed, output_field=output), 0, output_field=output)


def _count(queryset: QuerySet[Any]) -> Coalesce:
    counted = queryset.order_by().values("run").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def run_totals(run_ids: Sequence[int]) -> dict[int, ObservingRun]:
    """The runs with their allocation (s, the ledger's allocation entries), all their OBs'
    execution time (s) and count, and the same for their OBs awaiting review (one query)."""
    obs = ObservationBlock.objects.filter(run=OuterRef("pk"))
    pending = obs.filter(status=OBStatus.DEFINED)
    allocations = LedgerEntry.objects.filter(run=OuterRef("pk"), kind=LedgerKind.ALLOCATION)
    runs = (
        ObservingRun.objects.filter(pk__in=run_ids)
        .select_related("proposal__period", "proposal__pi", "telescope", "instrument", "decision")
        .annotate(
            allocated_s=_sum(allocations, "seconds", IntegerField()),
            total_execution_s=_sum(obs, "execution_time_s", FloatField()),
            ob_total=_count(obs),
            pending=_count(pending),
            pending_execution_s=_sum(pending, "execution_time_s", FloatField()),
        )
    )
    return {run.pk: run for run in runs}


def pending_containers(run_ids: Sequence[int]) -> dict[int, list[PendingContainer]]:
    """Per run, the containers whose acceptance would accept submitted OBs: the root folder
    (the whole run) and each container holding such OBs directly, in tree order, each with
    the number of submitted OBs under it (two queries)."""
    rows = (
        Container.objects.filter(run_id__in=run_ids)
        .order_by("position", "pk")
        .values_list("pk", "run_id", "parent_id", "item_type", "name", "version")
    )
    direct: dict[int, int] = dict(
        ObservationBlock.objects.filter(run_id__in=run_ids, status=OBStatus.DEFINED)
        .order_by()
        .values_list("container_id")
        .annotate(n=Count("pk"))
        .values_list("container_id", "n")
    )
    info = {row[0]: row for row in rows}
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, _run, parent_id, *_ in info.values():
        children[parent_id].append(pk)
    # Pre-order without recursion (folders may nest deeply); sums children before parents.
    order: list[int] = []
    stack = list(reversed(children[None]))
    while stack:
        pk = stack.pop()
        order.append(pk)
        stack.extend(reversed(children[pk]))
    under = {pk: direct.get(pk, 0) for pk in order}
    for pk in reversed(order):
        parent_id = info[pk][2]
        if parent_id is not None and parent_id in under:
            under[parent_id] += under[pk]
    found: dict[int, list[PendingContainer]] = defaultdict(list)
    for pk in order:
        _pk, run_id, parent_id, item_type, name, version = info[pk]
        is_root = parent_id is None
        if under[pk] and (is_root or direct.get(pk)):
            found[run_id].append(
                PendingContainer(pk, item_type, name, version, under[pk], is_root=is_root)
            )
    return found


def queue_groups(obs: Sequence[ObservationBlock]) -> list[QueueRun]:
    """A page of :func:`pending_obs` grouped by run: runs in the order of their oldest OB on
    the page, each run's OBs in the page's order, every OB verified."""
    run_ids = list(dict.fromkeys(ob.run_id for ob in obs))
    totals = run_totals(run_ids)
    containers = pending_containers(run_ids)
    reports = rules.verify_many(obs) if obs else {}
    groups = {pk: QueueRun(run=totals[pk], containers=containers[pk]) for pk in run_ids}
    for ob in obs:
        groups[ob.run_id].rows.append(
            QueueRow(
                ob=ob,
                submitted_at=getattr(ob, "submitted_at", None),
                constraints=constraints_summary(ob),
                verification=reports[ob.pk],
            )
        )
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# One OB in full
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OBReview:
    """An OB as staff review it: its detail (templates with values, windows, chart names),
    its history, when it was submitted, the submitted OBs under its container (what
    accepting the container accepts)
    and whether the service-mode one-hour minimum concerns it (the waiver)."""

    detail: OBDetail
    events: list[Phase2Event]
    submitted_at: dt.datetime | None
    container_pending: int
    waiver_applies: bool

    @property
    def ob(self) -> ObservationBlock:
        return self.detail.ob


def review_ob(user: AnyUser, pk: int) -> OBReview:
    """An OB of a run ``user`` may read, for review; ``ObservationBlock.DoesNotExist``
    otherwise."""
    ob = (
        ObservationBlock.objects.select_related(
            "run__proposal__period",
            "run__proposal__pi",
            "run__telescope",
            "run__instrument",
            "run__decision",
            "container",
        )
        .annotate(submitted_at=_last_event("at", OBStatus.DEFINED))
        .get(pk=pk, run__in=_readable_runs(user))
    )
    events = list(Phase2Event.objects.filter(ob=ob).select_related("actor").order_by("at", "pk"))
    containers = pending_containers([ob.run_id])[ob.run_id]
    container_pending = next((c.pending for c in containers if c.id == ob.container_id), 0)
    return OBReview(
        detail=ob_detail(ob),
        events=events,
        submitted_at=getattr(ob, "submitted_at", None),
        container_pending=container_pending,
        waiver_applies=ob.run.mode == Mode.SM
        and (ob.execution_time_s < SHORT_OB_S or ob.short_ob_waived),
    )


# ---------------------------------------------------------------------------------------------
# The astronomers' home: their open runs
# ---------------------------------------------------------------------------------------------

_STATUS_ORDER = [str(s) for s in OBStatus]


@dataclass(frozen=True, slots=True)
class StatusCount:
    code: str
    label: str
    n: int


@dataclass(slots=True)
class MyRun:
    """An open run of the user's with its OBs counted by status and those sent back to them
    (each annotated with ``send_back_message`` and ``sent_back_at``)."""

    run: ObservingRun
    counts: list[StatusCount] = field(default_factory=list)
    sent_back: list[ObservationBlock] = field(default_factory=list)


def my_phase2_runs(user: AnyUser) -> list[MyRun]:
    """The open runs of the proposals ``user`` is an investigator of (staff too: their own
    only), newest period first (three queries)."""
    mine = Proposal.objects.filter(investigator_q(user)).values("pk")
    runs = list(phase2_runs(user).filter(proposal__in=mine))
    if not runs:
        return []
    out = {run.pk: MyRun(run=run) for run in runs}
    labels = dict(OBStatus.choices)
    counts = (
        ObservationBlock.objects.filter(run_id__in=out)
        .order_by()
        .values_list("run_id", "status")
        .annotate(n=Count("pk"))
    )
    by_run: dict[int, dict[str, int]] = defaultdict(dict)
    for run_id, status, n in counts:
        by_run[run_id][status] = n
    for run_id, statuses in by_run.items():
        out[run_id].counts = [
            StatusCount(code, labels[code], statuses[code])
            for code in _STATUS_ORDER
            if code in statuses
        ]
    sent_back = (
        ObservationBlock.objects.filter(run_id__in=out, status=OBStatus.REPAIR)
        .annotate(
            send_back_message=_last_event("message", OBStatus.REPAIR),
            sent_back_at=_last_event("at", OBStatus.REPAIR),
        )
        .order_by("run_id", "position", "pk")
    )
    for ob in sent_back:
        out[ob.run_id].sent_back.append(ob)
    return list(out.values())
