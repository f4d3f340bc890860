"""The Phase 2 write API: every write goes through the services (versions as ETags, If-Match
refused with 412 when stale, bad input a 400 with field messages), who may write (the PI and
co-investigators; staff review; everyone else a 404) and that a refused request changes
nothing.

Worlds are built with the services on the ``phase2`` fixture (``conftest.py``): an approved
SM run and VM run of ``astronomer``'s proposal, ``coi`` its co-investigator, FORS2 templates
at "130.0"."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from observations import ob_parts, services
from observations.models import (
    AbsoluteWindow,
    Container,
    FindingChart,
    ItemType,
    ObservationBlock,
    OBStatus,
    Phase2Event,
    SiderealWindow,
    Template,
)
from tests.conftest import ApiClientFor
from tests.observations.conftest import Phase2

API = "/api/v1/phase2"
STALE = '"99"'


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def new_ob(
    phase2: Phase2, container: Container | None = None, name: str = "OB 1"
) -> ObservationBlock:
    holder = container or phase2.root(phase2.sm)
    return services.ob_create(container_id=holder.pk, name=name, actor=phase2.pi)


def complete(phase2: Phase2, ob: ObservationBlock) -> ObservationBlock:
    """A target, an acquisition and a filled one-hour science template: passes verification."""
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk, values={"INS.FILT": "R_SPECIAL"}, actor=phase2.pi
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def group(phase2: Phase2, kind: str = ItemType.GROUP, name: str = "G") -> Container:
    root = phase2.root(phase2.sm)
    return services.container_create(parent_id=root.pk, item_type=kind, name=name, actor=phase2.pi)


def set_status(ob: ObservationBlock, status: str) -> None:
    ObservationBlock.objects.filter(pk=ob.pk).update(status=status)


def jpeg(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(buffer, format="JPEG")
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def upload(content: bytes, name: str = "chart.jpg") -> dict[str, Any]:
    return {"file": SimpleUploadedFile(name, content, content_type="image/jpeg")}


def phase2_state() -> list[list[dict[str, Any]]]:
    """Every Phase 2 row a write could touch."""
    models: list[Any] = [
        Container,
        ObservationBlock,
        Template,
        AbsoluteWindow,
        SiderealWindow,
        FindingChart,
        Phase2Event,
    ]
    return [list(m.objects.order_by("pk").values()) for m in models]


def etag(answer: Any) -> int:
    return int(answer["ETag"].strip('"'))


# ---------------------------------------------------------------------------------------------
# Containers and items
# ---------------------------------------------------------------------------------------------


def test_items_created_in_a_container_answer_the_new_container_or_ob_with_its_etag(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    root = phase2.root(phase2.sm)
    client = client_for(phase2.coi)
    url = f"{API}/containers/{root.pk}/items/"
    # when
    made_group = client.post(url, {"item_type": "Group", "name": "Deep"}, format="json")
    made_ob = client.post(
        url, {"item_type": "OB", "name": "Field 1"}, format="json", HTTP_IF_MATCH='"2"'
    )
    # then
    assert made_group.status_code == made_ob.status_code == 201
    assert made_group.json()["item_type"] == "Group"
    assert made_group.json()["parent_container_id"] == root.pk
    assert made_group["ETag"] == '"1"'
    body = made_ob.json()
    assert (body["item_type"], body["ob_status"], body["name"]) == ("OB", "P", "Field 1")
    assert body["constraints"]["max_airmass"] == phase2.sm.max_airmass  # from Phase 1
    listed = client.get(url)
    assert listed["ETag"] == '"3"'
    assert [i["name"] for i in listed.json()] == ["Deep", "Field 1"]


def test_a_scheduling_container_in_a_visitor_mode_run_is_refused_and_nothing_is_made(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    root = phase2.root(phase2.vm)
    before = phase2_state()
    # when
    answer = client_for(phase2.pi).post(
        f"{API}/containers/{root.pk}/items/", {"item_type": "TimeLink", "name": "L"}, format="json"
    )
    # then
    assert answer.status_code == 400
    assert "visitor-mode" in answer.json()["errors"]["item_type"][0]
    assert phase2_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item_type": "Bucket", "name": "x"}, "item_type"),
        ({"name": "x"}, "item_type"),
        ({"item_type": "OB", "name": "  "}, "name"),
        ({"item_type": "Folder", "name": "x" * 101}, "name"),
    ],
)
def test_bad_items_are_refused_with_field_messages_and_nothing_is_made(
    phase2: Phase2, client_for: ApiClientFor, body: dict[str, Any], field: str
) -> None:
    # given
    root = phase2.root(phase2.sm)
    before = phase2_state()
    # when
    answer = client_for(phase2.pi).post(f"{API}/containers/{root.pk}/items/", body, format="json")
    # then
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert phase2_state() == before


def test_a_container_is_renamed_by_put_and_a_groups_priority_set_by_patch(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    made = group(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/containers/{made.pk}/"
    body = client.get(url).json()
    # when
    renamed = client.put(url, {**body, "name": "Renamed"}, format="json", HTTP_IF_MATCH='"1"')
    prioritised = client.patch(url, {"group_priority": 3}, format="json", HTTP_IF_MATCH='"2"')
    # then
    assert renamed.status_code == prioritised.status_code == 200
    assert (renamed.json()["name"], renamed["ETag"]) == ("Renamed", '"2"')
    assert (prioritised.json()["group_priority"], prioritised["ETag"]) == (3, '"3"')


def test_a_folder_put_back_as_get_answers_it_is_accepted_but_a_folder_has_no_priority(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    folder = group(phase2, ItemType.FOLDER, "F")
    client = client_for(phase2.pi)
    url = f"{API}/containers/{folder.pk}/"
    body = client.get(url).json()
    # when: the echoed group_priority is no change; a new one is refused
    echoed = client.put(url, {**body, "name": "F2"}, format="json")
    refused = client.patch(url, {"group_priority": 2}, format="json")
    # then
    assert echoed.status_code == 200
    assert refused.status_code == 400
    assert refused.json()["errors"]["group_priority"] == ["Only Groups have a priority."]
    assert Container.objects.get(pk=folder.pk).name == "F2"


def test_put_of_a_container_needs_its_name(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    made = group(phase2)
    # when
    answer = client_for(phase2.pi).put(f"{API}/containers/{made.pk}/", {}, format="json")
    # then
    assert answer.status_code == 400
    assert "name" in answer.json()["errors"]


def test_items_are_reordered_by_putting_back_the_list_get_answers(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given: OB a, group g, OB b in the root
    root = phase2.root(phase2.sm)
    new_ob(phase2, name="a")
    group(phase2, name="g")
    new_ob(phase2, name="b")
    client = client_for(phase2.pi)
    url = f"{API}/containers/{root.pk}/items/"
    listed = client.get(url)
    # when
    answer = client.put(
        url, list(reversed(listed.json())), format="json", HTTP_IF_MATCH=listed["ETag"]
    )
    # then
    assert answer.status_code == 200
    assert [i["name"] for i in answer.json()] == ["b", "g", "a"]
    assert etag(answer) == etag(listed) + 1
    assert [i["name"] for i in client.get(url).json()] == ["b", "g", "a"]


@pytest.mark.parametrize(
    ("pick", "field"),
    [
        (lambda items: items[:1], "items"),  # one missing
        (lambda items: items + items[:1], "items"),  # one twice
        (lambda items: [{"item_type": "OB", "container_id": 1}], "0.ob_id"),  # no ob_id
        (lambda items: {"items": items}, "non_field_errors"),  # not a list
    ],
)
def test_a_reorder_naming_the_items_wrongly_is_refused_and_changes_nothing(
    phase2: Phase2,
    client_for: ApiClientFor,
    pick: Callable[[list[Any]], Any],
    field: str,
) -> None:
    # given
    root = phase2.root(phase2.sm)
    new_ob(phase2, name="a")
    new_ob(phase2, name="b")
    client = client_for(phase2.pi)
    url = f"{API}/containers/{root.pk}/items/"
    items = client.get(url).json()
    before = phase2_state()
    # when
    answer = client.put(url, pick(items), format="json")
    # then
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert phase2_state() == before


def test_only_an_empty_container_other_than_the_root_is_deleted(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    empty, full = group(phase2, name="empty"), group(phase2, name="full")
    new_ob(phase2, full)
    root = phase2.root(phase2.sm)
    client = client_for(phase2.pi)
    # when
    deleted = client.delete(f"{API}/containers/{empty.pk}/", HTTP_IF_MATCH='"1"')
    kept = client.delete(f"{API}/containers/{full.pk}/")
    root_kept = client.delete(f"{API}/containers/{root.pk}/")
    # then
    assert deleted.status_code == 204
    assert not Container.objects.filter(pk=empty.pk).exists()
    assert (kept.status_code, root_kept.status_code) == (400, 400)
    assert "holds 1 items" in kept.json()["errors"]["item"][0]
    assert Container.objects.filter(pk__in=[full.pk, root.pk]).count() == 2


def test_a_container_is_duplicated_with_its_obs_and_moved_into_a_folder(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    source = group(phase2, name="G")
    ob = complete(phase2, new_ob(phase2, source))
    set_status(ob, OBStatus.DEFINED)
    folder = group(phase2, ItemType.FOLDER, "F")
    client = client_for(phase2.pi)
    # when
    copied = client.post(f"{API}/containers/{source.pk}/duplicate/")
    moved = client.post(
        f"{API}/containers/{copied.json()['container_id']}/move/",
        {"container_id": folder.pk},
        format="json",
        HTTP_IF_MATCH=copied["ETag"],
    )
    # then
    assert copied.status_code == 201
    assert (copied.json()["name"], copied.json()["item_count"]) == ("G", 1)
    assert moved.status_code == 200
    assert moved.json()["parent_container_id"] == folder.pk
    copy = ObservationBlock.objects.get(container_id=copied.json()["container_id"])
    assert (copy.status, copy.templates.count()) == (OBStatus.PARTIAL, 2)


@pytest.mark.parametrize("where", ["other run", "nowhere"])
def test_items_move_only_into_containers_of_their_run(
    phase2: Phase2, client_for: ApiClientFor, where: str
) -> None:
    # given
    ob = new_ob(phase2)
    destination = phase2.root(phase2.vm).pk if where == "other run" else 10**12
    before = phase2_state()
    # when
    answer = client_for(phase2.pi).post(
        f"{API}/obs/{ob.pk}/move/", {"container_id": destination}, format="json"
    )
    # then: the same answer, saying nothing about other runs
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"container_id": ["Choose a container of this run."]}
    assert phase2_state() == before


def test_a_containers_obs_are_verified_submitted_and_accepted_together(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given: a group of two complete OBs
    made = group(phase2)
    obs = [complete(phase2, new_ob(phase2, made, f"OB {i}")) for i in (1, 2)]
    pi, staff = client_for(phase2.pi), client_for(phase2.staff)
    url = f"{API}/containers/{made.pk}"
    # when
    verified = pi.post(f"{url}/verify/")
    submitted = pi.post(f"{url}/submit/", HTTP_IF_MATCH=verified["ETag"])
    refused = pi.post(f"{url}/accept/")
    accepted = staff.post(f"{url}/accept/", HTTP_IF_MATCH=submitted["ETag"])
    # then
    assert verified.status_code == 200
    report = verified.json()
    assert (report["ok"], report["errors"]) == (True, [])
    assert [(o["ob_id"], o["ok"]) for o in report["obs"]] == [(ob.pk, True) for ob in obs]
    assert submitted.status_code == 200
    assert submitted.json() == {"ob_ids": [ob.pk for ob in obs], "ob_status": "D"}
    assert etag(submitted) > etag(verified)  # a Group's status derives from its OBs'
    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert accepted.json()["ob_status"] == "+"
    assert set(ObservationBlock.objects.values_list("status", flat=True)) == {"+"}


def test_a_container_is_submitted_all_or_nothing(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given: one complete OB and one without a target
    folder = group(phase2, ItemType.FOLDER, "F")
    complete(phase2, new_ob(phase2, folder, "ready"))
    bare = new_ob(phase2, folder, "bare")
    client = client_for(phase2.pi)
    before = phase2_state()
    # when
    verified = client.get(f"{API}/containers/{folder.pk}/verify/")
    answer = client.post(f"{API}/containers/{folder.pk}/submit/")
    # then
    assert verified.status_code == 200
    assert verified.json()["ok"] is False
    assert any(f"(OB {bare.pk})" in e for e in verified.json()["errors"])
    assert answer.status_code == 400
    assert any(f"(OB {bare.pk})" in e for e in answer.json()["errors"]["verification"])
    assert phase2_state() == before


# ---------------------------------------------------------------------------------------------
# The OB
# ---------------------------------------------------------------------------------------------


def test_put_saves_the_whole_ob_as_get_answers_it(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/"
    got = client.get(url)
    body = got.json()
    body["target"].update({"name": "NGC 253", "ra": "00:47:33.1", "dec": "-25:17:18"})
    body["constraints"].update({"max_airmass": 1.5, "sky_transparency": "Clear"})
    body["user_comments"] = "Deep field."
    # when
    answer = client.put(url, body, format="json", HTTP_IF_MATCH=got["ETag"])
    stale = client.put(url, {**body, "name": "Other"}, format="json", HTTP_IF_MATCH=got["ETag"])
    # then
    assert answer.status_code == 200, answer.json()
    assert stale.status_code == 412
    assert etag(answer) == etag(got) + 1 == answer.json()["version"]
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert (stored.target_name, stored.max_airmass, stored.sky_transparency) == (
        "NGC 253",
        1.5,
        "Clear",
    )
    assert stored.ra_deg == pytest.approx(11.888, abs=1e-3)
    assert stored.user_comments == "Deep field."
    assert answer.json()["target"]["ra"].startswith("00:47:33.1")


def test_put_needs_the_whole_ob_and_patch_takes_some_fields(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/"
    # when
    put = client.put(url, {"name": "x"}, format="json")
    patch = client.patch(url, {"constraints": {"max_fli": 0.4}}, format="json")
    # then
    assert put.status_code == 400
    assert {"target", "constraints", "scheduling", "user_priority"} <= set(put.json()["errors"])
    assert patch.status_code == 200
    assert patch.json()["constraints"]["max_fli"] == 0.4
    assert patch.json()["name"] == "OB 1"


def test_bad_ob_values_are_refused_with_the_fields_named_as_sent_and_nothing_changes(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    before = phase2_state()
    body = {
        "name": "",
        "user_priority": 0,
        "target": {"ra": "25:00:00", "pm_ra_arcsec_yr": 50.0},
        "constraints": {"max_airmass": 9.0},
        "scheduling": {"contribution": 2.0},  # not in a Group
    }
    # when
    answer = client_for(phase2.pi).patch(f"{API}/obs/{ob.pk}/", body, format="json")
    # then
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {
        "name",
        "user_priority",
        "target.ra",
        "target.pm_ra_arcsec_yr",
        "constraints.max_airmass",
        "scheduling.contribution",
    }
    assert phase2_state() == before


def test_values_of_the_wrong_type_are_refused_before_the_service(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    before = phase2_state()
    body = {"constraints": {"max_fli": "bright", "sky_transparency": "Foggy"}, "target": []}
    # when
    answer = client_for(phase2.pi).patch(f"{API}/obs/{ob.pk}/", body, format="json")
    # then
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert {"constraints.max_fli", "constraints.sky_transparency"} <= set(errors)
    assert any(key.startswith("target") for key in errors)
    assert phase2_state() == before


@pytest.mark.parametrize("status", [OBStatus.DEFINED, OBStatus.ACCEPTED])
def test_a_submitted_service_mode_ob_is_not_edited(
    phase2: Phase2, client_for: ApiClientFor, status: str
) -> None:
    # given
    ob = new_ob(phase2)
    set_status(ob, status)
    before = phase2_state()
    client = client_for(phase2.pi)
    # when
    answers = [
        client.patch(f"{API}/obs/{ob.pk}/", {"name": "new"}, format="json"),
        client.post(f"{API}/obs/{ob.pk}/templates/", {"template_name": "x"}, format="json"),
        client.put(f"{API}/obs/{ob.pk}/sidereal-windows/", [], format="json"),
        client.post(f"{API}/obs/{ob.pk}/finding-charts/", upload(jpeg()), format="multipart"),
    ]
    # then
    assert [a.status_code for a in answers] == [409, 409, 409, 409]
    assert phase2_state() == before


def test_an_ob_goes_through_verify_submit_revise_and_staff_acceptance(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = complete(phase2, new_ob(phase2))
    pi, staff = client_for(phase2.pi), client_for(phase2.staff)
    url = f"{API}/obs/{ob.pk}"
    # when
    verified = pi.post(f"{url}/verify/")
    submitted = pi.post(f"{url}/submit/", HTTP_IF_MATCH=verified["ETag"])
    revised = pi.post(f"{url}/revise/", HTTP_IF_MATCH=submitted["ETag"])
    again = pi.post(f"{url}/submit/", HTTP_IF_MATCH=revised["ETag"])
    accepted = staff.post(f"{url}/accept/", HTTP_IF_MATCH=again["ETag"])
    # then: each status change is a new ETag
    assert verified.json() == {"ok": True, "errors": [], "warnings": []}
    statuses = [a.json()["ob_status"] for a in (submitted, revised, again, accepted)]
    assert statuses == ["D", "P", "D", "+"]
    tags = [etag(a) for a in (verified, submitted, revised, again, accepted)]
    assert tags == list(range(tags[0], tags[0] + 5))


def test_verify_answers_200_with_what_to_change_and_submit_refuses_with_it(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.coi)
    before = phase2_state()
    # when
    verified = client.get(f"{API}/obs/{ob.pk}/verify/")
    submitted = client.post(f"{API}/obs/{ob.pk}/submit/")
    # then
    assert verified.status_code == 200
    assert verified.json()["ok"] is False
    assert any("RA and Dec" in e for e in verified.json()["errors"])
    assert submitted.status_code == 400
    assert submitted.json()["errors"]["verification"] == verified.json()["errors"]
    assert phase2_state() == before


def test_staff_send_an_ob_back_only_with_a_message(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = complete(phase2, new_ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    client = client_for(phase2.staff)
    url = f"{API}/obs/{ob.pk}/send-back/"
    # when
    silent = client.post(url, {"message": " "}, format="json")
    sent_back = client.post(url, {"message": "Use I_BESS."}, format="json")
    # then
    assert silent.status_code == 400
    assert "message" in silent.json()["errors"]
    assert sent_back.status_code == 200
    assert sent_back.json()["ob_status"] == "-"
    assert Phase2Event.objects.filter(ob=ob, to_status="-", message="Use I_BESS.").exists()


def test_staff_waive_the_one_hour_minimum(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    ob = new_ob(phase2)
    # when
    answer = client_for(phase2.staff).post(
        f"{API}/obs/{ob.pk}/short-waiver/", {"waived": True}, format="json", HTTP_IF_MATCH='"1"'
    )
    # then
    assert answer.status_code == 200
    assert (answer.json()["short_ob_waived"], answer["ETag"]) == (True, '"2"')


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("accept/", None),
        ("send-back/", {"message": "Repair it."}),
        ("short-waiver/", {"waived": True}),
    ],
)
def test_staff_actions_are_refused_to_the_pi_and_change_nothing(
    phase2: Phase2, client_for: ApiClientFor, path: str, body: dict[str, Any] | None
) -> None:
    # given
    ob = complete(phase2, new_ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    before = phase2_state()
    # when
    answer = client_for(phase2.pi).post(f"{API}/obs/{ob.pk}/{path}", body, format="json")
    # then
    assert answer.status_code == 403
    assert phase2_state() == before


def test_the_target_is_copied_from_a_phase1_target_of_the_run_only(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/copy-target/"
    # when
    copied = client.post(url, {"target_id": phase2.target.pk}, format="json")
    refused = client.post(url, {"target_id": 10**9}, format="json")
    # then
    assert copied.status_code == 200
    target = copied.json()["target"]
    assert (target["name"], target["pm_ra_arcsec_yr"]) == ("NGC 253", 0.005)
    assert refused.status_code == 400
    assert "target_id" in refused.json()["errors"]


def test_an_ob_is_duplicated_moved_and_deleted(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    ob = complete(phase2, new_ob(phase2))
    destination = group(phase2)
    client = client_for(phase2.pi)
    # when
    copied = client.post(f"{API}/obs/{ob.pk}/duplicate/", HTTP_IF_MATCH=f'"{ob.version}"')
    copy_id = copied.json()["ob_id"]
    moved = client.post(
        f"{API}/obs/{copy_id}/move/", {"container_id": destination.pk}, format="json"
    )
    deleted = client.delete(f"{API}/obs/{ob.pk}/", HTTP_IF_MATCH=f'"{ob.version}"')
    # then
    assert copied.status_code == 201
    assert copy_id != ob.pk
    assert (copied.json()["ob_status"], len(copied.json()["templates"])) == ("P", 2)
    assert copied["ETag"] == '"1"'
    assert moved.status_code == 200
    assert moved.json()["parent_container_id"] == destination.pk
    assert deleted.status_code == 204
    assert client.get(f"{API}/obs/{ob.pk}/").status_code == 404


def test_an_accepted_ob_is_not_deleted(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    ob = new_ob(phase2)
    set_status(ob, OBStatus.ACCEPTED)
    # when
    answer = client_for(phase2.pi).delete(f"{API}/obs/{ob.pk}/")
    # then
    assert answer.status_code == 409
    assert ObservationBlock.objects.filter(pk=ob.pk).exists()


def test_the_execution_time_is_broken_down_line_by_line(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given: the conftest's overheads (preset 360 s, acquisition 120 s, setup 60 s, readout 30 s)
    ob = complete(phase2, new_ob(phase2))
    # when
    answer = client_for(phase2.coi).get(f"{API}/obs/{ob.pk}/execution-time/")
    # then
    body = answer.json()
    assert answer["ETag"] == f'"{ob.version}"'
    assert [line["kind"] for line in body["lines"]] == [
        "preset",
        "acquisition",
        "setup",
        "exposure",
        "readout",
    ]
    assert body["exposure_time_s"] == 3600.0
    assert body["overhead_s"] == 360.0 + 120.0 + 60.0 + 30.0
    assert body["execution_time_s"] == ob.execution_time_s == 3600.0 + 570.0
    assert body["n_exposures"] == 1


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def test_a_template_is_added_set_and_removed_each_changing_the_obs_etag(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/templates/"
    # when
    added = client.post(url, {"template_name": "FORS2_img_obs"}, format="json", HTTP_IF_MATCH='"1"')
    template_url = f"{url}{added.json()['template_id']}/"
    values = {
        "parameters": [{"name": "INS.FILT", "value": "B_HIGH"}, {"name": "DET.DIT", "value": 30}]
    }
    saved = client.put(template_url, values, format="json", HTTP_IF_MATCH=added["ETag"])
    read = client.get(template_url)
    ob_read = client.get(f"{API}/obs/{ob.pk}/")
    removed = client.delete(template_url, HTTP_IF_MATCH=saved["ETag"])
    # then
    assert added.status_code == 201
    body = added.json()
    assert (body["template_name"], body["type"], body["position"]) == (
        "FORS2_img_obs",
        "science",
        0,
    )
    assert added["ETag"] == '"2"'
    assert saved.status_code == 200
    assert {p["name"]: p["value"] for p in saved.json()["parameters"]}["INS.FILT"] == "B_HIGH"
    assert saved["ETag"] == read["ETag"] == '"3"'
    assert ob_read.json()["exposure_time_s"] == 30.0
    assert removed.status_code == 204
    assert removed["ETag"] == '"4"'
    assert client.get(url).json() == []


def test_bad_template_input_is_refused_with_field_messages_and_nothing_changes(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/templates/"
    before = phase2_state()
    # when
    unknown = client.post(url, {"template_name": "UVES_dic1_obs"}, format="json")
    out_of_range = client.put(
        f"{url}{template.pk}/",
        {"parameters": [{"name": "DET.DIT", "value": 7200}, {"name": "NOPE", "value": 1}]},
        format="json",
    )
    twice = client.put(
        f"{url}{template.pk}/",
        {"parameters": [{"name": "DET.DIT", "value": 1}, {"name": "DET.DIT", "value": 2}]},
        format="json",
    )
    unstorable = client.put(
        f"{url}{template.pk}/",
        {
            "parameters": [
                {"name": "INS.FILT", "value": "R\x00"},
                {"name": "DET.DIT", "value": 10**400},
            ]
        },
        format="json",
    )
    # then
    assert [a.status_code for a in (unknown, out_of_range, twice, unstorable)] == [400] * 4
    assert "template_name" in unknown.json()["errors"]
    assert set(out_of_range.json()["errors"]) == {"DET.DIT", "NOPE"}
    assert "parameters" in twice.json()["errors"]
    assert set(unstorable.json()["errors"]) == {"parameters.0.value", "parameters.1.value"}
    assert phase2_state() == before


def test_templates_are_reordered_with_the_acquisition_first(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    adds = ["FORS2_img_acq", "FORS2_img_obs", "FORS2_cal_flat"]
    acq, science, flat = (
        services.template_add(ob_id=ob.pk, signature_name=name, actor=phase2.pi).pk for name in adds
    )
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/templates/reorder/"
    # when
    reordered = client.post(url, {"template_ids": [acq, flat, science]}, format="json")
    refused = client.post(url, {"template_ids": [flat, acq, science]}, format="json")
    # then
    assert reordered.status_code == 200
    assert [t["template_id"] for t in reordered.json()] == [acq, flat, science]
    assert refused.status_code == 400
    assert "template_ids" in refused.json()["errors"]


def test_a_template_of_another_ob_is_not_found(phase2: Phase2, client_for: ApiClientFor) -> None:
    # given
    mine, other = new_ob(phase2, name="mine"), new_ob(phase2, name="other")
    template = services.template_add(
        ob_id=other.pk, signature_name="FORS2_img_obs", actor=phase2.pi
    )
    client = client_for(phase2.pi)
    url = f"{API}/obs/{mine.pk}/templates/{template.pk}/"
    # when
    answers = [
        client.get(url),
        client.delete(url),
        client.put(url, {"parameters": []}, format="json"),
    ]
    # then
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert Template.objects.filter(pk=template.pk).exists()


# ---------------------------------------------------------------------------------------------
# Time windows and finding charts
# ---------------------------------------------------------------------------------------------


def test_absolute_windows_are_replaced_and_read_back_in_utc(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/absolute-windows/"
    windows = [
        {"start": "2027-05-03T00:00", "end": "2027-05-04T00:00"},
        {"start": "2027-05-01T02:00+02:00", "end": "2027-05-02T00:00Z"},
    ]
    # when
    saved = client.put(url, windows, format="json", HTTP_IF_MATCH='"1"')
    read = client.get(url)
    # then
    assert saved.status_code == 200
    assert (
        saved.json()
        == read.json()
        == [
            {"start": "2027-05-01T00:00:00Z", "end": "2027-05-02T00:00:00Z"},
            {"start": "2027-05-03T00:00:00Z", "end": "2027-05-04T00:00:00Z"},
        ]
    )
    assert saved["ETag"] == read["ETag"] == '"2"'


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        ([{"start": "2027-05-02T00:00", "end": "2027-05-01T00:00"}], "windows[0]"),
        (
            [
                {"start": "2027-05-01T00:00", "end": "2027-05-03T00:00"},
                {"start": "2027-05-02T00:00", "end": "2027-05-04T00:00"},
            ],
            "windows[1]",
        ),
        ([{"start": "tomorrow", "end": "2027-05-01T00:00"}], "0.start"),
        ([{"start": "9999-12-31T23:00-05:00", "end": "9999-12-31T23:59"}], "0.start"),
        ({"start": "2027-05-01T00:00"}, "non_field_errors"),
    ],
)
def test_bad_absolute_windows_are_refused_and_the_old_ones_kept(
    phase2: Phase2, client_for: ApiClientFor, windows: Any, field: str
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/absolute-windows/"
    client.put(url, [{"start": "2027-06-01T00:00", "end": "2027-06-02T00:00"}], format="json")
    before = phase2_state()
    # when
    answer = client.put(url, windows, format="json")
    # then
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert phase2_state() == before


def test_sidereal_windows_are_replaced_and_none_crosses_0h(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/sidereal-windows/"
    # when
    saved = client.put(
        url, [{"start": "22:00", "end": "24:00"}, {"start": "00:00", "end": "02:00"}], format="json"
    )
    refused = client.put(url, [{"start": "22:00", "end": "02:00"}], format="json")
    # then
    assert saved.status_code == 200
    assert saved.json() == [{"start": "00:00", "end": "02:00"}, {"start": "22:00", "end": "24:00"}]
    assert refused.status_code == 400
    assert "two" in refused.json()["errors"]["windows[0]"][0]
    assert client.get(url).json() == saved.json()


def test_finding_charts_are_uploaded_read_and_removed_by_index(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    ob = new_ob(phase2)
    client = client_for(phase2.pi)
    url = f"{API}/obs/{ob.pk}/finding-charts/"
    image = jpeg()
    # when
    added = client.post(url, upload(image, "wide.jpg"), format="multipart", HTTP_IF_MATCH='"1"')
    listed = client.get(url)
    fetched = client.get(f"{url}1/")
    removed = client.delete(f"{url}1/", HTTP_IF_MATCH=added["ETag"])
    # then
    assert added.status_code == 201
    assert added.json() == {"index": 1, "name": "wide.jpg", "size": len(image)}
    assert added["ETag"] == listed["ETag"] == fetched["ETag"] == '"2"'
    assert listed.json() == [added.json()]
    assert (fetched.status_code, fetched["Content-Type"]) == (200, "image/jpeg")
    assert fetched.content == image
    assert (removed.status_code, removed["ETag"]) == (204, '"3"')
    assert client.get(f"{url}1/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [(upload(png(), "chart.jpg"), "content"), (upload(b"\xff\xd8 cut"), "content"), ({}, "file")],
    ids=["png named jpg", "truncated jpeg", "no file"],
)
def test_a_finding_chart_that_is_not_a_jpeg_is_refused(
    phase2: Phase2, client_for: ApiClientFor, body: dict[str, Any], field: str
) -> None:
    # given
    ob = new_ob(phase2)
    before = phase2_state()
    # when
    answer = client_for(phase2.pi).post(
        f"{API}/obs/{ob.pk}/finding-charts/", body, format="multipart"
    )
    # then
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert phase2_state() == before


# ---------------------------------------------------------------------------------------------
# If-Match: a stale version changes nothing, for every kind of write
# ---------------------------------------------------------------------------------------------

Write = tuple[str, str, Any, str]  # method, path under /api/v1/phase2/, body, format


def stale_writes(phase2: Phase2) -> dict[str, Write]:
    """One write of each kind on a group holding a complete OB with a calibration after its
    science template, and a finding chart."""
    made = group(phase2)
    ob = complete(phase2, new_ob(phase2, made))
    services.template_add(ob_id=ob.pk, signature_name="FORS2_cal_flat", actor=phase2.pi)
    ob_parts.chart_add(ob_id=ob.pk, name="c.jpg", content=jpeg(), actor=phase2.pi)
    acq, science, flat = ob.templates.values_list("pk", flat=True)
    template = ob.templates.get(pk=science)
    window = [{"start": "2027-05-01T00:00", "end": "2027-05-02T00:00"}]
    c, o = f"containers/{made.pk}/", f"obs/{ob.pk}/"
    return {
        "container PUT": ("put", c, {"name": "New"}, "json"),
        "container item POST": ("post", f"{c}items/", {"item_type": "OB", "name": "x"}, "json"),
        "container reorder": ("put", f"{c}items/", [{"item_type": "OB", "ob_id": ob.pk}], "json"),
        "container duplicate": ("post", f"{c}duplicate/", None, "json"),
        "container submit": ("post", f"{c}submit/", None, "json"),
        "OB PATCH": ("patch", o, {"name": "New"}, "json"),
        "OB DELETE": ("delete", o, None, "json"),
        "OB submit": ("post", f"{o}submit/", None, "json"),
        "OB duplicate": ("post", f"{o}duplicate/", None, "json"),
        "template POST": ("post", f"{o}templates/", {"template_name": "FORS2_cal_flat"}, "json"),
        "template PUT": (
            "put",
            f"{o}templates/{template.pk}/",
            {"parameters": [{"name": "DET.DIT", "value": 10}]},
            "json",
        ),
        "template DELETE": ("delete", f"{o}templates/{template.pk}/", None, "json"),
        "templates reorder": (
            "post",
            f"{o}templates/reorder/",
            {"template_ids": [acq, flat, science]},
            "json",
        ),
        "absolute windows": ("put", f"{o}absolute-windows/", window, "json"),
        "sidereal windows": ("put", f"{o}sidereal-windows/", [], "json"),
        "chart POST": ("post", f"{o}finding-charts/", upload(jpeg()), "multipart"),
        "chart DELETE": ("delete", f"{o}finding-charts/1/", None, "json"),
    }


STALE_KINDS = [
    "container PUT", "container item POST", "container reorder", "container duplicate",
    "container submit", "OB PATCH", "OB DELETE", "OB submit", "OB duplicate", "template POST",
    "template PUT", "template DELETE", "templates reorder", "absolute windows",
    "sidereal windows", "chart POST", "chart DELETE",
]  # fmt: skip


def send(client: APIClient, write: Write, **headers: str) -> Any:
    method, path, body, form = write
    return getattr(client, method)(f"{API}/{path}", body, format=form, **headers)


@pytest.mark.parametrize("kind", STALE_KINDS)
def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(
    phase2: Phase2, client_for: ApiClientFor, kind: str
) -> None:
    # given
    write = stale_writes(phase2)[kind]
    client = client_for(phase2.pi)
    before = phase2_state()
    # when
    answer = send(client, write, HTTP_IF_MATCH=STALE)
    # then
    assert answer.status_code == 412, answer.content
    assert "reload" in answer.json()["detail"]
    assert phase2_state() == before


@pytest.mark.parametrize("kind", STALE_KINDS)
def test_the_same_write_with_the_current_etag_succeeds(
    phase2: Phase2, client_for: ApiClientFor, kind: str
) -> None:
    # given: the ETag the object answered (a new item's If-Match is its container's)
    write = stale_writes(phase2)[kind]
    client = client_for(phase2.pi)
    path = write[1]
    read_path = "/".join(path.split("/")[:2]) + "/"
    current = client.get(f"{API}/{read_path}")["ETag"]
    # when
    answer = send(client, write, HTTP_IF_MATCH=current)
    # then
    assert answer.status_code in (200, 201, 204), answer.content


# ---------------------------------------------------------------------------------------------
# Who may write
# ---------------------------------------------------------------------------------------------

# PI and co-investigator write; staff read but do not write (403); an outsider sees nothing.
WRITERS: dict[str, int] = {"pi": 200, "coi": 200, "staff": 403, "outsider": 404}


def user_of(phase2: Phase2, role: str) -> User:
    return {"pi": phase2.pi, "coi": phase2.coi, "staff": phase2.staff, "outsider": phase2.outsider}[
        role
    ]


@pytest.mark.parametrize(("role", "expected"), WRITERS.items())
@pytest.mark.parametrize(
    "kind", ["container PUT", "OB PATCH", "template PUT", "sidereal windows", "container reorder"]
)
def test_investigators_write_staff_are_refused_and_outsiders_see_nothing(
    phase2: Phase2, client_for: ApiClientFor, role: str, expected: int, kind: str
) -> None:
    # given
    write = stale_writes(phase2)[kind]
    before = phase2_state()
    # when
    answer = send(client_for(user_of(phase2, role)), write)
    # then
    assert answer.status_code == expected
    if expected != 200:
        assert phase2_state() == before


@pytest.mark.parametrize(
    ("role", "expected"), [("pi", 403), ("coi", 403), ("staff", 200), ("outsider", 404)]
)
def test_only_staff_accept_and_outsiders_see_nothing(
    phase2: Phase2, client_for: ApiClientFor, role: str, expected: int
) -> None:
    # given
    ob = complete(phase2, new_ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    before = phase2_state()
    # when
    answer = client_for(user_of(phase2, role)).post(f"{API}/obs/{ob.pk}/accept/")
    # then
    assert answer.status_code == expected
    if expected != 200:
        assert phase2_state() == before


def test_anonymous_writes_are_refused_with_401(phase2: Phase2) -> None:
    # given
    ob = new_ob(phase2)
    before = phase2_state()
    # when
    answer = APIClient().patch(f"{API}/obs/{ob.pk}/", {"name": "x"}, format="json")
    # then
    assert answer.status_code == 401
    assert phase2_state() == before
