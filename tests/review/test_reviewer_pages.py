"""The reviewer's pages: home, grading, the proposal's PDF, declaring a conflict. A reviewer
sees only what is assigned to them, and never another reviewer's grade or comments."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals.models import Period, Proposal, ProposalStatus
from proposals.review.models import (
    Assignment,
    Conflict,
    ConflictKind,
    Panel,
    PanelMember,
    Review,
    ReviewStatus,
)
from tests.conftest import logged_in
from tests.factories import UserFactory, complete_proposal

pytestmark = pytest.mark.django_db


def reviewer(username: str) -> User:
    return UserFactory.create(
        username=username, roles=[Role.REVIEWER], institute=f"Institute of {username}"
    )


def under_review(period: Period, programme_id: str, title: str) -> Proposal:
    proposal = complete_proposal(period=period, title=title)
    proposal.status = ProposalStatus.UNDER_REVIEW
    proposal.programme_id = programme_id
    proposal.save(update_fields=["status", "programme_id"])
    return proposal


def panel_of(period: Period, name: str = "Panel C1", days: float = 10) -> Panel:
    return Panel.objects.create(
        period=period,
        name=name,
        category="C",
        deadline=timezone.now() + dt.timedelta(days=days),
    )


def assign(proposal: Proposal, user: User, panel: Panel, role: str = "primary") -> Assignment:
    PanelMember.objects.get_or_create(panel=panel, user=user)
    return Assignment.objects.create(proposal=proposal, reviewer=user, panel=panel, role=role)


def grade_url(assignment: Assignment) -> str:
    return reverse("review:grade", args=[assignment.pk])


def test_home_lists_only_my_assignments_with_deadline_and_what_to_do(period: Period) -> None:
    # given two reviewers with one assignment each, mine in a panel whose deadline passed
    me, other = reviewer("rita"), reviewer("otto")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period, days=-1))
    assign(under_review(period, "119.C-0002", "Comet tails"), other, panel_of(period, "C2"))

    # when I open my review home
    response = logged_in(me).get(reverse("review:home"))

    # then only my assignment is listed, not started and late, with what to do next
    html = response.content.decode()
    assert response.status_code == 200
    assert "Quasar winds" in html and grade_url(mine) in html
    assert "Comet tails" not in html
    assert "1 review to submit" in html
    assert "Not started" in html and '<span class="error">late</span>' in html
    assert mine.panel is not None
    assert mine.panel.deadline.strftime("%Y-%m-%d %H:%M") in html


def test_site_root_sends_a_reviewer_to_the_review_home(period: Period) -> None:
    # given a reviewer
    me = reviewer("rita")

    # when they open the site root
    response = logged_in(me).get("/")

    # then they land on their review home
    assert response.status_code == 302
    assert response["Location"] == reverse("review:home")


def test_home_is_forbidden_to_an_astronomer_without_assignments(astronomer: User) -> None:
    # given an astronomer who reviews nothing

    # when they open the review home
    response = logged_in(astronomer).get(reverse("review:home"))

    # then it is forbidden
    assert response.status_code == 403


def test_home_asks_anonymous_visitors_to_log_in() -> None:
    response = Client().get(reverse("review:home"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unassigned_reviewer_gets_404_on_the_page_and_the_pdf(period: Period) -> None:
    # given an assignment of another reviewer
    theirs = assign(
        under_review(period, "119.C-0002", "Comet tails"), reviewer("otto"), panel_of(period)
    )
    client = logged_in(reviewer("rita"))

    # when I open its grading page, its PDF, or post a grade or a conflict to it
    page = client.get(grade_url(theirs))
    pdf = client.get(reverse("review:pdf", args=[theirs.pk]))
    post = client.post(grade_url(theirs), {"grade": "1.0", "action": "draft"})
    conflict = client.post(
        reverse("review:declare_conflict", args=[theirs.pk]), {"reason": "rival"}
    )

    # then all are 404 and nothing was written
    assert [page.status_code, pdf.status_code, post.status_code, conflict.status_code] == [404] * 4
    assert not Review.objects.exists()
    assert Assignment.objects.filter(pk=theirs.pk).exists()


def test_grading_page_shows_the_proposal_and_embeds_its_pdf(period: Period) -> None:
    # given my assignment
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))

    # when I open it
    html = logged_in(me).get(grade_url(mine)).content.decode()

    # then the proposal, its runs and the embedded PDF are there, with the grading form
    pdf_url = reverse("review:pdf", args=[mine.pk])
    assert "Quasar winds" in html and "119.C-0001" in html
    assert "We map the dust." in html
    assert "UT1 / FORS2" in html
    assert f'<iframe src="{pdf_url}"' in html
    assert 'name="grade"' in html and 'step="0.1"' in html
    assert "Save draft" in html and "Submit" in html


def test_assigned_reviewer_gets_the_stored_final_pdf_inline(period: Period) -> None:
    # given my assignment of a proposal with its stored final PDF
    me = reviewer("rita")
    proposal = under_review(period, "119.C-0001", "Quasar winds")
    proposal.final_pdf.save("final.pdf", ContentFile(b"%PDF-1.7 stored final"))
    mine = assign(proposal, me, panel_of(period))

    # when I fetch the PDF
    response = logged_in(me).get(reverse("review:pdf", args=[mine.pk]))

    # then it is the stored file, inline, and may be framed by the grading page
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == b"%PDF-1.7 stored final"  # type: ignore[attr-defined]
    assert response.get("X-Frame-Options", "SAMEORIGIN") == "SAMEORIGIN"


def test_assigned_reviewer_gets_a_rendered_pdf_when_none_is_stored(period: Period) -> None:
    # given my assignment of a proposal without a stored PDF
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))

    # when I fetch the PDF
    response = logged_in(me).get(reverse("review:pdf", args=[mine.pk]))

    # then it is rendered now
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_reviewer_saves_a_draft_then_submits_and_the_review_is_read_only(
    period: Period,
) -> None:
    # given my assignment
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))
    client = logged_in(me)

    # when I save a draft
    draft = client.post(
        grade_url(mine),
        {"grade": "2.3", "comment_to_pi": "Clear case.", "comment_to_panel": "", "action": "draft"},
    )

    # then it is saved as a draft and shown again in the form
    assert draft.status_code == 302
    review = Review.objects.get(assignment=mine)
    assert (review.status, review.grade) == (ReviewStatus.DRAFT, Decimal("2.3"))
    page = client.get(grade_url(mine)).content.decode()
    assert 'value="2.3"' in page and "Clear case." in page and "Draft" in page

    # when I submit without ticking the confirmation
    unconfirmed = client.post(
        grade_url(mine),
        {"grade": "2.1", "comment_to_pi": "Clear case.", "action": "submit"},
    )

    # then nothing changes and the box asks to be ticked
    assert unconfirmed.status_code == 200
    assert "Tick the box" in unconfirmed.content.decode()
    assert Review.objects.get(assignment=mine).status == ReviewStatus.DRAFT

    # when I submit with the confirmation
    submitted = client.post(
        grade_url(mine),
        {
            "grade": "2.1",
            "comment_to_pi": "Clear case.",
            "comment_to_panel": "Strong team.",
            "confirm": "on",
            "action": "submit",
        },
    )

    # then the review is final, the page read-only, and home shows the grade
    assert submitted.status_code == 302
    review = Review.objects.get(assignment=mine)
    assert (review.status, review.grade) == (ReviewStatus.SUBMITTED, Decimal("2.1"))
    page = client.get(grade_url(mine)).content.decode()
    assert "Submitted" in page and "this review is final" in page
    assert 'name="grade"' not in page and "Declare conflict" not in page
    home = client.get(reverse("review:home")).content.decode()
    assert "2.1" in home and "All your reviews are submitted" in home

    # and a later post cannot change it
    again = client.post(grade_url(mine), {"grade": "4.0", "comment_to_pi": "x", "action": "draft"})
    assert again.status_code == 200
    assert "This review was submitted and is final." in again.content.decode()
    assert Review.objects.get(assignment=mine).grade == Decimal("2.1")


@pytest.mark.parametrize(
    ("grade", "message"),
    [("5.1", "Grades go from 1.0 (best) to 5.0."), ("2.05", "Grades go in steps of 0.1.")],
)
def test_bad_grade_shows_next_to_the_field_and_saves_nothing(
    period: Period, grade: str, message: str
) -> None:
    # given my assignment
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))

    # when I save a grade out of range or between steps
    response = logged_in(me).post(
        grade_url(mine), {"grade": grade, "comment_to_pi": "Fine.", "action": "draft"}
    )

    # then the message is on the grade field and nothing is saved
    assert response.status_code == 200
    form = response.context["review_form"]
    assert form.errors["grade"] == [message]
    assert 'data-field="grade"' in response.content.decode()
    assert not Review.objects.filter(assignment=mine).exists()


def test_submitting_without_comment_to_pi_shows_the_field_error(period: Period) -> None:
    # given my assignment
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))

    # when I submit a grade without a comment to the PI
    response = logged_in(me).post(
        grade_url(mine), {"grade": "3.0", "confirm": "on", "action": "submit"}
    )

    # then the comment field says so and the review is not submitted
    assert response.status_code == 200
    assert response.context["review_form"].errors["comment_to_pi"]
    assert not Review.objects.filter(status=ReviewStatus.SUBMITTED).exists()


def test_another_reviewers_grade_and_comments_never_appear_on_my_pages(period: Period) -> None:
    # given a proposal another reviewer graded 4.7 with distinctive comments
    me, other = reviewer("rita"), reviewer("otto")
    panel = panel_of(period)
    proposal = under_review(period, "119.C-0001", "Quasar winds")
    mine = assign(proposal, me, panel)
    theirs = assign(proposal, other, panel, role="secondary")
    Review.objects.create(
        assignment=theirs,
        grade=Decimal("4.7"),
        comment_to_pi="ZANZIBAR-PI-REMARK",
        comment_to_panel="XYLOPHONE-PANEL-REMARK",
        status=ReviewStatus.SUBMITTED,
        submitted_at=timezone.now(),
    )
    client = logged_in(me)

    def pages() -> str:
        return (
            client.get(grade_url(mine)).content.decode()
            + client.get(reverse("review:home")).content.decode()
        )

    # when I look before and after submitting my own review
    before = pages()
    client.post(
        grade_url(mine),
        {"grade": "1.2", "comment_to_pi": "Mine.", "confirm": "on", "action": "submit"},
    )
    after = pages()

    # then their grade, comments and identity appear on neither
    for html in (before, after):
        for secret in ("4.7", "ZANZIBAR", "XYLOPHONE", "otto", other.last_name):
            assert secret not in html
    assert "1.2" in after


def test_declaring_a_conflict_reassigns_to_another_panel_member(period: Period) -> None:
    # given my assignment in a panel with a free colleague
    me, colleague = reviewer("rita"), reviewer("carl")
    panel = panel_of(period)
    PanelMember.objects.create(panel=panel, user=colleague)
    proposal = under_review(period, "119.C-0001", "Quasar winds")
    mine = assign(proposal, me, panel)
    client = logged_in(me)

    # when I declare a conflict with a reason
    response = client.post(
        reverse("review:declare_conflict", args=[mine.pk]),
        {"reason": "My former student is the PI."},
        follow=True,
    )

    # then I am back home, told it was reassigned, and the colleague reviews it instead
    assert response.redirect_chain[-1][0] == reverse("review:home")
    assert "reassigned" in response.content.decode()
    assert (
        "Quasar winds"
        not in response.content.decode().split("</header>", 1)[1].split('class="messages"')[0]
    )
    assert list(proposal.assignments.values_list("reviewer", flat=True)) == [colleague.pk]
    conflict = Conflict.objects.get(proposal=proposal, reviewer=me)
    assert conflict.kind == ConflictKind.DECLARED
    assert client.get(grade_url(mine)).status_code == 404


def test_declaring_a_conflict_without_a_reason_shows_the_field_error(period: Period) -> None:
    # given my assignment
    me = reviewer("rita")
    mine = assign(under_review(period, "119.C-0001", "Quasar winds"), me, panel_of(period))

    # when I declare a conflict without saying why
    response = logged_in(me).post(
        reverse("review:declare_conflict", args=[mine.pk]), {"reason": "  "}
    )

    # then the reason field says so and the assignment stays
    assert response.status_code == 200
    assert response.context["conflict_form"].errors["reason"] == ["Say what the conflict is."]
    assert Assignment.objects.filter(pk=mine.pk).exists()


def test_nav_shows_reviews_link_to_reviewers_only(period: Period, astronomer: User) -> None:
    # given a reviewer and an astronomer
    me = reviewer("rita")

    # when each opens a page
    reviewer_html = logged_in(me).get(reverse("review:home")).content.decode()
    astronomer_html = logged_in(astronomer).get(reverse("proposals:mine")).content.decode()

    # then only the reviewer has the Reviews link
    link = f'<a href="{reverse("review:home")}">Reviews</a>'
    assert link in reviewer_html
    assert link not in astronomer_html
