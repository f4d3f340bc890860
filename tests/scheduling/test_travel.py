"""Visitors: a VM run's team files its travel request once the accepted schedule gives the run
nights (dates checked against the nights, one request per run); staff read the weekly arrival
list (page, CSV, API); nobody else sees a thing. A newly accepted schedule marks requests that no
longer cover their run's nights; the API's ETag and If-Match keep stale copies from writing."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from proposals.models import CoInvestigator
from scheduling import services
from scheduling.models import ScheduleEvent, ScheduleVersion, TravelRequest, TravelStatus
from scheduling.travel import travel_request_confirm, travel_request_save
from tests.conftest import bearer_client, logged_in
from tests.factories import UserFactory
from tests.scheduling.test_accept import day, version_with
from tests.scheduling.test_jobs import World, approved_period


@pytest.fixture
def world(staff: User, astronomer: User) -> World:
    """The astronomer's approved VM run with accepted nights 3 (full) and 4 (first half); its
    SM run and the period's other nights have none."""
    found = approved_period(staff, astronomer)
    version = version_with(
        found.period, 1, [(found.vm, 3, True, True, 9.0), (found.vm, 4, True, False, 4.5)]
    )
    services.version_accept(version_id=version.pk, actor=staff)
    return found


def form(travellers: str, arrival: dt.date, departure: dt.date, **extra: str) -> dict[str, str]:
    return {
        "travellers": travellers,
        "arrival": arrival.isoformat(),
        "departure": departure.isoformat(),
        "flights": "LA 800 SCL 06:10",
        "lodging": "on",
        **extra,
    }


def test_the_pi_files_a_travel_request_on_the_page_and_an_event_is_recorded(
    world: World, astronomer: User
) -> None:
    # given
    url = f"/schedule/runs/{world.vm.pk}/travel/"
    client = logged_in(astronomer)
    # when
    page = client.get(url)
    saved = client.post(url, form("Ada Lovelace\n\nMary Somerville\n", day(2), day(5)))
    # then
    assert page.status_code == 200 and day(3).isoformat() in page.content.decode()
    assert saved.status_code == 302, saved.content.decode()
    request = TravelRequest.objects.get(run=world.vm)
    assert request.travellers == ["Ada Lovelace", "Mary Somerville"]
    assert (request.arrival, request.departure) == (day(2), day(5))
    assert request.lodging and request.flights == "LA 800 SCL 06:10"
    assert (request.status, request.submitted_by) == (TravelStatus.SUBMITTED, astronomer)
    event = ScheduleEvent.objects.get(action="travel request")
    assert event.actor == astronomer and str(world.vm) in event.note


def test_a_coi_updates_the_one_request_of_the_run_in_place_through_the_api(
    world: World, astronomer: User
) -> None:
    # given: the PI filed; the request was confirmed by the travel office
    first = travel_request_save(
        run_id=world.vm.pk, actor=astronomer, travellers=["Ada"], arrival=day(3), departure=day(5)
    )
    TravelRequest.objects.filter(pk=first.pk).update(status=TravelStatus.CONFIRMED)
    coi = UserFactory.create(username="carol")
    CoInvestigator.objects.create(proposal=world.vm.proposal, user=coi, email=coi.email)
    url = f"/api/v1/schedule/runs/{world.vm.pk}/travel/"
    body = {"travellers": ["Ada", "Carol"], "arrival": day(1), "departure": day(6)}
    # when
    put = bearer_client(coi).put(url, body, format="json")
    got = bearer_client(astronomer).get(url)
    # then: the same row, back to submitted for the office to look again
    assert put.status_code == 200, put.json()
    assert TravelRequest.objects.get().pk == first.pk
    assert got.json()["travellers"] == ["Ada", "Carol"]
    assert got.json()["arrival"] == day(1).isoformat()
    assert got.json()["status"] == "submitted"
    assert ScheduleEvent.objects.filter(action="travel request").count() == 2


def test_dates_outside_the_nights_are_refused_with_field_messages_and_nothing_saved(
    world: World, astronomer: User
) -> None:
    # given: arriving after the first night (3), leaving on the last one (4)
    url = f"/schedule/runs/{world.vm.pk}/travel/"
    # when
    with pytest.raises(InvalidInput) as refused:
        travel_request_save(
            run_id=world.vm.pk,
            actor=astronomer,
            travellers=["Ada"],
            arrival=day(4),
            departure=day(4),
        )
    page = logged_in(astronomer).post(url, form("Ada", day(4), day(4))).content.decode()
    api = bearer_client(astronomer).put(
        url.replace("/schedule/", "/api/v1/schedule/"),
        {"travellers": ["Ada"], "arrival": day(4), "departure": day(4)},
        format="json",
    )
    # then
    assert set(refused.value.errors) == {"arrival", "departure"}
    assert day(3).isoformat() in refused.value.errors["arrival"][0]
    assert "Arrive on or before the first night" in page
    assert "Leave after the last night" in page
    assert api.status_code == 400
    assert set(api.json()["errors"]) == {"arrival", "departure"}
    assert not TravelRequest.objects.exists()
    assert not ScheduleEvent.objects.filter(action="travel request").exists()


@pytest.mark.parametrize(
    ("travellers", "message"),
    [
        ([], "at least one"),
        (["Ada", "  "], "needs a name"),
        (["A", "B", "C", "D", "E", "F"], "at most 5"),
    ],
)
def test_travellers_must_be_one_to_five_names(
    world: World, astronomer: User, travellers: list[str], message: str
) -> None:
    # when / then
    with pytest.raises(InvalidInput) as refused:
        travel_request_save(
            run_id=world.vm.pk,
            actor=astronomer,
            travellers=travellers,
            arrival=day(3),
            departure=day(5),
        )
    assert any(message in m.lower() for m in refused.value.errors["travellers"])
    assert not TravelRequest.objects.exists()


def test_a_run_without_nights_is_refused(staff: User, astronomer: User) -> None:
    # given: an approved VM run, but no schedule accepted
    bare = approved_period(staff, astronomer)
    # when
    with pytest.raises(TransitionNotAllowed, match="no nights"):
        travel_request_save(
            run_id=bare.vm.pk,
            actor=astronomer,
            travellers=["Ada"],
            arrival=day(1),
            departure=day(9),
        )
    page = logged_in(astronomer).get(f"/schedule/runs/{bare.vm.pk}/travel/").content.decode()
    api = bearer_client(astronomer).put(
        f"/api/v1/schedule/runs/{bare.vm.pk}/travel/",
        {"travellers": ["Ada"], "arrival": day(1), "departure": day(9)},
        format="json",
    )
    # then: the page says so and shows no form; the API answers 409
    assert 'id="no-nights"' in page and 'id="travel-form"' not in page
    assert api.status_code == 409
    assert not TravelRequest.objects.exists()


def test_an_sm_run_is_refused(world: World, astronomer: User) -> None:
    # when / then
    with pytest.raises(TransitionNotAllowed, match="visitor-mode"):
        travel_request_save(
            run_id=world.sm.pk,
            actor=astronomer,
            travellers=["Ada"],
            arrival=day(3),
            departure=day(5),
        )
    assert not TravelRequest.objects.exists()


def test_another_astronomer_gets_404_and_staff_off_the_team_403(
    world: World, other_astronomer: User, staff: User
) -> None:
    # given
    page_url = f"/schedule/runs/{world.vm.pk}/travel/"
    api_url = f"/api/v1/schedule/runs/{world.vm.pk}/travel/"
    body = {"travellers": ["Eve"], "arrival": day(3), "departure": day(5)}
    # when
    statuses = [
        logged_in(other_astronomer).get(page_url).status_code,
        logged_in(other_astronomer).post(page_url, form("Eve", day(3), day(5))).status_code,
        bearer_client(other_astronomer).put(api_url, body, format="json").status_code,
        logged_in(staff).get(page_url).status_code,
        bearer_client(staff).put(api_url, body, format="json").status_code,
    ]
    # then
    assert statuses == [404, 404, 404, 403, 403]
    with pytest.raises(NotAllowed):
        travel_request_save(
            run_id=world.vm.pk,
            actor=other_astronomer,
            travellers=["Eve"],
            arrival=day(3),
            departure=day(5),
        )
    assert not TravelRequest.objects.exists()


def test_staff_see_the_request_on_the_arrival_list_and_in_the_csv(
    world: World, astronomer: User, staff: User
) -> None:
    # given
    travel_request_save(
        run_id=world.vm.pk,
        actor=astronomer,
        travellers=["Ada Lovelace", "Mary Somerville"],
        arrival=day(2),
        departure=day(5),
        flights="LA 800",
        lodging=False,
    )
    year, week, _ = day(2).isocalendar()
    # when
    page = logged_in(staff).get("/schedule/arrivals/")
    export = logged_in(staff).get("/schedule/arrivals.csv")
    api = bearer_client(staff).get("/api/v1/schedule/arrivals/")
    refused = logged_in(astronomer).get("/schedule/arrivals/")
    # then
    text = page.content.decode()
    assert page.status_code == 200
    assert f"Week {year}-W{week:02d}" in text and "Ada Lovelace, Mary Somerville" in text
    assert "120.C-0001(A)" in text and "UT1" in text
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:4] == ["week", "arrival", "departure", "travellers"]
    assert rows[1][:5] == [
        f"{year}-W{week:02d}",
        day(2).isoformat(),
        day(5).isoformat(),
        "Ada Lovelace; Mary Somerville",
        "120.C-0001(A)",
    ]
    assert rows[1][6] == "UT1" and rows[1][8:10] == ["no", "LA 800"]
    assert api.status_code == 200
    assert [(r["week"], r["run"]["name"]) for r in api.json()] == [
        (f"{year}-W{week:02d}", "120.C-0001(A)")
    ]
    assert refused.status_code == 403


def test_the_proposal_page_links_the_team_to_the_travel_page(
    world: World, astronomer: User, staff: User
) -> None:
    # given
    url = f"/proposals/{world.vm.proposal_id}/"
    link = f"/schedule/runs/{world.vm.pk}/travel/"
    # when
    team = logged_in(astronomer).get(url).content.decode()
    observatory = logged_in(staff).get(url).content.decode()
    # then: staff (not on the team) read the nights but get no travel link
    assert link in team
    assert 'id="scheduled-nights"' in observatory and link not in observatory


def test_staff_confirm_a_request_from_the_arrival_list_once(
    world: World, astronomer: User, staff: User
) -> None:
    # given a filed request
    filed = travel_request_save(
        run_id=world.vm.pk,
        actor=astronomer,
        travellers=["Ada Lovelace"],
        arrival=day(2),
        departure=day(5),
    )
    url = f"/schedule/travel/{filed.pk}/confirm/"
    # when the astronomer, then staff (twice) confirm it
    refused = logged_in(astronomer).post(url)
    first = logged_in(staff).post(url, follow=True)
    again = logged_in(staff).post(url, follow=True)
    # then only staff confirm it, once, with an event row; the second attempt says why
    filed.refresh_from_db()
    assert refused.status_code == 403
    assert filed.status == "confirmed"
    assert (
        "confirmed" in first.content.decode() and "Confirm</button>" not in first.content.decode()
    )
    assert "confirmed already" in again.content.decode()
    assert ScheduleEvent.objects.filter(action="travel confirmed").count() == 1


# --- the schedule changes: requests checked again -------------------------------------------------


def confirm(request: TravelRequest, staff: User) -> None:
    travel_request_confirm(request_id=request.pk, actor=staff)


def filed(world: World, astronomer: User, arrival: dt.date, departure: dt.date) -> TravelRequest:
    return travel_request_save(
        run_id=world.vm.pk,
        actor=astronomer,
        travellers=["Ada Lovelace"],
        arrival=arrival,
        departure=departure,
    )


def test_a_version_that_moves_the_nights_marks_the_travel_as_needing_an_update(
    world: World, astronomer: User, staff: User
) -> None:
    # given: travel for nights 3-4, confirmed by the office
    request = filed(world, astronomer, day(2), day(5))
    confirm(request, staff)
    moved = version_with(world.period, 2, [(world.vm, 8, True, True, 9.0)])
    # when: a version giving the run night 8 is accepted
    services.version_accept(version_id=moved.pk, actor=staff)
    # then: marked, with the reason, an event row and a new version (ETag)
    request.refresh_from_db()
    assert request.status == TravelStatus.NEEDS_UPDATE
    assert day(8).isoformat() in request.update_reason
    assert "no longer cover" in request.update_reason
    assert request.version == 3  # filed, confirmed, marked
    event = ScheduleEvent.objects.get(action="travel needs update")
    assert event.actor == staff and str(world.vm) in event.note
    # and the team, the arrival list and the API show it; the office cannot confirm it
    page = logged_in(astronomer).get(f"/schedule/runs/{world.vm.pk}/travel/").content.decode()
    assert 'id="travel-needs-update"' in page and request.update_reason in page
    arrivals = logged_in(staff).get("/schedule/arrivals/").content.decode()
    assert "Needs update" in arrivals and "Confirm</button>" not in arrivals
    api = bearer_client(astronomer).get(f"/api/v1/schedule/runs/{world.vm.pk}/travel/").json()
    assert (api["status"], api["update_reason"]) == ("needs_update", request.update_reason)
    refused = logged_in(staff).post(f"/schedule/travel/{request.pk}/confirm/", follow=True)
    assert "the team must update it first" in refused.content.decode()
    assert TravelRequest.objects.get().status == TravelStatus.NEEDS_UPDATE


def test_a_version_whose_nights_the_travel_still_covers_leaves_it_alone(
    world: World, astronomer: User, staff: User
) -> None:
    # given: travel for nights 3-4, confirmed
    request = filed(world, astronomer, day(2), day(5))
    confirm(request, staff)
    kept = version_with(world.period, 2, [(world.vm, 3, True, True, 9.0)])
    # when: the new version keeps night 3 only
    services.version_accept(version_id=kept.pk, actor=staff)
    # then
    request.refresh_from_db()
    assert (request.status, request.update_reason) == (TravelStatus.CONFIRMED, "")
    assert not ScheduleEvent.objects.filter(action__startswith="travel needs").exists()


def test_a_run_whose_nights_are_removed_needs_an_update_too(
    world: World, astronomer: User, staff: User
) -> None:
    # given
    request = filed(world, astronomer, day(2), day(5))
    without = version_with(world.period, 2, [(world.sm, 3, True, True, 2.0)])
    # when
    services.version_accept(version_id=without.pk, actor=staff)
    # then: marked; the team's page says why and offers no form (the run cannot travel now)
    request.refresh_from_db()
    assert request.status == TravelStatus.NEEDS_UPDATE
    assert request.update_reason == "the run has no nights in the accepted schedule any more"
    page = logged_in(astronomer).get(f"/schedule/runs/{world.vm.pk}/travel/").content.decode()
    assert 'id="travel-needs-update"' in page and 'id="travel-form"' not in page


def test_filing_an_update_that_fits_clears_the_flag(
    world: World, astronomer: User, staff: User
) -> None:
    # given: marked after the nights moved to 8-9
    request = filed(world, astronomer, day(2), day(5))
    moved = version_with(
        world.period, 2, [(world.vm, 8, True, True, 9.0), (world.vm, 9, True, True, 9.0)]
    )
    services.version_accept(version_id=moved.pk, actor=staff)
    # when: the PI files dates that do not fit, then dates that do
    page = logged_in(astronomer).post(
        f"/schedule/runs/{world.vm.pk}/travel/", form("Ada", day(8), day(9))
    )
    still = TravelRequest.objects.get()
    updated = filed(world, astronomer, day(7), day(10))
    # then
    assert "Leave after the last night" in page.content.decode()
    assert still.status == TravelStatus.NEEDS_UPDATE
    assert (updated.status, updated.update_reason) == (TravelStatus.SUBMITTED, "")
    assert updated.pk == request.pk


def test_a_request_that_fits_again_goes_back_to_submitted(
    world: World, astronomer: User, staff: User
) -> None:
    # given: marked after a version moved the nights away
    first = ScheduleVersion.objects.get(period=world.period, number=1)
    filed(world, astronomer, day(2), day(5))
    moved = version_with(world.period, 2, [(world.vm, 8, True, True, 9.0)])
    services.version_accept(version_id=moved.pk, actor=staff)
    # when: staff accept the first version again
    services.version_accept(version_id=first.pk, actor=staff)
    # then
    request = TravelRequest.objects.get()
    assert (request.status, request.update_reason) == (TravelStatus.SUBMITTED, "")
    actions = list(
        ScheduleEvent.objects.filter(action__startswith="travel").values_list("action", flat=True)
    )
    assert actions == ["travel request", "travel needs update", "travel fits again"]


# --- ETag / If-Match on the API ----------------------------------------------------------------


def test_the_travel_api_sends_an_etag_and_honours_if_match(world: World, astronomer: User) -> None:
    # given
    filed(world, astronomer, day(2), day(5))
    url = f"/api/v1/schedule/runs/{world.vm.pk}/travel/"
    client = bearer_client(astronomer)
    body = {"travellers": ["Ada", "Mary"], "arrival": day(1), "departure": day(6)}
    # when
    got = client.get(url)
    saved = client.put(url, body, format="json", HTTP_IF_MATCH=got["ETag"])
    stale = client.put(
        url, {**body, "travellers": ["Eve"]}, format="json", HTTP_IF_MATCH=got["ETag"]
    )
    junk = client.put(url, body, format="json", HTTP_IF_MATCH="yesterday")
    unconditional = client.put(url, {**body, "notes": "Late flight"}, format="json")
    # then
    assert got.status_code == 200 and got["ETag"] == '"1"'
    assert saved.status_code == 200 and saved["ETag"] == '"2"'
    assert stale.status_code == 412 and "reload" in stale.json()["detail"]
    assert junk.status_code == 412
    assert unconditional.status_code == 200 and unconditional["ETag"] == '"3"'
    request = TravelRequest.objects.get()
    assert request.travellers == ["Ada", "Mary"] and request.notes == "Late flight"
    assert ScheduleEvent.objects.filter(action="travel request").count() == 3


def test_a_request_marked_by_a_new_schedule_refuses_a_write_from_a_stale_copy(
    world: World, astronomer: User, staff: User
) -> None:
    # given: the PI read the request; then a schedule moved the nights
    filed(world, astronomer, day(2), day(5))
    url = f"/api/v1/schedule/runs/{world.vm.pk}/travel/"
    client = bearer_client(astronomer)
    etag = client.get(url)["ETag"]
    moved = version_with(world.period, 2, [(world.vm, 8, True, True, 9.0)])
    services.version_accept(version_id=moved.pk, actor=staff)
    body = {"travellers": ["Ada"], "arrival": day(2), "departure": day(9)}
    # when
    stale = client.put(url, body, format="json", HTTP_IF_MATCH=etag)
    fresh = client.put(url, body, format="json", HTTP_IF_MATCH=client.get(url)["ETag"])
    # then
    assert stale.status_code == 412
    assert fresh.status_code == 200, fresh.json()
    assert fresh.json()["status"] == "submitted"


def test_if_match_before_any_request_is_filed_is_refused_and_creates_nothing(
    world: World, astronomer: User
) -> None:
    # when
    response = bearer_client(astronomer).put(
        f"/api/v1/schedule/runs/{world.vm.pk}/travel/",
        {"travellers": ["Ada"], "arrival": day(2), "departure": day(5)},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    # then
    assert response.status_code == 412
    assert not TravelRequest.objects.exists()


def test_the_page_refuses_a_save_from_a_form_loaded_before_someone_else_saved(
    world: World, astronomer: User
) -> None:
    # given a filed request, and its page loaded by the PI (it carries the version it shows)
    url = f"/schedule/runs/{world.vm.pk}/travel/"
    client = logged_in(astronomer)
    client.post(url, form("Ada Lovelace", day(2), day(5)))
    loaded = client.get(url).context["form"]["version"].value()
    # when a co-investigator updates it meanwhile, then the PI saves the page they loaded
    coi = UserFactory.create()
    CoInvestigator.objects.create(proposal=world.vm.proposal, user=coi, email=coi.email)
    logged_in(coi).post(url, form("Mary Somerville", day(1), day(5), version=str(loaded)))
    stale = client.post(url, form("Caroline Herschel", day(2), day(6), version=str(loaded)))
    # then the PI's save is refused on the page with a reason, and the co-I's stays
    assert stale.status_code == 200
    assert "changed since you loaded it" in stale.content.decode()
    request = TravelRequest.objects.get(run=world.vm)
    assert request.travellers == ["Mary Somerville"] and request.version == 2
