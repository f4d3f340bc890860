"""The night operators' console (scheduling.views_night): the telescopes' home, a telescope's
console with the conditions, options and the ranking (and its fragment), and the writes
through it: a weather reading, start, complete, abort. Operators and staff only.

The world: an approved service-mode run on UT1 whose Group holds two accepted OBs on NGC 253
(contributions 0.5 each), a Concatenation of two more, and a lone OB in the root folder whose
absolute window is on the period's last night (filtered before); OBs built, submitted and
accepted through the Phase 2 services. The time ranked is a fixed moment of a night of the
run's period when the OBs are up (chosen from the night's hours once, when the world is
built)."""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dataflow.accounts.models import Role
from dataflow.observatory.models import Telescope
from observations import ob_parts, services
from observations.commands import OBData
from observations.models import (
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    OBStatus,
    Visit,
    VisitState,
    WeatherReading,
)
from proposals.models import ObservingRun
from proposals.review.services import run_decide
from scheduling.engine.ranking.model import Conditions, RankingOptions, Transparency
from scheduling.forms_night import RankForm
from scheduling.night.ranking import rank_for
from tests.conftest import logged_in
from tests.factories import UserFactory
from tests.observations.conftest import add_signatures, reviewed_proposal

pytestmark = pytest.mark.django_db

SEEING = Conditions(seeing_arcsec=0.8, transparency=Transparency.CLEAR)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


@dataclass
class NightWorld:
    operator: User
    staff: User
    pi: User
    telescope: Telescope
    run: ObservingRun
    group: Container
    tiles: list[ObservationBlock]  # the group's two OBs
    concatenation: Container
    linked: list[ObservationBlock]  # the concatenation's two OBs
    lone: ObservationBlock  # its absolute window is on the period's last night
    at: dt.datetime  # a moment of the night when the OBs are up (UTC)

    @property
    def at_text(self) -> str:
        """``at`` as the console's datetime-local input takes it."""
        return self.at.strftime("%Y-%m-%dT%H:%M")

    def console(self) -> str:
        return reverse("night:console", args=[self.telescope.pk])


def accepted(
    pi: User, staff: User, container: Container, target_id: int, name: str, **data: Any
) -> ObservationBlock:
    """An OB on the Phase 1 target with an acquisition and an imaging template, submitted and
    accepted through the services (``+``)."""
    ob = services.ob_create(container_id=container.pk, name=name, actor=pi)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=target_id, actor=pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=pi)
    services.template_set_values(template_id=science.pk, values={"INS.FILT": "R_SPECIAL"}, actor=pi)
    services.ob_update(ob_id=ob.pk, data=OBData(min_moon_distance_deg=0.0, **data), actor=pi)
    services.ob_submit(ob_id=ob.pk, actor=pi)
    services.ob_accept(ob_id=ob.pk, actor=staff)
    return ObservationBlock.objects.get(pk=ob.pk)


def observable_moment(telescope: Telescope, night: dt.date, ob_ids: set[int]) -> dt.datetime:
    """The first half hour of ``night`` (from 22:00 local mean time) at which every OB of
    ``ob_ids`` is ranked at 0.8" seeing with the default options."""
    longitude = telescope.site.longitude_deg
    evening = dt.datetime.combine(night, dt.time(22), tzinfo=dt.UTC)
    evening -= dt.timedelta(hours=longitude / 15.0)
    for step in range(16):
        at = (evening + dt.timedelta(minutes=30 * step)).replace(second=0, microsecond=0)
        ranked = rank_for(telescope.pk, at, SEEING, RankingOptions(), filtered_limit=0)
        if ob_ids <= {row.ob_id for row in ranked.ranked}:
            return at
    raise AssertionError(f"the OBs {sorted(ob_ids)} are never all observable on {night}")


def night_world(operator: User, staff: User, pi: User) -> NightWorld:
    proposal, sm, vm = reviewed_proposal(pi)
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=10.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    run = ObservingRun.objects.select_related("telescope__site").get(pk=sm.pk)
    target = proposal.targets.get()
    root = Container.objects.get(run=run, parent__isnull=True)

    def container(kind: str, name: str) -> Container:
        return services.container_create(parent_id=root.pk, item_type=kind, name=name, actor=pi)

    group = container(ItemType.GROUP, "Mosaic")
    tiles = [accepted(pi, staff, group, target.pk, f"tile {i}", contribution=0.5) for i in (1, 2)]
    concatenation = container(ItemType.CONCATENATION, "Pair")
    linked = [accepted(pi, staff, concatenation, target.pk, f"pair {i}") for i in (1, 2)]
    lone = accepted(pi, staff, root, target.pk, "later")
    last = dt.datetime.combine(proposal.period.end, dt.time(3), tzinfo=dt.UTC)
    ob_parts.absolute_windows_set(
        ob_id=lone.pk, windows=[(last, last + dt.timedelta(hours=3))], actor=pi
    )
    night = proposal.period.start + dt.timedelta(days=2)
    at = observable_moment(run.telescope, night, {ob.pk for ob in tiles})
    return NightWorld(
        operator, staff, pi, run.telescope, run, group, tiles, concatenation, linked, lone, at
    )


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory.create(username="nico", roles=[Role.OPERATOR])


@pytest.fixture
def world(operator: User, staff: User, astronomer: User) -> NightWorld:
    return night_world(operator, staff, astronomer)


def ranking_query(world: NightWorld, **extra: str) -> dict[str, str]:
    return {"rank": "1", "at": world.at_text, "seeing_arcsec": "0.8", "transparency": "Clear",
            "wind_restriction": "on", **extra}  # fmt: skip


def ranked_rows(html: str) -> dict[int, tuple[int, float]]:
    """The ranked list: OB id -> (rank, score)."""
    rows = re.findall(
        r'<tr id="ranked-(\d+)" data-ob="\d+" data-rank="(\d+)" data-score="([\d.]+)"', html
    )
    return {int(ob): (int(rank), float(score)) for ob, rank, score in rows}


def filtered_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr id="filtered-(\d+)"', html)}


def night_rows() -> tuple[Any, ...]:
    """Everything the console's writes touch, to show a refused one changed nothing."""
    return (
        list(ObservationBlock.objects.order_by("pk").values_list("pk", "status", "version")),
        list(Visit.objects.order_by("pk").values_list("pk", "state", "ended_at")),
        list(Execution.objects.order_by("pk").values_list("pk", "grade", "aborted")),
        WeatherReading.objects.count(),
    )


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --------------------------------------------------------------------------------------------
# Who
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "staff"])
def test_operators_and_staff_see_the_console_with_the_ranking(world: NightWorld, who: str) -> None:
    # given
    client = logged_in(getattr(world, who))
    # when
    response = client.get(world.console(), ranking_query(world))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    ranked = ranked_rows(html)
    assert {ob.pk for ob in world.tiles} <= set(ranked)
    assert world.lone.pk in filtered_ids(html)
    assert 'data-code="absolute_window"' in html
    assert 'id="rank-form"' in html and 'id="weather-form"' in html
    assert 'id="no-visit"' in html
    assert 'id="night-log-link"' in html


def test_staff_get_links_to_the_obs_pages_and_operators_only_their_names(
    world: NightWorld,
) -> None:
    # given
    tile = world.tiles[0]
    link = f'href="{reverse("phase2:ob", args=[tile.pk])}"'
    # when
    as_staff = logged_in(world.staff).get(world.console(), ranking_query(world))
    as_operator = logged_in(world.operator).get(world.console(), ranking_query(world))
    # then
    assert link in as_staff.content.decode()
    assert link not in as_operator.content.decode()
    assert f">{tile.name}</span>" in as_operator.content.decode()


def test_astronomers_and_reviewers_are_refused_every_night_page(
    world: NightWorld, other_astronomer: User
) -> None:
    # given
    reviewer = UserFactory.create(username="rita", roles=[Role.REVIEWER])
    pk = world.telescope.pk
    gets = [reverse("night:home"), world.console(), reverse("night:ranking", args=[pk])]
    posts = [reverse(f"night:{name}", args=[pk]) for name in ("weather", "start", "complete")]
    posts.append(reverse("night:abort", args=[pk]))
    before = night_rows()
    for user in (world.pi, other_astronomer, reviewer):
        client = logged_in(user)
        # when
        codes = [client.get(url).status_code for url in gets]
        codes += [
            client.post(
                url, {"ob_id": world.tiles[0].pk, "weather-seeing_arcsec": "0.7"}
            ).status_code
            for url in posts
        ]
        # then
        assert codes == [403] * 7, user.username
    assert night_rows() == before


def test_anonymous_visitors_are_sent_to_the_login_page(world: NightWorld) -> None:
    # when
    response = Client().get(world.console())
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_operators_land_on_the_night_home_listing_each_telescope(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    # when
    landing = client.get("/")
    home = client.get(landing["Location"])
    # then
    assert landing["Location"] == reverse("night:home")
    html = home.content.decode()
    assert f'href="{world.console()}"' in html
    assert f'id="telescope-{world.telescope.pk}"' in html


def test_the_night_home_names_the_ob_running_on_a_telescope(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    client.post(reverse("night:start", args=[world.telescope.pk]), {"ob_id": world.tiles[0].pk})
    # when
    html = client.get(reverse("night:home")).content.decode()
    # then
    row = re.search(rf'id="telescope-{world.telescope.pk}">(.*?)</tr>', html, re.S)
    assert row and "running" in row.group(1) and "'tile 1'" in row.group(1)


def test_staff_still_land_on_the_review_overview(world: NightWorld) -> None:
    # when
    landing = logged_in(world.staff).get("/")
    # then
    assert landing["Location"] == reverse("review:overview")


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


def test_recorded_conditions_are_a_reading_and_the_ranking_follows_them(
    world: NightWorld,
) -> None:
    # given: a ranking whose seeing was typed in the panel
    client = logged_in(world.operator)
    back = f"rank=1&at={world.at_text}&seeing_arcsec=3.0&scorer=default"
    # when
    response = client.post(
        reverse("night:weather", args=[world.telescope.pk]),
        {
            "weather-seeing_arcsec": "0.8",
            "weather-transparency": "Clear",
            "weather-wind_speed_ms": "4.5",
            "weather-wind_direction_deg": "270",
            "weather-water_vapour_mm": "2.5",
            "back": back,
        },
    )
    # then: the reading is stored, the console keeps the time and drops the typed seeing
    reading = WeatherReading.objects.get()
    assert (reading.seeing_arcsec, reading.transparency, reading.wind_direction_deg) == (
        0.8,
        "Clear",
        270.0,
    )
    assert reading.source == "operator" and reading.author == world.operator
    location = urlsplit(response["Location"])
    assert location.path == world.console()
    assert parse_qs(location.query) == {
        "rank": ["1"],
        "at": [world.at_text],
        "scorer": ["default"],
    }
    page = client.get(response["Location"]).content.decode()
    assert 'id="reading-seeing">0.80″' in page
    assert {ob.pk for ob in world.tiles} <= set(ranked_rows(page))
    assert 'placeholder="0.8 (latest)"' in page


def test_conditions_out_of_range_are_shown_and_nothing_is_recorded(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    # when
    response = client.post(
        reverse("night:weather", args=[world.telescope.pk]),
        {"weather-seeing_arcsec": "-1", "weather-wind_direction_deg": "400"},
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must be more than 0 and at most 10 arcsec." in html
    assert "Must be at least 0 and at most 360 degrees." in html
    assert WeatherReading.objects.count() == 0


def test_recording_nothing_is_refused(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).post(
        reverse("night:weather", args=[world.telescope.pk]), {}
    )
    # then
    assert response.status_code == 200
    assert "Give at least one of seeing, transparency, wind or water vapour." in (
        response.content.decode()
    )
    assert WeatherReading.objects.count() == 0


def test_without_a_reading_nor_a_typed_seeing_the_console_asks_for_it(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).get(world.console())
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "No weather reading gives the seeing" in html
    assert 'id="ranked"' not in html


# --------------------------------------------------------------------------------------------
# The panel and the fragment
# --------------------------------------------------------------------------------------------


def test_the_fragment_is_the_ranking_alone(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).get(
        reverse("night:ranking", args=[world.telescope.pk]), ranking_query(world)
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="rank-form"' not in html
    assert {ob.pk for ob in world.tiles} <= set(ranked_rows(html))
    assert world.lone.pk in filtered_ids(html)
    # every Start button comes back to the same ranking
    assert f'name="back" value="rank=1&amp;at={world.at_text.replace(":", "%3A")}' in html


def test_a_bad_request_to_the_fragment_is_a_400_naming_each_field(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).get(
        reverse("night:ranking", args=[world.telescope.pk]),
        ranking_query(
            world, seeing_arcsec="fog", airmass_tolerance_pct="500", at="2300-01-01T00:00"
        ),
    )
    # then
    assert response.status_code == 400
    html = response.content.decode()
    assert "Seeing (arcsec): Enter a number." in html
    assert "Airmass tolerance (%): Must be at least 0 and at most 100 %." not in html  # shape first
    assert 'id="ranked"' not in html


def test_ranges_are_checked_once_the_shape_is_right(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).get(
        reverse("night:ranking", args=[world.telescope.pk]),
        ranking_query(world, airmass_tolerance_pct="500", at="2300-01-01T00:00"),
    )
    # then
    assert response.status_code == 400
    html = response.content.decode()
    assert "Airmass tolerance (%): Must be at least 0 and at most 100 %." in html
    assert "Time (UTC): Give a time from 1990 to 2099 (UTC)." in html


def test_the_options_reach_the_engine(world: NightWorld) -> None:
    # given: the Sun never goes below -90 degrees
    client = logged_in(world.operator)
    url = reverse("night:ranking", args=[world.telescope.pk])
    # when
    html = client.get(url, ranking_query(world, sun_max_elevation_deg="-90")).content.decode()
    # then
    assert ranked_rows(html) == {}
    assert {ob.pk for ob in world.tiles} <= filtered_ids(html)
    assert 'data-code="sun_elevation"' in html


def test_the_justification_adds_up_to_the_score(world: NightWorld) -> None:
    # when
    html = logged_in(world.operator).get(world.console(), ranking_query(world)).content.decode()
    # then
    tile = world.tiles[0]
    why = re.search(
        rf'<details class="justification" id="why-{tile.pk}">(.*?)</details>', html, re.S
    )
    assert why is not None
    points = [float(p) for p in re.findall(r'<td class="num">(-?[\d.]+)</td>', why.group(1))]
    assert "Run&#x27;s rank class" in why.group(1)
    assert sum(points) == pytest.approx(ranked_rows(html)[tile.pk][1], abs=0.05)


def test_an_unticked_box_is_off_once_the_panel_was_submitted() -> None:
    # when
    fresh = RankForm.data_from({})
    submitted = RankForm.data_from({"rank": "1", "at": "2027-09-17T03:00"})
    # then: the engine's defaults, then what the form said
    assert fresh["wind_restriction"] == "on" and "start_only" not in fresh
    assert fresh["zenith_avoidance_deg"] == "2" and fresh["scorer"] == "default"
    assert "wind_restriction" not in submitted and submitted["at"] == "2027-09-17T03:00"


# --------------------------------------------------------------------------------------------
# Start, complete, abort
# --------------------------------------------------------------------------------------------


def test_start_then_complete_with_grade_a_through_the_page(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    query = ranking_query(world)
    before = ranked_rows(client.get(world.console(), query).content.decode())
    first, second = sorted(world.tiles, key=lambda ob: before[ob.pk][0])
    back = client.get(world.console(), query).context["back"]
    # when: start the first tile
    started = client.post(
        reverse("night:start", args=[world.telescope.pk]), {"ob_id": first.pk, "back": back}
    )
    # then
    assert started.status_code == 302 and started["Location"].endswith("#visit")
    assert ObservationBlock.objects.get(pk=first.pk).status == OBStatus.STARTED
    visit = Visit.objects.get(state=VisitState.RUNNING)
    page = client.get(started["Location"]).content.decode()
    assert f'id="visit-ob-{first.pk}"' in page and 'id="complete-form"' in page
    # when: complete it with grade A
    completed = client.post(
        reverse("night:complete", args=[world.telescope.pk]),
        {
            "complete-visit": visit.pk,
            "complete-grade": "A",
            "complete-comment": "fine",
            "back": back,
        },
    )
    # then: the OB is done, the list changes, the group's other tile scores higher
    assert completed.status_code == 302
    assert ObservationBlock.objects.get(pk=first.pk).status == OBStatus.COMPLETED
    execution = Execution.objects.get(visit=visit)
    assert (execution.grade, execution.comment) == ("A", "fine")
    after = ranked_rows(client.get(completed["Location"]).content.decode())
    assert first.pk not in after
    assert after[second.pk][1] > before[second.pk][1]
    assert after[second.pk][0] <= before[second.pk][0]


def test_a_second_start_on_a_busy_telescope_says_what_runs(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    url = reverse("night:start", args=[world.telescope.pk])
    client.post(url, {"ob_id": world.tiles[0].pk})
    before = night_rows()
    # when
    response = client.post(url, {"ob_id": world.tiles[1].pk})
    # then
    assert response.status_code == 200
    message = messages_of(response)[-1]  # after the earlier writes' own
    assert f"{world.telescope.name} is busy with visit" in message
    assert "'tile 1'" in message and "complete or abort it first" in message
    assert night_rows() == before


def test_starting_an_ob_not_startable_is_refused_with_its_status(world: NightWorld) -> None:
    # given: the first tile completed already
    client = logged_in(world.operator)
    client.post(reverse("night:start", args=[world.telescope.pk]), {"ob_id": world.tiles[0].pk})
    visit = Visit.objects.get()
    client.post(
        reverse("night:complete", args=[world.telescope.pk]),
        {"complete-visit": visit.pk, "complete-grade": "B"},
    )
    before = night_rows()
    # when
    response = client.post(
        reverse("night:start", args=[world.telescope.pk]), {"ob_id": world.tiles[0].pk}
    )
    # then
    assert response.status_code == 200
    message = messages_of(response)[-1]  # after the earlier writes' own
    assert "Cannot start" in message and "'C'" in message
    assert night_rows() == before


def test_start_without_an_ob_is_refused(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).post(
        reverse("night:start", args=[world.telescope.pk]), {"ob_id": "x"}
    )
    # then
    assert response.status_code == 200
    assert messages_of(response) == ["Choose an OB to start from the ranked list."]
    assert not Visit.objects.exists()


def test_complete_without_a_grade_keeps_the_visit_running(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    client.post(reverse("night:start", args=[world.telescope.pk]), {"ob_id": world.tiles[0].pk})
    visit = Visit.objects.get()
    before = night_rows()
    # when
    response = client.post(
        reverse("night:complete", args=[world.telescope.pk]),
        {"complete-visit": visit.pk, "complete-grade": ""},
    )
    # then
    assert response.status_code == 200
    assert f"Give a QC grade for OB {world.tiles[0].pk}." in response.content.decode()
    assert night_rows() == before


def test_a_form_about_a_visit_that_ended_is_refused(world: NightWorld) -> None:
    # given: the page showed visit N, which ended; another one runs now
    client = logged_in(world.operator)
    start = reverse("night:start", args=[world.telescope.pk])
    client.post(start, {"ob_id": world.tiles[0].pk})
    old = Visit.objects.get()
    client.post(
        reverse("night:abort", args=[world.telescope.pk]),
        {"abort-visit": old.pk, "abort-reason": "clouds"},
    )
    client.post(start, {"ob_id": world.tiles[1].pk})
    before = night_rows()
    # when
    response = client.post(
        reverse("night:complete", args=[world.telescope.pk]),
        {"complete-visit": old.pk, "complete-grade": "A"},
    )
    # then
    assert response.status_code == 200
    message = messages_of(response)[-1]  # after the earlier writes' own
    assert message.startswith("The visit shown has ended")
    assert night_rows() == before


def test_complete_when_nothing_runs_says_so(world: NightWorld) -> None:
    # when
    response = logged_in(world.operator).post(
        reverse("night:complete", args=[world.telescope.pk]),
        {"complete-visit": "1", "complete-grade": "A"},
    )
    # then
    assert response.status_code == 200
    assert messages_of(response) == [
        f"No visit is running on {world.telescope.name} (it may have just ended)."
    ]


def test_an_abort_needs_a_reason_then_aborts_the_ob(world: NightWorld) -> None:
    # given
    client = logged_in(world.operator)
    client.post(reverse("night:start", args=[world.telescope.pk]), {"ob_id": world.tiles[0].pk})
    visit = Visit.objects.get()
    before = night_rows()
    url = reverse("night:abort", args=[world.telescope.pk])
    # when
    refused = client.post(url, {"abort-visit": visit.pk, "abort-reason": "  "})
    # then
    assert refused.status_code == 200
    assert "Give the reason for the abort." in refused.content.decode()
    assert night_rows() == before
    # when
    aborted = client.post(url, {"abort-visit": visit.pk, "abort-reason": "clouds"})
    # then
    assert aborted.status_code == 302
    assert ObservationBlock.objects.get(pk=world.tiles[0].pk).status == OBStatus.ABORTED
    assert Execution.objects.get(visit=visit).reason == "clouds"


def test_a_concatenation_starts_whole_and_takes_a_grade_per_ob(world: NightWorld) -> None:
    # given
    client = logged_in(world.staff)
    first, second = world.linked
    # when
    client.post(reverse("night:start", args=[world.telescope.pk]), {"ob_id": second.pk})
    # then: both run, and the complete form offers a grade per OB
    visit = Visit.objects.get()
    assert visit.concatenation_id == world.concatenation.pk
    page = client.get(world.console()).content.decode()
    assert f'name="complete-grade_{first.pk}"' in page
    assert f'name="complete-grade_{second.pk}"' in page
    # when
    response = client.post(
        reverse("night:complete", args=[world.telescope.pk]),
        {"complete-visit": visit.pk, "complete-grade": "A", f"complete-grade_{second.pk}": "C"},
    )
    # then
    assert response.status_code == 302
    statuses = dict(
        ObservationBlock.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "status")
    )
    assert statuses == {first.pk: OBStatus.COMPLETED, second.pk: OBStatus.MUST_REPEAT}
