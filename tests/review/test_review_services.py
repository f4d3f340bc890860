"""Review and allocation services: conflicts, assignment, grading rules, the ledger."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from dataflow.accounts.models import Role
from dataflow.errors import InvalidInput, NotAllowed
from proposals import services as p1
from proposals.models import CoInvestigator, Period, Proposal, ProposalStatus
from proposals.review import services as rv
from proposals.review.conflicts import normalise_institute
from proposals.review.models import (
    Assignment,
    Conflict,
    ConflictKind,
    LedgerEntry,
    ReviewEvent,
)
from tests.factories import UserFactory, complete_proposal


def _staff() -> User:
    return UserFactory.create(username="opc", roles=[Role.STAFF])


def _reviewer(name: str, institute: str = "Leiden Observatory") -> User:
    return UserFactory.create(username=name, roles=[Role.REVIEWER], institute=institute)


def _submitted(pi: User, period: Period, category: str = "C") -> Proposal:
    proposal = complete_proposal(pi=pi, period=period, category=category)
    return p1.proposal_submit(proposal_id=proposal.pk, actor=pi, queue_final_pdf=False)


def _panel(period: Period, staff: User, members: list[User], category: str = "C") -> int:
    panel = rv.panel_create(
        period_id=period.pk,
        name=f"Panel {category}",
        category=category,
        deadline=timezone.now() + dt.timedelta(days=14),
        actor=staff,
    )
    for member in members:
        rv.panel_member_add(panel_id=panel.pk, user_id=member.pk, actor=staff)
    return panel.pk


def _kinds(proposal: Proposal, reviewer: User) -> set[str]:
    return set(
        Conflict.objects.filter(proposal=proposal, reviewer=reviewer).values_list("kind", flat=True)
    )


def test_institutes_are_compared_with_case_accents_and_punctuation_folded() -> None:
    assert normalise_institute("Universität Zürich") == normalise_institute("Universitat Zurich")
    assert normalise_institute("INAF – Osservatorio di Padova") == "inaf osservatorio di padova"
    assert normalise_institute("Université Paris-Saclay") != normalise_institute("Paris")


def test_every_conflict_rule_is_detected(period: Period, astronomer: User) -> None:
    # given a proposal by ada (Göttingen) with a co-investigator, and a panel whose members are
    # its PI, its co-investigator, a colleague of ada spelled without umlaut, a PI of a
    # competing proposal and an unconflicted reviewer
    staff = _staff()
    coi_user = UserFactory.create(username="coi", roles=[Role.ASTRONOMER, Role.REVIEWER])
    proposal = complete_proposal(pi=astronomer, period=period, category="C")
    CoInvestigator.objects.create(proposal=proposal, user=coi_user, email=coi_user.email)
    p1.proposal_submit(proposal_id=proposal.pk, actor=astronomer, queue_final_pdf=False)
    colleague = _reviewer("colleague", institute="universitat gottingen")
    rival = UserFactory.create(
        username="rival", roles=[Role.ASTRONOMER, Role.REVIEWER], institute="Lund University"
    )
    _submitted(rival, period)
    free = _reviewer("free", institute="Instituto de Astrofísica de Canarias")
    astronomer.groups.add(*User.objects.get(pk=free.pk).groups.all())  # ada reviews too
    rv.review_start(period_id=period.pk, actor=staff)
    # when the panel is composed (detection runs on every change)
    _panel(period, staff, [astronomer, coi_user, colleague, rival, free])
    # then
    assert ConflictKind.PI in _kinds(proposal, astronomer)
    assert _kinds(proposal, coi_user) == {ConflictKind.COI}
    assert _kinds(proposal, colleague) == {ConflictKind.INSTITUTE}
    assert _kinds(proposal, rival) == {ConflictKind.COMPETING}
    assert _kinds(proposal, free) == set()


def test_assignment_never_gives_a_conflicted_reviewer_and_balances_loads(period: Period) -> None:
    # given six submitted proposals and four reviewers, one from a PI's institute
    staff = _staff()
    pis = [UserFactory.create(username=f"pi{i}", institute=f"Institute {i}") for i in range(6)]
    proposals = [_submitted(pi, period) for pi in pis]
    reviewers = [_reviewer(f"r{i}") for i in range(3)] + [_reviewer("r3", "INSTITUTE 0")]
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, reviewers)
    # when
    total = rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    # then every proposal has 3 reviewers, none conflicted, loads within one of each other
    assert total == 18
    pairs = set(Assignment.objects.values_list("proposal_id", "reviewer_id"))
    assert (proposals[0].pk, reviewers[3].pk) not in pairs
    loads = [Assignment.objects.filter(reviewer=r).count() for r in reviewers]
    assert max(loads) - min(loads) <= 1
    assert all(Assignment.objects.filter(proposal=p).count() == 3 for p in proposals)


def test_assignment_names_the_proposals_that_cannot_be_covered(period: Period) -> None:
    # given two reviewers only, one conflicted with the first proposal: 3 are needed
    staff = _staff()
    first = _submitted(UserFactory.create(username="a", institute="Lund"), period)
    reviewers = [_reviewer("r0"), _reviewer("r1", "Lund")]
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, reviewers)
    # when
    with pytest.raises(InvalidInput) as err:
        rv.assignments_solve(period_id=period.pk, actor=staff)
    # then the message names it and nothing was assigned
    assert f"{first} cannot be covered." in err.value.errors["proposals"]
    assert not Assignment.objects.exists()


def test_declared_conflict_reassigns_and_staff_override_is_logged(period: Period) -> None:
    # given a proposal assigned to 3 of 4 reviewers
    staff = _staff()
    proposal = _submitted(UserFactory.create(username="pi"), period)
    reviewers = [_reviewer(f"r{i}") for i in range(4)]
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, reviewers)
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    mine = Assignment.objects.filter(proposal=proposal).first()
    assert mine is not None
    me = mine.reviewer
    # when the reviewer declares a conflict
    new = rv.conflict_declare(assignment_id=mine.pk, reason="My student wrote it", actor=me)
    # then the proposal is reassigned to the fourth reviewer and the conflict is a row
    assert new is not None and new.reviewer_id not in {me.pk}
    assert Assignment.objects.filter(proposal=proposal).count() == 3
    conflict = Conflict.objects.get(proposal=proposal, reviewer=me)
    assert (conflict.kind, conflict.reason) == (ConflictKind.DECLARED, "My student wrote it")
    # when staff override it with a reason
    with pytest.raises(NotAllowed):
        rv.conflict_override(conflict_id=conflict.pk, reason="no", actor=me)
    rv.conflict_override(conflict_id=conflict.pk, reason="Student left in 2019", actor=staff)
    # then the row stays, marked, and the decision is in the audit trail
    conflict.refresh_from_db()
    assert conflict.overridden_by == staff and conflict.override_reason == "Student left in 2019"
    assert ReviewEvent.objects.filter(action="conflict overridden", actor=staff).exists()


@pytest.mark.parametrize("grade", [5.1, 0.9, "2.05", True, "x", float("nan")])
def test_bad_grades_are_refused_and_nothing_saved(period: Period, grade: object) -> None:
    # given
    staff = _staff()
    _submitted(UserFactory.create(username="pi"), period)
    reviewers = [_reviewer(f"r{i}") for i in range(3)]
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, reviewers)
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    assignment = Assignment.objects.first()
    assert assignment is not None
    # when
    with pytest.raises(InvalidInput) as err:
        rv.review_save(assignment_id=assignment.pk, actor=assignment.reviewer, grade=grade)
    # then
    assert "grade" in err.value.errors
    assert not hasattr(Assignment.objects.get(pk=assignment.pk), "review")


def test_only_the_assigned_reviewer_grades(period: Period) -> None:
    staff = _staff()
    _submitted(UserFactory.create(username="pi"), period)
    reviewers = [_reviewer(f"r{i}") for i in range(4)]
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, reviewers)
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    assignment = Assignment.objects.first()
    assert assignment is not None
    other = next(r for r in reviewers if r.pk != assignment.reviewer_id)
    with pytest.raises(NotAllowed):
        rv.review_save(assignment_id=assignment.pk, actor=other, grade=2.0)


def test_allocation_is_kept_in_integer_seconds_and_decides_the_proposal(period: Period) -> None:
    # given a proposal under review with one SM run
    staff = _staff()
    proposal = _submitted(UserFactory.create(username="pi"), period)
    rv.review_start(period_id=period.pk, actor=staff)
    run = proposal.runs.get()
    # when staff approve 2.5 h in rank class A (its only run: the proposal is decided)
    rv.run_decide(run_id=run.pk, actor=staff, approved=True, rank_class="A", hours=2.5)
    proposal.refresh_from_db()
    # then the ledger holds 9000 s, and the proposal is approved
    entries = list(LedgerEntry.objects.filter(run=run).values_list("seconds", flat=True))
    assert entries == [9000] and all(isinstance(s, int) for s in entries)
    assert proposal.status == ProposalStatus.APPROVED
    assert rv.allocated_seconds(run) == 9000


def test_a_changed_decision_adds_the_difference_to_the_ledger(period: Period) -> None:
    staff = _staff()
    proposal = complete_proposal(pi=UserFactory.create(username="pi"), period=period)
    second = proposal.runs.get()
    targets = list(second.targets.all())
    second.pk = None
    second.letter = "B"
    second.save()
    second.targets.set(targets)
    p1.proposal_submit(proposal_id=proposal.pk, actor=proposal.pi, queue_final_pdf=False)
    rv.review_start(period_id=period.pk, actor=staff)
    run = proposal.runs.get(letter="A")
    rv.run_decide(run_id=run.pk, actor=staff, approved=True, rank_class="B", hours=2.5)
    rv.run_decide(run_id=run.pk, actor=staff, approved=True, rank_class="B", hours=1.75)
    assert list(LedgerEntry.objects.filter(run=run).values_list("seconds", flat=True)) == [
        9000,
        -2700,
    ]
    assert rv.allocated_seconds(run) == 6300
    # the proposal waits for run B's decision
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.UNDER_REVIEW


def test_sm_approval_needs_a_rank_class_and_non_staff_cannot_decide(
    period: Period, astronomer: User
) -> None:
    staff = _staff()
    proposal = _submitted(UserFactory.create(username="pi"), period)
    rv.review_start(period_id=period.pk, actor=staff)
    run = proposal.runs.get()
    with pytest.raises(InvalidInput) as err:
        rv.run_decide(run_id=run.pk, actor=staff, approved=True, hours=2.0)
    assert "rank_class" in err.value.errors
    with pytest.raises(NotAllowed):
        rv.run_decide(run_id=run.pk, actor=astronomer, approved=False)
    assert not LedgerEntry.objects.exists()


def test_rejecting_every_run_rejects_the_proposal(period: Period) -> None:
    staff = _staff()
    proposal = _submitted(UserFactory.create(username="pi"), period)
    rv.review_start(period_id=period.pk, actor=staff)
    rv.run_decide(run_id=proposal.runs.get().pk, actor=staff, approved=False)
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.REJECTED


def test_the_deadline_job_starts_the_review_of_closed_calls_only(period: Period) -> None:
    # given a submitted proposal in the open call, and one in a call whose deadline passed
    open_one = _submitted(UserFactory.create(username="early"), period)
    closed = Period.objects.create(
        number=118,
        start=period.start,
        end=period.end,
        call_opens=timezone.now() - dt.timedelta(days=60),
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    late_one = _submitted(UserFactory.create(username="late"), closed)
    Period.objects.filter(pk=closed.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    # when the job runs (twice: it is idempotent)
    from django.core.management import call_command

    call_command("start_reviews", verbosity=0)
    call_command("start_reviews", verbosity=0)
    # then only the closed call's proposal is under review, with one event
    assert Proposal.objects.get(pk=late_one.pk).status == ProposalStatus.UNDER_REVIEW
    assert Proposal.objects.get(pk=open_one.pk).status == ProposalStatus.SUBMITTED
    assert late_one.events.filter(new=ProposalStatus.UNDER_REVIEW).count() == 1


def test_a_delegated_co_investigator_does_the_teams_distributed_reviews(period: Period) -> None:
    # given five small proposals (distributed review) whose first PI delegates a co-investigator
    staff = _staff()
    proposals = [
        _submitted(UserFactory.create(username=f"pi{i}", institute=f"Institute {i}"), period)
        for i in range(5)
    ]
    delegate = UserFactory.create(username="postdoc", institute="Elsewhere")
    first = proposals[0]
    CoInvestigator.objects.create(proposal=first, user=delegate, email=delegate.email)
    with pytest.raises(NotAllowed):
        rv.review_delegate_set(proposal_id=first.pk, user_id=delegate.pk, actor=delegate)
    rv.review_delegate_set(proposal_id=first.pk, user_id=delegate.pk, actor=first.pi)
    with pytest.raises(InvalidInput):  # not on the team
        rv.review_delegate_set(proposal_id=first.pk, user_id=proposals[1].pi_id, actor=first.pi)
    rv.review_start(period_id=period.pk, actor=staff)
    from proposals.review.models import ReviewSetup

    ReviewSetup.objects.filter(period=period).update(distributed_below_hours=100.0)
    # when
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    # then the delegate reviews three other proposals for the team, never the team's own, and
    # the PI reviews nothing
    theirs = Assignment.objects.filter(reviewer=delegate)
    assert theirs.count() == 3
    assert set(theirs.values_list("for_proposal_id", flat=True)) == {first.pk}
    assert not theirs.filter(proposal=first).exists()
    assert not Assignment.objects.filter(reviewer=first.pi).exists()
    assert all(a.role == "distributed" for a in Assignment.objects.all())


def test_the_pi_delegates_the_teams_reviews_from_the_proposal_page(
    period: Period, astronomer: User, other_astronomer: User
) -> None:
    # given ada's submitted proposal with bob as accepted co-investigator
    from django.test import Client

    proposal = complete_proposal(pi=astronomer, period=period)
    CoInvestigator.objects.create(proposal=proposal, user=other_astronomer, email="b@x.org")
    p1.proposal_submit(proposal_id=proposal.pk, actor=astronomer, queue_final_pdf=False)
    client = Client()
    client.force_login(astronomer)
    page = client.get(f"/proposals/{proposal.pk}/").content.decode()
    assert "Distributed peer review" in page
    # when she names bob, and bob tries to name himself back to her
    client.post(f"/proposals/{proposal.pk}/review-delegate/", {"user": other_astronomer.pk})
    bob = Client()
    bob.force_login(other_astronomer)
    bob.post(f"/proposals/{proposal.pk}/review-delegate/", {"user": astronomer.pk})
    # then bob reviews for the team (his own attempt was refused)
    assert rv.team_reviewer(proposal) == other_astronomer
