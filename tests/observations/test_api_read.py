"""The Phase 2 read API: who sees which run, container and OB (the PI, accepted
co-investigators and staff; anyone else a 404), the shapes p2 maps onto (item types, ESO
status codes, ids, versions as ETags), and query counts that do not grow with a run's tree.

Rows are made with the ORM on the ``phase2`` world of ``conftest.py`` (two approved runs of
``astronomer``'s proposal, ``coi`` its co-investigator, FORS2 signatures at "130.0")."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from observations.api import (
    Phase2ContainerItemSerializer,
    Phase2OBItemSerializer,
    Phase2TreeSerializer,
    container_item_data,
    ob_item_data,
    tree_data,
)
from observations.models import (
    AbsoluteWindow,
    Container,
    FindingChart,
    ItemType,
    ObservationBlock,
    OBStatus,
    SiderealWindow,
    Template,
    TemplateSignature,
)
from observations.selectors import ContainerItem, OBItem, TreeContainer
from proposals.models import ObservingRun
from tests.conftest import ApiClientFor
from tests.factories import RunFactory
from tests.observations.conftest import IP_VERSION, Phase2

API = "/api/v1/phase2"


def container(
    parent: Container, name: str, position: int, kind: str = ItemType.FOLDER
) -> Container:
    return Container.objects.create(
        run=parent.run, parent=parent, item_type=kind, name=name, position=position
    )


def ob(parent: Container, name: str, position: int, **fields: Any) -> ObservationBlock:
    return ObservationBlock.objects.create(
        run=parent.run, container=parent, name=name, position=position, **fields
    )


def many_obs(parent: Container, count: int) -> None:
    ObservationBlock.objects.bulk_create(
        ObservationBlock(run=parent.run, container=parent, name=f"OB {i}", position=i)
        for i in range(count)
    )


def signature(name: str) -> TemplateSignature:
    return TemplateSignature.objects.get(ip_version=IP_VERSION, name=name)


def as_user(client_for: ApiClientFor, phase2: Phase2, role: str) -> APIClient:
    if role == "anonymous":
        return APIClient()
    users: dict[str, User] = {
        "pi": phase2.pi,
        "coi": phase2.coi,
        "outsider": phase2.outsider,
        "staff": phase2.staff,
    }
    return client_for(users[role])


@pytest.fixture
def deep_field(phase2: Phase2) -> ObservationBlock:
    """An OB of the SM run, in a group, with an acquisition and a science template, windows
    and two finding charts."""
    group = container(phase2.root(phase2.sm), "Group", 0, ItemType.GROUP)
    made = ob(
        group,
        "Deep field",
        0,
        status=OBStatus.DEFINED,
        version=4,
        ip_version=IP_VERSION,
        target_name="NGC 253",
        ra_deg=11.888,
        dec_deg=-25.288,
        pm_ra=0.005,
        execution_time_s=3900.0,
        exposure_time_s=3000.0,
    )
    Template.objects.create(ob=made, signature=signature("FORS2_img_obs"), position=1, values={})
    Template.objects.create(
        ob=made,
        signature=signature("FORS2_img_acq"),
        position=0,
        values={"DET.DIT": 10.0, "INS.FILT": "I_BESS"},
    )
    AbsoluteWindow.objects.create(
        ob=made,
        start=dt.datetime(2027, 5, 1, tzinfo=dt.UTC),
        end=dt.datetime(2027, 5, 3, 12, tzinfo=dt.UTC),
    )
    SiderealWindow.objects.create(ob=made, start_min=22 * 60, end_min=1440)
    for name in ("wide.jpg", "zoom.jpg"):
        FindingChart.objects.create(ob=made, name=name, content=b"\xff\xd8", size=2)
    return made


# ---------------------------------------------------------------------------------------------
# Who sees what
# ---------------------------------------------------------------------------------------------

SEES = {"pi": 200, "coi": 200, "outsider": 404, "staff": 200, "anonymous": 401}


@pytest.mark.parametrize(("role", "expected"), SEES.items())
def test_run_container_and_ob_are_for_investigators_and_staff(
    phase2: Phase2,
    deep_field: ObservationBlock,
    client_for: ApiClientFor,
    role: str,
    expected: int,
) -> None:
    # given
    client = as_user(client_for, phase2, role)
    urls = [
        f"{API}/runs/{phase2.sm.pk}/",
        f"{API}/runs/{phase2.sm.pk}/tree/",
        f"{API}/containers/{deep_field.container_id}/",
        f"{API}/containers/{deep_field.container_id}/items/",
        f"{API}/obs/{deep_field.pk}/",
        f"{API}/obs/{deep_field.pk}/templates/",
    ]
    # when
    statuses = {url: client.get(url).status_code for url in urls}
    # then
    assert statuses == dict.fromkeys(urls, expected)


@pytest.mark.parametrize(
    ("role", "expected"), [("pi", 2), ("coi", 2), ("outsider", 0), ("staff", 2)]
)
def test_the_run_list_holds_the_users_open_runs(
    phase2: Phase2, client_for: ApiClientFor, role: str, expected: int
) -> None:
    # given: a run of the same PI that was never approved
    RunFactory.create(proposal=phase2.proposal, letter="C")
    # when
    answer = as_user(client_for, phase2, role).get(f"{API}/runs/")
    # then
    assert answer.status_code == 200
    assert answer.json()["count"] == expected


def test_a_run_not_approved_is_not_found_even_by_its_pi(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    run: ObservingRun = RunFactory.create(proposal=phase2.proposal, letter="C")
    # when
    answer = client_for(phase2.pi).get(f"{API}/runs/{run.pk}/")
    # then
    assert answer.status_code == 404


def test_an_id_too_large_for_any_key_is_not_found(phase2: Phase2, client_for: ApiClientFor) -> None:
    client = client_for(phase2.pi)
    for kind in ("runs", "containers", "obs"):
        assert client.get(f"{API}/{kind}/{'9' * 25}/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Runs and the tree
# ---------------------------------------------------------------------------------------------


def test_a_run_names_its_root_folder_and_counts_its_items(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given: a group of three OBs and one OB in the root
    root = phase2.root(phase2.sm)
    many_obs(container(root, "G", 0, ItemType.GROUP), 3)
    ob(root, "Standard", 1)
    # when
    answer = client_for(phase2.pi).get(f"{API}/runs/{phase2.sm.pk}/")
    # then
    run = answer.json()
    assert run["container_id"] == root.pk
    assert (run["item_count"], run["ob_count"]) == (2, 4)
    assert (run["run_id"], run["mode"], run["instrument"], run["telescope"]) == (
        phase2.sm.pk,
        "SM",
        "FORS2",
        "UT1",
    )
    assert run["prog_id"] == "130.C-0001(A)"
    assert run["ip_version"] == IP_VERSION
    assert run["pi"] == {"first_name": phase2.pi.first_name, "last_name": phase2.pi.last_name}


def test_the_tree_answers_the_nested_items_with_p2_item_types(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    root = phase2.root(phase2.sm)
    folder = container(root, "Folder", 1)
    for position, kind in enumerate([ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION]):
        ob(container(folder, kind, position, kind), f"in {kind}", 0, status=OBStatus.ACCEPTED)
    made = ob(root, "Lone", 0, status=OBStatus.REPAIR, execution_time_s=1800.0)
    # when
    answer = client_for(phase2.coi).get(f"{API}/runs/{phase2.sm.pk}/tree/")
    # then
    tree = answer.json()
    assert (tree["item_type"], tree["container_id"], tree["container_status"]) == (
        "Folder",
        root.pk,
        None,
    )
    lone, inner = tree["items"]
    assert lone == {
        "item_type": "OB",
        "ob_id": made.pk,
        "ob_status": "-",
        "name": "Lone",
        "position": 0,
        "version": 1,
        "user_priority": 1,
        "target_name": "",
        "exposure_time_s": 0.0,
        "execution_time_s": 1800.0,
    }
    assert [i["item_type"] for i in inner["items"]] == ["Group", "TimeLink", "Concatenation"]
    assert [i["container_status"] for i in inner["items"]] == ["+", "+", "+"]
    assert [i["items"][0]["item_type"] for i in inner["items"]] == ["OB", "OB", "OB"]
    assert (tree["total_obs"], inner["total_obs"]) == (4, 3)


def count_queries(client: APIClient, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, answer.content
    return len(captured), answer.json()


def test_the_tree_endpoint_costs_the_same_queries_for_10_and_300_obs(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given: 10 OBs in the SM run, 300 in the VM run (in nested folders)
    many_obs(container(phase2.root(phase2.sm), "G", 0, ItemType.GROUP), 10)
    large = phase2.root(phase2.vm)
    many_obs(container(large, "F1", 0), 150)
    many_obs(container(container(large, "F2", 1), "F3", 0), 150)
    client = client_for(phase2.pi)
    client.get(f"{API}/runs/")  # the token's first use writes nothing, but warm up anyway
    # when
    small_count, small = count_queries(client, f"{API}/runs/{phase2.sm.pk}/tree/")
    large_count, big = count_queries(client, f"{API}/runs/{phase2.vm.pk}/tree/")
    # then: the token, the user's roles, the run, its containers, its OBs
    assert (small["total_obs"], big["total_obs"]) == (10, 300)
    assert small_count == large_count == 5


def test_the_run_list_costs_the_same_queries_for_one_and_several_runs(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    client = client_for(phase2.staff)
    one_count, one = count_queries(client, f"{API}/runs/?limit=1")
    many_obs(phase2.root(phase2.sm), 20)
    # when
    two_count, two = count_queries(client, f"{API}/runs/")
    # then: token, roles, count, page, the instruments' package versions
    assert (len(one["results"]), len(two["results"])) == (1, 2)
    assert one_count == two_count == 5


# ---------------------------------------------------------------------------------------------
# Containers and items
# ---------------------------------------------------------------------------------------------


def test_a_containers_items_are_merged_by_position_with_etag(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    root = phase2.root(phase2.sm)
    Container.objects.filter(pk=root.pk).update(version=3)
    ob(root, "second", 1, status=OBStatus.DEFINED)
    group = container(root, "first", 0, ItemType.GROUP)
    ob(group, "in group", 0, status=OBStatus.PARTIAL)
    client = client_for(phase2.pi)
    # when
    detail = client.get(f"{API}/containers/{root.pk}/")
    items = client.get(f"{API}/containers/{root.pk}/items/")
    # then
    assert detail["ETag"] == items["ETag"] == '"3"'
    assert detail.json() == {
        "container_id": root.pk,
        "item_type": "Folder",
        "container_status": None,
        "name": root.name,
        "run_id": phase2.sm.pk,
        "parent_container_id": None,
        "position": 0,
        "version": 3,
        "group_priority": 1,
        "item_count": 2,
    }
    first, second = items.json()
    assert (first["item_type"], first["container_id"], first["container_status"]) == (
        "Group",
        group.pk,
        "P",
    )
    assert (second["item_type"], second["ob_status"], second["name"]) == ("OB", "D", "second")
    assert "container_id" not in second and "ob_id" not in first


def test_a_scheduling_containers_detail_has_its_derived_status(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    link = container(phase2.root(phase2.sm), "Link", 0, ItemType.TIMELINK)
    ob(link, "1", 0, status=OBStatus.ACCEPTED)
    ob(link, "2", 1, status=OBStatus.DEFINED)
    # when
    answer = client_for(phase2.staff).get(f"{API}/containers/{link.pk}/")
    # then
    body = answer.json()
    assert (body["item_type"], body["container_status"], body["item_count"]) == ("TimeLink", "D", 2)
    assert body["parent_container_id"] == link.parent_id


# ---------------------------------------------------------------------------------------------
# OBs and templates
# ---------------------------------------------------------------------------------------------


def test_an_ob_answers_its_content_with_its_version_as_etag(
    phase2: Phase2, deep_field: ObservationBlock, client_for: ApiClientFor
) -> None:
    # when
    answer = client_for(phase2.coi).get(f"{API}/obs/{deep_field.pk}/")
    # then
    assert answer["ETag"] == '"4"'
    body = answer.json()
    assert (body["ob_id"], body["item_type"], body["ob_status"], body["version"]) == (
        deep_field.pk,
        "OB",
        "D",
        4,
    )
    assert (body["run_id"], body["parent_container_id"]) == (phase2.sm.pk, deep_field.container_id)
    assert (body["instrument"], body["ip_version"]) == ("FORS2", IP_VERSION)
    assert body["target"]["ra"].startswith("00:47:33")
    assert body["target"]["dec"].startswith("-25:17:16")
    assert body["target"]["pm_ra_arcsec_yr"] == 0.005
    assert body["constraints"]["sky_transparency"] == "Variable"
    assert (body["execution_time_s"], body["exposure_time_s"]) == (3900.0, 3000.0)
    assert body["absolute_windows"] == [
        {"start": "2027-05-01T00:00:00Z", "end": "2027-05-03T12:00:00Z"}
    ]
    assert body["sidereal_windows"] == [{"start": "22:00", "end": "24:00"}]
    assert body["finding_charts"] == ["wide.jpg", "zoom.jpg"]
    assert [t["template_name"] for t in body["templates"]] == ["FORS2_img_acq", "FORS2_img_obs"]


def test_template_parameters_merge_the_signature_with_the_values_set(
    phase2: Phase2, deep_field: ObservationBlock, client_for: ApiClientFor
) -> None:
    # when
    answer = client_for(phase2.pi).get(f"{API}/obs/{deep_field.pk}/templates/")
    # then
    assert answer["ETag"] == '"4"'
    acquisition, science = answer.json()
    assert (acquisition["type"], acquisition["position"]) == ("acquisition", 0)
    dit, filt = acquisition["parameters"]
    assert (dit["name"], dit["value"], dit["default"], dit["min"], dit["max"]) == (
        "DET.DIT",
        10.0,
        5.0,
        0.5,
        60,
    )
    assert (filt["value"], filt["allowed"]) == ("I_BESS", ["R_SPECIAL", "I_BESS"])
    # unset values are the defaults; a parameter without a default has no value
    values = {p["name"]: p["value"] for p in science["parameters"]}
    assert values == {
        "DET.DIT": 3600.0,
        "SEQ.NEXPO": 1,
        "INS.FILT": None,
        "SEQ.OFFSETS": [0, 10],
        "DET.BINNING": False,
    }


def test_an_ob_costs_the_same_queries_with_more_templates_and_windows(
    phase2: Phase2, deep_field: ObservationBlock, client_for: ApiClientFor
) -> None:
    # given: a bare OB next to the full one
    bare = ob(phase2.root(phase2.sm), "Bare", 1)
    client = client_for(phase2.pi)
    # when
    bare_count, _ = count_queries(client, f"{API}/obs/{bare.pk}/")
    full_count, _ = count_queries(client, f"{API}/obs/{deep_field.pk}/")
    # then: token, roles, the OB (with run and instrument), templates, two windows, charts
    assert bare_count == full_count == 7


# ---------------------------------------------------------------------------------------------
# Template signatures
# ---------------------------------------------------------------------------------------------


def test_signatures_of_an_instrument_package_version(
    phase2: Phase2, client_for: ApiClientFor
) -> None:
    # given
    client = client_for(phase2.outsider)  # instruments are public to every signed-in user
    # when
    versions = client.get(f"{API}/instrument-packages/FORS2/")
    listed = client.get(f"{API}/instrument-packages/FORS2/{IP_VERSION}/signatures/")
    one = client.get(f"{API}/instrument-packages/FORS2/{IP_VERSION}/signatures/FORS2_img_obs/")
    # then
    assert versions.json() == {"instrument": "FORS2", "ip_versions": [IP_VERSION]}
    assert [s["name"] for s in listed.json()] == [
        "FORS2_img_acq",
        "FORS2_cal_flat",
        "FORS2_img_obs",
        "FORS2_spec_obs",
    ]
    body = one.json()
    assert (body["type"], body["instrument"], body["ip_version"]) == ("science", "FORS2", "130.0")
    nexpo = body["parameters"][1]
    assert nexpo == {
        "name": "SEQ.NEXPO",
        "type": "integer",
        "default": 1,
        "min": 1,
        "max": 100,
        "allowed": None,
        "label": "",
    }


@pytest.mark.parametrize(
    "path",
    [
        "instrument-packages/NOSUCH/",
        f"instrument-packages/NOSUCH/{IP_VERSION}/signatures/",
        "instrument-packages/FORS2/0.0/signatures/",
        f"instrument-packages/FORS2/{IP_VERSION}/signatures/FORS2_nothing/",
    ],
)
def test_unknown_instruments_versions_and_templates_are_not_found(
    phase2: Phase2, client_for: ApiClientFor, path: str
) -> None:
    assert client_for(phase2.pi).get(f"{API}/{path}").status_code == 404


# ---------------------------------------------------------------------------------------------
# The dicts built for speed have the fields their schema declares
# ---------------------------------------------------------------------------------------------


def test_the_item_dicts_have_exactly_the_schemas_fields() -> None:
    # given
    ob_item = OBItem(1, 2, 0, "OB", "P", 1, 1, "", 0.0, 0.0)
    container_item = ContainerItem(2, None, "Group", "G", 0, 1, 1)
    tree = TreeContainer(3, None, "Folder", "F", 0, 1, 1, items=[ob_item])
    # then
    assert set(ob_item_data(ob_item)) == set(Phase2OBItemSerializer().fields)
    assert set(container_item_data(container_item)) == set(Phase2ContainerItemSerializer().fields)
    assert set(tree_data(tree)) == set(Phase2TreeSerializer().fields)
