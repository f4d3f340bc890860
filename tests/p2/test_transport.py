"""The p2 layer's transport rules and the endpoints a tutorial does not reach, in process
(the live-server tests drive the real client)."""

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from observations import services
from observations.models import (
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    Visit,
    VisitState,
)
from tests.observations.conftest import Phase2

P2 = "/p2/api/v1"


class P2Client:
    """Requests as the p2api client sends them: Bearer token, ``Accept: application/json``,
    the literal body ``null`` without a JSON Content-Type when there is no data."""

    def __init__(self, user: Any | None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {"Accept": "application/json"}
        if user is not None:
            token = Token.objects.get_or_create(user=user)[0]
            self.headers["Authorization"] = f"Bearer {token.key}"

    def __call__(
        self, method: str, path: str, data: Any = None, etag: str | None = None, **extra: Any
    ) -> Any:
        headers = dict(self.headers)
        if etag is not None:
            headers["If-Match"] = etag
        kind = "application/json" if data is not None else "text/plain"  # as wsgiref fills in
        return self.client.generic(
            method, P2 + path, json.dumps(data), content_type=kind, headers=headers, **extra
        )


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def p2(phase2: Phase2) -> P2Client:
    return P2Client(phase2.pi)


@pytest.fixture
def ob(phase2: Phase2) -> ObservationBlock:
    return services.ob_create(container_id=phase2.root(phase2.sm).pk, name="OB 1", actor=phase2.pi)


def test_null_bodies_are_accepted_and_every_answer_has_a_content_type(
    p2: P2Client, ob: ObservationBlock
) -> None:
    # when: a GET and a body-less POST with the literal body null
    got = p2("GET", f"/obsBlocks/{ob.pk}")
    timed = p2("POST", f"/obsBlocks/{ob.pk}/executionTime")
    # then
    assert got.status_code == 200 and got["Content-Type"] == "application/json"
    assert got["ETag"] == '"1"'
    assert timed.status_code == 200 and timed.json()["obId"] == ob.pk


def test_a_delete_answers_204_as_text_with_an_empty_body(
    p2: P2Client, ob: ObservationBlock
) -> None:
    # when
    deleted = p2("DELETE", f"/obsBlocks/{ob.pk}", etag='"1"')
    # then: never an empty application/json answer
    assert deleted.status_code == 204
    assert deleted["Content-Type"].startswith("text/plain")
    assert deleted.content == b""
    assert not ObservationBlock.objects.filter(pk=ob.pk).exists()


def test_without_a_token_the_answer_is_401_with_an_error(ob: ObservationBlock) -> None:
    # when
    answer = P2Client(None)("GET", f"/obsBlocks/{ob.pk}")
    # then
    assert answer.status_code == 401
    assert answer["Content-Type"] == "application/json"
    assert set(answer.json()) == {"error"}


def test_a_stale_version_is_412_and_changes_nothing(p2: P2Client, ob: ObservationBlock) -> None:
    # given: the OB as the client read it, then changed elsewhere
    read = p2("GET", f"/obsBlocks/{ob.pk}")
    p2("PUT", f"/obsBlocks/{ob.pk}", {"name": "Renamed"}, etag=read["ETag"])
    body = read.json()
    body["name"] = "Stale"
    # when
    answer = p2("PUT", f"/obsBlocks/{ob.pk}", body, etag=read["ETag"])
    # then
    assert answer.status_code == 412
    assert "changed" in answer.json()["error"]
    assert ObservationBlock.objects.get(pk=ob.pk).name == "Renamed"


def test_saving_an_untouched_ob_changes_nothing(p2: P2Client, ob: ObservationBlock) -> None:
    # given: a new OB without coordinates, shown as 00:00:00.000 as p2 does
    read = p2("GET", f"/obsBlocks/{ob.pk}")
    assert read.json()["target"]["ra"] == "00:00:00.000"
    # when: the client sends it back as it is
    saved = p2("PUT", f"/obsBlocks/{ob.pk}", read.json(), etag=read["ETag"])
    # then
    assert saved.status_code == 200 and saved["ETag"] == read["ETag"]
    assert ObservationBlock.objects.get(pk=ob.pk).ra_deg is None


def test_bad_input_names_the_p2_field_and_changes_nothing(
    p2: P2Client, ob: ObservationBlock
) -> None:
    # when
    answer = p2("PUT", f"/obsBlocks/{ob.pk}", {"target": {"ra": "25:00:00"}, "name": "X"})
    # then
    assert answer.status_code == 400
    assert "target.ra" in answer.json()["error"]
    assert ObservationBlock.objects.get(pk=ob.pk).name == "OB 1"


def complete_ob(p2: P2Client, container_id: int) -> int:
    """An OB that passes verification (target, templates, filter), built through p2."""
    created = p2("POST", f"/containers/{container_id}/items", {"itemType": "OB", "name": "OB"})
    ob_id = created.json()["obId"]
    body = created.json()
    body["target"].update({"name": "NGC 253", "ra": "00:47:33.1", "dec": "-25:17:18"})
    p2("PUT", f"/obsBlocks/{ob_id}", body, etag=created["ETag"])
    p2("POST", f"/obsBlocks/{ob_id}/templates", {"templateName": "FORS2_img_acq"})
    science = p2("POST", f"/obsBlocks/{ob_id}/templates", {"templateName": "FORS2_img_obs"})
    template = science.json()
    for parameter in template["parameters"]:
        if parameter["name"] == "INS.FILT":
            parameter["value"] = "R_SPECIAL"
    tid = template["templateId"]
    saved = p2("PUT", f"/obsBlocks/{ob_id}/templates/{tid}", template, etag=science["ETag"])
    assert saved.status_code == 200, saved.json()
    return int(ob_id)


def test_verify_submit_and_revise_change_the_etags_of_the_ob_and_its_group(
    phase2: Phase2, p2: P2Client
) -> None:
    # given: a complete OB in a group
    group = p2("POST", f"/containers/{phase2.root(phase2.sm).pk}/items", {
        "itemType": "Group", "name": "G"})  # fmt: skip
    group_id = group.json()["containerId"]
    ob_id = complete_ob(p2, group_id)
    before = p2("GET", f"/obsBlocks/{ob_id}")["ETag"]
    group_before = p2("GET", f"/containers/{group_id}")["ETag"]
    # when
    verified = p2("POST", f"/obsBlocks/{ob_id}/verify", {"submit": True})
    # then
    assert verified.status_code == 200 and verified.json()["observable"], verified.json()
    after = p2("GET", f"/obsBlocks/{ob_id}")
    assert after.json()["obStatus"] == "D" and after["ETag"] != before
    assert p2("GET", f"/containers/{group_id}")["ETag"] != group_before
    items = p2("GET", f"/containers/{phase2.root(phase2.sm).pk}/items").json()
    assert [i.get("containerStatus") for i in items] == ["D"]
    # and: D is frozen for a service-mode OB, until revised
    frozen = p2("PUT", f"/obsBlocks/{ob_id}", {"name": "Later"})
    assert frozen.status_code == 409 and "error" in frozen.json()
    revised = p2("POST", f"/obsBlocks/{ob_id}/revise")
    assert revised.status_code == 200 and revised.json()["obStatus"] == "P"


def test_a_container_is_verified_submitted_and_revised_as_a_whole(
    phase2: Phase2, p2: P2Client
) -> None:
    # given: a concatenation of two complete OBs
    root = phase2.root(phase2.sm).pk
    made = p2("POST", f"/containers/{root}/items", {"itemType": "Concatenation", "name": "C"})
    cid = made.json()["containerId"]
    ob_ids = [complete_ob(p2, cid), complete_ob(p2, cid)]
    # when
    checked = p2("POST", f"/containers/{cid}/verify", {"submit": False})
    submitted = p2("POST", f"/containers/{cid}/verify", {"submit": True})
    statuses = set(ObservationBlock.objects.filter(pk__in=ob_ids).values_list("status", flat=True))
    revised = p2("POST", f"/containers/{cid}/revise", etag=submitted["ETag"])
    # then
    assert checked.json()["observable"] and submitted.json()["observable"]
    assert statuses == {"D"}
    assert revised.status_code == 200 and revised.json()["containerStatus"] == "P"
    assert set(ObservationBlock.objects.filter(pk__in=ob_ids).values_list("status", flat=True)) == {
        "P"
    }


def test_an_incomplete_ob_is_not_observable_and_stays_p(p2: P2Client, ob: ObservationBlock) -> None:
    # when
    answer = p2("POST", f"/obsBlocks/{ob.pk}/verify", {"submit": True})
    # then
    assert answer.status_code == 200
    assert answer.json()["observable"] is False and answer.json()["messages"]
    assert ObservationBlock.objects.get(pk=ob.pk).status == "P"


def test_a_visitor_mode_run_has_no_scheduling_containers(phase2: Phase2, p2: P2Client) -> None:
    # when
    answer = p2("POST", f"/containers/{phase2.root(phase2.vm).pk}/items", {
        "itemType": "Group", "name": "G"})  # fmt: skip
    # then
    assert answer.status_code == 400
    assert "visitor" in answer.json()["error"]
    assert not Container.objects.filter(run=phase2.vm, item_type=ItemType.GROUP).exists()


def test_group_contributions_and_time_link_delays_are_scheduling_info(
    phase2: Phase2, p2: P2Client
) -> None:
    # given: a group and a time-link with an OB each
    root = phase2.root(phase2.sm).pk
    group = p2("POST", f"/containers/{root}/items", {"itemType": "Group", "name": "G"}).json()
    link = p2("POST", f"/containers/{root}/items", {"itemType": "TimeLink", "name": "T"}).json()
    in_group = p2("POST", f"/containers/{group['containerId']}/items", {
        "itemType": "OB", "name": "A"}).json()  # fmt: skip
    in_link = p2("POST", f"/containers/{link['containerId']}/items", {
        "itemType": "OB", "name": "B"}).json()  # fmt: skip
    # when
    info = p2("GET", f"/containers/{group['containerId']}/schedule")
    saved = p2(
        "PUT",
        f"/containers/{group['containerId']}/schedule",
        {"groupPriority": 3, "obs": [{"obId": in_group["obId"], "groupContribution": 2.5}]},
        etag=info["ETag"],
    )
    linked = p2(
        "PUT",
        f"/obsBlocks/{in_link['obId']}/schedule",
        {"minDelay": 3600, "maxDelay": 86400},
    )
    misplaced = p2("PUT", f"/obsBlocks/{in_group['obId']}/schedule", {"minDelay": 60})
    # then
    assert saved.status_code == 200, saved.json()
    assert saved.json()["groupPriority"] == 3
    assert saved.json()["obs"][0]["groupContribution"] == 2.5
    assert linked.status_code == 200 and linked.json()["maxDelay"] == 86400
    assert misplaced.status_code == 400 and "minDelay" in misplaced.json()["error"]
    assert Container.objects.get(pk=group["containerId"]).group_priority == 3
    assert ObservationBlock.objects.get(pk=in_group["obId"]).contribution == 2.5
    assert ObservationBlock.objects.get(pk=in_link["obId"]).min_delay_s == 3600


def test_finding_charts_upload_as_raw_jpeg_and_download(p2: P2Client, ob: ObservationBlock) -> None:
    # when
    path = f"{P2}/obsBlocks/{ob.pk}/findingCharts"
    headers = {**p2.headers, "Content-Disposition": 'inline; filename="fc.jpg"'}
    added = p2.client.post(path, jpeg(), content_type="image/jpeg", headers=headers)
    refused = p2.client.post(path, b"GIF89a", content_type="image/jpeg", headers=headers)
    fetched = p2("GET", f"/obsBlocks/{ob.pk}/findingCharts/1")
    # then
    assert added.status_code == 201 and added.json() == ["fc.jpg"]
    assert refused.status_code == 400 and "JPEG" in refused.json()["error"]
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/jpeg"
    assert fetched.content == jpeg()
    assert p2("DELETE", f"/obsBlocks/{ob.pk}/findingCharts/1").status_code == 204
    assert p2("GET", f"/obsBlocks/{ob.pk}/findingCharts").json() == []


def test_instrument_packages_signatures_and_constraints(p2: P2Client) -> None:
    # when
    versions = p2("GET", "/instrumentPackages/FORS2/").json()
    signatures = p2("GET", "/instrumentPackages/FORS2/130.0/templateSignatures?for=phase2")
    one = p2("GET", "/instrumentPackages/FORS2/130.0/templateSignatures/FORS2_img_obs").json()
    constraints = p2("GET", "/instrumentPackages/FORS2/130.0/instrumentConstraints").json()
    # then
    assert "130.0" in versions
    assert {s["templateName"] for s in signatures.json()} >= {"FORS2_img_acq", "FORS2_img_obs"}
    dit = next(p for p in one["parameters"] if p["name"] == "DET.DIT")
    assert (dit["type"], dit["default"], dit["maximum"]) == ("number", 3600.0, 3600)
    airmass = next(c for c in constraints["constraints"] if c["name"] == "airmass")
    assert (airmass["minimum"], airmass["maximum"]) == (1.0, 5.0)
    assert p2("GET", "/instrumentPackages/NOPE/").status_code == 404


def test_executions_by_night(phase2: Phase2, p2: P2Client, ob: ObservationBlock) -> None:
    # given: the OB executed on two nights
    first = timezone.now() - dt.timedelta(days=3)
    for day in (0, 1):
        at = first + dt.timedelta(days=day)
        visit = Visit.objects.create(
            telescope=phase2.sm.telescope,
            night=at.date(),
            state=VisitState.DONE,
            started_at=at,
            ended_at=at + dt.timedelta(hours=1),
        )
        Execution.objects.create(
            visit=visit, ob=ob, status_before="+", ended_at=visit.ended_at, grade="A"
        )
    # when
    night = p2("GET", f"/obsBlocks/{ob.pk}/executions?night={first.date():%Y-%m-%d}")
    bad = p2("GET", f"/obsBlocks/{ob.pk}/executions?night=yesterday")
    # then
    assert night.status_code == 200
    assert [e["night"] for e in night.json()] == [first.date().isoformat()]
    assert night.json()[0]["grade"] == "A"
    assert bad.status_code == 400 and "error" in bad.json()


def test_unsupported_p2_endpoints_answer_501(p2: P2Client, ob: ObservationBlock) -> None:
    # when
    answer = p2("GET", f"/obsRuns/{ob.run_id}/readme")
    # then
    assert answer.status_code == 501
    assert "not supported" in answer.json()["error"]


def test_the_login_token_is_the_api_token(phase2: Phase2) -> None:
    # when
    form = "username=ada&password=pw"  # form-encoded, as the client sends it
    answer = Client().post("/p2/api/login", form, "application/x-www-form-urlencoded")
    native = Client().post("/api/v1/token/", {"username": "ada", "password": "pw"})
    # then
    assert answer.status_code == 200
    assert answer.json()["access_token"] == native.json()["token"]
