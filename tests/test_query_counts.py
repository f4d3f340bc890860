"""Query counts pinned exactly on the list endpoints and the main pages.

Each test asks the same URL at two sizes (one object, then several, each with several runs,
targets and co-investigators) and pins the same exact count for both: an N+1 shows as a count
that grows with the data, a lost ``select_related`` as a count above the pin. When a change
makes a count smaller, lower the pin with it.
"""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataflow.accounts.models import Role
from proposals.models import (
    CoInvestigator,
    Figure,
    ObservingRun,
    Period,
    Proposal,
    ProposalEvent,
    ProposalStatus,
)
from tests.conftest import logged_in
from tests.factories import (
    InstrumentFactory,
    PeriodFactory,
    RunFactory,
    TargetFactory,
    TelescopeFactory,
    UserFactory,
    complete_proposal,
)

Counter = Callable[..., Any]  # pytest-django's django_assert_num_queries


def bearer(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def rich_proposal(pi: User, period: Period, title: str, size: int = 3) -> Proposal:
    """A draft with ``size`` each of targets, runs (on two instruments), accepted
    co-investigators, figures and events: 1 is the smallest that fills every relation, so a
    count that grows from 1 to 3 is an N+1, not a prefetch that skipped an empty relation."""
    proposal = complete_proposal(pi=pi, period=period, title=title)
    targets = [proposal.targets.get()]
    targets += [
        TargetFactory.create(proposal=proposal, name=f"{title} T{i}") for i in range(1, size)
    ]
    for letter in "BCDEFG"[: size - 1]:
        instrument = "KMOS" if letter in "BDF" else "FORS2"
        RunFactory.create(
            proposal=proposal, letter=letter, instrument=InstrumentFactory.create(name=instrument),
            targets=targets,
        )  # fmt: skip
    for i in range(size):
        coi = UserFactory.create()
        CoInvestigator.objects.create(proposal=proposal, user=coi, email=f"{title}-{i}@x.org")
        figure = Figure(proposal=proposal, image_format="png", caption=f"Figure {i}")
        figure.image.save("f.png", ContentFile(png_bytes()), save=True)
        ProposalEvent.objects.create(proposal=proposal, actor=coi, old="draft", new="draft")
    return proposal


def get_ok(client: Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


@pytest.fixture
def pi(db: None) -> User:
    return UserFactory.create(username="pi")


# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------


def test_proposal_list_api_queries_do_not_grow_with_proposals_and_runs(
    pi: User, period: Period, django_assert_num_queries: Counter
) -> None:
    # given: token, roles, count, page
    client = bearer(pi)
    rich_proposal(pi, period, "P0")
    with django_assert_num_queries(4):
        get_ok(client, "/api/v1/proposals/")
    # when: 5 proposals with 3 runs each, one where the PI is only a co-investigator
    for i in range(1, 4):
        rich_proposal(pi, period, f"P{i}")
    other = rich_proposal(UserFactory.create(), period, "Co-I")
    CoInvestigator.objects.create(proposal=other, user=pi, email=pi.email)
    # then
    with django_assert_num_queries(4):
        response = get_ok(client, "/api/v1/proposals/")
    assert response.json()["count"] == 5


def test_period_list_api_queries_do_not_grow_with_periods(
    pi: User, django_assert_num_queries: Counter
) -> None:
    # given: token, count, page
    client = bearer(pi)
    PeriodFactory.create(number=110)
    with django_assert_num_queries(3):
        get_ok(client, "/api/v1/periods/")
    # when
    for number in range(111, 116):
        PeriodFactory.create(number=number)
    # then
    with django_assert_num_queries(3):
        response = get_ok(client, "/api/v1/periods/")
    assert response.json()["count"] == 6


def test_telescope_list_api_queries_do_not_grow_with_telescopes_and_instruments(
    pi: User, django_assert_num_queries: Counter
) -> None:
    # given: token, count, telescopes with their site, their instruments
    client = bearer(pi)
    InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT1"), name="FORS2")
    with django_assert_num_queries(4):
        get_ok(client, "/api/v1/telescopes/")
    # when
    for t in range(2, 6):
        telescope = TelescopeFactory.create(name=f"UT{t}")
        for i in range(3):
            InstrumentFactory.create(telescope=telescope, name=f"I{t}{i}")
    # then
    with django_assert_num_queries(4):
        response = get_ok(client, "/api/v1/telescopes/")
    assert response.json()["count"] == 5


def test_proposal_detail_api_queries_do_not_grow_with_what_it_nests(
    pi: User, period: Period, django_assert_num_queries: Counter
) -> None:
    # given: token, roles, proposal, then one query per prefetched relation and level
    client = bearer(pi)
    small = rich_proposal(pi, period, "Small", size=1)
    large = rich_proposal(pi, period, "Large", size=4)
    # when / then: one of everything, then four of everything
    with django_assert_num_queries(14):
        get_ok(client, f"/api/v1/proposals/{small.pk}/")
    with django_assert_num_queries(14):
        response = get_ok(client, f"/api/v1/proposals/{large.pk}/")
    assert len(response.json()["runs"]) == 4


@pytest.mark.parametrize("nested", ["targets", "runs"])
def test_nested_list_api_queries_do_not_grow_with_targets_and_runs(
    nested: str, pi: User, period: Period, django_assert_num_queries: Counter
) -> None:
    # given
    client = bearer(pi)
    small = rich_proposal(pi, period, "Small", size=1)
    large = rich_proposal(pi, period, "Large", size=4)
    pinned = {"targets": 4, "runs": 5}[nested]
    # when / then
    with django_assert_num_queries(pinned):
        get_ok(client, f"/api/v1/proposals/{small.pk}/{nested}/")
    with django_assert_num_queries(pinned):
        response = get_ok(client, f"/api/v1/proposals/{large.pk}/{nested}/")
    assert len(response.json()) == 4


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def test_my_proposals_page_queries_do_not_grow_with_proposals_and_runs(
    pi: User, period: Period, django_assert_num_queries: Counter
) -> None:
    # given
    client = logged_in(pi)
    rich_proposal(pi, period, "P0")
    # 6, the PI's open Phase 2 runs and their data in the archive
    with django_assert_num_queries(8):
        get_ok(client, "/proposals/")
    # when
    for i in range(1, 5):
        rich_proposal(pi, period, f"P{i}")
    # then
    with django_assert_num_queries(8):
        response = get_ok(client, "/proposals/")
    assert len(response.context["proposals"]) == 5


@pytest.mark.parametrize("page", ["", "edit/"])
def test_proposal_page_queries_do_not_grow_with_what_it_shows(
    page: str, pi: User, period: Period, django_assert_num_queries: Counter
) -> None:
    # given
    client = logged_in(pi)
    small = rich_proposal(pi, period, "Small", size=1)
    large = rich_proposal(pi, period, "Large", size=4)
    pinned = {"": 16, "edit/": 18}[page]  # the detail page also lists scheduled nights
    # when / then
    with django_assert_num_queries(pinned):
        get_ok(client, f"/proposals/{small.pk}/{page}")
    with django_assert_num_queries(pinned):
        get_ok(client, f"/proposals/{large.pk}/{page}")


def test_staff_period_page_queries_do_not_grow_with_proposals_and_runs(
    period: Period, django_assert_num_queries: Counter
) -> None:
    # given
    client = logged_in(UserFactory.create(username="staff", roles=[Role.STAFF]))
    rich_proposal(UserFactory.create(), period, "P0")
    with django_assert_num_queries(8):
        get_ok(client, f"/proposals/staff/periods/{period.number}/")
    # when: proposals of several PIs
    for i in range(1, 5):
        rich_proposal(UserFactory.create(), period, f"P{i}")
    # then
    with django_assert_num_queries(8):
        response = get_ok(client, f"/proposals/staff/periods/{period.number}/")
    assert len(response.context["proposals"]) == 5
    assert ObservingRun.objects.count() == 15


# ---------------------------------------------------------------------------------------------
# Review API
# ---------------------------------------------------------------------------------------------


def _review_world(period: Period, reviewer: User, size: int) -> None:
    """``size`` proposals in a panel the reviewer sits on, each assigned to them and to a
    second member, each with a conflict."""
    import datetime as dt

    from django.utils import timezone

    from proposals.review.models import Assignment, Conflict, Panel, PanelMember, Review

    panel, _ = Panel.objects.get_or_create(
        period=period,
        name="C1",
        defaults={"category": "C", "deadline": timezone.now() + dt.timedelta(days=9)},
    )
    for user in (reviewer, UserFactory.create(roles=[Role.REVIEWER])):
        PanelMember.objects.get_or_create(panel=panel, user=user)
    for _ in range(size - Assignment.objects.filter(reviewer=reviewer).count()):
        proposal = complete_proposal(pi=UserFactory.create(), period=period)
        mine = Assignment.objects.create(proposal=proposal, reviewer=reviewer, panel=panel)
        Review.objects.create(assignment=mine, comment_to_pi="draft")
        other = panel.members.exclude(user=reviewer).last()
        assert other is not None
        Assignment.objects.create(proposal=proposal, reviewer=other.user, panel=panel)
        Conflict.objects.create(
            proposal=proposal, reviewer=other.user, kind="declared", reason="x", created_by=reviewer
        )


@pytest.mark.parametrize(
    ("url", "who", "queries"),
    [
        ("/api/v1/review/assignments/", "reviewer", 3),
        ("/api/v1/review/panels/", "staff", 5),
        ("/api/v1/review/conflicts/", "staff", 4),
    ],
)
def test_review_list_api_queries_do_not_grow_with_assignments(
    period: Period, django_assert_num_queries: Counter, url: str, who: str, queries: int
) -> None:
    # given
    reviewer = UserFactory.create(username="rev", roles=[Role.REVIEWER])
    staff = UserFactory.create(username="opc", roles=[Role.STAFF])
    client = bearer(reviewer if who == "reviewer" else staff)
    _review_world(period, reviewer, 1)
    with django_assert_num_queries(queries):
        get_ok(client, url)
    # when
    _review_world(period, reviewer, 4)
    # then
    with django_assert_num_queries(queries):
        get_ok(client, url)


# ---------------------------------------------------------------------------------------------
# Review pages
# ---------------------------------------------------------------------------------------------


# The staff overview also counts the archive's quarantined files (one query).
@pytest.mark.parametrize(("page", "queries"), [("home", 5), ("panel", 22), ("overview", 26)])
def test_review_page_queries_do_not_grow_with_proposals(
    period: Period, django_assert_num_queries: Counter, page: str, queries: int
) -> None:
    # given proposals under review in a panel, assigned to the reviewer and a second member
    from proposals.review.models import Panel

    reviewer = UserFactory.create(username="rev", roles=[Role.REVIEWER])
    staff = UserFactory.create(username="opc", roles=[Role.STAFF])
    client = logged_in(reviewer if page == "home" else staff)
    for size in (1, 4):
        _review_world(period, reviewer, size)
        Proposal.objects.update(status=ProposalStatus.UNDER_REVIEW)
        panel = Panel.objects.get()
        url = {
            "home": "/review/",
            "panel": f"/review/panels/{panel.pk}/",
            "overview": f"/review/staff/periods/{period.number}/",
        }[page]
        # then the same count for one proposal and for four
        with django_assert_num_queries(queries):
            get_ok(client, url)
