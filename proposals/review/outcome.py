"""The outcome letter a PI receives once every run of their proposal is decided: as a page, a
PDF, an e-mail to the PI (the PDF attached) and a notice to each accepted co-investigator.

Reviewer identities never reach the letter: ``outcome_for`` copies grades and comment texts
into plain values and nothing else of a review (no user, assignment or review id), so the page,
the PDF, the e-mails and the API (``outcome_data``) can only show what the ``Outcome`` holds.
The comments to the PI are ordered by their text and labelled "Reviewer 1, 2, 3": their order
says nothing about who wrote them."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dataflow.errors import InvalidInput
from proposals.models import Mode, Proposal, ProposalEvent, ProposalStatus
from proposals.review import grades as gr
from proposals.review.models import (
    Assignment,
    AssignmentRole,
    LedgerKind,
    PanelGrade,
    RankClass,
    Review,
    ReviewStatus,
    RunDecision,
)

DECIDED = (ProposalStatus.APPROVED, ProposalStatus.REJECTED)
OUTCOME_SENT = "outcome sent"  # the note of the ProposalEvent that records the letter was sent
QUARTER_LABELS = {1: "top quarter", 2: "second quarter", 3: "third quarter", 4: "bottom quarter"}
POOL_PANEL, POOL_DISTRIBUTED = "panel", "distributed"
POOL_LABELS = {POOL_PANEL: "its panel", POOL_DISTRIBUTED: "the distributed peer review pool"}
APPROVED, REJECTED, PENDING = "approved", "rejected", "pending"
GRADE_TIE = 1e-9  # normalised means closer than this are equal (float noise)


@dataclass(frozen=True)
class RunOutcome:
    letter: str
    label: str  # "119.C-0001(A)"
    telescope: str
    instrument: str
    mode: str  # "SM" | "VM"
    requested: str  # "4 h", "2 n"
    decision: str  # APPROVED | REJECTED | PENDING
    rank_class: str  # "A" | "B" | "C"; "" for VM and rejected runs
    allocated_seconds: int | None  # the ledger's allocations (approved runs)
    allocated_nights: float | None  # VM runs

    @property
    def decision_label(self) -> str:
        return self.decision.capitalize()

    @property
    def rank_class_label(self) -> str:
        return RankClass(self.rank_class).label if self.rank_class else ""

    @property
    def allocated_hours(self) -> float | None:
        if self.allocated_seconds is None:
            return None
        return self.allocated_seconds / 3600

    @property
    def allocated_label(self) -> str:
        if self.decision != APPROVED:
            return "—"
        if self.mode == Mode.VM and self.allocated_nights is not None:
            return f"{self.allocated_nights:g} nights"
        hours = self.allocated_hours
        return f"{hours:.1f} h" if hours is not None else "—"


@dataclass(frozen=True)
class PiComment:
    label: str  # "Reviewer 1"
    text: str


@dataclass(frozen=True)
class Outcome:
    proposal_id: int
    programme_id: str
    title: str
    period: int
    pi_name: str
    status: str  # "approved" | "rejected" (or the current status while undecided)
    runs: tuple[RunOutcome, ...]
    grade: Decimal | None  # 1.0 best .. 5.0 worst, one decimal
    quartile: int | None  # 1 = top quarter
    pool: str  # POOL_PANEL | POOL_DISTRIBUTED | "" (not reviewed)
    pool_size: int  # reviewed proposals ranked together with this one
    comments: tuple[PiComment, ...]

    @property
    def status_label(self) -> str:
        return ProposalStatus(self.status).label

    @property
    def decided(self) -> bool:
        return self.status in DECIDED and all(r.decision != PENDING for r in self.runs)

    @property
    def grade_label(self) -> str:
        return f"{self.grade:.1f}" if self.grade is not None else "—"

    @property
    def quartile_label(self) -> str:
        return QUARTER_LABELS.get(self.quartile or 0, "")

    @property
    def standing(self) -> str:
        """Where the proposal stood, as a sentence fragment: "top quarter of the 12 proposals
        reviewed by its panel"."""
        if self.quartile is None:
            return "not ranked"
        return (
            f"{self.quartile_label} of the {self.pool_size} proposals reviewed by "
            f"{POOL_LABELS[self.pool]}"
        )


# --------------------------------------------------------------------------------------------
# Grades and standing
# --------------------------------------------------------------------------------------------


def _one_decimal(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _grades(proposal_ids: set[int]) -> dict[int, float]:
    """Each proposal's grade as the panel ranking has it (``selectors.rank_pool``): the chair's
    panel grade if entered, else the mean of its submitted reviews' grades normalised per
    reviewer over the pool (``grades.score_papers``). Proposals without either are left out."""
    chair = {
        pid: float(grade)
        for pid, grade in PanelGrade.objects.filter(proposal_id__in=proposal_ids).values_list(
            "proposal_id", "grade"
        )
    }
    rows = Review.objects.filter(
        assignment__proposal_id__in=proposal_ids,
        status=ReviewStatus.SUBMITTED,
        grade__isnull=False,
    ).values_list("assignment__proposal_id", "assignment__reviewer_id", "grade")
    # Reviewer ids only key the normalisation; they stay here, dropped with the scores.
    submitted = [gr.Grade(paper=p, reviewer=r, value=float(g)) for p, r, g in rows if g is not None]
    means = {score.paper: score.mean for score in gr.score_papers(submitted)}
    return {**means, **chair}


def _pool(proposal: Proposal) -> tuple[str, set[int]]:
    """The proposals ranked together with this one: those of its panel (the panel of the
    chair's grade, else of its panel assignments), or the period's distributed pool."""
    panel_id = (
        PanelGrade.objects.filter(proposal=proposal).values_list("panel_id", flat=True).first()
        or Assignment.objects.filter(proposal=proposal, panel__isnull=False)
        .values_list("panel_id", flat=True)
        .first()
    )
    if panel_id is not None:
        members = set(
            Assignment.objects.filter(panel_id=panel_id).values_list("proposal_id", flat=True)
        )
        members |= set(
            PanelGrade.objects.filter(panel_id=panel_id).values_list("proposal_id", flat=True)
        )
        return POOL_PANEL, members | {proposal.pk}
    distributed = Assignment.objects.filter(
        role=AssignmentRole.DISTRIBUTED, proposal__period_id=proposal.period_id
    )
    if distributed.filter(proposal=proposal).exists():
        return POOL_DISTRIBUTED, set(distributed.values_list("proposal_id", flat=True))
    return "", {proposal.pk}


def _standing(proposal: Proposal) -> tuple[Decimal | None, int | None, str, int]:
    """The proposal's grade (one decimal) and its quartile among the graded proposals of its
    pool, ranked by the same grades (1.0 best; equal grades share the better rank)."""
    pool, members = _pool(proposal)
    grades = _grades(members)
    grade = grades.get(proposal.pk)
    if grade is None:
        return None, None, "", 0
    if not pool:
        return _one_decimal(grade), None, "", 0
    rank = 1 + sum(1 for other in grades.values() if other < grade - GRADE_TIE)
    return _one_decimal(grade), gr.quartile(rank, len(grades)), pool, len(grades)


# --------------------------------------------------------------------------------------------
# The letter
# --------------------------------------------------------------------------------------------


def _runs(proposal: Proposal) -> tuple[RunOutcome, ...]:
    runs = proposal.runs.select_related("telescope", "instrument").prefetch_related("ledger")
    decisions = {d.run_id: d for d in RunDecision.objects.filter(run__proposal=proposal)}
    result = []
    for run in runs:
        decision = decisions.get(run.pk)
        approved = decision is not None and decision.approved
        verdict = PENDING if decision is None else APPROVED if approved else REJECTED
        seconds, nights = None, None
        if decision is not None and decision.approved:
            seconds = sum(e.seconds for e in run.ledger.all() if e.kind == LedgerKind.ALLOCATION)
            nights = decision.allocated_nights
        result.append(
            RunOutcome(
                letter=run.letter,
                label=f"{proposal.programme_id or ''}({run.letter})",
                telescope=run.telescope.name,
                instrument=run.instrument.name,
                mode=run.mode,
                requested=run.requested_time_label,
                decision=verdict,
                rank_class=decision.rank_class if decision is not None and approved else "",
                allocated_seconds=seconds,
                allocated_nights=nights,
            )
        )
    return tuple(result)


def _comments(proposal: Proposal) -> tuple[PiComment, ...]:
    """The submitted comments to the PI, ordered by their text (never by reviewer, assignment
    or submission order, which could be matched to a person) and numbered."""
    texts = Review.objects.filter(
        assignment__proposal=proposal, status=ReviewStatus.SUBMITTED
    ).values_list("comment_to_pi", flat=True)
    ordered = sorted((t.strip() for t in texts if t.strip()), key=lambda t: (t.casefold(), t))
    return tuple(PiComment(label=f"Reviewer {i}", text=t) for i, t in enumerate(ordered, 1))


def outcome_for(proposal: Proposal) -> Outcome:
    """Everything the outcome letter shows, as plain values without any reviewer identity."""
    grade, quarter, pool, pool_size = _standing(proposal)
    return Outcome(
        proposal_id=proposal.pk,
        programme_id=proposal.programme_id or "",
        title=proposal.title,
        period=proposal.period.number,
        pi_name=proposal.pi.get_full_name() or proposal.pi.username,
        status=proposal.status,
        runs=_runs(proposal),
        grade=grade,
        quartile=quarter,
        pool=pool,
        pool_size=pool_size,
        comments=_comments(proposal),
    )


def outcome_data(outcome: Outcome) -> dict[str, Any]:
    """The letter as JSON-ready values: what the API shows, the same as the page and the PDF."""
    return {
        "proposal": outcome.proposal_id,
        "programme_id": outcome.programme_id,
        "title": outcome.title,
        "period": outcome.period,
        "status": outcome.status,
        "runs": [
            {
                "run": r.label,
                "letter": r.letter,
                "telescope": r.telescope,
                "instrument": r.instrument,
                "mode": r.mode,
                "requested": r.requested,
                "decision": r.decision,
                "rank_class": r.rank_class,
                "allocated_seconds": r.allocated_seconds,
                "allocated_hours": r.allocated_hours,
                "allocated_nights": r.allocated_nights,
            }
            for r in outcome.runs
        ],
        "grade": float(outcome.grade) if outcome.grade is not None else None,
        "quartile": outcome.quartile,
        "quartile_label": outcome.quartile_label,
        "pool": outcome.pool,
        "pool_size": outcome.pool_size,
        "standing": outcome.standing,
        "comments_to_pi": [{"label": c.label, "text": c.text} for c in outcome.comments],
    }


def _load(proposal_id: int) -> Proposal:
    return Proposal.objects.select_related("period", "pi").get(pk=proposal_id)


def outcome_pdf_bytes(outcome: Outcome) -> bytes:
    """The letter rendered to PDF bytes by WeasyPrint."""
    from weasyprint import HTML

    html = render_to_string(
        "proposals/outcome_pdf.html", {"outcome": outcome, "rendered_at": timezone.now()}
    )
    return bytes(HTML(string=html).write_pdf())


def render_outcome_pdf(proposal_id: int) -> bytes:
    """The outcome letter as PDF bytes."""
    return outcome_pdf_bytes(outcome_for(_load(proposal_id)))


def outcome_filename(outcome: Outcome) -> str:
    return f"{outcome.programme_id or f'proposal-{outcome.proposal_id}'}-outcome.pdf"


def _letter_body(outcome: Outcome, link: str) -> str:
    lines = [
        f"Dear {outcome.pi_name},",
        "",
        f"the review of proposal {outcome.programme_id} '{outcome.title}' for period "
        f"{outcome.period} is complete: the proposal is {outcome.status_label.lower()}.",
        "",
        "Runs:",
    ]
    for run in outcome.runs:
        rank = f", rank class {run.rank_class}" if run.rank_class else ""
        allocated = f", allocated {run.allocated_label}" if run.decision == APPROVED else ""
        lines.append(
            f"  {run.label} {run.telescope}/{run.instrument} {run.mode}, requested "
            f"{run.requested}: {run.decision_label}{rank}{allocated}"
        )
    lines += ["", f"Grade: {outcome.grade_label} (1.0 best, 5.0 worst); {outcome.standing}."]
    if outcome.comments:
        lines += ["", "Comments of the reviewers:"]
        for comment in outcome.comments:
            lines += ["", f"{comment.label}:", comment.text]
    lines += ["", f"The letter is attached as PDF and online at {link}"]
    return "\n".join(lines)


@transaction.atomic
def send_outcome(*, proposal_id: int) -> bool:
    """E-mail the outcome letter to the PI (PDF attached) and a notice with the page's link to
    each accepted co-investigator, once; False if it had been sent already."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if proposal.events.filter(note=OUTCOME_SENT).exists():
        return False
    outcome = outcome_for(_load(proposal_id))
    if not outcome.decided:
        raise InvalidInput("The outcome letter is sent once every run of the proposal is decided.")
    link = settings.SITE_URL + reverse("proposals:outcome", args=[proposal.pk])
    subject = f"Outcome of proposal {outcome.programme_id}: {outcome.status_label.lower()}"
    letter = EmailMessage(subject=subject, body=_letter_body(outcome, link), to=[proposal.pi.email])
    letter.attach(outcome_filename(outcome), outcome_pdf_bytes(outcome), "application/pdf")
    messages = [letter]
    accepted = proposal.coinvestigators.filter(user__isnull=False).select_related("user")
    for user in (coi.user for coi in accepted if coi.user is not None):
        name = user.get_full_name() or user.username
        body = (
            f"Dear {name},\n\nthe review of proposal {outcome.programme_id} '{outcome.title}', "
            f"of which you are a co-investigator, is complete: the proposal is "
            f"{outcome.status_label.lower()}. Read the outcome letter at\n{link}"
        )
        messages.append(EmailMessage(subject=subject, body=body, to=[user.email]))
    ProposalEvent.objects.create(
        proposal=proposal, old=proposal.status, new=proposal.status, note=OUTCOME_SENT
    )
    # Sent inside the transaction, under the proposal's lock: a second run waits, then finds
    # the event; a failed send rolls the event back so the task's retry sends the letter.
    with get_connection() as connection:
        connection.send_messages(messages)
    return True
