"""The review and allocation API (/api/v1/review/): reviewers see and grade only their own
assignments, chairs their panel's ranking, staff run the review and allocate time."""

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals.models import Period, Proposal, ProposalStatus
from proposals.review.models import (
    Assignment,
    AssignmentRole,
    Conflict,
    ConflictKind,
    LedgerEntry,
    Panel,
    PanelMember,
    Review,
    ReviewStatus,
    RunDecision,
)
from tests.conftest import bearer_client
from tests.factories import UserFactory, complete_proposal

API = "/api/v1/review"


@dataclass(frozen=True)
class World:
    staff: User
    chair: User
    alice: User  # reviewer of both proposals
    bruno: User  # reviewer of the first proposal only
    outsider: User  # a reviewer of another panel
    panel: Panel
    other_panel: Panel
    first: Proposal
    second: Proposal
    alice_first: Assignment
    alice_second: Assignment
    bruno_first: Assignment


def _reviewer(name: str) -> User:
    return UserFactory.create(username=name, roles=[Role.REVIEWER], institute=f"{name} Institute")


def _under_review(period: Period, number: int, title: str) -> Proposal:
    proposal = complete_proposal(
        pi=UserFactory.create(institute="PI Institute"), period=period, title=title
    )
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.UNDER_REVIEW,
        programme_number=number,
        programme_id=f"119.C-{number:04d}",
        abstract=f"Abstract of {title}",
    )
    proposal.refresh_from_db()
    proposal.final_pdf.save(f"{number}.pdf", ContentFile(b"%PDF-1.4 " + title.encode()))
    return proposal


@pytest.fixture
def world(period: Period) -> World:
    staff = UserFactory.create(username="opc", roles=[Role.STAFF])
    chair, alice, bruno, outsider = (_reviewer(n) for n in ("chair", "alice", "bruno", "out"))
    deadline = timezone.now() + dt.timedelta(days=14)
    panel = Panel.objects.create(period=period, name="C1", category="C", deadline=deadline)
    panel.chair = chair
    panel.save()
    other_panel = Panel.objects.create(period=period, name="D1", category="D", deadline=deadline)
    for user in (chair, alice, bruno):
        PanelMember.objects.create(panel=panel, user=user)
    PanelMember.objects.create(panel=other_panel, user=outsider)
    first = _under_review(period, 1, "Dust in NGC 253")
    second = _under_review(period, 2, "Discs around T Tauri stars")

    def assign(proposal: Proposal, user: User, role: str = AssignmentRole.SECONDARY) -> Assignment:
        return Assignment.objects.create(proposal=proposal, reviewer=user, panel=panel, role=role)

    return World(
        staff=staff,
        chair=chair,
        alice=alice,
        bruno=bruno,
        outsider=outsider,
        panel=panel,
        other_panel=other_panel,
        first=first,
        second=second,
        alice_first=assign(first, alice, AssignmentRole.PRIMARY),
        alice_second=assign(second, alice),
        bruno_first=assign(first, bruno),
    )


def _values(data: object) -> list[object]:
    """Every scalar of a JSON document."""
    if isinstance(data, dict):
        return [v for value in data.values() for v in _values(value)]
    if isinstance(data, list):
        return [v for value in data for v in _values(value)]
    return [data]


def _submitted_review(assignment: Assignment, grade: str, comment: str) -> Review:
    return Review.objects.create(
        assignment=assignment,
        grade=Decimal(grade),
        comment_to_pi=comment,
        comment_to_panel=f"panel: {comment}",
        status=ReviewStatus.SUBMITTED,
        submitted_at=timezone.now(),
    )


# ---------------------------------------------------------------------------------------------
# Reviewers
# ---------------------------------------------------------------------------------------------


def test_a_reviewer_lists_only_their_assignments(world: World) -> None:
    # when
    response = bearer_client(world.bruno).get(f"{API}/assignments/")
    # then
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [world.bruno_first.pk]
    assert response.json()["results"][0]["proposal"]["programme_id"] == "119.C-0001"


def test_a_reviewer_reads_their_assignment_with_the_proposal_and_their_review(
    world: World,
) -> None:
    # when
    response = bearer_client(world.alice).get(f"{API}/assignments/{world.alice_first.pk}/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["proposal"] == {
        "id": world.first.pk,
        "programme_id": "119.C-0001",
        "title": "Dust in NGC 253",
        "category": "C",
        "abstract": "Abstract of Dust in NGC 253",
    }
    assert body["review"] is None


def test_someone_elses_assignment_and_its_pdf_are_404(world: World) -> None:
    client = bearer_client(world.bruno)
    for url in (
        f"{API}/assignments/{world.alice_second.pk}/",
        f"{API}/assignments/{world.alice_second.pk}/pdf/",
        f"{API}/assignments/999999/pdf/",
    ):
        # when
        response = client.get(url)
        # then
        assert response.status_code == 404, url


def test_a_reviewer_reads_the_final_pdf_of_their_assignment(world: World) -> None:
    # when
    response = bearer_client(world.alice).get(f"{API}/assignments/{world.alice_second.pk}/pdf/")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.getvalue().startswith(b"%PDF")


def test_a_reviewer_saves_a_draft_then_submits_it(world: World) -> None:
    # given
    client = bearer_client(world.alice)
    url = f"{API}/assignments/{world.alice_first.pk}/review/"
    draft = {"grade": 1.7, "comment_to_pi": "", "comment_to_panel": "strong team"}
    # when
    saved = client.put(url, draft, format="json")
    submitted = client.patch(url, {"comment_to_pi": "Well argued.", "submit": True}, format="json")
    # then
    assert saved.status_code == 200, saved.json()
    assert saved.json()["review"]["status"] == "draft"
    assert submitted.status_code == 200, submitted.json()
    review = Review.objects.get(assignment=world.alice_first)
    assert (review.grade, review.comment_to_pi, review.comment_to_panel, review.status) == (
        Decimal("1.7"),
        "Well argued.",
        "strong team",
        ReviewStatus.SUBMITTED,
    )
    assert submitted.json()["review"]["grade"] == 1.7


def test_a_submitted_review_is_final(world: World) -> None:
    # given
    _submitted_review(world.alice_first, "2.0", "Fine.")
    # when
    response = bearer_client(world.alice).patch(
        f"{API}/assignments/{world.alice_first.pk}/review/", {"grade": 1.0}, format="json"
    )
    # then
    assert response.status_code == 409
    assert Review.objects.get(assignment=world.alice_first).grade == Decimal("2.0")


def test_submitting_without_a_comment_to_the_pi_is_400(world: World) -> None:
    # when
    response = bearer_client(world.alice).patch(
        f"{API}/assignments/{world.alice_first.pk}/review/",
        {"grade": 2.5, "submit": True},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert "comment_to_pi" in response.json()["errors"]
    assert not Review.objects.filter(assignment=world.alice_first).exists()


@pytest.mark.parametrize("grade", [5.5, 2.05, True, "x", 0.9, "nan"])
def test_bad_grades_are_400_and_save_nothing(world: World, grade: object) -> None:
    # given
    url = f"{API}/assignments/{world.alice_first.pk}/review/"
    body = {"grade": grade, "comment_to_pi": "c", "comment_to_panel": "p"}
    # when
    put = bearer_client(world.alice).put(url, body, format="json")
    patch = bearer_client(world.alice).patch(url, {"grade": grade}, format="json")
    # then
    assert (put.status_code, patch.status_code) == (400, 400)
    assert "grade" in put.json()["errors"]
    assert not Review.objects.exists()


def test_a_reviewer_cannot_see_other_reviewers_grades_or_comments(world: World) -> None:
    # given: bruno submitted a grade and comments on the proposal alice also reviews
    _submitted_review(world.bruno_first, "4.3", "BRUNO-SECRET")
    client = bearer_client(world.alice)
    # when
    answers = [
        client.get(f"{API}/assignments/"),
        client.get(f"{API}/assignments/{world.alice_first.pk}/"),
        client.get(f"{API}/assignments/{world.bruno_first.pk}/"),
        client.get(f"{API}/panels/{world.panel.pk}/ranking/"),
    ]
    # then
    text = " ".join(json.dumps(a.json()) for a in answers)
    assert [a.status_code for a in answers] == [200, 200, 404, 404]
    # bruno's grade as a value anywhere (not as digits inside a timestamp: "16:54:04.328")
    assert not [v for a in answers for v in _values(a.json()) if v in (4.3, "4.3")]
    assert "BRUNO-SECRET" not in text and "bruno" not in text


def test_a_reviewer_declares_a_conflict_and_the_proposal_is_reassigned(world: World) -> None:
    # when
    response = bearer_client(world.alice).post(
        f"{API}/assignments/{world.alice_second.pk}/conflict/",
        {"reason": "My student is the PI."},
        format="json",
    )
    # then
    assert response.status_code == 204
    assert Conflict.objects.filter(
        proposal=world.second, reviewer=world.alice, kind=ConflictKind.DECLARED
    ).exists()
    assert not Assignment.objects.filter(pk=world.alice_second.pk).exists()
    assert world.second.assignments.get().reviewer in (world.chair, world.bruno)


def test_declaring_a_conflict_without_a_reason_is_400_and_changes_nothing(world: World) -> None:
    # when
    response = bearer_client(world.alice).post(
        f"{API}/assignments/{world.alice_second.pk}/conflict/", {"reason": "  "}, format="json"
    )
    # then
    assert response.status_code == 400
    assert Assignment.objects.filter(pk=world.alice_second.pk).exists()
    assert not Conflict.objects.exists()


# ---------------------------------------------------------------------------------------------
# Chairs
# ---------------------------------------------------------------------------------------------


def test_the_chair_sees_their_panels_ranking_with_reviewers_labelled(world: World) -> None:
    # given
    _submitted_review(world.alice_first, "1.5", "a")
    _submitted_review(world.bruno_first, "2.5", "b")
    client = bearer_client(world.chair)
    # when
    panels = client.get(f"{API}/panels/")
    ranking = client.get(f"{API}/panels/{world.panel.pk}/ranking/")
    other = client.get(f"{API}/panels/{world.other_panel.pk}/ranking/")
    # then
    assert [p["id"] for p in panels.json()["results"]] == [world.panel.pk]
    assert ranking.status_code == 200
    assert other.status_code == 404
    top = ranking.json()["proposals"][0]
    assert top["rank"] == 1 and top["proposal"]["id"] == world.first.pk
    assert [g["reviewer"] for g in top["grades"]] == ["R1", "R2"]
    assert sorted(g["raw"] for g in top["grades"]) == [1.5, 2.5]
    assert top["mean"] == pytest.approx(2.0) and top["median"] == pytest.approx(2.0)
    assert "alice" not in json.dumps(ranking.json())


def test_the_chair_sets_a_panel_grade_and_others_get_404(world: World) -> None:
    # when
    url = f"{API}/proposals/{world.first.pk}/panel-grade/"
    by_chair = bearer_client(world.chair).put(url, {"grade": 1.8}, format="json")
    by_reviewer = bearer_client(world.alice).put(url, {"grade": 3.0}, format="json")
    bad = bearer_client(world.chair).put(url, {"grade": 2.05}, format="json")
    # then
    assert by_chair.status_code == 200 and by_chair.json()["grade"] == 1.8
    assert (by_reviewer.status_code, bad.status_code) == (404, 400)
    assert world.first.panel_grade.grade == Decimal("1.8")


# ---------------------------------------------------------------------------------------------
# Staff
# ---------------------------------------------------------------------------------------------


def test_staff_create_a_panel_and_add_a_member_as_chair(world: World, period: Period) -> None:
    # given
    client = bearer_client(world.staff)
    new = _reviewer("newbie")
    body = {"period": period.number, "name": "C2", "category": "C", "deadline": "2031-01-01T00:00Z"}
    # when
    created = client.post(f"{API}/panels/", body, format="json")
    member = client.post(
        f"{API}/panels/{created.json()['id']}/members/",
        {"user": new.pk, "expertise": ["Discs"], "chair": True},
        format="json",
    )
    # then
    assert created.status_code == 201, created.json()
    assert member.status_code == 201, member.json()
    assert member.json()["chair"] == new.pk
    assert member.json()["members"] == [
        {"user": new.pk, "username": "newbie", "expertise": ["discs"]}
    ]


def test_a_chair_adding_members_is_403_and_a_reviewer_404(world: World) -> None:
    # given
    body = {"user": world.outsider.pk}
    url = f"{API}/panels/{world.panel.pk}/members/"
    # when
    by_chair = bearer_client(world.chair).post(url, body, format="json")
    by_reviewer = bearer_client(world.alice).post(url, body, format="json")
    # then
    assert (by_chair.status_code, by_reviewer.status_code) == (403, 404)
    assert not PanelMember.objects.filter(user=world.outsider, panel=world.panel).exists()


def test_staff_decision_writes_integer_seconds_to_the_ledger(world: World) -> None:
    # given
    run = world.first.runs.get()
    client = bearer_client(world.staff)
    body = {"approved": True, "rank_class": "A", "hours": 2.5, "note": "cut"}
    # when
    decision = client.post(f"{API}/runs/{run.pk}/decision/", body, format="json")
    ledger = client.get(f"{API}/runs/{run.pk}/ledger/")
    # then
    assert decision.status_code == 200, decision.json()
    assert decision.json()["allocated_seconds"] == 9000
    assert ledger.status_code == 200
    assert ledger.json()["balance_seconds"] == 9000
    assert [e["seconds"] for e in ledger.json()["entries"]] == [9000]
    assert isinstance(ledger.json()["entries"][0]["seconds"], int)
    world.first.refresh_from_db()
    assert world.first.status == ProposalStatus.APPROVED


def test_a_non_staff_decision_is_403_and_writes_nothing(world: World) -> None:
    # given
    run = world.first.runs.get()
    body = {"approved": True, "rank_class": "A", "hours": 2.5}
    for user in (world.chair, world.alice, world.first.pi):
        # when
        response = bearer_client(user).post(f"{API}/runs/{run.pk}/decision/", body, format="json")
        ledger = bearer_client(user).get(f"{API}/runs/{run.pk}/ledger/")
        # then
        assert (response.status_code, ledger.status_code) == (403, 403)
    assert not RunDecision.objects.exists() and not LedgerEntry.objects.exists()


def test_a_decision_missing_its_rank_class_is_400_and_writes_nothing(world: World) -> None:
    # when
    response = bearer_client(world.staff).post(
        f"{API}/runs/{world.first.runs.get().pk}/decision/",
        {"approved": True, "hours": 2.0},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert "rank_class" in response.json()["errors"]
    assert not LedgerEntry.objects.exists()


def test_assign_names_uncoverable_proposals_in_a_400(world: World, period: Period) -> None:
    # given: three reviewers per proposal, but the panel's chair is conflicted with the first
    Conflict.objects.create(
        proposal=world.first, reviewer=world.chair, kind=ConflictKind.DECLARED, reason="x"
    )
    # when
    response = bearer_client(world.staff).post(f"{API}/periods/{period.number}/assign/")
    # then
    assert response.status_code == 400
    assert response.json()["errors"]["proposals"] == ["119.C-0001 cannot be covered."]
    assert Assignment.objects.count() == 3  # unchanged


def test_staff_list_and_override_conflicts(world: World, period: Period) -> None:
    # given
    conflict = Conflict.objects.create(
        proposal=world.first, reviewer=world.chair, kind=ConflictKind.DECLARED, reason="x"
    )
    client = bearer_client(world.staff)
    # when
    listed = client.get(f"{API}/conflicts/?period={period.number}")
    other_period = client.get(f"{API}/conflicts/?period=1")
    overridden = client.post(
        f"{API}/conflicts/{conflict.pk}/override/", {"reason": "Long ago."}, format="json"
    )
    again = client.post(
        f"{API}/conflicts/{conflict.pk}/override/", {"reason": "Again."}, format="json"
    )
    by_reviewer = bearer_client(world.chair).get(f"{API}/conflicts/")
    # then
    assert [c["id"] for c in listed.json()["results"]] == [conflict.pk]
    assert other_period.json()["results"] == []
    assert overridden.status_code == 200 and overridden.json()["active"] is False
    assert (again.status_code, by_reviewer.status_code) == (409, 403)


def test_staff_move_an_assignment_to_another_member(world: World) -> None:
    # when
    response = bearer_client(world.staff).post(
        f"{API}/assignments/{world.alice_second.pk}/move/",
        {"reviewer": world.chair.pk},
        format="json",
    )
    refused = bearer_client(world.alice).post(
        f"{API}/assignments/{world.alice_first.pk}/move/",
        {"reviewer": world.chair.pk},
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    assert Assignment.objects.get(pk=world.alice_second.pk).reviewer == world.chair
    assert refused.status_code == 403


def test_staff_start_the_review_and_read_the_period_ranking(world: World, period: Period) -> None:
    # given
    client = bearer_client(world.staff)
    # when
    started = client.post(f"{API}/periods/{period.number}/start/")
    ranking = client.get(f"{API}/periods/{period.number}/ranking/")
    refused = bearer_client(world.chair).get(f"{API}/periods/{period.number}/ranking/")
    # then
    assert started.status_code == 200 and started.json() == {"count": 0}
    assert ranking.status_code == 200, ranking.json()
    ut1 = next(t for t in ranking.json()["telescopes"] if t["telescope"] == "UT1")
    assert [line["proposal"]["id"] for line in ut1["lines"]] == [world.first.pk, world.second.pk]
    assert ut1["lines"][-1]["cumulative_hours"] == pytest.approx(8.0)
    assert refused.status_code == 403


def test_staff_see_late_reviews_and_others_are_403(world: World, period: Period) -> None:
    # given the panel's deadline has passed: alice submitted one review, bruno none
    _submitted_review(world.alice_first, "2.0", "Fine.")
    Panel.objects.filter(pk=world.panel.pk).update(deadline=timezone.now() - dt.timedelta(days=1))
    url = f"{API}/periods/{period.number}/progress/"
    # when
    progress = bearer_client(world.staff).get(url)
    refused = bearer_client(world.chair).get(url)
    # then the two open reviews are late, with who and which proposal
    assert progress.status_code == 200, progress.content
    body = progress.json()
    assert (body["open"], body["submitted"]) == (2, 1)
    late = sorted((r["reviewer"], r["programme_id"]) for r in body["late"])
    assert late == [("alice", "119.C-0002"), ("bruno", "119.C-0001")]
    assert refused.status_code == 403
