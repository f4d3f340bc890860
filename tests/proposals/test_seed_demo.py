"""The demo data is made through the services, so it obeys the rules user data obeys."""

import pytest
from django.core.management import call_command

from proposals.models import EventKind, Proposal, ProposalEvent, ProposalStatus
from proposals.verification import verify_proposal


@pytest.mark.django_db
def test_seed_demo_builds_its_period_through_the_services() -> None:
    # when a small demo period is made
    call_command("seed_demo", proposals=8, pis=3, seed=7, verbosity=0)
    # then every proposal has its edits audited by its PI (targets, runs added by services)
    proposals = list(Proposal.objects.prefetch_related("events", "runs"))
    assert len(proposals) == 8
    for proposal in proposals:
        edits = [e for e in proposal.events.all() if e.kind == EventKind.EDIT]
        assert edits and {e.actor_id for e in edits} <= {
            proposal.pi_id,
            *proposal.coinvestigators.values_list("user_id", flat=True),
        }
        assert any(e.note.startswith("run A added") for e in edits)
    # and every submitted proposal passes verification and went through the submission
    submitted = [p for p in proposals if p.status == ProposalStatus.SUBMITTED]
    assert len(submitted) == 4  # the first four are the demo astronomers' drafts
    for proposal in submitted:
        assert verify_proposal(proposal).ok
        assert ProposalEvent.objects.filter(
            proposal=proposal, kind=EventKind.STATUS, new=ProposalStatus.SUBMITTED
        ).exists()
    # and the demo astronomers' co-investigation went through invitation and acceptance
    accepted = Proposal.objects.filter(coinvestigators__user__username="astronomer2")
    assert accepted.count() == 1
