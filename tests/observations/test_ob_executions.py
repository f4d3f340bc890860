"""An OB's executions shown to its astronomers: a section of the OB's page, and p2's
``GET .../obs/{id}/executions/?night=YYYY-MM-DD`` (the PI, co-investigators and staff; 404 for
anyone else; a bad night is a 400)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from dataflow.accounts.models import Role
from observations import night
from observations.models import Execution, ObservationBlock
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.scheduling.test_nightlog import HOUR, NightWorld, night_world

pytestmark = pytest.mark.django_db


def executions_url(ob_id: int) -> str:
    return f"/api/v1/phase2/obs/{ob_id}/executions/"


def two_nights(world: NightWorld) -> tuple[int, int]:
    """OB 0 graded C on the first night, then A the next night; the executions' ids."""
    op, ob = world.operator, world.obs[0]
    first = night.visit_start(
        telescope_id=world.telescope_id, ob_id=ob.pk, actor=op, at=world.evening
    )
    night.visit_complete(
        visit_id=first.pk, grade="C", actor=op, comment="Seeing 1.4″.", at=world.evening + HOUR
    )
    later = world.evening + dt.timedelta(days=1)
    second = night.visit_start(telescope_id=world.telescope_id, ob_id=ob.pk, actor=op, at=later)
    night.visit_complete(visit_id=second.pk, grade="A", actor=op, at=later + HOUR)
    return (
        Execution.objects.get(visit=first).pk,
        Execution.objects.get(visit=second).pk,
    )


def test_the_obs_page_shows_its_executions_to_its_astronomers() -> None:
    # given an OB executed twice (graded C, then A) and one aborted
    world = night_world()
    first, second = two_nights(world)
    executed_night_abort(world)
    for user in (world.phase2.pi, world.phase2.coi, world.phase2.staff):
        c = Client()
        c.force_login(user)
        # when they open the OB's page
        html = c.get(reverse("phase2:ob", kwargs={"ob_id": world.obs[0].pk})).content.decode()
        # then its section lists both executions with grade, outcome, conditions and charge
        section = html[html.index('id="executions"') : html.index('id="history"')]
        assert f'id="execution-{first}"' in section and f'id="execution-{second}"' in section
        assert "must repeat" in section and "completed" in section
        assert "Seeing 1.4″." in section
        charge = night.charge_seconds(world.obs[0].execution_time_s)
        assert f">{charge}<" in section
    # and the aborted OB's page shows the abort with its reason
    c = Client()
    c.force_login(world.phase2.pi)
    html = c.get(reverse("phase2:ob", kwargs={"ob_id": world.obs[1].pk})).content.decode()
    assert "aborted" in html and "Aborted: Humidity above 90 %." in html


def executed_night_abort(world: NightWorld) -> None:
    """OB 1 started and aborted two days later (OB 0 is done by then)."""
    op = world.operator
    at = world.evening + dt.timedelta(days=2)
    visit = night.visit_start(
        telescope_id=world.telescope_id, ob_id=world.obs[1].pk, actor=op, at=at
    )
    night.visit_abort(visit_id=visit.pk, reason="Humidity above 90 %.", actor=op, at=at + HOUR / 6)


def test_an_ob_never_executed_says_so() -> None:
    world = night_world(n_obs=1)
    c = Client()
    c.force_login(world.phase2.pi)
    html = c.get(reverse("phase2:ob", kwargs={"ob_id": world.obs[0].pk})).content.decode()
    assert 'id="executions-empty"' in html


def test_the_api_lists_an_obs_executions_oldest_first_with_their_records() -> None:
    # given an OB executed on two nights
    world = night_world(n_obs=1)
    first, second = two_nights(world)
    # when its PI asks for its executions
    response = bearer_client(world.phase2.pi).get(executions_url(world.obs[0].pk))
    # then both come, oldest first, with the OB's version as ETag
    assert response.status_code == 200
    assert response["ETag"] == f'"{ObservationBlock.objects.get(pk=world.obs[0].pk).version}"'
    body = response.json()
    assert [e["execution_id"] for e in body] == [first, second]
    one = body[0]
    assert one["night"] == world.night.isoformat()
    assert one["start"].startswith(f"{world.night:%Y-%m-%d}T23:00:00")
    assert (one["grade"], one["outcome"], one["aborted"]) == ("C", "must repeat", False)
    assert one["comment"] == "Seeing 1.4″."
    assert one["charged_s"] == night.charge_seconds(world.obs[0].execution_time_s)
    assert one["refunded_s"] == 0
    assert set(one["conditions"]) == {
        "seeing_arcsec",
        "transparency",
        "wind_speed_ms",
        "wind_direction_deg",
        "water_vapour_mm",
    }
    assert body[1]["outcome"] == "completed"


def test_the_api_filters_by_night() -> None:
    # given an OB executed on two nights
    world = night_world(n_obs=1)
    first, second = two_nights(world)
    client = bearer_client(world.phase2.coi)
    url = executions_url(world.obs[0].pk)
    # when the co-investigator asks for each night, and a night without executions
    by_night = {
        day: [e["execution_id"] for e in client.get(url, {"night": day.isoformat()}).json()]
        for day in (
            world.night,
            world.night + dt.timedelta(days=1),
            world.night - dt.timedelta(days=1),
        )
    }
    # then each night has its own
    assert list(by_night.values()) == [[first], [second], []]


@pytest.mark.parametrize("bad", ["2027-02-30", "tomorrow", "11/03/2027", "2027-3-1x"])
def test_a_bad_night_is_a_400_naming_the_parameter(bad: str) -> None:
    world = night_world(n_obs=1)
    response = bearer_client(world.phase2.pi).get(executions_url(world.obs[0].pk), {"night": bad})
    assert response.status_code == 400
    assert "night" in response.json()["errors"]


def test_only_the_team_and_staff_see_an_obs_executions() -> None:
    # given an OB with an execution
    world = night_world(n_obs=1)
    two_nights(world)
    url = executions_url(world.obs[0].pk)
    # then the team and staff read them; anyone else gets 404, even with a bad night
    for user in (world.phase2.pi, world.phase2.coi, world.phase2.staff):
        assert bearer_client(user).get(url).status_code == 200
    reviewer = UserFactory.create(username="rita", roles=[Role.REVIEWER])
    for user in (world.phase2.outsider, world.operator, reviewer):
        assert bearer_client(user).get(url).status_code == 404
        assert bearer_client(user).get(url, {"night": "bad"}).status_code == 404
    assert bearer_client(world.phase2.pi).get(executions_url(999_999)).status_code == 404
    assert APIClient().get(url).status_code == 401


def test_the_api_costs_the_same_queries_for_one_execution_or_many() -> None:
    world = night_world(n_obs=1)
    client = bearer_client(world.phase2.pi)
    url = executions_url(world.obs[0].pk)
    op, ob = world.operator, world.obs[0]
    visit = night.visit_start(
        telescope_id=world.telescope_id, ob_id=ob.pk, actor=op, at=world.evening
    )
    night.visit_complete(visit_id=visit.pk, grade="C", actor=op, at=world.evening + HOUR)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).json()) == 1
    for k in (1, 2, 3):
        at = world.evening + dt.timedelta(days=k)
        v = night.visit_start(telescope_id=world.telescope_id, ob_id=ob.pk, actor=op, at=at)
        night.visit_complete(visit_id=v.pk, grade="C", actor=op, at=at + HOUR)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url).json()) == 4
    assert len(many.captured_queries) == len(one.captured_queries)
