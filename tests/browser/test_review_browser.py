"""Review end to end in a real browser (issue 9): a reviewer grades an assigned proposal. The
chair's ranking and staff's allocation are separate test functions of this module."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals.models import ProposalStatus
from proposals.review.models import Assignment, Panel, PanelMember, ReviewStatus
from tests.factories import PeriodFactory, UserFactory, complete_proposal

pytestmark = [pytest.mark.browser]


@pytest.fixture
def reviewer_assignment(transactional_db) -> Assignment:  # type: ignore[no-untyped-def]
    """A proposal under review in a category C panel, assigned to reviewer rita."""
    period = PeriodFactory.create(deadline=timezone.now() - dt.timedelta(days=1))
    proposal = complete_proposal(
        period=period,
        title="Winds of quasars at cosmic noon",
        pi=UserFactory.create(username="ada", institute="Universität Göttingen"),
    )
    proposal.status = ProposalStatus.UNDER_REVIEW
    proposal.programme_id = "119.C-0001"
    proposal.save(update_fields=["status", "programme_id"])
    rita = UserFactory.create(
        username="rita", roles=[Role.REVIEWER], institute="Instituto de Astrofísica de Canarias"
    )
    panel = Panel.objects.create(
        period=period,
        name="C1",
        category="C",
        deadline=timezone.now() + dt.timedelta(days=14),
    )
    PanelMember.objects.create(panel=panel, user=rita)
    return Assignment.objects.create(proposal=proposal, reviewer=rita, panel=panel, role="primary")


def test_reviewer_reads_the_pdf_grades_and_submits(page, reviewer_assignment) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    # given rita logs in and goes to the site root
    page.goto("/accounts/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.goto("/")

    # then she lands on her review home with one review to submit
    expect(page).to_have_url(re.compile(r"/review/$"))
    expect(page.get_by_role("heading", name="My reviews")).to_be_visible()
    expect(page.get_by_test_id("next-steps")).to_contain_text("1 review to submit")

    # when she opens the assigned proposal
    page.get_by_role("link", name="Winds of quasars at cosmic noon").click()
    expect(page.get_by_test_id("programme-id")).to_have_text("119.C-0001")

    # then the embedded PDF is a PDF (fetched with the page's session: headless Chromium may
    # download a PDF rather than display it)
    pdf_url = page.get_by_test_id("proposal-pdf").get_attribute("src")
    assert pdf_url == f"/review/assignments/{reviewer_assignment.pk}/pdf/"
    pdf = page.request.get(pdf_url)
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # when she grades 2.3 with a comment, confirms and submits
    page.get_by_label("Grade").fill("2.3")
    page.get_by_label("Comment to the PI").fill("A clear case; the sample is well chosen.")
    page.get_by_label(re.compile("submit this review")).check()
    page.get_by_role("button", name="Submit", exact=True).click()

    # then she sees her review submitted and final
    expect(page.get_by_test_id("review-status")).to_have_text("Submitted")
    expect(page.get_by_test_id("my-grade")).to_have_text("2.3")
    expect(page.locator(".messages")).to_contain_text("Review submitted")
    review = Assignment.objects.get(pk=reviewer_assignment.pk).review
    assert review.status == ReviewStatus.SUBMITTED
    assert str(review.grade) == "2.3"


@pytest.fixture
def graded_panel(transactional_db) -> Panel:  # type: ignore[no-untyped-def]
    """Two proposals under review by panel "Galaxies I" (chair carla and three members),
    assigned by the solver and graded; staff member "opc". Built through the services."""
    from proposals import services as p1
    from proposals.review import services as rv

    period = PeriodFactory.create()
    opc = UserFactory.create(username="opc", roles=[Role.STAFF])
    for i in range(2):
        pi = UserFactory.create(username=f"pi{i}", institute=f"Institute {i}")
        draft = complete_proposal(pi=pi, period=period, title=f"Dusty discs {i}")
        p1.proposal_submit(proposal_id=draft.pk, actor=pi, queue_final_pdf=False)
    rv.review_start(period_id=period.pk, actor=opc)
    carla, *members = (
        UserFactory.create(username=name, roles=[Role.REVIEWER], institute=f"{name} Observatory")
        for name in ("carla", "dirk", "emma", "femi")
    )
    panel = rv.panel_create(
        period_id=period.pk,
        name="Galaxies I",
        category="C",
        deadline=timezone.now() + dt.timedelta(days=14),
        chair_id=carla.pk,
        actor=opc,
    )
    for member in members:
        rv.panel_member_add(panel_id=panel.pk, user_id=member.pk, actor=opc)
    rv.assignments_solve(period_id=period.pk, actor=opc, time_limit_s=2)
    for i, a in enumerate(Assignment.objects.order_by("pk")):
        rv.review_save(
            assignment_id=a.pk,
            actor=a.reviewer,
            grade=f"{1.5 + (i % 5) * 0.5:.1f}",
            comment_to_pi="Clear case.",
            submit=True,
        )
    return panel


def _log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def test_chair_sees_the_panel_ranking_and_staff_approve_a_run_with_rank_class_a(  # type: ignore[no-untyped-def]
    page, graded_panel
) -> None:
    from playwright.sync_api import expect

    from proposals.models import Proposal
    from proposals.review.models import LedgerEntry

    best = Proposal.objects.order_by("programme_id").first()
    assert best is not None and best.programme_id

    # given the chair carla logs in and opens her panel
    _log_in(page, "carla")
    page.goto(f"/review/panels/{graded_panel.pk}/")

    # then she sees the ranking with raw and normalised grades under pseudonyms
    expect(page.get_by_role("heading", name=re.compile("Galaxies I"))).to_be_visible()
    ranking = page.locator("table.panel-ranking")
    expect(ranking).to_contain_text(best.programme_id)
    expect(ranking).to_contain_text("R1:")
    expect(ranking).to_contain_text("→")
    expect(ranking).not_to_contain_text("dirk")

    # when staff log in, they land on the review overview from the site root
    _log_in(page, "opc")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/review/staff/periods/119/$"))
    expect(page.get_by_role("heading", name="Review of P119")).to_be_visible()

    # and open the allocation page and approve a run with rank class A
    page.get_by_role("link", name="Allocation").first.click()
    expect(page.get_by_role("heading", name="Allocation of P119")).to_be_visible()
    run = best.runs.get()
    row = page.locator(f"#run-{run.pk}")
    row.get_by_label("Rank class").select_option("A")
    expect(row.get_by_label("Hours")).to_have_value("4.0")
    row.get_by_role("button", name="Approve").click()

    # then the page shows the run approved with rank class A and its hours
    decision = page.locator(f"#decision-{run.pk}")
    expect(decision).to_contain_text("Approved")
    expect(decision).to_contain_text("A")
    expect(decision).to_contain_text("4.00 h")
    assert sum(LedgerEntry.objects.filter(run=run).values_list("seconds", flat=True)) == 14400
