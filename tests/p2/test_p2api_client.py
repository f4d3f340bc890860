"""ESO's unmodified ``p2api`` client against the live test server, only its two URL tables
pointed at us (``../shared/P2API.md``): a tutorial-like script, then the same objects seen
through the native API and the Phase 2 pages."""

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import p2api  # type: ignore[import-untyped]  # ESO ships no type information
import pytest
from django.test import Client
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from observations.models import Container, ItemType, ObservationBlock
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db(transaction=True)


def connect(live_server: Any, username: str, password: str = "pw") -> p2api.ApiConnection:
    return p2api.ApiConnection("demo", username, password)


@pytest.fixture(autouse=True)
def pointed_at_us(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The only change a script needs: the two URL tables."""
    monkeypatch.setitem(p2api.API_URL, "demo", live_server.url + "/p2/api/v1")
    monkeypatch.setitem(p2api.LOGIN_URL, "demo", live_server.url + "/p2/api/login")
    yield


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, format="JPEG")
    path = tmp_path / "ngc253_fc.jpg"
    path.write_bytes(buffer.getvalue())
    return path


def native(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.get_or_create(user=user)[0]}")
    return client


def test_a_tutorial_script_runs_unchanged_and_its_objects_show_natively(
    live_server: Any, phase2: Phase2, chart: Path
) -> None:
    # given: the PI logged in with the client
    api = connect(live_server, "ada")
    user, _ = api.getUser()
    assert user["username"] == "ada"

    # when: the tutorial's steps
    runs, _ = api.getRuns()
    run = next(r for r in runs if r["runId"] == phase2.sm.pk)
    assert (run["mode"], run["instrument"], run["ipVersion"]) == ("SM", "FORS2", 130.0)
    root = run["containerId"]
    folder, _ = api.createFolder(root, "Tutorial")
    group, _ = api.createGroup(root, "My group")
    concatenation, _ = api.createConcatenation(root, "My concatenation")
    timelink, _ = api.createTimeLink(root, "My time-link")
    assert [folder["itemType"], group["itemType"]] == ["Folder", "Group"]
    assert [concatenation["itemType"], timelink["itemType"]] == ["Concatenation", "TimeLink"]

    ob, ob_version = api.createOB(folder["containerId"], "NGC 253 deep")
    ob_id = ob["obId"]
    assert ob["obStatus"] == "P"
    ob["userPriority"] = 2
    ob["obsDescription"]["userComments"] = "Deep R image"
    ob["target"]["name"] = "NGC 253"
    ob["target"]["ra"] = "00:47:33.134"
    ob["target"]["dec"] = "-25:17:19.680"
    ob["target"]["properMotionRa"] = 0.005
    ob["constraints"]["airmass"] = 1.8
    ob["constraints"]["seeing"] = 1.2
    ob["constraints"]["skyTransparency"] = "Clear"
    ob, ob_version = api.saveOB(ob, ob_version)
    assert (ob["target"]["ra"], ob["target"]["dec"]) == ("00:47:33.134", "-25:17:19.680")
    stale_copy, stale_version = ob, ob_version

    acq, tpl_version = api.createTemplate(ob_id, "FORS2_img_acq")
    acq, tpl_version = api.setTemplateParams(
        ob_id, acq, {"DET.DIT": 10.0, "INS.FILT": "I_BESS"}, tpl_version
    )
    science, tpl_version = api.createTemplate(ob_id, "FORS2_img_obs")
    science, tpl_version = api.setTemplateParams(
        ob_id, science, {"INS.FILT": "R_SPECIAL", "SEQ.NEXPO": 2}, tpl_version
    )
    values = {p["name"]: p["value"] for p in science["parameters"]}
    assert (values["INS.FILT"], values["SEQ.NEXPO"], values["DET.DIT"]) == ("R_SPECIAL", 2, 3600.0)
    templates, _ = api.getTemplates(ob_id)
    assert [t["templateName"] for t in templates] == ["FORS2_img_acq", "FORS2_img_obs"]

    start = phase2.sm.proposal.period.start
    windows = [
        {"from": f"{start:%Y-%m-%d}T00:00", "to": f"{start + dt.timedelta(days=5):%Y-%m-%d}T00:00"}
    ]
    _, atc_version = api.getAbsoluteTimeConstraints(ob_id)
    saved, _ = api.saveAbsoluteTimeConstraints(ob_id, windows, atc_version)
    assert saved == windows
    _, stc_version = api.getSiderealTimeConstraints(ob_id)
    lst = [{"from": "00:00", "to": "02:00"}, {"from": "22:00", "to": "24:00"}]
    saved, _ = api.saveSiderealTimeConstraints(ob_id, lst, stc_version)
    assert saved == lst

    name, _ = api.addFindingChart(ob_id, str(chart))
    assert name == "ngc253_fc.jpg"
    names, _ = api.getFindingChartNames(ob_id)
    assert names == ["ngc253_fc.jpg"]

    times = api.executionTime(ob_id)
    assert times["exposureTime"] == 7200
    assert times["executionTime"] > times["exposureTime"]

    verified, _ = api.verifyOB(ob_id, True)
    assert verified["observable"], verified["messages"]
    ob, ob_version = api.getOB(ob_id)
    assert ob["obStatus"] == "D"
    api.reviseOB(ob_id)
    ob, ob_version = api.getOB(ob_id)
    assert ob["obStatus"] == "P"

    copy, copy_version = api.duplicateOB(ob_id)
    assert copy["obId"] != ob_id and copy["obStatus"] == "P"
    assert [t["templateName"] for t in api.getTemplates(copy["obId"])[0]] == [
        "FORS2_img_acq",
        "FORS2_img_obs",
    ]
    assert api.getFindingChartNames(copy["obId"])[0] == ["ngc253_fc.jpg"]
    api.moveOB(copy["obId"], group["containerId"])
    items, _ = api.getItems(group["containerId"])
    assert [(i["itemType"], i["obId"]) for i in items] == [("OB", copy["obId"])]
    _, copy_version = api.getOB(copy["obId"])
    api.deleteOB(copy["obId"], copy_version)
    assert api.getItems(group["containerId"])[0] == []
    _, timelink_version = api.getContainer(timelink["containerId"])
    api.deleteContainer(timelink["containerId"], timelink_version)

    # then: a write with a stale version is refused with 412, and changes nothing
    stale_copy["name"] = "Overwritten"
    with pytest.raises(p2api.P2Error) as refused:
        api.saveOB(stale_copy, stale_version)
    assert refused.value.args[0] == 412
    # and: the objects are there, the same, for the native API and the pages
    stored = ObservationBlock.objects.get(pk=ob_id)
    assert stored.name == "NGC 253 deep"
    assert not ObservationBlock.objects.filter(pk=copy["obId"]).exists()
    assert not Container.objects.filter(pk=timelink["containerId"]).exists()
    answer = native(phase2.pi).get(f"/api/v1/phase2/obs/{ob_id}/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["ob_status"], body["user_priority"], body["user_comments"]) == (
        "P",
        2,
        "Deep R image",
    )
    assert body["target"]["name"] == "NGC 253"
    assert abs(body["target"]["ra_deg"] - 11.888058) < 1e-5
    assert body["target"]["pm_ra_arcsec_yr"] == 0.005
    assert body["constraints"]["max_airmass"] == 1.8
    assert body["constraints"]["sky_transparency"] == "Clear"
    assert [t["template_name"] for t in body["templates"]] == ["FORS2_img_acq", "FORS2_img_obs"]
    science_values = {p["name"]: p["value"] for p in body["templates"][1]["parameters"]}
    assert (science_values["INS.FILT"], science_values["SEQ.NEXPO"]) == ("R_SPECIAL", 2)
    assert body["absolute_windows"] and body["finding_charts"] == ["ngc253_fc.jpg"]
    assert len(body["sidereal_windows"]) == 2
    assert answer.headers["ETag"] == ob_version
    tree = native(phase2.pi).get(f"/api/v1/phase2/runs/{phase2.sm.pk}/tree/").json()
    kinds = sorted(i["item_type"] for i in tree["items"])
    assert kinds == sorted([ItemType.FOLDER, ItemType.GROUP, ItemType.CONCATENATION])
    page = Client()
    page.force_login(phase2.pi)
    shown = page.get(f"/phase2/obs/{ob_id}/")
    assert shown.status_code == 200
    assert "NGC 253 deep" in shown.content.decode()


def test_another_users_run_is_not_found(live_server: Any, phase2: Phase2) -> None:
    # given: an astronomer who is not on the proposal
    api = connect(live_server, phase2.outsider.username)
    # when / then
    with pytest.raises(p2api.P2Error) as refused:
        api.getRun(phase2.sm.pk)
    assert refused.value.args[0] == 404
    assert [r["runId"] for r in api.getRuns()[0]] == []
    with pytest.raises(p2api.P2Error) as refused:
        api.createOB(phase2.root(phase2.sm).pk, "Intruder")
    assert refused.value.args[0] == 404
    assert not ObservationBlock.objects.exists()


def test_a_wrong_password_cannot_log_in(live_server: Any, phase2: Phase2) -> None:
    with pytest.raises(p2api.P2Error) as refused:
        connect(live_server, "ada", "wrong")
    assert refused.value.args[0] == 400
