"""Reads of review and allocation, shaped for the pages and the API.

Visibility: a reviewer sees only their own assignments (anything else is DoesNotExist, so 404);
a panel's ranking is for its chair and staff; the period's overview and the telescope ranking
are for staff. Nothing here is ever shown to a proposal's team (see ``outcome`` for that)."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from dataflow.observatory.models import Telescope
from dataflow.permissions import may_manage_review
from proposals.models import Category, Mode, ObservingRun, Period, Proposal
from proposals.review import grades as gr
from proposals.review.models import Assignment, LedgerKind, Panel, PanelGrade, ReviewStatus
from proposals.review.services import DISTRIBUTED, pools, requested_hours, setup_for
from proposals.rules import period_capacity
from scheduling.models import CalendarNight, NightKind  # imports nothing of proposals: no cycle

AnyUser = User | AnonymousUser
Pools = dict[Panel | str, list[Proposal]]
"""``services.pools(period)``: computed once per request and handed to the readers below."""


def assignments_of(user: AnyUser) -> QuerySet[Assignment]:
    """The user's assignments, open ones first, with what the home page shows."""
    if not user.is_authenticated:
        return Assignment.objects.none()
    return (
        Assignment.objects.filter(reviewer=user)
        .select_related("proposal__period__review_setup", "panel", "review")
        .order_by("proposal__period__number", "panel__deadline", "proposal__programme_id")
    )


def assignment_for(user: AnyUser, assignment_id: int) -> Assignment:
    """One of the user's assignments; DoesNotExist (404) for anyone else's."""
    return assignments_of(user).get(pk=assignment_id)


def panels_visible_to(user: AnyUser) -> QuerySet[Panel]:
    """Staff see every panel, a chair their own."""
    qs = Panel.objects.select_related("period", "chair")
    if may_manage_review(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(chair=user)


def _submitted_grades(proposal_ids: list[int]) -> list[gr.Grade]:
    rows = Assignment.objects.filter(
        proposal_id__in=proposal_ids, review__status=ReviewStatus.SUBMITTED
    ).values_list("proposal_id", "reviewer_id", "review__grade")
    return [gr.Grade(paper=p, reviewer=r, value=float(g)) for p, r, g in rows if g is not None]


@dataclass(frozen=True)
class RankedProposal:
    proposal: Proposal
    score: gr.PaperScore | None
    panel_grade: float | None
    requested_hours: float
    submitted: int
    assigned: int
    triaged: bool = False

    @property
    def grade(self) -> float | None:
        """The grade that ranks it: the chair's if given, else the normalised mean."""
        if self.panel_grade is not None:
            return self.panel_grade
        return self.score.mean if self.score else None


def rank_pool(
    proposals: list[Proposal],
    *,
    disagreement_range: float,
    triage_share: float,
    available: float | None,
) -> list[RankedProposal]:
    """A pool's proposals ranked best first (unreviewed last), with the triage line drawn where
    the cumulative request reaches ``triage_share`` × ``available`` hours."""
    ids = [p.pk for p in proposals]
    scores = {
        s.paper: s
        for s in gr.score_papers(_submitted_grades(ids), disagreement_range=disagreement_range)
    }
    chair = dict(PanelGrade.objects.filter(proposal_id__in=ids).values_list("proposal_id", "grade"))
    counts: dict[int, list[int]] = {}
    for pid, status in Assignment.objects.filter(proposal_id__in=ids).values_list(
        "proposal_id", "review__status"
    ):
        c = counts.setdefault(pid, [0, 0])
        c[1] += 1
        c[0] += status == ReviewStatus.SUBMITTED
    rows = [
        RankedProposal(
            proposal=p,
            score=scores.get(p.pk),
            panel_grade=float(chair[p.pk]) if p.pk in chair else None,
            requested_hours=requested_hours(p),
            submitted=counts.get(p.pk, [0, 0])[0],
            assigned=counts.get(p.pk, [0, 0])[1],
        )
        for p in proposals
    ]
    rows.sort(key=lambda r: (r.grade is None, r.grade or 0.0, r.proposal.pk))
    if available is None:
        return rows
    lines = gr.rank_requests(
        [r.proposal.pk for r in rows],
        [gr.Request(paper=r.proposal.pk, key="pool", hours=r.requested_hours) for r in rows],
        {"pool": available},
        triage_share=triage_share,
    )["pool"]
    discussed = {line.paper for line in lines if line.above_triage}
    return [
        RankedProposal(**{**r.__dict__, "triaged": r.proposal.pk not in discussed}) for r in rows
    ]


def available_hours(period: Period) -> dict[str, float]:
    """Hours each telescope offers in the period: its nights less the calendar's technical and
    closed ones within the period, at the period's mean night length (sunset to sunrise) at its
    site."""
    unavailable = dict(
        CalendarNight.objects.filter(
            date__range=(period.start, period.end),
            kind__in=[NightKind.TECHNICAL, NightKind.CLOSED],
        )
        .order_by()
        .values("telescope")
        .annotate(nights=Count("pk"))
        .values_list("telescope", "nights")
    )
    result = {}
    for telescope in Telescope.objects.select_related("site"):
        nights, hours = period_capacity(period, telescope)
        open_nights = max(nights - unavailable.get(telescope.pk, 0), 0)
        result[telescope.name] = open_nights * hours / max(nights, 1)
    return result


def panel_ranking(panel: Panel) -> list[RankedProposal]:
    period = panel.period
    setup = setup_for(period)
    proposals = pools(period).get(panel, [])
    # A panel's share of the time: the share of its category's request it reviews.
    total = sum(available_hours(period).values())
    return rank_pool(
        proposals,
        disagreement_range=setup.disagreement_range,
        triage_share=setup.triage_share,
        available=total / max(len(list(period.panels.all())), 1),
    )


def merged_ranking(period: Period, *, pooled: Pools | None = None) -> list[RankedProposal]:
    """Every reviewed proposal of the period, best first: grades normalised within each pool (a
    panel, or the distributed pool), then merged; unreviewed ones last. ``pooled``: the
    period's pools if the caller has them already."""
    setup = setup_for(period)
    if pooled is None:
        pooled = pools(period)
    ranked = [
        row
        for pool in pooled.values()
        for row in rank_pool(
            pool,
            disagreement_range=setup.disagreement_range,
            triage_share=setup.triage_share,
            available=None,
        )
    ]
    ranked.sort(key=lambda r: (r.grade is None, r.grade or 0.0, r.proposal.pk))
    return ranked


@dataclass
class TelescopeRanking:
    telescope: str
    available_hours: float
    lines: list[gr.RankedLine]
    proposals: dict[int, Proposal] = field(default_factory=dict)

    @property
    def requested_hours(self) -> float:
        return self.lines[-1].cumulative_hours if self.lines else 0.0


def telescope_rankings(
    period: Period, *, pooled: Pools | None = None
) -> tuple[list[TelescopeRanking], dict[str, float]]:
    """Per telescope, the merged ranking of every reviewed proposal's runs on it, with the
    cumulative request against the time available and the cut and triage lines; and the
    pressure (requested / available) per telescope and per category."""
    if pooled is None:
        pooled = pools(period)
    proposals = [p for pool in pooled.values() for p in pool]
    setup = setup_for(period)
    ranked = merged_ranking(period, pooled=pooled)
    order = [r.proposal.pk for r in ranked]
    by_id = {p.pk: p for p in proposals}
    requests = []
    for p in proposals:
        per_telescope: dict[str, float] = {}
        for run in p.runs.all():
            hours = run.hours or 0.0
            if run.mode == Mode.VM:
                nights, night_hours = period_capacity(period, run.telescope)
                hours = (run.nights or 0.0) * night_hours / max(nights, 1)
            per_telescope[run.telescope.name] = per_telescope.get(run.telescope.name, 0.0) + hours
        requests += [gr.Request(paper=p.pk, key=k, hours=h) for k, h in per_telescope.items()]
    available = available_hours(period)
    lines = gr.rank_requests(order, requests, available, triage_share=setup.triage_share)
    rankings = [
        TelescopeRanking(name, available.get(name, 0.0), lines.get(name, []), by_id)
        for name in sorted(available)
    ]
    pressure = gr.pressure(requests, available)
    total = sum(available.values())
    by_category = [
        gr.Request(paper=r.paper, key=by_id[r.paper].category or "?", hours=r.hours)
        for r in requests
    ]
    # Each category against the whole observatory's time (categories share the telescopes).
    for key, value in gr.pressure(by_category, {c: total for c in Category.values}).items():
        pressure[f"category {key}"] = value
    return rankings, pressure


@dataclass(frozen=True)
class Progress:
    late: list[Assignment]  # not submitted after the panel's deadline
    open: int
    submitted: int
    teams_in_debt: list[Proposal]  # distributed review: the team did not deliver its reviews


def review_progress(period: Period) -> Progress:
    now = timezone.now()
    assignments = list(
        Assignment.objects.filter(proposal__period=period).select_related(
            "proposal", "panel", "reviewer", "review", "for_proposal"
        )
    )
    done = [a for a in assignments if getattr(a, "review", None) and a.review.status == "submitted"]
    late = [
        a for a in assignments if a not in done and a.panel is not None and a.panel.deadline < now
    ]
    setup = setup_for(period)
    debt: dict[int, Proposal] = {}
    deadline_passed = setup.review_deadline is not None and setup.review_deadline < now
    for a in assignments:
        if a.panel is None and a not in done and a.for_proposal is not None and deadline_passed:
            debt[a.for_proposal.pk] = a.for_proposal
    return Progress(
        late=late,
        open=len(assignments) - len(done),
        submitted=len(done),
        teams_in_debt=list(debt.values()),
    )


def distributed_pool(period: Period, *, pooled: Pools | None = None) -> list[Proposal]:
    return (pools(period) if pooled is None else pooled).get(DISTRIBUTED, [])


def allocated_hours(period: Period) -> dict[int, float]:
    """Hours the ledger allocates to each of the period's runs (its allocation entries), by
    run id; runs without any are absent."""
    rows = (
        ObservingRun.objects.filter(proposal__period=period, ledger__kind=LedgerKind.ALLOCATION)
        .values("pk")
        .annotate(seconds=Sum("ledger__seconds"))
    )
    return {r["pk"]: r["seconds"] / 3600 for r in rows}
