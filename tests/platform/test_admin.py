"""The Django admin lets staff run a call: periods, proposals (read-only), the observatory."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals import services
from proposals.models import Period, Proposal, ProposalEvent, ProposalStatus
from tests.factories import InstrumentFactory, PeriodFactory, UserFactory


@pytest.fixture
def admin_client_for_staff(db: None) -> Client:
    """A client logged in as a staff superuser (the demo's ``staff`` account)."""
    UserFactory.create(username="chief", roles=[Role.STAFF])
    User.objects.filter(username="chief").update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="chief"))
    return client


@pytest.fixture
def submitted_draft(draft: Proposal) -> Proposal:
    services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    draft.refresh_from_db()
    return draft


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/proposals/period/",
        "/admin/proposals/period/add/",
        "/admin/proposals/proposal/",
        "/admin/proposals/proposal/?status__exact=submitted&category__exact=C",
        "/admin/proposals/proposalevent/",
        "/admin/observatory/site/",
        "/admin/observatory/site/add/",
        "/admin/observatory/telescope/",
        "/admin/observatory/instrument/",
        "/admin/observatory/instrument/add/",
    ],
)
def test_staff_open_the_admin_pages(
    admin_client_for_staff: Client, submitted_draft: Proposal, url: str
) -> None:
    # given an instrument, so the observatory lists have rows
    InstrumentFactory.create(name="UVES")
    # when
    response = admin_client_for_staff.get(url)
    # then
    assert response.status_code == 200


def test_the_proposal_list_filters_by_period_status_and_category(
    admin_client_for_staff: Client, submitted_draft: Proposal
) -> None:
    # given a second period (a filter with one choice is not shown)
    PeriodFactory.create(number=120)
    # when
    response = admin_client_for_staff.get("/admin/proposals/proposal/")
    # then
    filters = {spec.title for spec in response.context["cl"].filter_specs}
    assert {"period", "status", "category"} <= filters
    assert str(submitted_draft.programme_id) in response.content.decode()


def test_staff_open_a_proposal_with_its_parts(
    admin_client_for_staff: Client, submitted_draft: Proposal
) -> None:
    # when
    response = admin_client_for_staff.get(f"/admin/proposals/proposal/{submitted_draft.pk}/change/")
    # then it shows the targets, runs and history, and links the final PDF through its view
    assert response.status_code == 200
    page = response.content.decode()
    assert "LMC field" in page
    assert "/media/" not in page


def test_staff_create_a_period_in_the_admin(admin_client_for_staff: Client) -> None:
    # given
    now = timezone.now().replace(microsecond=0)
    opens, deadline = now + dt.timedelta(days=10), now + dt.timedelta(days=40)
    form = {
        "number": "121",
        "call_opens_0": opens.date().isoformat(),
        "call_opens_1": opens.time().isoformat(),
        "deadline_0": deadline.date().isoformat(),
        "deadline_1": deadline.time().isoformat(),
        "start": "2028-04-01",
        "end": "2028-09-30",
    }
    # when
    response = admin_client_for_staff.post("/admin/proposals/period/add/", form)
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    period = Period.objects.get(number=121)
    assert (period.call_opens, period.deadline) == (opens, deadline)


def test_a_period_ending_before_it_starts_is_a_form_error(admin_client_for_staff: Client) -> None:
    # when
    response = admin_client_for_staff.post(
        "/admin/proposals/period/add/",
        {
            "number": "122",
            "call_opens_0": "2027-01-01",
            "call_opens_1": "00:00:00",
            "deadline_0": "2027-02-01",
            "deadline_1": "00:00:00",
            "start": "2028-04-01",
            "end": "2028-03-01",
        },
    )
    # then the form says so, nothing is saved, no IntegrityError
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Period.objects.filter(number=122).exists()


def test_staff_cannot_add_proposals_in_the_admin(admin_client_for_staff: Client) -> None:
    assert admin_client_for_staff.get("/admin/proposals/proposal/add/").status_code == 403


def test_the_admin_cannot_change_a_proposal_status(
    admin_client_for_staff: Client, submitted_draft: Proposal
) -> None:
    # given
    url = f"/admin/proposals/proposal/{submitted_draft.pk}/change/"
    events_before = ProposalEvent.objects.count()
    # when staff post the change form with another status and programme id
    admin_client_for_staff.post(
        url,
        {
            "title": submitted_draft.title,
            "status": ProposalStatus.APPROVED,
            "programme_id": "999.X-9999",
            "version": "99",
        },
    )
    # then nothing changed
    proposal = Proposal.objects.get(pk=submitted_draft.pk)
    assert proposal.status == ProposalStatus.SUBMITTED
    assert proposal.programme_id == submitted_draft.programme_id
    assert proposal.version == submitted_draft.version
    assert ProposalEvent.objects.count() == events_before


def test_proposal_events_are_read_only_in_the_admin(
    admin_client_for_staff: Client, submitted_draft: Proposal
) -> None:
    # given
    event = ProposalEvent.objects.get(proposal=submitted_draft)
    # when
    add = admin_client_for_staff.get("/admin/proposals/proposalevent/add/")
    delete = admin_client_for_staff.post(
        f"/admin/proposals/proposalevent/{event.pk}/delete/", {"post": "yes"}
    )
    # then
    assert add.status_code == 403
    assert delete.status_code == 403
    assert ProposalEvent.objects.filter(pk=event.pk).exists()
