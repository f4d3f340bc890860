"""Accepting a schedule version: its VM nights and SM reservations become the platform's, the
team sees its nights (page, iCalendar, API) and no one else does, staff export them as CSV."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from icalendar import Calendar

from dataflow.errors import NotAllowed, TransitionNotAllowed
from proposals.models import CoInvestigator, ObservingRun, Period
from scheduling import services
from scheduling.demo import accept_greedy
from scheduling.models import (
    Placement,
    RunNight,
    ScheduleEvent,
    ScheduleVersion,
    SMReservation,
)
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.scheduling.test_jobs import START, World, _approved, approved_period


@pytest.fixture
def world(staff: User, astronomer: User) -> World:
    return approved_period(staff, astronomer)


def version_with(
    period: Period, number: int, rows: list[tuple[ObservingRun, int, bool, bool, float]]
) -> ScheduleVersion:
    """A stored version whose placements are ``(run, night index, first, second, hours)``."""
    version = ScheduleVersion.objects.create(
        period=period, number=number, solver="greedy", status="heuristic", objective=1.0
    )
    for run, night, first, second, hours in rows:
        Placement.objects.create(
            version=version,
            run=run,
            date=START + dt.timedelta(days=night),
            hours=hours,
            first_half=first,
            second_half=second,
        )
    return version


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def test_accepting_a_solved_version_writes_its_vm_nights_and_sm_reservations(
    world: World, staff: User
) -> None:
    # given: a greedy version of the period
    version = services.version_from_greedy(period_id=world.period.pk, actor=staff)
    placements = list(Placement.objects.filter(version=version))
    # when
    accepted = services.version_accept(version_id=version.pk, actor=staff)
    # then: every VM placement is a night with its halves, every SM one a reservation
    assert accepted.accepted_at is not None and accepted.accepted_by == staff
    vm = {(p.date, p.first_half, p.second_half) for p in placements if p.run_id == world.vm.pk}
    nights = RunNight.objects.filter(run=world.vm)
    assert len(vm) == 2
    assert {(n.date, n.first_half, n.second_half) for n in nights} == vm
    sm = {p.date: p.hours for p in placements if p.run_id == world.sm.pk}
    reservations = {r.date: r.hours for r in SMReservation.objects.filter(run=world.sm)}
    assert reservations == pytest.approx(sm)
    assert sum(reservations.values()) == pytest.approx(5.0, abs=0.01)
    assert not RunNight.objects.filter(run=world.sm).exists()
    assert not SMReservation.objects.filter(run=world.vm).exists()


def test_accepting_another_version_replaces_the_nights_and_clears_the_first_acceptance(
    world: World, staff: User
) -> None:
    # given: version 1 accepted
    first = version_with(
        world.period, 1, [(world.vm, 3, True, True, 9.0), (world.sm, 3, True, True, 2.0)]
    )
    second = version_with(world.period, 2, [(world.vm, 7, False, True, 4.5)])
    services.version_accept(version_id=first.pk, actor=staff)
    # when
    services.version_accept(version_id=second.pk, actor=staff)
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.accepted_at is None and second.accepted_at is not None
    nights = list(RunNight.objects.filter(run__proposal__period=world.period))
    assert [(n.run_id, n.date, n.first_half, n.second_half) for n in nights] == [
        (world.vm.pk, day(7), False, True)
    ]
    assert nights[0].version == second
    assert not SMReservation.objects.filter(run__proposal__period=world.period).exists()


def test_accepting_writes_an_event_row(world: World, staff: User) -> None:
    # given
    version = version_with(world.period, 1, [(world.vm, 3, True, True, 9.0)])
    # when
    services.version_accept(version_id=version.pk, actor=staff)
    # then
    event = ScheduleEvent.objects.get(period=world.period)
    assert (event.version, event.actor, event.action) == (version, staff, "accepted")
    assert "1 VM nights" in event.note


def test_a_non_staff_actor_may_not_accept_and_nothing_is_written(
    world: World, astronomer: User
) -> None:
    # given
    version = version_with(world.period, 1, [(world.vm, 3, True, True, 9.0)])
    # when / then
    with pytest.raises(NotAllowed):
        services.version_accept(version_id=version.pk, actor=astronomer)
    version.refresh_from_db()
    assert version.accepted_at is None
    assert not RunNight.objects.exists() and not ScheduleEvent.objects.exists()


def test_accepting_the_accepted_version_again_is_refused(world: World, staff: User) -> None:
    # given
    version = version_with(world.period, 1, [(world.vm, 3, True, True, 9.0)])
    services.version_accept(version_id=version.pk, actor=staff)
    # when / then
    with pytest.raises(TransitionNotAllowed):
        services.version_accept(version_id=version.pk, actor=staff)
    assert ScheduleEvent.objects.count() == 1


def test_staff_accept_through_the_api_and_others_are_refused(
    world: World, staff: User, astronomer: User
) -> None:
    # given
    version = version_with(world.period, 1, [(world.vm, 3, True, True, 9.0)])
    url = f"/api/v1/schedule/versions/{version.pk}/accept/"
    # when
    refused = bearer_client(astronomer).post(url)
    accepted = bearer_client(staff).post(url)
    again = bearer_client(staff).post(url)
    missing = bearer_client(staff).post("/api/v1/schedule/versions/999999/accept/")
    # then
    assert refused.status_code == 403
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["accepted_at"] is not None
    assert again.status_code == 409
    assert missing.status_code == 404
    assert RunNight.objects.filter(run=world.vm).count() == 1


def test_the_demo_solves_greedily_and_accepts(world: World, staff: User) -> None:
    # when
    version = accept_greedy(world.period, staff)
    again = accept_greedy(world.period, staff)
    # then: nights in the platform, and a second call keeps the accepted version
    assert version.accepted_at is not None and again == version
    assert RunNight.objects.filter(run=world.vm, version=version).count() == 2
    assert ScheduleVersion.objects.filter(period=world.period).count() == 1


# ---------------------------------------------------------------------------------------------
# The team's view: page, iCalendar, API
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def accepted(world: World, staff: User, other_astronomer: User) -> tuple[World, User, User]:
    """Version 1 accepted: the world's VM run on nights 3 (full) and 4 (first half), and a
    stranger's VM run on night 10. Returns the world, a co-investigator of the world's
    proposal, and the stranger (PI of the other proposal)."""
    (strangers,) = _approved(staff, world.period, other_astronomer, 9, [("VM", 1.0, 0.0, -89.0)])
    coi = UserFactory.create(username="carol")
    CoInvestigator.objects.create(proposal=world.vm.proposal, user=coi, email=coi.email)
    version = version_with(
        world.period,
        1,
        [
            (world.vm, 3, True, True, 9.0),
            (world.vm, 4, True, False, 4.5),
            (strangers, 10, True, True, 9.0),
        ],
    )
    services.version_accept(version_id=version.pk, actor=staff)
    return world, coi, other_astronomer


def test_the_ics_file_parses_with_one_event_per_night(
    accepted: tuple[World, User, User], astronomer: User
) -> None:
    # given
    world, _, _ = accepted
    client = Client()
    client.force_login(astronomer)
    # when
    response = client.get(f"/proposals/{world.vm.proposal_id}/nights.ics")
    # then: evening-to-morning events in UTC, the second one ending at the night's midpoint
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["120.C-0001(A) UT1 FORS2"] * 2
    starts = [e.decoded("dtstart") for e in events]
    ends = [e.decoded("dtend") for e in events]
    # Paranal (UTC-4.7 h): sunset of the night of date D falls on D at ~22-24 h UTC.
    assert [s.date() for s in starts] == [day(3), day(4)]
    assert [e.date() for e in ends] == [day(4), day(5)]
    assert all(s.utcoffset() == dt.timedelta(0) for s in starts)
    full = ends[0] - starts[0]
    half = ends[1] - starts[1]
    assert dt.timedelta(hours=9) < full < dt.timedelta(hours=14)
    assert abs(half - full / 2) < dt.timedelta(minutes=5)


def test_the_pi_and_a_coi_see_their_nights_on_the_page_and_the_api(
    accepted: tuple[World, User, User], astronomer: User
) -> None:
    world, coi, _ = accepted
    pk = world.vm.proposal_id
    for user in (astronomer, coi):
        # given
        client = Client()
        client.force_login(user)
        # when
        page = client.get(f"/proposals/{pk}/").content.decode()
        api = bearer_client(user).get(f"/api/v1/proposals/{pk}/nights/")
        # then
        assert 'id="scheduled-nights"' in page
        assert day(3).isoformat() in page and day(4).isoformat() in page
        assert f"/proposals/{pk}/nights.ics" in page
        assert day(10).isoformat() not in page
        assert api.status_code == 200
        assert [(n["date"], n["first_half"], n["second_half"]) for n in api.json()] == [
            (day(3).isoformat(), True, True),
            (day(4).isoformat(), True, False),
        ]
        assert {n["name"] for n in api.json()} == {"120.C-0001(A)"}


def test_another_astronomer_gets_404_and_never_sees_nights_of_other_proposals(
    accepted: tuple[World, User, User],
) -> None:
    # given: the stranger, PI of another proposal with a night of its own
    world, _, stranger = accepted
    pk = world.vm.proposal_id
    client = Client()
    client.force_login(stranger)
    # when
    page = client.get(f"/proposals/{pk}/")
    ics = client.get(f"/proposals/{pk}/nights.ics")
    api = bearer_client(stranger).get(f"/api/v1/proposals/{pk}/nights/")
    own_pk = RunNight.objects.get(date=day(10)).run.proposal_id
    own = bearer_client(stranger).get(f"/api/v1/proposals/{own_pk}/nights/").json()
    own_ics = Calendar.from_ical(client.get(f"/proposals/{own_pk}/nights.ics").content)
    # then
    assert (page.status_code, ics.status_code, api.status_code) == (404, 404, 404)
    assert [n["date"] for n in own] == [day(10).isoformat()]
    assert [e.decoded("dtstart").date() for e in own_ics.walk("VEVENT")] == [day(10)]


def test_a_proposal_without_nights_has_no_section_and_an_empty_calendar(
    world: World, astronomer: User
) -> None:
    # given: nothing accepted
    client = Client()
    client.force_login(astronomer)
    pk = world.vm.proposal_id
    # when
    page = client.get(f"/proposals/{pk}/").content.decode()
    ics = client.get(f"/proposals/{pk}/nights.ics")
    # then
    assert 'id="scheduled-nights"' not in page
    assert ics.status_code == 200
    assert Calendar.from_ical(ics.content).walk("VEVENT") == []


# ---------------------------------------------------------------------------------------------
# Staff's CSV
# ---------------------------------------------------------------------------------------------


def test_the_csv_has_a_header_and_one_row_per_night(
    accepted: tuple[World, User, User], staff: User, astronomer: User
) -> None:
    # given
    world, _, _ = accepted
    client = Client()
    client.force_login(staff)
    url = f"/schedule/export/periods/{world.period.number}/nights.csv"
    # when
    response = client.get(url)
    # then
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["date", "telescope", "instrument", "run"]
    assert [(r[0], r[3], r[6], r[7]) for r in rows[1:]] == [
        (day(3).isoformat(), "120.C-0001(A)", "yes", "yes"),
        (day(4).isoformat(), "120.C-0001(A)", "yes", "no"),
        (day(10).isoformat(), "120.C-0009(A)", "yes", "yes"),
    ]
    other = Client()
    other.force_login(astronomer)
    assert other.get(url).status_code == 403
