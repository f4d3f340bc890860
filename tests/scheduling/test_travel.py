"""Visitors: a VM run's team files its travel request once the accepted schedule gives the run
nights (dates checked against the nights, one request per run); staff read the weekly arrival
list (page, CSV, API); nobody else sees a thing."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from proposals.models import CoInvestigator
from scheduling import services
from scheduling.models import ScheduleEvent, TravelRequest, TravelStatus
from scheduling.travel import travel_request_save
from tests.conftest import bearer_client
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


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


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
