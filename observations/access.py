"""Who may read and write a run's Phase 2 (its tree of containers and OBs).

Phase 2 opens for a run once staff approved it and the proposal's outcome is final (the
proposal approved: until then staff may still change a run's decision). Then the PI and the
accepted co-investigators of the run's proposal read and write it; staff read every open run
and review its OBs (accept, send back). The services raise ``NotAllowed`` with these checks;
selectors filter with :func:`readable_runs_q`, so both agree.
"""

from django.db.models import Q

from dataflow.errors import NotAllowed
from dataflow.permissions import AnyUser, investigator_q, is_investigator, is_staff_member
from proposals.models import ObservingRun, Proposal, ProposalStatus
from proposals.review.models import RunDecision


def is_open(run: ObservingRun) -> bool:
    """Has Phase 2 opened for ``run`` (approved run of an approved proposal)?"""
    if run.proposal.status != ProposalStatus.APPROVED:
        return False
    try:
        return bool(run.decision.approved)
    except RunDecision.DoesNotExist:
        return False


def open_runs_q() -> Q:
    """The runs whose Phase 2 is open, as a filter on ``ObservingRun``."""
    return Q(proposal__status=ProposalStatus.APPROVED, decision__approved=True)


def readable_runs_q(user: AnyUser) -> Q:
    """The open runs ``user`` may read: staff all of them, investigators their own."""
    if is_staff_member(user):
        return open_runs_q()
    # A subquery, not a join on co-investigators, so no run is listed twice.
    mine = Proposal.objects.filter(investigator_q(user)).values("pk")
    return open_runs_q() & Q(proposal__in=mine)


def may_read(user: AnyUser, run: ObservingRun) -> bool:
    if not is_open(run):
        return False
    return is_staff_member(user) or is_investigator(user, run.proposal)


def may_write(user: AnyUser, run: ObservingRun) -> bool:
    """The PI and accepted co-investigators build the tree and edit, submit and revise OBs."""
    return is_open(run) and is_investigator(user, run.proposal)


def may_review(user: AnyUser, run: ObservingRun) -> bool:
    """Staff accept OBs, send them back and waive the short-OB rule."""
    return is_open(run) and is_staff_member(user)


def _closed(run: ObservingRun) -> NotAllowed:
    return NotAllowed(f"Phase 2 of run {run} is not open: it opens once the run is approved.")


def ensure_may_read(user: AnyUser, run: ObservingRun) -> None:
    if not is_open(run):
        raise _closed(run)
    if not may_read(user, run):
        raise NotAllowed(f"Only the investigators of run {run} and staff may see its OBs.")


def ensure_may_write(user: AnyUser, run: ObservingRun) -> None:
    if not is_open(run):
        raise _closed(run)
    if not may_write(user, run):
        raise NotAllowed(
            f"Only the PI and co-investigators of run {run} may change its Phase 2 material."
        )


def ensure_may_review(user: AnyUser, run: ObservingRun) -> None:
    if not is_open(run):
        raise _closed(run)
    if not may_review(user, run):
        raise NotAllowed("Only observatory staff review OBs.")
