"""Staff pin VM runs (and link them) from the schedule pages and the API: a pin that cannot
hold is refused at once naming the run, a re-solve places a pinned run on its pinned slot,
every change leaves an event row, and nobody but staff gets anywhere (SQLite, eager Celery)."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dataflow.errors import InvalidInput, NotAllowed
from proposals.models import ObservingRun
from scheduling import adapter, pins
from scheduling.models import (
    CalendarNight,
    JobStatus,
    LinkKind,
    NightKind,
    Placement,
    RunLink,
    RunPin,
    ScheduleEvent,
    ScheduleVersion,
)
from tests.conftest import bearer_client, logged_in
from tests.scheduling.test_jobs import NIGHTS, START, World, approved_period, start

TECHNICAL = START + dt.timedelta(days=10)


@pytest.fixture
def world(staff: User, astronomer: User) -> World:
    """Period 120 (21 nights) with the approved 2-night VM run 120.C-0001(A), an SM run, and
    two more VM runs on UT1 (120.C-0002(A), one night; 120.C-0003(A), two nights); a technical
    night on UT1."""
    out = approved_period(staff, astronomer, extra_runs=2)
    CalendarNight.objects.create(
        telescope=out.vm.telescope, date=TECHNICAL, kind=NightKind.TECHNICAL, note="M1 recoating"
    )
    return out


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def other_vm(world: World, number: int) -> ObservingRun:
    return ObservingRun.objects.get(
        proposal__period=world.period, proposal__programme_number=number
    )


def pin_form(run: ObservingRun, start: dt.date, second_half: bool = False) -> dict[str, str]:
    data = {"pin-run": str(run.pk), "pin-start": start.isoformat()}
    if second_half:
        data["pin-second_half"] = "on"
    return data


def pins_url(world: World) -> str:
    return f"/api/v1/schedule/periods/{world.period.number}/pins/"


# --- pinning ------------------------------------------------------------------------------------


def test_staff_pin_a_run_on_the_period_page_and_see_it_listed_with_an_event_row(
    world: World, staff: User
) -> None:
    # given
    client = logged_in(staff)
    url = f"/schedule/periods/{world.period.number}/"
    # when
    saved = client.post(f"{url}pins/", pin_form(world.vm, day(4)))
    page = client.get(url).content.decode()
    # then
    assert saved.status_code == 302 and saved["Location"].endswith("#pins")
    pin = RunPin.objects.get(run=world.vm)
    assert (pin.start, pin.second_half, pin.by) == (day(4), False, staff)
    assert f'id="pin-{pin.pk}"' in page and "Remove pin" in page
    event = ScheduleEvent.objects.get(action="pin set")
    assert event.actor == staff and event.period == world.period
    assert event.note == f"pin 120.C-0001(A) on {day(4).isoformat()}"


def test_a_pin_on_a_technical_night_is_refused_naming_the_run_and_nothing_is_stored(
    world: World, staff: User
) -> None:
    # given: the 2-night run would cover the technical night as its second night
    night = TECHNICAL - dt.timedelta(days=1)
    # when
    with pytest.raises(InvalidInput) as refused:
        pins.pin_set(period_id=world.period.pk, run_id=world.vm.pk, start=night, actor=staff)
    page = logged_in(staff).post(
        f"/schedule/periods/{world.period.number}/pins/", pin_form(world.vm, night)
    )
    api = bearer_client(staff).post(
        pins_url(world), {"run": world.vm.pk, "start": night.isoformat()}, format="json"
    )
    # then
    assert "120.C-0001(A)" in refused.value.message
    message = f"{TECHNICAL.isoformat()} is a technical night (M1 recoating) on UT1"
    assert refused.value.errors["start"] == [f"{message}, in the nights of 120.C-0001(A)."]
    assert page.status_code == 200
    assert f"{message}, in the nights of 120.C-0001(A)." in page.content.decode()
    assert api.status_code == 400
    assert "120.C-0001(A)" in api.json()["detail"] and "start" in api.json()["errors"]
    assert not RunPin.objects.exists()
    assert not ScheduleEvent.objects.filter(action="pin set").exists()


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("outside", "start", "is outside P120"),
        ("service mode", "run", "120.C-0001(B) is a service-mode run"),
        ("not approved", "run", "120.C-0001(A) is not approved"),
        ("whole nights", "start", "120.C-0001(A) takes whole nights"),
        ("past the end", "start", "120.C-0001(A) (2 nights) runs past the end of the period"),
    ],
)
def test_a_pin_impossible_by_itself_is_refused_naming_the_run(
    world: World, staff: User, case: str, field: str, words: str
) -> None:
    # given
    run, night, second_half = world.vm, day(3), False
    if case == "outside":
        night = day(NIGHTS + 5)
    elif case == "service mode":
        run = world.sm
    elif case == "not approved":
        world.vm.decision.approved = False
        world.vm.decision.save(update_fields=["approved"])
    elif case == "whole nights":
        second_half = True
    elif case == "past the end":
        night = day(NIGHTS - 1)
    # when
    response = bearer_client(staff).post(
        pins_url(world),
        {"run": run.pk, "start": night.isoformat(), "second_half": second_half},
        format="json",
    )
    # then
    assert response.status_code == 400, response.json()
    body = response.json()
    assert words in " ".join(body["errors"][field]), body
    assert str(run) in body["detail"]
    assert not RunPin.objects.exists()


def test_a_pin_on_a_night_the_moon_rules_out_is_refused_by_the_engines_check(
    world: World, staff: User
) -> None:
    # given: the run now asks for dark time; a night whose moon is too bright for it
    ObservingRun.objects.filter(pk=world.vm.pk).update(max_fli=0.2)
    problem = adapter.problem_for_period(world.period).problem
    usable = [
        i for i in range(NIGHTS - 1) if day(i) not in (TECHNICAL - dt.timedelta(1), TECHNICAL)
    ]
    bright = next(i for i in usable if problem.moon_fli[i] > 0.3)
    # when
    with pytest.raises(InvalidInput) as refused:
        pins.pin_set(
            period_id=world.period.pk, run_id=world.vm.pk, start=problem.dates[bright], actor=staff
        )
    # then
    assert "moon FLI" in refused.value.message and "120.C-0001(A)" in refused.value.message
    assert not RunPin.objects.exists()


def test_a_pin_overlapping_another_pin_on_the_telescope_is_refused(
    world: World, staff: User
) -> None:
    # given: 120.C-0001(A) pinned on nights 4 and 5 of UT1
    pins.pin_set(period_id=world.period.pk, run_id=world.vm.pk, start=day(4), actor=staff)
    other = other_vm(world, 2)
    # when
    with pytest.raises(InvalidInput) as refused:
        pins.pin_set(period_id=world.period.pk, run_id=other.pk, start=day(5), actor=staff)
    # then
    assert "overlaps pin 120.C-0001(A)" in refused.value.message
    assert "120.C-0002(A)" in refused.value.message
    assert list(RunPin.objects.values_list("run_id", flat=True)) == [world.vm.pk]


def test_pinning_again_moves_the_pin_and_says_where_it_was(world: World, staff: User) -> None:
    # given
    client = bearer_client(staff)
    first = client.post(pins_url(world), {"run": world.vm.pk, "start": day(2)}, format="json")
    # when
    moved = client.post(pins_url(world), {"run": world.vm.pk, "start": day(6)}, format="json")
    same = client.post(pins_url(world), {"run": world.vm.pk, "start": day(6)}, format="json")
    listed = client.get(pins_url(world))
    # then: one pin, moved; pinning it where it is writes nothing
    assert (first.status_code, moved.status_code, same.status_code) == (201, 200, 200)
    assert moved.json()["start"] == day(6).isoformat() and moved.json()["by"] == "staff"
    assert [(p["run"]["name"], p["start"]) for p in listed.json()] == [
        ("120.C-0001(A)", day(6).isoformat())
    ]
    notes = list(ScheduleEvent.objects.filter(action="pin set").values_list("note", flat=True))
    assert notes == [
        f"pin 120.C-0001(A) on {day(2).isoformat()}",
        f"pin 120.C-0001(A) on {day(6).isoformat()} (was pin 120.C-0001(A) on "
        f"{day(2).isoformat()})",
    ]


def test_a_pin_is_honoured_by_a_greedy_re_solve(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a first solve, and the run pinned on a night where it was not
    first = start(world, staff, django_capture_on_commit_callbacks)
    assert first.status == JobStatus.DONE, first.error
    before = Placement.objects.filter(version__job=first, run=world.vm).order_by("date").first()
    assert before is not None
    target = day(15) if before.date != day(15) else day(2)
    response = bearer_client(staff).post(
        pins_url(world), {"run": world.vm.pk, "start": target.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.json()
    # when: the period is solved again (the start form's service, eager Celery)
    job = start(world, staff, django_capture_on_commit_callbacks)
    # then: the first version's calendar says where the run is pinned now, and the new
    # version places the run on its pinned nights
    calendar = logged_in(staff).get(f"/schedule/versions/{before.version_id}/").content.decode()
    assert f"(pinned on {target.isoformat()})" in calendar
    assert job.status == JobStatus.DONE, job.error
    version = ScheduleVersion.objects.get(job=job)
    assert version.number == 2
    rows = Placement.objects.filter(version=version, run=world.vm).order_by("date")
    assert [(p.date, p.first_half, p.second_half) for p in rows] == [
        (target, True, True),
        (target + dt.timedelta(days=1), True, True),
    ]


def test_pin_here_on_the_version_calendar_pins_the_run_where_it_is_placed(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a solved version; its calendar offers "Pin here" on the run's first night
    job = start(world, staff, django_capture_on_commit_callbacks)
    version = ScheduleVersion.objects.get(job=job)
    placed = Placement.objects.filter(version=version, run=world.vm).order_by("date").first()
    assert placed is not None
    client = logged_in(staff)
    url = f"/schedule/versions/{version.pk}/"
    calendar = client.get(url).content.decode()
    # when
    pinned = client.post(f"{url}pins/", {"run": str(world.vm.pk)}, follow=True)
    # then
    assert calendar.count("Pin here</button>") == 3  # the three VM runs, each on its start
    pin = RunPin.objects.get(run=world.vm)
    assert (pin.start, pin.second_half) == (placed.date, False)
    text = pinned.content.decode()
    assert f"120.C-0001(A) pinned on {placed.date.isoformat()}" in text
    assert 'data-testid="pinned"' in text and text.count("Pin here</button>") == 2


def test_pin_here_for_a_run_the_version_did_not_place_says_so(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    job = start(world, staff, django_capture_on_commit_callbacks)
    version = ScheduleVersion.objects.get(job=job)
    # when: the SM run, and garbage
    sm = logged_in(staff).post(
        f"/schedule/versions/{version.pk}/pins/", {"run": str(world.sm.pk)}, follow=True
    )
    junk = logged_in(staff).post(f"/schedule/versions/{version.pk}/pins/", {"run": "x"})
    # then
    assert "has no visitor-mode night in v1" in sm.content.decode()
    assert junk.status_code == 302
    assert not RunPin.objects.exists()


def test_staff_remove_pins_from_the_page_and_the_api_with_event_rows(
    world: World, staff: User
) -> None:
    # given
    a = pins.pin_set(period_id=world.period.pk, run_id=world.vm.pk, start=day(2), actor=staff)
    b = pins.pin_set(
        period_id=world.period.pk, run_id=other_vm(world, 2).pk, start=day(6), actor=staff
    )
    # when
    page = logged_in(staff).post(f"/schedule/pins/{a.pk}/remove/")
    api = bearer_client(staff).delete(f"/api/v1/schedule/pins/{b.pk}/")
    again = bearer_client(staff).delete(f"/api/v1/schedule/pins/{b.pk}/")
    # then
    assert page.status_code == 302 and page["Location"].endswith("#pins")
    assert api.status_code == 204 and again.status_code == 404
    assert not RunPin.objects.exists()
    notes = list(ScheduleEvent.objects.filter(action="pin removed").values_list("note", flat=True))
    assert notes == [
        f"pin 120.C-0001(A) on {day(2).isoformat()}",
        f"pin 120.C-0002(A) on {day(6).isoformat()}",
    ]


def test_only_staff_read_and_change_pins(world: World, staff: User, astronomer: User) -> None:
    # given
    pin = pins.pin_set(period_id=world.period.pk, run_id=world.vm.pk, start=day(2), actor=staff)
    body = {"run": world.vm.pk, "start": day(5).isoformat()}
    anonymous = Client()
    # when
    statuses = [
        bearer_client(astronomer).get(pins_url(world)).status_code,
        bearer_client(astronomer).post(pins_url(world), body, format="json").status_code,
        bearer_client(astronomer).delete(f"/api/v1/schedule/pins/{pin.pk}/").status_code,
        anonymous.get(pins_url(world)).status_code,
        logged_in(astronomer)
        .post(f"/schedule/periods/{world.period.number}/pins/", pin_form(world.vm, day(5)))
        .status_code,
        logged_in(astronomer).post(f"/schedule/pins/{pin.pk}/remove/").status_code,
        bearer_client(staff).get("/api/v1/schedule/periods/999/pins/").status_code,
        bearer_client(staff).delete("/api/v1/schedule/pins/99999/").status_code,
    ]
    # then
    assert statuses == [403, 403, 403, 401, 403, 403, 404, 404]
    with pytest.raises(NotAllowed):
        pins.pin_set(period_id=world.period.pk, run_id=world.vm.pk, start=day(5), actor=astronomer)
    with pytest.raises(NotAllowed):
        pins.pin_remove(pin_id=pin.pk, actor=astronomer)
    assert RunPin.objects.get().start == day(2)
    assert ScheduleEvent.objects.filter(action__startswith="pin").count() == 1


# --- links --------------------------------------------------------------------------------------


def link_form(first: ObservingRun, second: ObservingRun, **extra: str) -> dict[str, str]:
    return {"link-first": str(first.pk), "link-second": str(second.pk), **extra}


def test_staff_link_two_runs_on_the_page_and_remove_the_link(world: World, staff: User) -> None:
    # given
    client = logged_in(staff)
    url = f"/schedule/periods/{world.period.number}/"
    second = other_vm(world, 3)
    # when
    bounds = {"link-min_days": "3", "link-max_days": "6", "link-ordered": "on"}
    added = client.post(
        f"{url}links/", link_form(world.vm, second, **{"link-kind": "apart"}, **bounds)
    )
    page = client.get(url).content.decode()
    link = RunLink.objects.get()
    removed = client.post(f"/schedule/links/{link.pk}/remove/")
    # then
    assert added.status_code == 302 and removed.status_code == 302
    text = "link 120.C-0003(A) 3..6 nights after 120.C-0001(A)"
    assert text in page
    assert (link.kind, link.min_days, link.max_days, link.ordered) == (LinkKind.APART, 3, 6, True)
    assert not RunLink.objects.exists()
    events = ScheduleEvent.objects.filter(action__startswith="link").order_by("id")
    assert [(e.action, e.note) for e in events] == [("link added", text), ("link removed", text)]


@pytest.mark.parametrize(
    ("kind", "bounds", "words"),
    [
        ("same_nights", (None, None), "120.C-0001(A) and 120.C-0003(A) are both on UT1."),
        ("apart", (6, 3), "At most 3 is less than at least 6."),
        ("apart", (None, None), "Give at least one of the bounds"),
        ("apart", (40, None), "120.C-0001(A) and 120.C-0003(A) cannot both fit"),
    ],
)
def test_a_link_that_cannot_hold_is_refused_naming_the_runs(
    world: World, staff: User, kind: str, bounds: tuple[int | None, int | None], words: str
) -> None:
    # given
    second = other_vm(world, 3)
    # when
    with pytest.raises(InvalidInput) as refused:
        pins.link_add(
            period_id=world.period.pk,
            first_id=world.vm.pk,
            second_id=second.pk,
            kind=kind,
            min_days=bounds[0],
            max_days=bounds[1],
            actor=staff,
        )
    # then
    assert words in refused.value.message
    assert "120.C-0001(A)" in refused.value.message and "120.C-0003(A)" in refused.value.message
    assert not RunLink.objects.exists()
    assert not ScheduleEvent.objects.filter(action__startswith="link").exists()


def test_a_refused_link_is_shown_on_the_period_page(world: World, staff: User) -> None:
    # when
    page = logged_in(staff).post(
        f"/schedule/periods/{world.period.number}/links/",
        link_form(world.vm, other_vm(world, 3), **{"link-kind": "same_nights"}),
    )
    # then
    assert page.status_code == 200
    assert "120.C-0001(A) and 120.C-0003(A) are both on UT1." in page.content.decode()
    assert not RunLink.objects.exists()


def test_staff_link_two_runs_through_the_api_list_and_remove_the_link(
    world: World, staff: User
) -> None:
    # given
    api = bearer_client(staff)
    url = f"/api/v1/schedule/periods/{world.period.number}/links/"
    second = other_vm(world, 3)
    body = {"first": world.vm.pk, "second": second.pk, "kind": "apart", "min_days": 3}
    # when
    added = api.post(url, {**body, "max_days": 6}, format="json")
    listed = api.get(url)
    removed = api.delete(f"/api/v1/schedule/links/{added.json()['id']}/")
    again = api.delete(f"/api/v1/schedule/links/{added.json()['id']}/")
    # then
    assert added.status_code == 201, added.json()
    text = "link 120.C-0003(A) 3..6 nights after 120.C-0001(A)"
    assert added.json()["description"] == text
    assert (added.json()["first"]["name"], added.json()["second"]["telescope"]) == (
        "120.C-0001(A)",
        second.telescope.name,
    )
    assert listed.json() == [added.json()]
    assert (removed.status_code, again.status_code) == (204, 404)
    events = ScheduleEvent.objects.filter(action__startswith="link").order_by("id")
    assert [(e.action, e.note) for e in events] == [("link added", text), ("link removed", text)]


def test_a_link_refused_through_the_api_names_the_runs_and_stores_nothing(
    world: World, staff: User, astronomer: User
) -> None:
    # given
    url = f"/api/v1/schedule/periods/{world.period.number}/links/"
    body = {"first": world.vm.pk, "second": other_vm(world, 3).pk, "kind": "same_nights"}
    # when
    refused = bearer_client(staff).post(url, body, format="json")
    shapeless = bearer_client(staff).post(url, {**body, "kind": "later"}, format="json")
    foreign = bearer_client(astronomer).post(url, {**body, "kind": "apart"}, format="json")
    # then
    assert refused.status_code == 400
    assert "120.C-0001(A) and 120.C-0003(A) are both on UT1." in str(refused.json())
    assert shapeless.status_code == 400 and "kind" in shapeless.json()["errors"]
    assert foreign.status_code == 403
    assert not RunLink.objects.exists()
    assert not ScheduleEvent.objects.filter(action__startswith="link").exists()
