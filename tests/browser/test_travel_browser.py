"""Visitors' travel in a real browser (issue 10): the PI files a travel request for a VM run's
accepted nights, staff confirm it from the arrival list, and a schedule that moves the nights
marks it for an update, which the PI files."""

import re

import pytest

from dataflow.accounts.models import Role
from scheduling import services
from scheduling.models import TravelRequest, TravelStatus
from scheduling.travel import travel_request_save
from tests.factories import UserFactory
from tests.scheduling.test_accept import day, version_with
from tests.scheduling.test_jobs import World, approved_period

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(transactional_db) -> World:  # type: ignore[no-untyped-def]
    """Period 120: ada's approved 2-night VM run 120.C-0001(A) with accepted nights 3 and 4
    (accepted by staff member sam)."""
    sam = UserFactory.create(username="sam", roles=[Role.STAFF])
    ada = UserFactory.create(username="ada", first_name="Ada", last_name="Lovelace")
    found = approved_period(sam, ada)
    version = version_with(
        found.period, 1, [(found.vm, 3, True, True, 9.0), (found.vm, 4, True, True, 9.0)]
    )
    services.version_accept(version_id=version.pk, actor=sam)
    return found


def log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def fill_travel(page, arrival: str, departure: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#travel-form")
    form.get_by_label("Travellers").fill("Ada Lovelace\nMary Somerville")
    form.get_by_label("Arrival").fill(arrival)
    form.get_by_label("Departure").fill(departure)
    form.get_by_label("Flights").fill("LA 800 SCL 06:10")
    form.get_by_role("button", name="Save travel request").click()


def test_the_pi_files_a_travel_request_for_the_runs_nights(  # type: ignore[no-untyped-def]
    page, world
) -> None:
    from playwright.sync_api import expect

    # given ada follows the travel link of her proposal's scheduled nights
    log_in(page, "ada")
    page.goto(f"/proposals/{world.vm.proposal_id}/")
    page.get_by_role("link", name="request travel for 120.C-0001(A)").click()
    expect(page).to_have_url(re.compile(rf"/schedule/runs/{world.vm.pk}/travel/$"))
    expect(page.locator("#nights")).to_contain_text(day(3).isoformat())
    expect(page.locator("#nights")).to_contain_text(day(4).isoformat())

    # when she leaves on the last night
    fill_travel(page, day(2).isoformat(), day(4).isoformat())

    # then the form says why and nothing is filed
    expect(page.locator("#travel-form")).to_contain_text(
        f"Leave after the last night ({day(4).isoformat()})"
    )
    assert not TravelRequest.objects.exists()

    # when she leaves the morning after
    fill_travel(page, day(2).isoformat(), day(5).isoformat())

    # then the request is filed and shown
    expect(page.locator(".messages")).to_contain_text("Travel request saved")
    filed = page.locator("#travel-request")
    expect(filed).to_contain_text("Submitted")
    expect(filed).to_contain_text("Ada Lovelace, Mary Somerville")
    expect(filed).to_contain_text(f"arrival {day(2).isoformat()}, departure {day(5).isoformat()}")
    request = TravelRequest.objects.get(run=world.vm)
    assert request.travellers == ["Ada Lovelace", "Mary Somerville"]
    assert request.flights == "LA 800 SCL 06:10" and request.lodging


def test_staff_confirm_from_the_arrival_list_and_see_a_moved_schedule_flag_it(  # type: ignore[no-untyped-def]
    page, world
) -> None:
    from django.contrib.auth.models import User
    from playwright.sync_api import expect

    # given ada's request, and sam on the arrival list (from the schedule's period page)
    ada, sam = User.objects.get(username="ada"), User.objects.get(username="sam")
    request = travel_request_save(
        run_id=world.vm.pk,
        actor=ada,
        travellers=["Ada Lovelace"],
        arrival=day(2),
        departure=day(5),
    )
    log_in(page, "sam")
    page.get_by_role("link", name="Schedule", exact=True).click()
    page.get_by_role("link", name="Arrival list").click()
    expect(page).to_have_url(re.compile(r"/schedule/arrivals/$"))
    year, week, _ = day(2).isocalendar()
    row = page.locator(f"#travel-{request.pk}")
    expect(page.locator(f"#week-{year}-W{week:02d}")).to_contain_text("120.C-0001(A)")
    expect(row).to_contain_text("Ada Lovelace")
    expect(row.get_by_test_id("status")).to_contain_text("Submitted")

    # when he confirms it
    row.get_by_role("button", name="Confirm").click()

    # then it is confirmed, without a button any more
    expect(page.locator(".messages")).to_contain_text("Travel of 120.C-0001(A) confirmed")
    expect(row.get_by_test_id("status")).to_have_text("Confirmed")
    expect(row.get_by_role("button", name="Confirm")).to_have_count(0)

    # when a schedule that moves the run to nights 8 and 9 is accepted
    moved = version_with(
        world.period, 2, [(world.vm, 8, True, True, 9.0), (world.vm, 9, True, True, 9.0)]
    )
    services.version_accept(version_id=moved.pk, actor=sam)
    page.reload()

    # then the list flags the request for an update and offers no confirmation
    expect(row.get_by_test_id("status")).to_contain_text("Needs update")
    expect(row.get_by_test_id("status")).to_contain_text(f"the nights are now {day(8).isoformat()}")
    expect(row.get_by_role("button", name="Confirm")).to_have_count(0)


def test_the_pi_updates_a_request_the_new_schedule_flagged(  # type: ignore[no-untyped-def]
    page, world
) -> None:
    from django.contrib.auth.models import User
    from playwright.sync_api import expect

    # given ada's request for nights 3-4, and a schedule that moved them to 8-9
    ada, sam = User.objects.get(username="ada"), User.objects.get(username="sam")
    travel_request_save(
        run_id=world.vm.pk, actor=ada, travellers=["Ada"], arrival=day(2), departure=day(5)
    )
    moved = version_with(
        world.period, 2, [(world.vm, 8, True, True, 9.0), (world.vm, 9, True, True, 9.0)]
    )
    services.version_accept(version_id=moved.pk, actor=sam)

    # when she opens her travel page
    log_in(page, "ada")
    page.goto(f"/schedule/runs/{world.vm.pk}/travel/")

    # then it says the schedule changed and why
    notice = page.get_by_test_id("needs-update")
    expect(notice).to_contain_text("The accepted schedule changed")
    expect(notice).to_contain_text(day(8).isoformat())
    expect(page.get_by_test_id("travel-status")).to_have_text("Needs update")

    # when she files dates that cover the new nights
    fill_travel(page, day(7).isoformat(), day(10).isoformat())

    # then the flag is gone and the request is submitted again
    expect(page.locator(".messages")).to_contain_text("Travel request saved")
    expect(page.get_by_test_id("travel-status")).to_have_text("Submitted")
    expect(page.get_by_test_id("needs-update")).to_have_count(0)
    assert TravelRequest.objects.get().status == TravelStatus.SUBMITTED
