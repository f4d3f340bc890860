"""The archive's search: by position (coordinates or a target name from the archive's own
records) and radius, time, instrument, programme, object and category; the results table with
its pages; the file page with its header; the same search through the API."""

import datetime
import html
from typing import Any

import pytest
from django.test import Client

from archive.models import Category
from tests.archive.make_files import make_file, programme
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("archive_in_tmp")]


def dp_ids(response: Any) -> list[str]:
    page = response.context["page"]
    return [f.dp_id for f in page] if page is not None else []


def test_a_target_name_is_resolved_from_the_archive_and_finds_files_around_it_nearest_first(
    client: Client,
) -> None:
    # given: NGC 253 observed, a frame 3' away under another name, one 20' away
    pi = UserFactory.create()
    proposal = programme(pi)
    on_target = make_file(proposal=proposal, dp_id="A.on")
    near = make_file(proposal=proposal, dp_id="A.near", object_name="field", dec_deg=-25.238)
    make_file(proposal=proposal, dp_id="A.far", object_name="field", dec_deg=-25.621)
    # when
    response = client.get("/archive/", {"target": "ngc 253", "radius": "6"})
    # then
    assert response.status_code == 200
    assert dp_ids(response) == [on_target.dp_id, near.dp_id]
    assert response.context["position"].ra_deg == pytest.approx(11.888)


def test_an_unknown_target_name_is_refused_on_its_field(client: Client) -> None:
    # given
    make_file(dp_id="A.one")
    # when
    response = client.get("/archive/", {"target": "M 31"})
    # then
    assert response.status_code == 200
    assert response.context["page"] is None
    assert "No file in the archive has the target" in str(response.context["form"].errors)


def test_sexagesimal_coordinates_and_a_radius_make_a_cone(client: Client) -> None:
    # given: 00:47:33.1 -25:17:18 is NGC 253
    inside = make_file(dp_id="A.in")
    make_file(dp_id="A.out", ra_deg=12.5)
    # when
    response = client.get("/archive/", {"ra": "00:47:33.1", "dec": "-25:17:18", "radius": "2"})
    # then
    assert dp_ids(response) == [inside.dp_id]


def test_coordinates_given_half_are_refused(client: Client) -> None:
    # when
    response = client.get("/archive/", {"ra": "10.0"})
    # then
    assert "Give both RA and Dec" in str(response.context["form"].errors)
    assert response.context["page"] is None


def test_filters_by_time_instrument_programme_object_and_category(client: Client) -> None:
    # given
    proposal = programme(UserFactory.create(), "118.C-0003")
    other = programme(UserFactory.create(), "118.D-0009")
    march = datetime.datetime(2027, 3, 11, 4, 0, tzinfo=datetime.UTC)
    april = datetime.datetime(2027, 4, 2, 4, 0, tzinfo=datetime.UTC)
    make_file(proposal=proposal, dp_id="S.march", date_obs=march)
    make_file(proposal=proposal, dp_id="S.april", date_obs=april)
    make_file(proposal=proposal, dp_id="S.uves", date_obs=march, instrument_name="UVES")
    make_file(proposal=other, dp_id="S.other", date_obs=march, object_name="Sgr A*")
    make_file(dp_id="C.bias", category=Category.CALIB, date_obs=march)
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"date_from": "2027-04-01"}, ["S.april"]),
        ({"date_to": "2027-03-31", "instrument": "UVES"}, ["S.uves"]),
        ({"programme": "118.D"}, ["S.other"]),
        ({"object_name": "sgr"}, ["S.other"]),
        ({"category": "CALIB"}, ["C.bias"]),
    ]
    for params, expected in cases:
        # when
        response = client.get("/archive/", params)
        # then
        assert sorted(dp_ids(response)) == expected, params


def test_results_come_in_pages_of_fifty(client: Client) -> None:
    # given
    for i in range(60):
        make_file(dp_id=f"P.{i:03d}")
    # when
    first = client.get("/archive/", {"instrument": "FORS2"})
    second = client.get("/archive/", {"instrument": "FORS2", "page": "2"})
    # then
    assert first.context["page"].paginator.count == 60
    assert len(dp_ids(first)) == 50 and len(dp_ids(second)) == 10
    assert not set(dp_ids(first)) & set(dp_ids(second))
    assert 'id="next-page"' in first.content.decode()


def test_proprietary_metadata_is_public_but_without_a_download_link(client: Client) -> None:
    # given
    secret = make_file(proposal=programme(UserFactory.create()), dp_id="S.secret")
    # when
    response = client.get("/archive/", {"target": "NGC 253"})
    # then: listed (headers are public), with no link to its bytes
    assert dp_ids(response) == [secret.dp_id]
    assert f"/archive/files/{secret.pk}/download/" not in response.content.decode()


def test_without_public_headers_a_proprietary_file_is_not_even_listed(
    client: Client, settings: Any
) -> None:
    # given
    settings.ARCHIVE_HEADERS_PUBLIC = False
    secret = make_file(proposal=programme(UserFactory.create()), dp_id="S.secret")
    public = make_file(dp_id="S.old", release_date=datetime.date(2020, 1, 1))
    # when
    response = client.get("/archive/", {"target": "NGC 253"})
    page = client.get(f"/archive/files/{secret.pk}/")
    # then
    assert dp_ids(response) == [public.dp_id]
    assert page.status_code == 404


def test_the_file_page_shows_its_header_cards(client: Client) -> None:
    # given
    archive_file = make_file(dp_id="H.one", write=True)
    # when
    response = client.get(f"/archive/files/{archive_file.pk}/")
    # then
    text = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "ARCFILE = 'H.one.fits'" in text
    assert "CHECKSUM=" in text
    assert "Proprietary until" in text


def test_the_search_api_finds_files_by_target_for_anonymous_clients(client: Client) -> None:
    # given
    found = make_file(dp_id="A.on")
    make_file(dp_id="A.far", object_name="field", ra_deg=40.0)
    # when
    response = client.get("/api/v1/archive/files/", {"target": "NGC 253", "radius_arcmin": "1"})
    # then
    assert response.status_code == 200
    body = response.json()
    assert [row["dp_id"] for row in body["results"]] == [found.dp_id]
    assert body["results"][0]["distance_arcmin"] == pytest.approx(0.0, abs=1e-6)
    assert body["results"][0]["public"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ra": "25:00:00", "dec": "0"}, "ra"),
        ({"ra": "10"}, "dec"),
        ({"radius_arcmin": "-1"}, "radius_arcmin"),
        ({"target": "Nowhere"}, "target"),
        ({"date_from": "2027-05-01", "date_to": "2027-04-01"}, "date_to"),
    ],
)
def test_the_search_api_refuses_bad_input_with_field_messages(
    client: Client, params: dict[str, str], field: str
) -> None:
    # when
    response = client.get("/api/v1/archive/files/", params)
    # then
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_file_api_gives_metadata_and_header(client: Client) -> None:
    # given
    archive_file = make_file(dp_id="H.api", write=True)
    # when
    response = client.get(f"/api/v1/archive/files/{archive_file.pk}/")
    # then
    assert response.status_code == 200
    assert response.json()["dp_id"] == "H.api"
    assert "ARCFILE = 'H.api.fits'" in response.json()["header_text"]
