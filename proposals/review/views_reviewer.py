"""Reviewer pages: home (what to grade, by when), the grading page with the proposal's PDF, the
PDF itself and the conflict declaration. Thin: visibility through the selectors (anything not
assigned to the user is a 404, PDF included), writes through the services, whose errors go back
onto the forms. Other reviewers' grades and comments are never read here."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError
from dataflow.permissions import is_reviewer, signed_in
from proposals.forms import add_domain_errors
from proposals.models import Period
from proposals.review import services
from proposals.review.forms import ConflictForm, ReviewForm
from proposals.review.models import Assignment, Panel, Review, ReviewSetup, ReviewStatus
from proposals.review.selectors import assignment_for, assignments_of, panels_visible_to


def _assignment(request: HttpRequest, assignment_id: int) -> Assignment:
    """The user's own assignment; 404 for anyone else's (never reveal that it exists)."""
    try:
        return assignment_for(request.user, assignment_id)
    except Assignment.DoesNotExist as exc:
        raise Http404("No such assignment.") from exc


def _review(assignment: Assignment) -> Review | None:
    try:
        return assignment.review
    except Review.DoesNotExist:
        return None


def _deadline(assignment: Assignment) -> dt.datetime | None:
    """The panel's deadline; for distributed peer review, the period's review deadline."""
    if assignment.panel is not None:
        return assignment.panel.deadline
    try:
        return assignment.proposal.period.review_setup.review_deadline
    except ReviewSetup.DoesNotExist:
        return None


@dataclass
class Row:
    assignment: Assignment
    review: Review | None
    deadline: dt.datetime | None
    late: bool

    @property
    def submitted(self) -> bool:
        return self.review is not None and self.review.status == ReviewStatus.SUBMITTED

    @property
    def status(self) -> str:
        if self.submitted:
            return "submitted"
        return "draft" if self.review is not None else "not started"


@dataclass
class Group:
    period: Period
    panel: Panel | None
    deadline: dt.datetime | None
    rows: list[Row] = field(default_factory=list)


def _rows(assignments: list[Assignment], now: dt.datetime) -> list[Row]:
    rows = []
    for a in assignments:
        review, deadline = _review(a), _deadline(a)
        row = Row(a, review, deadline, late=False)
        row.late = not row.submitted and deadline is not None and deadline < now
        rows.append(row)
    return rows


@login_required
def home(request: HttpRequest) -> HttpResponse:
    assignments = list(assignments_of(request.user))
    # Reviewers, and PIs or delegates owing distributed peer reviews (they hold assignments).
    if not (is_reviewer(request.user) or assignments):
        raise PermissionDenied("Only reviewers have a review home page.")
    now = timezone.now()
    rows = _rows(assignments, now)
    groups: dict[tuple[int, int | None], Group] = {}
    for row in rows:
        a = row.assignment
        key = (a.proposal.period_id, a.panel_id)
        groups.setdefault(key, Group(a.proposal.period, a.panel, row.deadline)).rows.append(row)
    open_rows = [r for r in rows if not r.submitted]
    deadlines = [r.deadline for r in open_rows if r.deadline is not None]
    return render(
        request,
        "review/reviewer/home.html",
        {
            "groups": list(groups.values()),
            "to_submit": len(open_rows),
            "late": sum(r.late for r in open_rows),
            "next_deadline": min(deadlines) if deadlines else None,
            "now": now,
            # A chair's next step after the reviews: the panel's ranking and final grades.
            "chaired": list(panels_visible_to(request.user).filter(chair=signed_in(request.user))),
        },
    )


def _grade_page(
    request: HttpRequest,
    assignment: Assignment,
    review_form: ReviewForm | None = None,
    conflict_form: ConflictForm | None = None,
    status: int = 200,
) -> HttpResponse:
    review = _review(assignment)
    if review_form is None:
        review_form = ReviewForm(
            initial={
                "grade": review.grade,
                "comment_to_pi": review.comment_to_pi,
                "comment_to_panel": review.comment_to_panel,
            }
            if review
            else None
        )
    row = _rows([assignment], timezone.now())[0]
    proposal = assignment.proposal
    context: dict[str, Any] = {
        "assignment": assignment,
        "proposal": proposal,
        "runs": proposal.runs.select_related("telescope", "instrument"),
        "row": row,
        # Only this reviewer's own review: other reviewers' are never loaded.
        "review": review,
        "review_form": review_form,
        "conflict_form": conflict_form or ConflictForm(),
    }
    return render(request, "review/reviewer/grade.html", context, status=status)


@login_required
def grade(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _assignment(request, assignment_id)
    if request.method != "POST":
        return _grade_page(request, assignment)
    form = ReviewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.review_save(
                assignment_id=assignment.pk,
                actor=signed_in(request.user),
                grade=data["grade"],
                comment_to_pi=data["comment_to_pi"],
                comment_to_panel=data["comment_to_panel"],
                submit=form.submitting,
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Review submitted." if form.submitting else "Draft saved.")
            return redirect("review:grade", assignment_id=assignment.pk)
    return _grade_page(request, _assignment(request, assignment_id), review_form=form)


@login_required
@xframe_options_sameorigin  # embedded in the grading page
def pdf(request: HttpRequest, assignment_id: int) -> HttpResponseBase:
    """The assigned proposal's final PDF, inline (rendered now if none was stored)."""
    proposal = _assignment(request, assignment_id).proposal
    filename = f"{proposal.programme_id or f'proposal-{proposal.pk}'}.pdf"
    if proposal.final_pdf:
        return FileResponse(
            proposal.final_pdf.open("rb"), content_type="application/pdf", filename=filename
        )
    from proposals.pdf import render_proposal_pdf

    response = HttpResponse(render_proposal_pdf(proposal.pk), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@login_required
@require_POST
def declare_conflict(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _assignment(request, assignment_id)
    form = ConflictForm(request.POST)
    if form.is_valid():
        try:
            new = services.conflict_declare(
                assignment_id=assignment.pk,
                reason=form.cleaned_data["reason"],
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            label = assignment.proposal.programme_id or assignment.proposal.title
            if new is None:
                messages.warning(
                    request,
                    f"Conflict recorded; {label} is no longer yours. No other panel member is "
                    "free, so staff will have it reassigned.",
                )
            else:
                messages.success(
                    request, f"Conflict recorded; {label} was reassigned to another reviewer."
                )
            return redirect("review:home")
    return _grade_page(request, assignment, conflict_form=form)
