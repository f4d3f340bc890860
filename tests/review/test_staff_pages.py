"""Chair and staff review pages: overview, panel ranking, telescope ranking, allocation."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals import services as p1
from proposals.models import Period, Proposal, ProposalStatus
from proposals.review import selectors as sel
from proposals.review import services as rv
from proposals.review.models import LedgerEntry, Panel, RunDecision
from tests.factories import UserFactory, complete_proposal

# Distinct institutes: nobody conflicts by institute unless a test says so.
INSTITUTES = ["Leiden Observatory", "INAF Padova", "IAC Tenerife", "MPIA Heidelberg", "ESO"]


@dataclass
class Review:
    period: Period
    staff: User
    chair: User
    reviewers: list[User]
    panel: Panel
    proposals: list[Proposal]


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _submitted(n: int, period: Period) -> list[Proposal]:
    proposals = []
    for i in range(n):
        pi = UserFactory.create(username=f"pi{i}", institute=f"Pi Institute {i}")
        draft = complete_proposal(pi=pi, period=period, category="C", title=f"Dust survey {i}")
        proposals.append(p1.proposal_submit(proposal_id=draft.pk, actor=pi, queue_final_pdf=False))
    return proposals


def _reviewers(n: int, prefix: str = "rev") -> list[User]:
    return [
        UserFactory.create(
            username=f"{prefix}{i}", roles=[Role.REVIEWER], institute=f"{prefix} {INSTITUTES[i]}"
        )
        for i in range(n)
    ]


def _panel(period: Period, staff: User, chair: User, members: list[User], name: str) -> Panel:
    panel = rv.panel_create(
        period_id=period.pk,
        name=name,
        category="C",
        deadline=timezone.now() + dt.timedelta(days=14),
        chair_id=chair.pk,
        actor=staff,
    )
    for member in members:
        rv.panel_member_add(panel_id=panel.pk, user_id=member.pk, actor=staff)
    return panel


def _grade_everything(period: Period) -> None:
    """Every assigned reviewer submits a grade (2.0, 2.4, 2.8, ... by assignment order)."""
    from proposals.review.models import Assignment

    for i, a in enumerate(Assignment.objects.filter(proposal__period=period).order_by("pk")):
        rv.review_save(
            assignment_id=a.pk,
            actor=a.reviewer,
            grade=f"{1.5 + (i % 7) * 0.4:.1f}",
            comment_to_pi="Clear case.",
            submit=True,
        )


@pytest.fixture
def review(period: Period, staff: User) -> Review:
    """Three submitted proposals under review by one panel of four (its chair included),
    assigned by the solver and graded."""
    proposals = _submitted(3, period)
    rv.review_start(period_id=period.pk, actor=staff)
    chair, *others = _reviewers(4)
    panel = _panel(period, staff, chair, others, "Galaxies I")
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=2)
    _grade_everything(period)
    return Review(period, staff, chair, others, panel, proposals)


# --- who may look -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("review:overview", []),
        ("review:overview", [119]),
        ("review:ranking", [119]),
        ("review:pressure_png", [119]),
        ("review:allocation", [119]),
    ],
)
def test_staff_pages_are_forbidden_to_astronomers_and_reviewers(
    period: Period, astronomer: User, name: str, args: list[int]
) -> None:
    # given an astronomer and a reviewer
    reviewer = _reviewers(1)[0]
    for user in (astronomer, reviewer):
        # when they open a staff page
        response = _login(user).get(reverse(name, args=args))
        # then they are refused
        assert response.status_code == 403


def test_staff_writes_are_forbidden_to_a_chair(review: Review) -> None:
    # given the chair of a panel
    client = _login(review.chair)
    run = review.proposals[0].runs.get()
    # when they try to start, assign or decide a run
    urls = [
        reverse("review:start", args=[review.period.number]),
        reverse("review:solve", args=[review.period.number]),
        reverse("review:run_decide", args=[run.pk]),
    ]
    # then each is refused and nothing is decided
    for url in urls:
        assert client.post(url, {f"run{run.pk}-decision": "approve"}).status_code == 403
    assert not RunDecision.objects.exists()


def test_staff_land_on_the_overview_of_the_period_under_review(review: Review) -> None:
    # given staff logged in
    client = _login(review.staff)
    # when they open the site root
    response = client.get("/", follow=True)
    # then they land on the review overview of the period under review
    assert response.redirect_chain[-1][0] == reverse("review:overview", args=[119])
    assert "Review of P119" in response.content.decode()
    assert "Galaxies I" in response.content.decode()


def test_chair_sees_their_panel_but_not_another(review: Review, staff: User) -> None:
    # given a second panel with another chair
    other_chair = _reviewers(1, prefix="second")[0]
    other = _panel(review.period, staff, other_chair, [], "Galaxies II")
    client = _login(review.chair)
    # when the first chair opens both panels
    own = client.get(reverse("review:panel", args=[review.panel.pk]))
    foreign = client.get(reverse("review:panel", args=[other.pk]))
    # then they see their own and the other is not found
    assert own.status_code == 200
    assert foreign.status_code == 404


def test_a_panel_member_who_is_not_the_chair_gets_404(review: Review) -> None:
    response = _login(review.reviewers[0]).get(reverse("review:panel", args=[review.panel.pk]))
    assert response.status_code == 404


# --- the panel page ---------------------------------------------------------------------


def test_panel_page_shows_raw_and_normalised_grades_side_by_side(review: Review) -> None:
    # given a graded panel
    ranking = sel.panel_ranking(review.panel)
    # when its chair opens it
    html = _login(review.chair).get(reverse("review:panel", args=[review.panel.pk])).content
    page = html.decode()
    # then every grade shows raw and normalised, the reviewers as pseudonyms, not names
    for row in ranking:
        assert row.score is not None
        for raw, norm in zip(row.score.raw, row.score.normalised, strict=True):
            assert f"{raw:.1f} → {norm:.2f}" in page
        assert f"{row.score.mean:.2f}" in page
    assert "R1:" in page
    for reviewer in [review.chair, *review.reviewers]:
        assert reviewer.username not in page.replace(review.chair.username, "", 1)
    assert "normalis" in page.lower()


def test_a_chair_who_reviews_sees_no_grades_before_submitting_their_own(
    period: Period, staff: User
) -> None:
    # given a panel of three whose chair reviews the one proposal, the others have graded
    (proposal,) = _submitted(1, period)
    rv.review_start(period_id=period.pk, actor=staff)
    chair, *others = _reviewers(3)
    panel = _panel(period, staff, chair, others, "Three")
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=2)
    for reviewer, grade in zip(others, ["1.2", "4.7"], strict=True):
        assignment = proposal.assignments.get(reviewer=reviewer)
        rv.review_save(
            assignment_id=assignment.pk, actor=reviewer, grade=grade, comment_to_pi="x", submit=True
        )
    # when the chair opens the panel
    page = _login(chair).get(reverse("review:panel", args=[panel.pk])).content.decode()
    # then the others' grades are hidden
    assert "hidden until you submit your own review" in page
    assert "1.2 →" not in page and "4.7 →" not in page
    assert "disagreement</span>" not in page


def test_staff_see_reviewer_names_on_the_panel_page(review: Review) -> None:
    page = _login(review.staff).get(reverse("review:panel", args=[review.panel.pk])).content
    assert review.reviewers[0].get_full_name() in page.decode()


def test_chair_enters_a_panel_grade(review: Review) -> None:
    # given the chair and a reviewed proposal
    proposal = review.proposals[0]
    url = reverse("review:panel_grade", args=[review.panel.pk, proposal.pk])
    # when they enter a grade out of range, then a valid one
    bad = _login(review.chair).post(url, {f"p{proposal.pk}-grade": "7"})
    good = _login(review.chair).post(url, {f"p{proposal.pk}-grade": "1.3"})
    # then the first is refused on the page, the second stored
    assert bad.status_code == 200
    assert "Grades go from 1.0" in bad.content.decode()
    assert good.status_code == 302
    proposal.refresh_from_db()
    assert str(proposal.panel_grade.grade) == "1.3"


# --- overview actions -------------------------------------------------------------------


def test_assignment_error_names_the_proposals_that_cannot_be_covered(
    period: Period, staff: User
) -> None:
    # given two proposals under review and a panel of two, three reviewers per proposal
    proposals = _submitted(2, period)
    rv.review_start(period_id=period.pk, actor=staff)
    chair, member = _reviewers(2)
    _panel(period, staff, chair, [member], "Small panel")
    # when staff run the assignment
    response = _login(staff).post(reverse("review:solve", args=[period.number]))
    # then the page names both proposals
    page = response.content.decode()
    assert response.status_code == 200
    for proposal in proposals:
        assert f"{proposal.programme_id} cannot be covered" in page


def test_staff_start_the_review_create_a_panel_and_add_a_member(
    period: Period, staff: User
) -> None:
    # given a submitted proposal and two reviewers
    (proposal,) = _submitted(1, period)
    chair, member = _reviewers(2)
    client = _login(staff)
    # when staff start the review, create a panel with a chair and add a member
    client.post(reverse("review:start", args=[period.number]))
    client.post(
        reverse("review:panel_create", args=[period.number]),
        {"name": "Stars", "category": "C", "deadline": "2031-01-01T12:00", "chair": chair.pk},
    )
    panel = Panel.objects.get(name="Stars")
    client.post(
        reverse("review:member_add", args=[period.number]),
        {"panel": panel.pk, "user": member.pk, "expertise": "dust, galaxies"},
    )
    # then the proposal is under review and the panel has its chair and member
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.UNDER_REVIEW
    assert panel.chair == chair
    assert set(panel.members.values_list("user__username", flat=True)) == {"rev0", "rev1"}
    assert panel.members.get(user=member).expertise == ["dust", "galaxies"]


def test_staff_override_a_conflict_with_a_reason(period: Period, staff: User) -> None:
    # given a reviewer who is PI of a proposal under review
    pi_reviewer = UserFactory.create(username="pirev", roles=[Role.ASTRONOMER, Role.REVIEWER])
    draft = complete_proposal(pi=pi_reviewer, period=period, category="C")
    p1.proposal_submit(proposal_id=draft.pk, actor=pi_reviewer, queue_final_pdf=False)
    rv.review_start(period_id=period.pk, actor=staff)
    _panel(period, staff, pi_reviewer, [], "Solo")
    conflict = draft.conflicts.get()
    url = reverse("review:conflict_override", args=[conflict.pk])
    # when staff override it without, then with a reason
    _login(staff).post(url, {"reason": ""})
    response = _login(staff).post(url, {"reason": "Test of the override"}, follow=True)
    # then it is overridden with the reason, shown on the overview
    conflict.refresh_from_db()
    assert conflict.override_reason == "Test of the override"
    assert "Test of the override" in response.content.decode()


# --- ranking and allocation ---------------------------------------------------------------


def test_ranking_page_shows_cumulative_hours_and_pressure(review: Review) -> None:
    response = _login(review.staff).get(reverse("review:ranking", args=[119]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "UT1" in page
    assert "12.0" in page  # three runs of 4 h: the cumulative request
    assert "category C" in page


def test_pressure_plot_is_a_png(review: Review) -> None:
    response = _login(review.staff).get(reverse("review:pressure_png", args=[119]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_staff_approve_a_run_with_rank_class_a_and_the_ledger_holds_the_seconds(
    review: Review,
) -> None:
    # given a proposal under review with one 4 h service-mode run
    proposal = review.proposals[0]
    run = proposal.runs.get()
    client = _login(review.staff)
    assert 'value="4.0"' in client.get(reverse("review:allocation", args=[119])).content.decode()
    # when staff approve it with rank class A and 3.5 hours
    response = client.post(
        reverse("review:run_decide", args=[run.pk]),
        {
            f"run{run.pk}-decision": "approve",
            f"run{run.pk}-rank_class": "A",
            f"run{run.pk}-hours": "3.5",
        },
        follow=True,
    )
    # then the ledger holds 12,600 s, the proposal is approved and the page says so
    assert sum(LedgerEntry.objects.filter(run=run).values_list("seconds", flat=True)) == 12600
    assert RunDecision.objects.get(run=run).rank_class == "A"
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    decisions = response.content.decode().split('id="decisions"')[1]
    assert "Approved" in decisions
    assert "3.50 h" in decisions


def test_approving_a_service_run_without_rank_class_is_refused_on_the_form(
    review: Review,
) -> None:
    run = review.proposals[0].runs.get()
    response = _login(review.staff).post(
        reverse("review:run_decide", args=[run.pk]),
        {f"run{run.pk}-decision": "approve", f"run{run.pk}-hours": "3"},
    )
    assert response.status_code == 200
    assert "needs rank class A, B or C" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_staff_move_an_assignment_by_hand_from_the_panel_page(period) -> None:
    # given a proposal assigned to three of four panel members
    from proposals.review import services as rv
    from tests.review.test_review_services import _panel, _reviewer, _staff, _submitted

    staff = _staff()
    proposal = _submitted(UserFactory.create(username="pi"), period)
    reviewers = [_reviewer(f"r{i}") for i in range(4)]
    rv.review_start(period_id=period.pk, actor=staff)
    panel_id = _panel(period, staff, reviewers)
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    free = next(r for r in reviewers if not proposal.assignments.filter(reviewer=r).exists())
    assignment = proposal.assignments.first()
    assert assignment is not None
    client = Client()
    client.force_login(staff)
    assert "Move to" in client.get(f"/review/panels/{panel_id}/").content.decode()
    # when staff move it to the free member
    response = client.post(
        f"/review/staff/assignments/{assignment.pk}/move/", {"reviewer": free.pk}
    )
    # then it is moved and marked as a hand move
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.reviewer_id, assignment.by_hand) == (free.pk, True)
