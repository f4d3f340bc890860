"""The Phase 1 REST API: auth, visibility, ETag/If-Match, nested commands, errors."""

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from PIL import Image
from rest_framework.test import APIClient

from proposals.models import (
    CoInvestigator,
    Figure,
    ObservingRun,
    Proposal,
    ProposalEvent,
    ProposalStatus,
    Target,
)
from tests.factories import (
    InstrumentFactory,
    PeriodFactory,
    ProposalFactory,
    TargetFactory,
    TelescopeFactory,
    UserFactory,
    complete_proposal,
)

API = "/api/v1"
Client = Callable[[User], APIClient]


@pytest.fixture
def ada(client_for: Client, astronomer: User) -> APIClient:
    return client_for(astronomer)


@pytest.fixture
def bob(client_for: Client, other_astronomer: User) -> APIClient:
    return client_for(other_astronomer)


@pytest.fixture
def coi_user(draft: Proposal) -> User:
    """A linked co-investigator of ``draft``."""
    user = UserFactory.create(username="carla", email="carla@example.org", institute="INAF Padova")
    CoInvestigator.objects.create(proposal=draft, user=user, email=user.email)
    return user


@pytest.fixture
def submitted(astronomer: User, period: Any) -> Proposal:
    proposal = complete_proposal(pi=astronomer, period=period)
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.SUBMITTED, programme_number=1, programme_id="119.C-0001"
    )
    proposal.refresh_from_db()
    return proposal


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buf, "PNG")
    return buf.getvalue()


def upload(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="image/png")


def etag_of(response: Any) -> int:
    match = re.fullmatch(r'"(\d+)"', response["ETag"])
    assert match, response["ETag"]
    return int(match.group(1))


def proposal_url(proposal: Proposal, suffix: str = "") -> str:
    return f"{API}/proposals/{proposal.pk}/{suffix}"


def counts() -> tuple[int, ...]:
    return (
        Proposal.objects.count(), Target.objects.count(), ObservingRun.objects.count(),
        CoInvestigator.objects.count(), Figure.objects.count(), ProposalEvent.objects.count(),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------


def test_anonymous_request_is_refused_with_401(db: None) -> None:
    # when
    response = APIClient().get(f"{API}/proposals/")
    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_bearer_token_is_refused(db: None) -> None:
    # given
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    # when
    response = client.get(f"{API}/proposals/")
    # then
    assert response.status_code == 401


def test_token_endpoint_issues_a_token_that_works_as_bearer(
    astronomer: User, draft: Proposal
) -> None:
    # given
    token = APIClient().post(f"{API}/token/", {"username": "ada", "password": "pw"}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    # when
    response = client.get(f"{API}/proposals/")
    # then
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [draft.pk]


def test_session_login_authenticates_the_api(astronomer: User, draft: Proposal) -> None:
    # given
    client = APIClient()
    client.force_login(astronomer)
    # when
    response = client.get(proposal_url(draft))
    # then
    assert response.status_code == 200


# ---------------------------------------------------------------------------------------------
# Periods and telescopes
# ---------------------------------------------------------------------------------------------


def test_periods_are_listed_and_retrieved_by_number(ada: APIClient, period: Any) -> None:
    # when
    listing = ada.get(f"{API}/periods/")
    one = ada.get(f"{API}/periods/119/")
    # then
    assert [p["number"] for p in listing.json()["results"]] == [119]
    assert one.json()["call_is_open"] is True
    assert one.json()["deadline"]


def test_periods_are_read_only(ada: APIClient, period: Any) -> None:
    # when
    response = ada.post(f"{API}/periods/", {"number": 120}, format="json")
    # then
    assert response.status_code == 405


def test_telescopes_nest_their_instruments_with_offered_and_observing_modes(ada: APIClient) -> None:
    # given
    ut1 = TelescopeFactory.create(name="UT1")
    InstrumentFactory.create(
        telescope=ut1, name="FORS2", offered_vm=False, observing_modes=["IMA", "LSS"]
    )
    InstrumentFactory.create(telescope=ut1, name="KMOS")
    TelescopeFactory.create(name="UT4")
    # when
    response = ada.get(f"{API}/telescopes/")
    detail = ada.get(f"{API}/telescopes/{ut1.pk}/")
    # then
    assert response.status_code == 200
    ut1_json = response.json()["results"][0]
    assert ut1_json["name"] == "UT1" and ut1_json["site"]["name"] == "Paranal"
    fors2 = ut1_json["instruments"][0]
    assert fors2["name"] == "FORS2"
    assert (fors2["offered_sm"], fors2["offered_vm"]) == (True, False)
    assert fors2["observing_modes"] == ["IMA", "LSS"]
    assert [i["name"] for i in detail.json()["instruments"]] == ["FORS2", "KMOS"]


# ---------------------------------------------------------------------------------------------
# Listing proposals
# ---------------------------------------------------------------------------------------------


def test_list_shows_only_proposals_the_user_is_pi_or_coi_of(
    ada: APIClient, client_for: Client, draft: Proposal, coi_user: User, other_astronomer: User
) -> None:
    # given
    foreign = ProposalFactory.create(pi=other_astronomer, title="Bob's")
    # when
    mine = ada.get(f"{API}/proposals/").json()["results"]
    as_coi = client_for(coi_user).get(f"{API}/proposals/").json()["results"]
    bobs = client_for(other_astronomer).get(f"{API}/proposals/").json()["results"]
    # then
    assert [p["id"] for p in mine] == [draft.pk]
    assert [p["id"] for p in as_coi] == [draft.pk]
    assert [p["id"] for p in bobs] == [foreign.pk]


def test_staff_list_every_proposal(client_for: Client, staff: User, draft: Proposal) -> None:
    # given
    other = ProposalFactory.create()
    # when
    results = client_for(staff).get(f"{API}/proposals/").json()["results"]
    # then
    assert {p["id"] for p in results} == {draft.pk, other.pk}


def test_list_filters_by_period_number_status_and_category(
    ada: APIClient, astronomer: User, draft: Proposal, submitted: Proposal
) -> None:
    # given
    older = ProposalFactory.create(
        pi=astronomer, period=PeriodFactory.create(number=118), category="A"
    )
    # when
    by_period = ada.get(f"{API}/proposals/", {"period": 118}).json()["results"]
    by_status = ada.get(f"{API}/proposals/", {"status": "submitted"}).json()["results"]
    by_category = ada.get(f"{API}/proposals/", {"category": "A"}).json()["results"]
    bad = ada.get(f"{API}/proposals/", {"status": "lost"})
    # then
    assert [p["id"] for p in by_period] == [older.pk]
    assert [p["id"] for p in by_status] == [submitted.pk]
    assert by_status[0]["programme_id"] == "119.C-0001"
    assert [p["id"] for p in by_category] == [older.pk]
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_list_query_count_does_not_grow_with_the_number_of_proposals(
    ada: APIClient, astronomer: User, period: Any, django_assert_max_num_queries: Any
) -> None:
    # given: 15 proposals, some where ada is only a Co-I
    for i in range(10):
        complete_proposal(pi=astronomer, period=period, title=f"P{i}")
    for i in range(5):
        p = ProposalFactory.create(period=period, title=f"Co-I {i}")
        CoInvestigator.objects.create(proposal=p, user=astronomer, email=astronomer.email)
    # when: token, roles, count, page
    with django_assert_max_num_queries(4):
        response = ada.get(f"{API}/proposals/")
    # then
    assert response.json()["count"] == 15
    assert response.json()["results"][0]["pi"]["institute"]


# ---------------------------------------------------------------------------------------------
# One proposal
# ---------------------------------------------------------------------------------------------


def test_retrieve_nests_investigators_targets_runs_figures_and_sends_the_etag(
    ada: APIClient, draft: Proposal, coi_user: User
) -> None:
    # given
    CoInvestigator.objects.create(proposal=draft, email="invited@example.org")
    # when
    response = ada.get(proposal_url(draft))
    # then
    assert response.status_code == 200
    assert etag_of(response) == draft.version
    body = response.json()
    assert body["status"] == "draft" and body["programme_id"] is None and body["period"] == 119
    assert body["pi"] == {
        "username": "ada", "name": body["pi"]["name"], "email": "ada@example.org",
        "institute": "Universität Göttingen",
    }  # fmt: skip
    assert [(c["email"], c["accepted"]) for c in body["coinvestigators"]] == [
        ("carla@example.org", True), ("invited@example.org", False),
    ]  # fmt: skip
    assert body["coinvestigators"][0]["user"]["institute"] == "INAF Padova"
    target = body["targets"][0]
    assert target["name"] == "LMC field" and target["ra"] == "05:35:16.80"
    run = body["runs"][0]
    assert (run["letter"], run["telescope"]["name"], run["instrument"]["name"]) == (
        "A",
        "UT1",
        "FORS2",
    )
    assert run["target_ids"] == [target["id"]] and run["targets"] == ["LMC field"]
    assert body["figures"] == [] and body["events"] == []
    assert body["version"] == draft.version


def test_retrieve_query_count_does_not_grow_with_targets_runs_and_investigators(
    ada: APIClient, draft: Proposal, coi_user: User, django_assert_max_num_queries: Any
) -> None:
    # given: 12 targets in 6 runs, 3 Co-Is
    targets = [TargetFactory.create(proposal=draft, name=f"T{i}") for i in range(12)]
    for i, letter in enumerate("BCDEFG"):
        run = ObservingRun.objects.create(
            proposal=draft, letter=letter, telescope=TelescopeFactory.create(name="UT1"),
            instrument=InstrumentFactory.create(name="FORS2"), hours=1,
        )  # fmt: skip
        run.targets.set(targets[2 * i : 2 * i + 2])
    for email in ("x@example.org", "y@example.org"):
        CoInvestigator.objects.create(proposal=draft, email=email)
    # when: token, roles, proposal, then one query per prefetched relation (13 today; events'
    # actors would make 14)
    with django_assert_max_num_queries(14):
        response = ada.get(proposal_url(draft))
    # then
    assert len(response.json()["runs"]) == 7
    assert len(response.json()["targets"]) == 13


def test_retrieve_of_unknown_proposal_is_404(ada: APIClient, db: None) -> None:
    # when
    response = ada.get(f"{API}/proposals/999999/")
    # then
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("get", "targets/"),
        ("post", "targets/"),
        ("get", "runs/"),
        ("post", "coinvestigators/"),
        ("get", "verify/"),
        ("get", "pdf/"),
        ("post", "submit/"),
        ("post", "withdraw/"),
    ],
)
def test_another_astronomers_proposal_is_404_everywhere(
    bob: APIClient, draft: Proposal, method: str, suffix: str
) -> None:
    # given
    before = counts()
    # when
    response = getattr(bob, method)(proposal_url(draft, suffix), {}, format="json")
    # then
    assert response.status_code == 404
    assert counts() == before


def test_another_astronomers_target_is_404(bob: APIClient, draft: Proposal) -> None:
    # given
    target = draft.targets.get()
    # when
    response = bob.delete(proposal_url(draft, f"targets/{target.pk}/"))
    # then
    assert response.status_code == 404
    assert Target.objects.filter(pk=target.pk).exists()


def test_a_target_of_one_proposal_is_404_under_another(
    ada: APIClient, astronomer: User, draft: Proposal, period: Any
) -> None:
    # given: both proposals are ada's, the target belongs to the second
    second = complete_proposal(pi=astronomer, period=period, title="Second")
    target = second.targets.get()
    # when
    response = ada.patch(proposal_url(draft, f"targets/{target.pk}/"), {"name": "X"}, format="json")
    # then
    assert response.status_code == 404
    assert Target.objects.get(pk=target.pk).name == "LMC field"


# ---------------------------------------------------------------------------------------------
# Creating and editing a proposal; ETag and If-Match
# ---------------------------------------------------------------------------------------------


def test_create_opens_a_draft_in_the_period_given_by_number(
    ada: APIClient, astronomer: User, period: Any
) -> None:
    # when
    response = ada.post(
        f"{API}/proposals/",
        {"period": 119, "title": "Ménage à trois in Ω Cen", "category": "D"},
        format="json",
    )
    # then
    assert response.status_code == 201
    body = response.json()
    proposal = Proposal.objects.get(pk=body["id"])
    assert (proposal.pi, proposal.period, proposal.title) == (
        astronomer,
        period,
        "Ménage à trois in Ω Cen",
    )
    assert body["status"] == "draft"
    assert etag_of(response) == 1


def test_create_with_unknown_period_is_400_and_saves_nothing(ada: APIClient, period: Any) -> None:
    # when
    response = ada.post(f"{API}/proposals/", {"period": 42, "title": "T"}, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert "period" in response.json()["errors"]
    assert Proposal.objects.count() == 0


def test_create_in_a_closed_call_is_400_and_saves_nothing(ada: APIClient, db: None) -> None:
    # given
    now = dt.datetime.now(dt.UTC)
    PeriodFactory.create(
        number=117, call_opens=now - dt.timedelta(days=60), deadline=now - dt.timedelta(days=1)
    )
    # when
    response = ada.post(f"{API}/proposals/", {"period": 117, "title": "Late"}, format="json")
    # then
    assert response.status_code == 400
    assert "not open" in response.json()["errors"]["period"][0]
    assert Proposal.objects.count() == 0


def test_create_without_title_is_400(ada: APIClient, period: Any) -> None:
    # when
    response = ada.post(f"{API}/proposals/", {"period": 119}, format="json")
    # then
    assert response.status_code == 400
    assert "title" in response.json()["errors"]


def test_patch_changes_only_the_fields_sent_and_bumps_the_etag(
    ada: APIClient, draft: Proposal
) -> None:
    # given
    version = ada.get(proposal_url(draft))["ETag"]
    # when
    response = ada.patch(
        proposal_url(draft), {"title": "New title"}, format="json", HTTP_IF_MATCH=version
    )
    # then
    assert response.status_code == 200
    assert response.json()["title"] == "New title"
    assert response.json()["abstract"] == "We map the dust."
    assert etag_of(response) == draft.version + 1
    draft.refresh_from_db()
    assert (draft.title, draft.version) == ("New title", etag_of(response))


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(
    ada: APIClient, draft: Proposal
) -> None:
    # given: someone else saved since we loaded version 1
    Proposal.objects.filter(pk=draft.pk).update(version=2)
    # when
    response = ada.patch(proposal_url(draft), {"title": "Mine"}, format="json", HTTP_IF_MATCH='"1"')
    # then
    assert response.status_code == 412
    assert "changed by someone else" in response.json()["detail"]
    draft.refresh_from_db()
    assert (draft.title, draft.version) == ("Dust in the circumnuclear disc of NGC 253", 2)


def test_if_match_that_is_not_one_of_our_etags_is_412(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.patch(proposal_url(draft), {"title": "X"}, format="json", HTTP_IF_MATCH='"abc"')
    # then
    assert response.status_code == 412


def test_write_without_if_match_is_accepted(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.patch(proposal_url(draft), {"abstract": "Shorter."}, format="json")
    # then
    assert response.status_code == 200
    assert etag_of(response) == draft.version + 1


def test_patch_with_an_unknown_category_is_400(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.patch(proposal_url(draft), {"category": "Z"}, format="json")
    # then
    assert response.status_code == 400
    assert "category" in response.json()["errors"]


def test_submitted_proposal_cannot_be_edited_by_anyone_409(
    ada: APIClient, submitted: Proposal
) -> None:
    # given
    before = counts()
    # when
    patched = ada.patch(proposal_url(submitted), {"title": "Sneaky"}, format="json")
    target = ada.post(
        proposal_url(submitted, "targets/"),
        {"name": "M 83", "ra": 204.25, "dec": -29.87},
        format="json",
    )
    # then
    assert patched.status_code == 409
    assert (
        patched.json()["detail"] == "Proposal 119.C-0001 is submitted and can no longer be edited."
    )
    assert target.status_code == 409
    assert counts() == before
    submitted.refresh_from_db()
    assert submitted.title != "Sneaky"


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


def test_add_target_in_sexagesimal_returns_degrees_formatted_and_new_etag(
    ada: APIClient, draft: Proposal
) -> None:
    # when
    response = ada.post(
        proposal_url(draft, "targets/"),
        {"name": "NGC 253", "ra": "00:47:33.1", "dec": "-25:17:18"},
        format="json",
        HTTP_IF_MATCH=f'"{draft.version}"',
    )
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["ra_deg"] == pytest.approx(11.888, abs=1e-3)
    assert body["dec_deg"] == pytest.approx(-25.2883, abs=1e-3)
    assert (body["ra"], body["dec"]) == ("00:47:33.10", "-25:17:18.0")
    assert etag_of(response) == draft.version + 1
    assert Proposal.objects.get(pk=draft.pk).version == draft.version + 1


def test_add_target_in_degrees_as_numbers(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(
        proposal_url(draft, "targets/"),
        {"name": "M 83", "ra": 204.2538, "dec": -29.8658, "magnitude": 7.5},
        format="json",
    )
    # then
    assert response.status_code == 201
    assert response.json()["ra_deg"] == pytest.approx(204.2538)
    assert response.json()["ra"].startswith("13:37:00")
    assert response.json()["magnitude"] == 7.5


@pytest.mark.parametrize(
    ("ra", "dec", "field", "message"),
    [
        (400.0, "-30:00:00", "ra", "outside 0..24 h"),
        ("ten past five", "-30:00:00", "ra", "Cannot read 'ten past five' as a right ascension"),
        ("10:00:00", "-95:00:00", "dec", "outside ±90°"),
        (10.0, "south", "dec", "Cannot read 'south' as a declination"),
        (10.0, True, "dec", "Give a string"),
    ],
)
def test_bad_coordinates_are_400_with_the_field_message_and_nothing_saved(
    ada: APIClient, draft: Proposal, ra: Any, dec: Any, field: str, message: str
) -> None:
    # given
    before = counts()
    # when
    response = ada.post(
        proposal_url(draft, "targets/"), {"name": "Bad", "ra": ra, "dec": dec}, format="json"
    )
    # then
    assert response.status_code == 400
    assert message in response.json()["errors"][field][0]
    assert counts() == before
    assert Proposal.objects.get(pk=draft.pk).version == draft.version


def test_duplicate_target_name_is_400(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(
        proposal_url(draft, "targets/"), {"name": "LMC field", "ra": 80, "dec": -69}, format="json"
    )
    # then
    assert response.status_code == 400
    assert "exists already" in response.json()["errors"]["name"][0]


def test_target_put_patch_and_delete_each_bump_the_proposal_etag(
    ada: APIClient, draft: Proposal
) -> None:
    # given
    target = draft.targets.get()
    url = proposal_url(draft, f"targets/{target.pk}/")
    # when
    put = ada.put(
        url, {"name": "LMC N11", "ra": "04:56:48", "dec": "-66:24:00"}, format="json",
        HTTP_IF_MATCH=f'"{draft.version}"',
    )  # fmt: skip
    patch = ada.patch(url, {"magnitude": 9.1}, format="json", HTTP_IF_MATCH=put["ETag"])
    got = ada.get(url)
    delete = ada.delete(url, HTTP_IF_MATCH=patch["ETag"])
    # then
    assert put.status_code == 200 and put.json()["name"] == "LMC N11"
    assert patch.status_code == 200
    assert (patch.json()["name"], patch.json()["magnitude"]) == ("LMC N11", 9.1)
    assert patch.json()["dec_deg"] == pytest.approx(-66.4)
    assert got.json()["magnitude"] == 9.1 and got["ETag"] == patch["ETag"]
    assert delete.status_code == 204
    assert [etag_of(r) for r in (put, patch, delete)] == [draft.version + i for i in (1, 2, 3)]
    assert not Target.objects.filter(pk=target.pk).exists()
    assert ada.get(proposal_url(draft, "targets/")).json() == []


def test_nested_write_with_stale_if_match_is_412_and_nothing_changes(
    ada: APIClient, draft: Proposal
) -> None:
    # given
    target = draft.targets.get()
    before = counts()
    # when
    deleted = ada.delete(proposal_url(draft, f"targets/{target.pk}/"), HTTP_IF_MATCH='"99"')
    added = ada.post(
        proposal_url(draft, "targets/"), {"name": "M 83", "ra": 204.25, "dec": -29.87},
        format="json", HTTP_IF_MATCH='"99"',
    )  # fmt: skip
    # then
    assert (deleted.status_code, added.status_code) == (412, 412)
    assert counts() == before


# ---------------------------------------------------------------------------------------------
# Observing runs
# ---------------------------------------------------------------------------------------------


def test_add_run_by_telescope_and_instrument_names_and_target_names(
    ada: APIClient, draft: Proposal
) -> None:
    # given
    InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="UVES")
    # when
    response = ada.post(
        proposal_url(draft, "runs/"),
        {
            "telescope": "UT2", "instrument": "UVES", "mode": "VM", "nights": 2,
            "max_fli": 0.4, "max_seeing_arcsec": 0.8, "transparency": "photometric",
            "max_airmass": 1.5, "targets": ["LMC field"],
            "preferred_dates": ["2031-01-02", "2031-01-01"], "impossible_dates": ["2031-02-01"],
        },
        format="json",
    )  # fmt: skip
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["letter"], body["telescope"]["name"], body["instrument"]["name"]) == (
        "B",
        "UT2",
        "UVES",
    )
    assert (body["mode"], body["nights"], body["hours"], body["max_fli"]) == ("VM", 2.0, None, 0.4)
    assert body["targets"] == ["LMC field"]
    assert body["preferred_dates"] == ["2031-01-01", "2031-01-02"]
    assert etag_of(response) == draft.version + 1


def test_add_run_by_ids(ada: APIClient, draft: Proposal) -> None:
    # given
    existing = draft.runs.get()
    target = draft.targets.get()
    # when
    response = ada.post(
        proposal_url(draft, "runs/"),
        {"telescope": existing.telescope_id, "instrument": str(existing.instrument_id),
         "hours": 3.5, "target_ids": [target.pk]},
        format="json",
    )  # fmt: skip
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["target_ids"] == [target.pk]
    assert (response.json()["mode"], response.json()["hours"]) == ("SM", 3.5)


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"hours": -2}, "hours", "Requested time must be positive."),
        ({"nights": 0, "mode": "VM"}, "nights", "Requested time must be positive."),
        ({"instrument": "HAWK-I"}, "instrument", "There is no instrument HAWK-I."),
        ({"telescope": "UT9"}, "telescope", "There is no telescope UT9."),
        ({"mode": "XX"}, "mode", '"XX" is not a valid choice.'),
        (
            {"mode": "VM", "nights": 1, "hours": None, "preferred_dates": ["next Tuesday"]},
            "preferred_dates",
            "is not a date",
        ),
        ({"targets": ["Sirius"]}, "targets", "No target named Sirius in this proposal."),
        ({"target_ids": [10**9]}, "target_ids", "must be a target of this proposal"),
    ],
)
def test_bad_run_input_is_400_with_the_field_message_and_nothing_saved(
    ada: APIClient, draft: Proposal, payload: dict[str, Any], field: str, message: str
) -> None:
    # given
    before = counts()
    data = {"telescope": "UT1", "instrument": "FORS2", "hours": 2, **payload}
    # when
    response = ada.post(proposal_url(draft, "runs/"), data, format="json")
    # then
    assert response.status_code == 400
    assert message in response.json()["errors"][field][0]
    assert counts() == before
    assert Proposal.objects.get(pk=draft.pk).version == draft.version


def test_instrument_not_on_the_telescope_is_400(ada: APIClient, draft: Proposal) -> None:
    # given
    uves = InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="UVES")
    before = counts()
    # when
    response = ada.post(
        proposal_url(draft, "runs/"),
        {"telescope": "UT1", "instrument": uves.pk, "hours": 2},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"]["instrument"] == ["UVES is not an instrument of UT1."]
    assert counts() == before


def test_run_patch_changes_only_what_is_sent(ada: APIClient, draft: Proposal) -> None:
    # given
    run = draft.runs.get()
    url = proposal_url(draft, f"runs/{run.pk}/")
    # when
    response = ada.patch(url, {"max_seeing_arcsec": 0.6}, format="json")
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["max_seeing_arcsec"], body["hours"], body["max_airmass"]) == (0.6, 4.0, 1.8)
    assert body["targets"] == ["LMC field"]
    assert etag_of(response) == draft.version + 1


def test_run_put_replaces_the_run_and_delete_removes_it(ada: APIClient, draft: Proposal) -> None:
    # given
    run = draft.runs.get()
    url = proposal_url(draft, f"runs/{run.pk}/")
    # when
    put = ada.put(url, {"telescope": "UT1", "instrument": "FORS2", "hours": 1}, format="json")
    got = ada.get(url)
    delete = ada.delete(url, HTTP_IF_MATCH=put["ETag"])
    # then
    assert put.status_code == 200
    # every field left out of a PUT takes its default (the factory's run had airmass 1.8)
    assert (put.json()["hours"], put.json()["targets"], put.json()["max_airmass"]) == (1.0, [], 1.6)
    assert got.json()["hours"] == 1.0
    assert delete.status_code == 204 and etag_of(delete) == etag_of(put) + 1
    assert not ObservingRun.objects.filter(pk=run.pk).exists()
    assert ada.get(proposal_url(draft, "runs/")).json() == []


# ---------------------------------------------------------------------------------------------
# Co-investigators
# ---------------------------------------------------------------------------------------------


def test_adding_a_known_users_email_invites_without_revealing_the_account(
    ada: APIClient,
    draft: Proposal,
    other_astronomer: User,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # when ada adds bob's address (he has an account) and an address without one
    with django_capture_on_commit_callbacks(execute=True):
        known = ada.post(
            proposal_url(draft, "coinvestigators/"), {"email": "BOB@example.org"}, format="json"
        )
        unknown = ada.post(
            proposal_url(draft, "coinvestigators/"), {"email": "nobody@example.org"}, format="json"
        )
    # then both are invitations, answered alike: nothing tells that bob has an account
    assert known.status_code == unknown.status_code == 201
    strip = lambda body: {k: v for k, v in body.items() if k not in ("id", "email", "invited_at")}  # noqa: E731
    assert strip(known.json()) == strip(unknown.json()) == {"accepted": False, "user": None}
    assert [m.to for m in mailoutbox] == [["bob@example.org"], ["nobody@example.org"]]
    # and bob is not on the proposal until he accepts
    assert ada.get(proposal_url(draft)).status_code == 200
    assert not draft.coinvestigators.filter(user=other_astronomer).exists()


def test_adding_an_unknown_email_invites_by_mail(
    ada: APIClient, draft: Proposal, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = ada.post(
            proposal_url(draft, "coinvestigators/"), {"email": "new@example.org"}, format="json"
        )
    # then
    assert response.status_code == 201
    assert response.json()["accepted"] is False
    assert [m.to for m in mailoutbox] == [["new@example.org"]]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("ada@example.org", "already on this proposal"),
    ],
)
def test_bad_coi_email_is_400_and_nothing_saved(
    ada: APIClient, draft: Proposal, email: str, message: str
) -> None:
    # when
    response = ada.post(proposal_url(draft, "coinvestigators/"), {"email": email}, format="json")
    # then
    assert response.status_code == 400
    assert message in response.json()["errors"]["email"][0]
    assert not draft.coinvestigators.exists()


def test_removing_a_coi(ada: APIClient, draft: Proposal, coi_user: User) -> None:
    # given
    coi = draft.coinvestigators.get()
    # when
    response = ada.delete(proposal_url(draft, f"coinvestigators/{coi.pk}/"))
    # then
    assert response.status_code == 204
    assert etag_of(response) == draft.version + 1
    assert not draft.coinvestigators.exists()


def test_coi_can_edit_but_submitting_is_403(
    client_for: Client, draft: Proposal, coi_user: User
) -> None:
    # given
    carla = client_for(coi_user)
    # when
    edited = carla.patch(proposal_url(draft), {"abstract": "Carla's words."}, format="json")
    submitted = carla.post(proposal_url(draft, "submit/"))
    # then
    assert edited.status_code == 200
    assert submitted.status_code == 403
    assert submitted.json()["detail"] == "Only the PI can submit the proposal."
    draft.refresh_from_db()
    assert (draft.status, draft.programme_id) == ("draft", None)


def test_staff_can_read_but_not_edit_a_proposal(
    client_for: Client, staff: User, draft: Proposal
) -> None:
    # given
    client = client_for(staff)
    # when
    read = client.get(proposal_url(draft))
    edit = client.patch(proposal_url(draft), {"title": "Staff"}, format="json")
    # then
    assert read.status_code == 200
    assert edit.status_code == 403


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def test_upload_a_png_figure_with_caption(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(
        proposal_url(draft, "figures/"),
        {"image": upload("fig.png", png_bytes()), "caption": "Dust map, 1.3 mm"},
        format="multipart",
    )
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["image_format"] == "png"
    assert response.json()["caption"] == "Dust map, 1.3 mm"
    assert etag_of(response) == draft.version + 1
    assert ada.get(proposal_url(draft)).json()["figures"][0]["id"] == response.json()["id"]


def test_a_non_image_named_png_is_400_and_nothing_saved(ada: APIClient, draft: Proposal) -> None:
    # given
    before = counts()
    # when
    response = ada.post(
        proposal_url(draft, "figures/"),
        {"image": upload("fig.png", b"%PDF-1.4 not an image"), "caption": "x"},
        format="multipart",
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"]["image"] == [
        "The file is not a PNG or JPEG image (checked by its content)."
    ]
    assert counts() == before


def test_an_oversized_figure_is_400_and_nothing_saved(
    ada: APIClient, draft: Proposal, settings: Any
) -> None:
    # given
    settings.FIGURE_MAX_BYTES = 50
    before = counts()
    # when
    response = ada.post(
        proposal_url(draft, "figures/"),
        {"image": upload("fig.png", png_bytes())},
        format="multipart",
    )
    # then
    assert response.status_code == 400
    assert "figures are limited to" in response.json()["errors"]["image"][0]
    assert counts() == before


def test_a_figure_upload_without_file_is_400(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(proposal_url(draft, "figures/"), {"caption": "x"}, format="multipart")
    # then
    assert response.status_code == 400
    assert "image" in response.json()["errors"]


def test_deleting_a_figure(ada: APIClient, draft: Proposal) -> None:
    # given
    created = ada.post(
        proposal_url(draft, "figures/"), {"image": upload("f.png", png_bytes())}, format="multipart"
    )
    # when
    response = ada.delete(
        proposal_url(draft, f"figures/{created.json()['id']}/"), HTTP_IF_MATCH=created["ETag"]
    )
    # then
    assert response.status_code == 204
    assert etag_of(response) == etag_of(created) + 1
    assert not draft.figures.exists()


# ---------------------------------------------------------------------------------------------
# Verify, submit, withdraw, PDF
# ---------------------------------------------------------------------------------------------


def test_verify_answers_errors_and_warnings_by_get_and_post(
    ada: APIClient, draft: Proposal
) -> None:
    # given
    CoInvestigator.objects.create(proposal=draft, email="pending@example.org")
    # when
    got = ada.get(proposal_url(draft, "verify/"))
    posted = ada.post(proposal_url(draft, "verify/"))
    # then
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    assert got.json()["errors"] == []
    assert got.json()["warnings"] == [
        {
            "where": "coinvestigators",
            "message": "pending@example.org has not accepted the invitation yet.",
        }
    ]
    assert etag_of(got) == draft.version


def test_verify_lists_what_is_missing(ada: APIClient, astronomer: User, period: Any) -> None:
    # given
    empty = ProposalFactory.create(pi=astronomer, period=period, abstract="", category="")
    # when
    report = ada.get(proposal_url(empty, "verify/")).json()
    # then
    messages = {e["where"]: e["message"] for e in report["errors"]}
    assert messages["abstract"] == "The proposal needs an abstract."
    assert messages["category"] == "The proposal needs a category."
    assert messages["targets"] == "The proposal has no target."
    assert messages["runs"] == "The proposal has no observing run."


def test_submit_assigns_the_programme_id_freezes_and_records_an_event(
    ada: APIClient, astronomer: User, draft: Proposal
) -> None:
    # when
    response = ada.post(proposal_url(draft, "submit/"), HTTP_IF_MATCH=f'"{draft.version}"')
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["programme_id"], body["is_editable"]) == (
        "submitted",
        "119.C-0001",
        False,
    )
    assert etag_of(response) == draft.version + 1
    assert [(e["old"], e["new"], e["actor"]) for e in body["events"]] == [
        ("draft", "submitted", "ada")
    ]
    event = ProposalEvent.objects.get(proposal=draft)
    assert (event.actor, event.new) == (astronomer, ProposalStatus.SUBMITTED)


def test_submit_with_a_stale_if_match_is_412(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(proposal_url(draft, "submit/"), HTTP_IF_MATCH='"0"')
    # then
    assert response.status_code == 412
    assert Proposal.objects.get(pk=draft.pk).status == ProposalStatus.DRAFT


def test_submit_with_verification_errors_is_400_and_stays_a_draft(
    ada: APIClient, astronomer: User, period: Any
) -> None:
    # given: the only target never rises above airmass 1.2 from Paranal (Dec +60)
    proposal = ProposalFactory.create(pi=astronomer, period=period)
    target = TargetFactory.create(
        proposal=proposal, name="Polaris region", ra_deg=40.0, dec_deg=60.0
    )
    run = ObservingRun.objects.create(
        proposal=proposal, letter="A", telescope=TelescopeFactory.create(name="UT1"),
        instrument=InstrumentFactory.create(name="FORS2"), hours=2, max_airmass=1.2,
    )  # fmt: skip
    run.targets.set([target])
    before = counts()
    # when
    response = ada.post(proposal_url(proposal, "submit/"))
    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "The proposal does not pass verification."
    assert (
        "Polaris region never reaches airmass 1.2" in response.json()["errors"]["verification"][0]
    )
    proposal.refresh_from_db()
    assert (proposal.status, proposal.programme_id) == ("draft", None)
    assert counts() == before


def test_submitting_twice_is_409(ada: APIClient, submitted: Proposal) -> None:
    # when
    response = ada.post(proposal_url(submitted, "submit/"))
    # then
    assert response.status_code == 409
    assert "cannot go from 'submitted' to 'submitted'" in response.json()["detail"]


def test_submission_after_the_deadline_is_refused(ada: APIClient, draft: Proposal) -> None:
    # given
    after = draft.period.deadline + dt.timedelta(minutes=1)
    # when
    with time_machine.travel(after, tick=False):
        response = ada.post(proposal_url(draft, "submit/"))
    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "The deadline has passed."
    assert "The deadline for P119 was" in response.json()["errors"]["period"][0]
    assert Proposal.objects.get(pk=draft.pk).status == ProposalStatus.DRAFT
    assert not ProposalEvent.objects.exists()


def test_withdraw_before_the_deadline(ada: APIClient, submitted: Proposal) -> None:
    # when
    response = ada.post(
        proposal_url(submitted, "withdraw/"), HTTP_IF_MATCH=f'"{submitted.version}"'
    )
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert etag_of(response) == submitted.version + 1
    assert ProposalEvent.objects.get(proposal=submitted).new == ProposalStatus.WITHDRAWN


def test_withdraw_after_the_deadline_is_refused(ada: APIClient, submitted: Proposal) -> None:
    # when
    with time_machine.travel(submitted.period.deadline + dt.timedelta(hours=1), tick=False):
        response = ada.post(proposal_url(submitted, "withdraw/"))
    # then
    assert response.status_code == 400
    assert Proposal.objects.get(pk=submitted.pk).status == ProposalStatus.SUBMITTED


def test_withdrawing_a_draft_is_409(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.post(proposal_url(draft, "withdraw/"))
    # then
    assert response.status_code == 409
    assert Proposal.objects.get(pk=draft.pk).status == ProposalStatus.DRAFT


def test_coi_cannot_withdraw_403(client_for: Client, submitted: Proposal) -> None:
    # given
    user = UserFactory.create()
    CoInvestigator.objects.create(proposal=submitted, user=user, email=user.email)
    # when
    response = client_for(user).post(proposal_url(submitted, "withdraw/"))
    # then
    assert response.status_code == 403


def test_pdf_of_another_astronomers_proposal_is_a_json_404(bob: APIClient, draft: Proposal) -> None:
    # when
    response = bob.get(proposal_url(draft, "pdf/"), HTTP_ACCEPT="application/pdf")
    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No such proposal."}


def test_pdf_is_served_as_application_pdf_with_the_etag(ada: APIClient, draft: Proposal) -> None:
    # when
    response = ada.get(proposal_url(draft, "pdf/"), HTTP_ACCEPT="application/pdf")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert etag_of(response) == draft.version


# ---------------------------------------------------------------------------------------------
# OpenAPI schema and docs
# ---------------------------------------------------------------------------------------------


def test_openapi_schema_describes_the_proposal_endpoints(client: Any, db: None) -> None:
    # when
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    # then
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/proposals/{id}/targets/{target_id}/" in paths
    assert set(paths["/api/v1/proposals/{id}/runs/{run_id}/"]) >= {"get", "put", "patch", "delete"}
    assert "/api/v1/proposals/{id}/submit/" in paths


def test_docs_page_loads_swagger_from_local_static_files_only(client: Any, db: None) -> None:
    # when
    html = client.get("/api/docs/").content.decode()
    # then
    urls = re.findall(r'(?:src|href)\s*=\s*"([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in u for u in urls)
    assert all(u.startswith("/static/") for u in urls), urls
    assert all(finders.find(u.removeprefix("/static/")) for u in urls), urls
    assert "cdn" not in html.lower() and "https://" not in html
