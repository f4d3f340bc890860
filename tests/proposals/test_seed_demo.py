"""The demo data is made through the services, so it obeys the rules user data obeys."""

import pytest
from django.core.management import call_command

from proposals.models import EventKind, ObservingRun, Proposal, ProposalEvent, ProposalStatus
from proposals.review.models import Assignment, Conflict, LedgerEntry, RunDecision
from proposals.verification import verify_proposal


@pytest.mark.django_db
def test_seed_demo_builds_its_period_through_the_services() -> None:
    # when a small demo period is made
    call_command("seed_demo", proposals=12, pis=8, reviewers=20, seed=7, verbosity=0)
    # then every proposal has its edits audited by its PI (targets, runs added by services)
    proposals = list(Proposal.objects.prefetch_related("events", "runs"))
    assert len(proposals) == 12
    for proposal in proposals:
        edits = [e for e in proposal.events.all() if e.kind == EventKind.EDIT]
        assert edits and {e.actor_id for e in edits} <= {
            proposal.pi_id,
            *proposal.coinvestigators.values_list("user_id", flat=True),
        }
        assert any(e.note.startswith("run A added") for e in edits)
    # and every other proposal passed verification, was submitted, reviewed and decided
    decided = [p for p in proposals if p.status != ProposalStatus.DRAFT]
    assert len(decided) == 8  # the first four are the demo astronomers' drafts
    assert {p.status for p in decided} <= {
        ProposalStatus.APPROVED,
        ProposalStatus.REJECTED,
        ProposalStatus.UNDER_REVIEW,  # a run on VISTA: left for staff to decide
    }
    for proposal in decided:
        assert verify_proposal(proposal).ok
        assert ProposalEvent.objects.filter(
            proposal=proposal, kind=EventKind.STATUS, new=ProposalStatus.SUBMITTED
        ).exists()
    # and the review went through its services: nobody reviews with an active conflict, every
    # run but VISTA's has a decision, allocations are in whole seconds
    assignments = set(Assignment.objects.values_list("proposal_id", "reviewer_id"))
    active = set(
        Conflict.objects.filter(overridden_at=None).values_list("proposal_id", "reviewer_id")
    )
    assert assignments and not assignments & active
    undecided = ObservingRun.objects.filter(proposal__in=decided, telescope__name="VISTA")
    runs = ObservingRun.objects.filter(proposal__in=decided)
    assert RunDecision.objects.count() == runs.count() - undecided.count()
    assert all(isinstance(s, int) for s in LedgerEntry.objects.values_list("seconds", flat=True))
    # and the demo astronomers' co-investigation went through invitation and acceptance
    accepted = Proposal.objects.filter(coinvestigators__user__username="astronomer2")
    assert accepted.count() == 1
