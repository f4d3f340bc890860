"""Chair and staff pages of the review: the overview of a period (start, panels, members,
assignment, conflicts, progress), a panel's ranking with the chair's grades, the telescope
ranking with its pressure plot, and the allocation of runs.

Thin, like the Phase 1 pages: who may look is checked here (staff: 403 for anyone else; a
panel: its chair and staff, 404 for anyone else), every write is one review service whose
errors go back onto the form that asked."""

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError, InvalidInput
from dataflow.permissions import ensure_staff, may_manage_review, signed_in
from proposals.forms import add_domain_errors
from proposals.models import ObservingRun, Period, Proposal, ProposalStatus
from proposals.review import selectors as sel
from proposals.review import services
from proposals.review.forms_staff import (
    ConflictOverrideForm,
    MemberAddForm,
    PanelCreateForm,
    PanelGradeForm,
    RunDecisionForm,
)
from proposals.review.models import Assignment, Conflict, Panel, ReviewStatus, RunDecision
from proposals.review.plots import pressure_png as draw_pressure_png
from proposals.rules import posted_id

#: One sentence for the panel page, from ``proposals.review.grades`` (module doc).
NORMALISATION = (
    "Each reviewer's grades (with at least three of them) are mapped linearly onto the "
    "panel's mean and spread, g' = m + (g − m_r) × s / s_r, clipped to 1.0–5.0, so lenient "
    "and harsh graders count alike and each reviewer's order of proposals is kept; reviewers "
    "with fewer grades are left unchanged."
)


def _period(number: int) -> Period:
    return get_object_or_404(Period, number=number)


def _overview_url(period: Period, anchor: str = "") -> str:
    url = reverse("review:overview", args=[period.number])
    return f"{url}#{anchor}" if anchor else url


def current_period() -> Period | None:
    """The period whose review is under way, else the one whose call is open, else the last."""
    reviewing = (
        Period.objects.filter(proposals__status=ProposalStatus.UNDER_REVIEW)
        .order_by("-number")
        .first()
    )
    if reviewing is not None:
        return reviewing
    from proposals.selectors import open_periods

    return open_periods().order_by("-number").first() or Period.objects.order_by("-number").first()


# --- overview ---------------------------------------------------------------------------


def _overview_page(
    request: HttpRequest,
    period: Period,
    override_forms: dict[int, ConflictOverrideForm] | None = None,
    **overrides: Any,
) -> HttpResponse:
    override_forms = override_forms or {}
    pools = services.pools(period)
    panels = period.panels.select_related("chair").prefetch_related("members__user")
    setup = services.setup_for(period)
    counts: dict[str, int] = defaultdict(int)
    for status in Proposal.objects.filter(period=period).values_list("status", flat=True):
        counts[status] += 1
    context: dict[str, Any] = {
        "period": period,
        "periods": Period.objects.order_by("-number"),
        "setup": setup,
        "submitted": counts[ProposalStatus.SUBMITTED],
        "under_review": counts[ProposalStatus.UNDER_REVIEW],
        "approved": counts[ProposalStatus.APPROVED],
        "rejected": counts[ProposalStatus.REJECTED],
        "panels": [(p, len(pools.get(p, []))) for p in panels],
        "distributed": len(sel.distributed_pool(period, pooled=pools)),
        "assignments": Assignment.objects.filter(proposal__period=period).count(),
        "conflicts": [
            (c, override_forms.get(c.pk))
            for c in Conflict.objects.filter(proposal__period=period).select_related(
                "proposal", "reviewer", "overridden_by"
            )
        ],
        "progress": sel.review_progress(period),
        "panel_form": PanelCreateForm(),
        "member_form": MemberAddForm(panels=period.panels.all()),
        "solve_errors": [],
    }
    context.update(overrides)
    return render(request, "review/staff/overview.html", context)


@login_required
def overview(request: HttpRequest, number: int | None = None) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    if number is None:
        period = current_period()
        if period is None:
            raise Http404("No period is defined yet.")
        return redirect("review:overview", number=period.number)
    return _overview_page(request, _period(number))


@login_required
@require_POST
def start(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    period = _period(number)
    try:
        moved = services.review_start(period_id=period.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, " ".join(exc.all_messages()))
    else:
        messages.success(request, f"Review started: {moved} proposals under review.")
    return redirect(_overview_url(period))


@login_required
@require_POST
def panel_create(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    period = _period(number)
    form = PanelCreateForm(request.POST)
    if form.is_valid():
        chair = form.cleaned_data["chair"]
        try:
            panel = services.panel_create(
                period_id=period.pk,
                name=form.cleaned_data["name"],
                category=form.cleaned_data["category"],
                deadline=form.cleaned_data["deadline"],
                chair_id=chair.pk if chair else None,
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Panel {panel.name} created.")
            return redirect(_overview_url(period, "panels"))
    return _overview_page(request, period, panel_form=form)


@login_required
@require_POST
def member_add(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    period = _period(number)
    form = MemberAddForm(request.POST, panels=period.panels.all())
    if form.is_valid():
        panel, user = form.cleaned_data["panel"], form.cleaned_data["user"]
        try:
            services.panel_member_add(
                panel_id=panel.pk,
                user_id=user.pk,
                expertise=form.keywords(),
                chair=form.cleaned_data["chair"],
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"{user.username} added to {panel.name}.")
            return redirect(_overview_url(period, "panels"))
    return _overview_page(request, period, member_form=form)


@login_required
@require_POST
def solve(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    period = _period(number)
    try:
        total = services.assignments_solve(period_id=period.pk, actor=signed_in(request.user))
    except DomainError as exc:
        return _overview_page(request, period, solve_errors=exc.all_messages())
    messages.success(request, f"Reviewers assigned: {total} assignments.")
    return redirect(_overview_url(period, "assignment"))


@login_required
@require_POST
def conflict_override(request: HttpRequest, conflict_id: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    conflict = get_object_or_404(
        Conflict.objects.select_related("proposal__period"), pk=conflict_id
    )
    period = conflict.proposal.period
    form = ConflictOverrideForm(request.POST)
    if form.is_valid():
        try:
            services.conflict_override(
                conflict_id=conflict.pk,
                reason=form.cleaned_data["reason"],
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Conflict overridden; the reason is logged.")
            return redirect(_overview_url(period, "conflicts"))
    return _overview_page(request, period, {conflict.pk: form})


# --- a panel's ranking ----------------------------------------------------------------------


@dataclass(frozen=True)
class GradeCell:
    reviewer: str  # "R1" for the chair, the name for staff
    raw: float
    normalised: float


@dataclass(frozen=True)
class PanelRow:
    rank: int
    ranked: sel.RankedProposal
    grades: list[GradeCell]
    form: PanelGradeForm
    first_triaged: bool  # the triage line is drawn above this row
    hidden: bool = False  # the chair's own review of it is still open


def _grade_cells(ranking: list[sel.RankedProposal], *, names: bool) -> dict[int, list[GradeCell]]:
    """Each proposal's grades with who gave them: pseudonyms R1, R2... (numbered across the
    panel, so the chair sees a reviewer's pattern without the name), names for staff."""
    ids = [r.proposal.pk for r in ranking]
    rows = (
        Assignment.objects.filter(
            proposal_id__in=ids, review__status=ReviewStatus.SUBMITTED, review__grade__isnull=False
        )
        .select_related("reviewer")
        .order_by("proposal_id", "reviewer_id")
    )
    by_proposal: dict[int, list[Any]] = defaultdict(list)
    for a in rows:
        by_proposal[a.proposal_id].append(a.reviewer)
    pseudonyms = {
        uid: f"R{i}"
        for i, uid in enumerate(sorted({u.pk for us in by_proposal.values() for u in us}), 1)
    }
    out: dict[int, list[GradeCell]] = {}
    for r in ranking:
        if r.score is None:
            continue
        # PaperScore lists grades in reviewer-id order, like the query above.
        who = by_proposal.get(r.proposal.pk, [])
        out[r.proposal.pk] = [
            GradeCell(
                reviewer=(u.get_full_name() or u.username) if names else pseudonyms[u.pk],
                raw=raw,
                normalised=norm,
            )
            for u, raw, norm in zip(who, r.score.raw, r.score.normalised, strict=False)
        ]
    return out


def _visible_panel(request: HttpRequest, panel_id: int) -> Panel:
    """The panel if the user chairs it or is staff; 404 otherwise (never say it exists)."""
    try:
        return sel.panels_visible_to(request.user).get(pk=panel_id)
    except Panel.DoesNotExist as exc:
        raise Http404("No such panel.") from exc


def _panel_page(
    request: HttpRequest, panel: Panel, bound: dict[int, PanelGradeForm] | None = None
) -> HttpResponse:
    bound = bound or {}
    ranking = sel.panel_ranking(panel)
    is_staff = may_manage_review(request.user)
    cells = _grade_cells(ranking, names=is_staff)
    # A chair who reviews a proposal too sees no one's grades of it before submitting their own.
    hidden = (
        set()
        if is_staff
        else set(
            Assignment.objects.filter(reviewer_id=request.user.pk, panel=panel)
            .exclude(review__status=ReviewStatus.SUBMITTED)
            .values_list("proposal_id", flat=True)
        )
    )
    rows: list[PanelRow] = []
    triage_drawn = False
    for i, r in enumerate(ranking, 1):
        first = r.triaged and not triage_drawn
        triage_drawn = triage_drawn or r.triaged
        form = bound.get(r.proposal.pk) or PanelGradeForm(
            initial={"grade": f"{r.panel_grade:.1f}" if r.panel_grade is not None else ""},
            prefix=f"p{r.proposal.pk}",
        )
        if r.proposal.pk in hidden:
            r = replace(r, score=None)
        rows.append(
            PanelRow(i, r, cells.get(r.proposal.pk, []), form, first, r.proposal.pk in hidden)
        )
    assignments = (
        list(
            Assignment.objects.filter(panel=panel)
            .select_related("proposal", "reviewer", "review")
            .order_by("proposal__programme_number", "role", "reviewer__username")
        )
        if is_staff
        else []
    )
    context = {
        "panel": panel,
        "rows": rows,
        "is_staff": is_staff,
        "assignments": assignments,
        "members": [
            m.user for m in panel.members.select_related("user").order_by("user__username")
        ],
        "normalisation": NORMALISATION,
        "setup": services.setup_for(panel.period),
    }
    return render(request, "review/staff/panel.html", context)


@login_required
def panel(request: HttpRequest, panel_id: int) -> HttpResponse:
    return _panel_page(request, _visible_panel(request, panel_id))


@login_required
@require_POST
def panel_grade(request: HttpRequest, panel_id: int, proposal_id: int) -> HttpResponse:
    panel = _visible_panel(request, panel_id)
    if proposal_id not in {p.pk for p in services.pools(panel.period).get(panel, [])}:
        raise Http404("The panel does not review this proposal.")
    form = PanelGradeForm(request.POST, prefix=f"p{proposal_id}")
    if form.is_valid():
        try:
            services.panel_grade_set(
                proposal_id=proposal_id,
                grade=form.cleaned_data["grade"].strip(),
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Panel grade saved.")
            return redirect(reverse("review:panel", args=[panel.pk]) + f"#p{proposal_id}")
    return _panel_page(request, panel, {proposal_id: form})


# --- the telescope ranking and pressure -----------------------------------------------------


@dataclass(frozen=True)
class RankingRow:
    line: Any  # grades.RankedLine
    proposal: Proposal
    first_below_cut: bool
    first_below_triage: bool


@login_required
def ranking(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    period = _period(number)
    rankings, pressure = sel.telescope_rankings(period)
    tables = []
    for t in rankings:
        rows: list[RankingRow] = []
        cut_drawn = triage_drawn = False
        for line in t.lines:
            below_cut = not line.above_cut and not cut_drawn
            below_triage = not line.above_triage and not triage_drawn
            cut_drawn = cut_drawn or not line.above_cut
            triage_drawn = triage_drawn or not line.above_triage
            rows.append(RankingRow(line, t.proposals[line.paper], below_cut, below_triage))
        ratio = pressure.get(t.telescope, 0.0)
        tables.append({"ranking": t, "rows": rows, "pressure": ratio})
    pressures = [
        {"key": k, "value": v, "infinite": math.isinf(v)} for k, v in sorted(pressure.items())
    ]
    return render(
        request,
        "review/staff/ranking.html",
        {
            "period": period,
            "tables": tables,
            "pressures": pressures,
            "setup": services.setup_for(period),
        },
    )


@login_required
def pressure_png(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    _, pressure = sel.telescope_rankings(_period(number))
    response = HttpResponse(draw_pressure_png(pressure), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


# --- allocation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationRow:
    rank: int
    ranked: sel.RankedProposal
    runs: list[tuple[ObservingRun, RunDecisionForm]]


def _allocation_page(
    request: HttpRequest, period: Period, bound: dict[int, RunDecisionForm] | None = None
) -> HttpResponse:
    bound = bound or {}
    ranked = sel.merged_ranking(period)
    proposals = [r.proposal for r in ranked]
    runs = ObservingRun.objects.filter(proposal__in=proposals).select_related(
        "telescope", "instrument", "decision"
    )
    runs_of: dict[int, list[ObservingRun]] = defaultdict(list)
    for run in runs.order_by("letter"):
        runs_of[run.proposal_id].append(run)
    rows = [
        AllocationRow(
            i,
            r,
            [
                (run, bound.get(run.pk) or RunDecisionForm.for_run(run))
                for run in runs_of[r.proposal.pk]
            ],
        )
        for i, r in enumerate(ranked, 1)
    ]
    decisions = list(
        RunDecision.objects.filter(run__proposal__period=period)
        .select_related("run__proposal", "run__telescope", "decided_by")
        .order_by("run__proposal__programme_id", "run__letter")
    )
    allocated = sel.allocated_hours(period)
    for d in decisions:
        d.allocated_hours = allocated.get(d.run_id, 0.0)  # type: ignore[attr-defined]
    return render(
        request,
        "review/staff/allocation.html",
        {
            "period": period,
            "rows": rows,
            "decisions": decisions,
        },
    )


@login_required
def allocation(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    return _allocation_page(request, _period(number))


@login_required
@require_POST
def run_decide(request: HttpRequest, run_id: int) -> HttpResponse:
    ensure_staff(request.user, "run the review")
    run = get_object_or_404(ObservingRun.objects.select_related("proposal__period"), pk=run_id)
    period = run.proposal.period
    form = RunDecisionForm(request.POST, prefix=f"run{run.pk}")
    if form.is_valid():
        data = form.cleaned_data
        approved = data["decision"] == "approve"
        try:
            services.run_decide(
                run_id=run.pk,
                actor=signed_in(request.user),
                approved=approved,
                rank_class=data["rank_class"] if approved else "",
                hours=data["hours"] if approved else None,
                nights=data["nights"] if approved else None,
                note=data["note"],
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            verdict = "approved" if approved else "rejected"
            messages.success(
                request, f"Run {run.proposal.programme_id or run.proposal} {run.letter} {verdict}."
            )
            return redirect(reverse("review:allocation", args=[period.number]) + "#decisions")
    return _allocation_page(request, period, {run.pk: form})


@login_required
@require_POST
def assignment_move(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Staff move one assignment to another member of its panel (kept on re-solve)."""
    ensure_staff(request.user, "run the review")
    assignment = get_object_or_404(Assignment, pk=assignment_id)
    reviewer_id = posted_id(request.POST.get("reviewer", ""))
    try:
        if reviewer_id is None:
            raise InvalidInput("Choose a reviewer.", {"reviewer": ["Choose a reviewer."]})
        services.assignment_move(
            assignment_id=assignment.pk, reviewer_id=reviewer_id, actor=signed_in(request.user)
        )
    except DomainError as exc:
        messages.error(request, " ".join(exc.all_messages()))
    else:
        messages.success(request, f"Assignment of {assignment.proposal} moved.")
    if assignment.panel_id is None:
        return redirect(_overview_url(assignment.proposal.period))
    return redirect(reverse("review:panel", args=[assignment.panel_id]) + "#assignments")
