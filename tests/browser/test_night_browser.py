"""The night console in a real browser (issue 12): an operator records the conditions, ranks
the telescope's OBs for a time of the night, starts the top OB, completes it with grade A and
sees the list change: the OB gone, its group's other OB ranked higher with a higher score (the
group's score rose). The ranking is re-fetched and swapped in without reloading the page."""

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from dataflow.accounts.models import Role
from dataflow.observatory.models import Telescope
from observations import services
from observations.models import Container, ItemType, ObservationBlock, OBStatus
from proposals.models import ObservingRun
from proposals.review.services import run_decide
from tests.factories import UserFactory
from tests.observations.conftest import add_signatures, reviewed_proposal
from tests.scheduling.test_night_console import accepted, observable_moment

pytestmark = [pytest.mark.browser]


@dataclass
class World:
    telescope: Telescope
    tiles: list[ObservationBlock]
    at: dt.datetime


@pytest.fixture
def world(transactional_db) -> World:  # type: ignore[no-untyped-def]
    """An approved service-mode run on UT1 whose Group holds two accepted OBs on NGC 253
    (contributions 0.5 each), built through the services; operator nico; a time of the
    period's third night when both are up."""
    UserFactory.create(username="nico", roles=[Role.OPERATOR])
    staff: User = UserFactory.create(username="sam", roles=[Role.STAFF])
    ada: User = UserFactory.create(username="ada")
    proposal, sm, vm = reviewed_proposal(ada)
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=10.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    run = ObservingRun.objects.select_related("telescope__site").get(pk=sm.pk)
    root = Container.objects.get(run=run, parent__isnull=True)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="Mosaic", actor=ada
    )
    target = proposal.targets.get()
    tiles = [accepted(ada, staff, group, target.pk, f"tile {i}", contribution=0.5) for i in (1, 2)]
    night = proposal.period.start + dt.timedelta(days=2)
    at = observable_moment(run.telescope, night, {ob.pk for ob in tiles})
    return World(run.telescope, tiles, at)


def _log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def _score(page, ob: ObservationBlock) -> float:  # type: ignore[no-untyped-def]
    return float(page.locator(f"#ranked-{ob.pk}").get_attribute("data-score"))


def _rank(page, ob: ObservationBlock) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(f"#ranked-{ob.pk}").get_attribute("data-rank"))


def test_operator_ranks_starts_and_completes_the_top_ob_and_the_list_changes(  # type: ignore[no-untyped-def]
    page, world: World
) -> None:
    from playwright.sync_api import expect

    # given nico logged in: the home page lands on the telescopes, then UT1's console
    _log_in(page, "nico")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/night/$"))
    page.click(f"#console-{world.telescope.pk}")
    expect(page.locator("h1")).to_have_text(f"{world.telescope.name} console")
    expect(page.locator("#rank-errors")).to_contain_text("type it in")  # no reading yet

    # when he records the conditions
    page.fill("#weather-seeing_arcsec", "0.8")
    page.select_option("#weather-transparency", "Clear")
    page.fill("#weather-wind_speed_ms", "5")
    page.fill("#weather-wind_direction_deg", "90")
    page.fill("#weather-water_vapour_mm", "2.5")
    page.click("#weather-submit")
    # then they are the latest reading
    expect(page.locator("#reading-seeing")).to_have_text("0.80″")
    expect(page.locator("#reading-wind")).to_contain_text("5.0 m/s from 90°")

    # when he ranks for a time of the night (the page is not reloaded: the list is swapped in)
    page.evaluate("window.notReloaded = true")
    page.fill("#rank-at", world.at.strftime("%Y-%m-%dT%H:%M"))
    page.click("#rank-submit")
    # then both tiles are ranked for that time, with the reading's conditions
    summary = page.locator("#rank-summary")
    expect(summary).to_contain_text(world.at.strftime("%Y-%m-%d %H:%M UTC"))
    expect(summary).to_contain_text("seeing 0.80″, Clear")
    for tile in world.tiles:
        expect(page.locator(f"#ranked-{tile.pk}")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    expect(page).to_have_url(re.compile(r"at=" + re.escape(world.at.strftime("%Y-%m-%dT%H"))))
    # and the justification opens on demand
    top_row = page.locator("#ranked tbody tr").first
    top = next(t for t in world.tiles if str(t.pk) == top_row.get_attribute("data-ob"))
    other = next(t for t in world.tiles if t.pk != top.pk)
    page.locator(f"#why-{top.pk} summary").click()
    expect(page.locator(f"#why-{top.pk}")).to_contain_text("Run's rank class")
    before_score, before_rank = _score(page, other), _rank(page, other)
    assert _rank(page, top) == 1 and before_rank == 2

    # when he starts the top OB
    page.click(f"#start-{top.pk}")
    # then it runs
    expect(page.locator(f"#visit-ob-{top.pk}")).to_contain_text(top.name)
    assert ObservationBlock.objects.get(pk=top.pk).status == OBStatus.STARTED

    # when he completes it with grade A
    page.select_option("#complete-grade", "A")
    page.fill("#complete-comment", "Seeing stable at 0.8.")
    page.click("#complete-submit")
    # then nothing runs, the OB is gone from the list, its group's other OB ranks first with a
    # higher score (the group's score rose)
    expect(page.locator("#no-visit")).to_be_visible()
    expect(page.locator("#rank-summary")).to_contain_text(world.at.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator(f"#ranked-{top.pk}")).to_have_count(0)
    expect(page.locator(f"#ranked-{other.pk}")).to_have_attribute("data-rank", "1")
    assert _score(page, other) > before_score
    assert ObservationBlock.objects.get(pk=top.pk).status == OBStatus.COMPLETED
