"""The night API (scheduling.api_nightops, under /api/v1/night/): the ranking with conditions
and options as query parameters, weather readings, visits started, completed, aborted and read;
operators and staff only. The world is the console's (tests/scheduling/test_night_console)."""

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from dataflow.accounts.models import Role
from observations.models import Execution, ObservationBlock, OBStatus, Visit, WeatherReading
from scheduling import console
from scheduling.api_nightops import RankingQuery, RankingSerializer, ranking_answer
from tests.conftest import bearer_client
from tests.factories import TelescopeFactory, UserFactory
from tests.scheduling.test_night_console import NightWorld, night_rows, night_world

pytestmark = pytest.mark.django_db

API = "/api/v1/night"


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory.create(username="nico", roles=[Role.OPERATOR])


@pytest.fixture
def world(operator: User, staff: User, astronomer: User) -> NightWorld:
    return night_world(operator, staff, astronomer)


@pytest.fixture
def api(world: NightWorld) -> APIClient:
    return bearer_client(world.operator)


def ranking_url(world: NightWorld) -> str:
    return f"{API}/telescopes/{world.telescope.pk}/ranking/"


def iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def params(world: NightWorld, **extra: Any) -> dict[str, Any]:
    return {"at": iso(world.at), "seeing_arcsec": 0.8, "transparency": "Clear", **extra}


def start(api: APIClient, world: NightWorld, ob: ObservationBlock) -> Any:
    return api.post(
        f"{API}/visits/", {"telescope": world.telescope.pk, "ob_id": ob.pk}, format="json"
    )


# --------------------------------------------------------------------------------------------
# The ranking
# --------------------------------------------------------------------------------------------


def test_the_ranking_answers_the_ranked_and_the_filtered_obs(
    world: NightWorld, api: APIClient
) -> None:
    # when
    response = api.get(ranking_url(world), params(world))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["at"] == iso(world.at)
    assert body["telescope"] == world.telescope.pk and body["scorer"] == "default"
    ranked = {row["ob_id"]: row for row in body["ranked"]}
    assert {ob.pk for ob in world.tiles} <= set(ranked)
    tile = ranked[world.tiles[0].pk]
    assert tile["container_type"] == "Group" and tile["container"] == "Mosaic"
    assert tile["score"] == pytest.approx(sum(tile["components"].values()))
    assert [row["rank"] for row in body["ranked"]] == list(range(1, len(body["ranked"]) + 1))
    pair = ranked[world.linked[0].pk]
    assert pair["concatenation"] == [ob.pk for ob in world.linked]
    [lone] = [row for row in body["filtered"] if row["ob_id"] == world.lone.pk]
    assert [r["code"] for r in lone["reasons"]] == ["absolute_window"]
    assert lone["observable_from"] is None
    assert body["conditions"] == {
        "seeing_arcsec": 0.8,
        "transparency": "Clear",
        "wind_speed_ms": 0.0,
        "wind_direction_deg": 0.0,
        "reading_id": None,
        "reading_at": None,
    }
    assert body["options"]["zenith_avoidance_deg"] == 2.0 and not body["options"]["start_only"]
    assert (body["never_tonight"], body["needs_better_weather"]) == (0, 0)


def test_the_ranking_served_is_what_its_declared_serializer_gives(
    world: NightWorld, api: APIClient
) -> None:
    # The endpoint serves its answer without the serializer (speed): the JSON must still be
    # exactly the declared shape and values, ranked and filtered rows included.
    request = RequestFactory().get("/", params(world))
    query = RankingQuery(data=request.GET.dict())
    assert query.is_valid()
    req = console.rank_request(world.telescope.pk, query.validated_data)
    result = console.ranking(world.telescope.pk, req, limit=50, filtered_limit=50)
    declared = json.loads(
        JSONRenderer().render(RankingSerializer(ranking_answer(req, result)).data)
    )
    # when
    served = api.get(ranking_url(world), params(world)).json()
    # then: the same, but for the timings measured by each call
    assert declared["ranked"] and declared["filtered"]
    for body in (served, declared):
        body.pop("timings")
    assert served == declared


def test_obs_needing_better_weather_are_counted(world: NightWorld, api: APIClient) -> None:
    # when: the seeing is worse than every OB allows
    body = api.get(ranking_url(world), params(world, seeing_arcsec=3.0)).json()
    # then: all filtered; counted apart, all but the concatenation's (always evaluated)
    assert body["ranked"] == [] and body["filtered_total"] == 5
    assert body["needs_better_weather"] == 3
    assert all("seeing" in [r["code"] for r in row["reasons"]] for row in body["filtered"])


def test_the_options_and_the_limits_are_applied(world: NightWorld, api: APIClient) -> None:
    # when
    response = api.get(
        ranking_url(world),
        params(world, sun_max_elevation_deg=-90, start_only="true", filtered_limit=2),
    )
    # then: the Sun is never that low: everything is filtered, two shown
    body = response.json()
    assert response.status_code == 200
    assert body["ranked"] == [] and body["ranked_total"] == 0
    assert body["filtered_total"] == 5 and len(body["filtered"]) == 2
    assert body["options"]["start_only"] is True
    assert all("sun_elevation" in [r["code"] for r in row["reasons"]] for row in body["filtered"])


def test_blank_conditions_come_from_the_latest_reading_at_that_time(
    world: NightWorld, api: APIClient
) -> None:
    # given: a reading before the time ranked, and a later one that must not count
    post = f"{API}/telescopes/{world.telescope.pk}/weather/"
    early = iso(world.at - dt.timedelta(minutes=20))
    late = iso(world.at + dt.timedelta(hours=1))
    api.post(post, {"at": early, "seeing_arcsec": 0.7, "wind_speed_ms": 3}, format="json")
    api.post(post, {"at": late, "seeing_arcsec": 2.5}, format="json")
    # when
    response = api.get(ranking_url(world), {"at": iso(world.at)})
    # then
    conditions = response.json()["conditions"]
    assert conditions["seeing_arcsec"] == 0.7 and conditions["wind_speed_ms"] == 3.0
    assert conditions["transparency"] == "Clear"  # not measured: the engine's default
    assert conditions["reading_at"] == early


def test_without_seeing_given_or_measured_the_ranking_is_a_400(
    world: NightWorld, api: APIClient
) -> None:
    # when
    response = api.get(ranking_url(world), {"at": iso(world.at)})
    # then
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["seeing_arcsec"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"seeing_arcsec": "fog"}, "seeing_arcsec"),
        ({"seeing_arcsec": "0"}, "seeing_arcsec"),
        ({"seeing_arcsec": "nan"}, "seeing_arcsec"),
        ({"airmass_tolerance_pct": "500"}, "airmass_tolerance_pct"),
        ({"zenith_avoidance_deg": "-1"}, "zenith_avoidance_deg"),
        ({"transparency": "Murky"}, "transparency"),
        ({"scorer": "fastest"}, "scorer"),
        ({"at": "2300-01-01T00:00:00Z"}, "at"),
        ({"at": "tonight"}, "at"),
        ({"start_only": "perhaps"}, "start_only"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_ranking_parameters_are_400_naming_the_field(
    world: NightWorld, api: APIClient, query: dict[str, str], field: str
) -> None:
    # when
    response = api.get(ranking_url(world), {**params(world), **query})
    # then
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_an_unknown_telescope_is_a_404(world: NightWorld, api: APIClient) -> None:
    # when
    response = api.get(f"{API}/telescopes/999999/ranking/", params(world))
    # then
    assert response.status_code == 404


def test_only_operators_and_staff_rank(world: NightWorld, other_astronomer: User) -> None:
    # given
    reviewer = UserFactory.create(username="rita", roles=[Role.REVIEWER])
    # when
    codes = {
        who.username: bearer_client(who).get(ranking_url(world), params(world)).status_code
        for who in (world.pi, other_astronomer, reviewer, world.staff)
    }
    anonymous = APIClient().get(ranking_url(world), params(world)).status_code
    # then
    assert codes == {"ada": 403, "bob": 403, "rita": 403, "staff": 200}
    assert anonymous == 401


# --------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------


def test_a_weather_station_posts_readings(world: NightWorld) -> None:
    # given: the station's account (an operator's role) and its token
    station = UserFactory.create(username="ws-ut1", roles=[Role.OPERATOR])
    # when
    response = bearer_client(station).post(
        f"{API}/telescopes/{world.telescope.pk}/weather/",
        {"source": "station", "seeing_arcsec": 0.65, "transparency": "Thin",
         "wind_speed_ms": 7.5, "wind_direction_deg": 315, "water_vapour_mm": 1.9},
        format="json",
    )  # fmt: skip
    # then
    assert response.status_code == 201
    body = response.json()
    assert (body["source"], body["author"], body["transparency"]) == ("station", "ws-ut1", "Thin")
    reading = WeatherReading.objects.get()
    assert (reading.seeing_arcsec, reading.wind_direction_deg) == (0.65, 315.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seeing_arcsec": -1}, "seeing_arcsec"),
        ({"wind_direction_deg": 361}, "wind_direction_deg"),
        ({"transparency": "Murky"}, "transparency"),
        ({"seeing_arcsec": 1, "source": "satellite"}, "source"),
        ({}, "conditions"),
        ({"seeing_arcsec": 1, "at": "2027-09-17T03:00:00"}, None),  # naive: UTC, accepted
    ],
)
def test_weather_input_is_checked(
    world: NightWorld, api: APIClient, body: dict[str, Any], field: str | None
) -> None:
    # when
    response = api.post(f"{API}/telescopes/{world.telescope.pk}/weather/", body, format="json")
    # then
    if field is None:
        assert response.status_code == 201
        assert response.json()["at"] == "2027-09-17T03:00:00Z"
        return
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert WeatherReading.objects.count() == 0


def test_astronomers_post_no_weather(world: NightWorld) -> None:
    # when
    response = bearer_client(world.pi).post(
        f"{API}/telescopes/{world.telescope.pk}/weather/", {"seeing_arcsec": 1}, format="json"
    )
    # then
    assert response.status_code == 403
    assert WeatherReading.objects.count() == 0


# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------


def test_start_read_and_complete_a_visit(world: NightWorld, api: APIClient) -> None:
    # when
    started = start(api, world, world.tiles[0])
    # then
    assert started.status_code == 201
    visit = started.json()
    assert visit["state"] == "running" and visit["operator"] == "nico"
    assert [(e["ob_id"], e["ob_status"]) for e in visit["executions"]] == [(world.tiles[0].pk, "S")]
    # when
    read = api.get(f"{API}/visits/{visit['id']}/")
    completed = api.post(
        f"{API}/visits/{visit['id']}/complete/", {"grade": "A", "comment": "ok"}, format="json"
    )
    # then
    assert read.status_code == 200 and read.json()["id"] == visit["id"]
    assert completed.status_code == 200
    done = completed.json()
    assert done["state"] == "done" and done["ended_at"] is not None
    [execution] = done["executions"]
    assert (execution["grade"], execution["ob_status"], execution["comment"]) == ("A", "C", "ok")
    assert execution["charged_s"] > 0


def test_the_group_s_other_ob_ranks_higher_once_one_is_completed(
    world: NightWorld, api: APIClient
) -> None:
    # given
    first, second = world.tiles
    before = {r["ob_id"]: r for r in api.get(ranking_url(world), params(world)).json()["ranked"]}
    visit = start(api, world, first).json()
    api.post(f"{API}/visits/{visit['id']}/complete/", {"grade": "B"}, format="json")
    # when
    after = {r["ob_id"]: r for r in api.get(ranking_url(world), params(world)).json()["ranked"]}
    # then
    assert first.pk not in after
    assert after[second.pk]["components"]["group"] > before[second.pk]["components"]["group"]
    assert after[second.pk]["score"] > before[second.pk]["score"]


def test_a_second_start_on_a_busy_telescope_is_a_409(world: NightWorld, api: APIClient) -> None:
    # given
    start(api, world, world.tiles[0])
    before = night_rows()
    # when
    response = bearer_client(world.staff).post(
        f"{API}/visits/", {"telescope": world.telescope.pk, "ob_id": world.tiles[1].pk},
        format="json",
    )  # fmt: skip
    # then
    assert response.status_code == 409
    assert "is busy with visit" in response.json()["detail"]
    assert night_rows() == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, 400, "telescope"),
        ({"ob_id": 999999}, 400, "ob_id"),
        ({"ob_id": "x"}, 400, "ob_id"),
        ({"at": "2300-01-01T00:00:00Z"}, 400, "at"),
        ({"seeing_arcsec": 99}, 400, "seeing_arcsec"),
    ],
)
def test_start_input_is_checked(
    world: NightWorld, api: APIClient, body: dict[str, Any], code: int, field: str
) -> None:
    # given
    values = {"telescope": world.telescope.pk, "ob_id": world.tiles[0].pk, **body}
    if field == "telescope":
        values.pop("telescope")
    # when
    response = api.post(f"{API}/visits/", values, format="json")
    # then
    assert response.status_code == code
    assert field in response.json()["errors"]
    assert not Visit.objects.exists()


def test_an_ob_starts_only_on_its_run_s_telescope(world: NightWorld, api: APIClient) -> None:
    # given
    elsewhere = TelescopeFactory.create(name="UT9", site=world.telescope.site)
    # when
    response = api.post(
        f"{API}/visits/", {"telescope": elsewhere.pk, "ob_id": world.tiles[0].pk}, format="json"
    )
    # then
    assert response.status_code == 400
    assert "ob_id" in response.json()["errors"]


def test_a_concatenation_is_graded_per_ob(world: NightWorld, api: APIClient) -> None:
    # given
    first, second = world.linked
    visit = start(api, world, first).json()
    assert [e["ob_id"] for e in visit["executions"]] == [first.pk, second.pk]
    url = f"{API}/visits/{visit['id']}/complete/"
    # when: a key that is no OB id, an OB outside the visit, then the grades
    bad_key = api.post(url, {"grade": "A", "grades": {"one": "A"}}, format="json")
    outside = api.post(url, {"grade": "A", "grades": {str(world.tiles[0].pk): "A"}}, format="json")
    done = api.post(url, {"grade": "A", "grades": {str(second.pk): "C"}}, format="json")
    # then
    assert bad_key.status_code == 400 and "grades" in bad_key.json()["errors"]
    assert outside.status_code == 400 and "grades" in outside.json()["errors"]
    assert done.status_code == 200
    grades = {e["ob_id"]: (e["grade"], e["ob_status"]) for e in done.json()["executions"]}
    assert grades == {first.pk: ("A", "C"), second.pk: ("C", "M")}


def test_complete_input_and_state_are_checked(world: NightWorld, api: APIClient) -> None:
    # given
    visit = start(api, world, world.tiles[0]).json()
    url = f"{API}/visits/{visit['id']}/complete/"
    before = night_rows()
    # when
    no_grade = api.post(url, {}, format="json")
    bad_grade = api.post(url, {"grade": "E"}, format="json")
    too_early = api.post(url, {"grade": "A", "at": "2000-01-01T00:00:00Z"}, format="json")
    # then
    assert no_grade.status_code == 400 and "grade" in no_grade.json()["errors"]
    assert bad_grade.status_code == 400 and "grade" in bad_grade.json()["errors"]
    assert too_early.status_code == 400 and "at" in too_early.json()["errors"]
    assert night_rows() == before
    # when: completed, then again
    assert api.post(url, {"grade": "A"}, format="json").status_code == 200
    again = api.post(url, {"grade": "A"}, format="json")
    # then
    assert again.status_code == 409


def test_abort_needs_a_reason(world: NightWorld, api: APIClient) -> None:
    # given
    visit = start(api, world, world.tiles[0]).json()
    url = f"{API}/visits/{visit['id']}/abort/"
    # when
    refused = api.post(url, {"reason": " "}, format="json")
    aborted = api.post(url, {"reason": "wind"}, format="json")
    # then
    assert refused.status_code == 400 and "reason" in refused.json()["errors"]
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "aborted"
    assert ObservationBlock.objects.get(pk=world.tiles[0].pk).status == OBStatus.ABORTED
    assert Execution.objects.get().reason == "wind"


def test_visits_are_for_operators_and_staff(
    world: NightWorld, api: APIClient, other_astronomer: User
) -> None:
    # given
    visit = start(api, world, world.tiles[0]).json()
    before = night_rows()
    base = f"{API}/visits/{visit['id']}/"
    # when
    for who in (world.pi, other_astronomer):
        client = bearer_client(who)
        codes = [
            client.get(base).status_code,
            client.post(f"{base}complete/", {"grade": "A"}, format="json").status_code,
            client.post(f"{base}abort/", {"reason": "x"}, format="json").status_code,
            client.post(
                f"{API}/visits/", {"telescope": world.telescope.pk, "ob_id": world.tiles[1].pk},
                format="json",
            ).status_code,
        ]  # fmt: skip
        # then
        assert codes == [403] * 4
    assert night_rows() == before
    assert APIClient().get(base).status_code == 401


def test_an_unknown_visit_is_a_404(world: NightWorld, api: APIClient) -> None:
    # when
    codes = [
        api.get(f"{API}/visits/999999/").status_code,
        api.post(f"{API}/visits/999999/complete/", {"grade": "A"}, format="json").status_code,
        api.post(f"{API}/visits/12345678901234/abort/", {"reason": "x"}, format="json").status_code,
    ]
    # then
    assert codes == [404, 404, 404]
