"""The profile API (GET/PATCH /api/v1/profile/) and the one service behind it and the page."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataflow.accounts.models import Profile, Role
from dataflow.accounts.services import profile_update
from dataflow.errors import InvalidInput
from tests.factories import UserFactory

URL = "/api/v1/profile/"


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return api


@pytest.fixture
def ada_api(astronomer: User) -> APIClient:
    return api_for(astronomer)


def stored(user: User) -> tuple[str, str, str, str]:
    fresh = User.objects.select_related("profile").get(pk=user.pk)
    return fresh.first_name, fresh.last_name, fresh.profile.institute, fresh.profile.country


def test_profile_api_shows_the_users_own_profile(ada_api: APIClient, astronomer: User) -> None:
    # when
    response = ada_api.get(URL)
    # then
    assert response.status_code == 200
    assert response.json() == {
        "username": "ada",
        "email": "ada@example.org",
        "first_name": "Ada",
        "last_name": astronomer.last_name,
        "institute": "Universität Göttingen",
        "country": "DE",
        "roles": ["astronomer"],
    }


def test_profile_api_lists_every_role_the_user_holds(db: None) -> None:
    # given
    user = UserFactory.create(roles=[Role.REVIEWER, Role.ASTRONOMER])
    # when
    roles = api_for(user).get(URL).json()["roles"]
    # then
    assert roles == ["astronomer", "reviewer"]


def test_profile_api_reads_in_three_queries(
    ada_api: APIClient, django_assert_num_queries: Any
) -> None:
    # when / then: the token with its user, the user with the profile, the roles
    with django_assert_num_queries(3):
        assert ada_api.get(URL).status_code == 200


@pytest.mark.parametrize("method", ["get", "patch"])
def test_profile_api_refuses_anonymous_with_401_json(client: Client, db: None, method: str) -> None:
    # when
    response = getattr(client, method)(URL, {}, content_type="application/json")
    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "detail" in response.json()


@pytest.mark.parametrize("institute", ["国家天文台", "Universität Zürich"])
def test_profile_patch_changes_only_the_fields_sent_and_round_trips_unicode(
    ada_api: APIClient, astronomer: User, institute: str
) -> None:
    # given
    first, last, _, country = stored(astronomer)
    # when
    response = ada_api.patch(URL, {"institute": institute}, format="json")
    # then
    assert response.status_code == 200
    assert response.json()["institute"] == institute
    assert ada_api.get(URL).json()["institute"] == institute
    assert stored(astronomer) == (first, last, institute, country)


def test_profile_patch_changes_names_and_country(ada_api: APIClient, astronomer: User) -> None:
    # when
    response = ada_api.patch(
        URL, {"first_name": "Wei", "last_name": "Li", "country": "CN"}, format="json"
    )
    # then
    assert response.status_code == 200
    assert stored(astronomer) == ("Wei", "Li", "Universität Göttingen", "CN")
    assert response.json()["first_name"] == "Wei"


def test_profile_patch_works_for_a_user_without_a_profile_row(db: None) -> None:
    # given a user made outside the services (e.g. createsuperuser)
    user = User.objects.create_user(username="root", email="root@example.org", password="pw")
    api = api_for(user)
    assert api.get(URL).json()["institute"] == ""
    # when
    response = api.patch(URL, {"country": "CL"}, format="json")
    # then
    assert response.status_code == 200
    assert Profile.objects.get(user=user).country == "CL"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "eve", "institute": "ESO"}, "username"),
        ({"email": "eve@example.org", "institute": "ESO"}, "email"),
        ({"roles": ["staff"], "institute": "ESO"}, "roles"),
        ({"institution": "ESO"}, "institution"),
    ],
)
def test_profile_patch_refuses_read_only_and_unknown_fields_and_changes_nothing(
    ada_api: APIClient, astronomer: User, body: dict[str, Any], field: str
) -> None:
    # given
    before = stored(astronomer)
    # when
    response = ada_api.patch(URL, body, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert stored(astronomer) == before
    assert User.objects.get(pk=astronomer.pk).username == "ada"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"institute": "x" * 10_000}, "institute"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"country": "x" * 101}, "country"),
        ({"first_name": 5}, "first_name"),
        ({"last_name": 1.5}, "last_name"),
        ({"first_name": True}, "first_name"),
        ({"country": None}, "country"),
        ({"last_name": ["Li"]}, "last_name"),
        ({"institute": {"name": "ESO"}}, "institute"),
        ({"country": "D\x00E"}, "country"),
    ],
)
def test_profile_patch_refuses_bad_values_and_changes_nothing(
    ada_api: APIClient, astronomer: User, body: dict[str, Any], field: str
) -> None:
    # given
    before = stored(astronomer)
    # when
    response = ada_api.patch(URL, {"last_name": "Changed", **body}, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert list(response.json()["errors"]) == [field]
    assert stored(astronomer) == before


@pytest.mark.parametrize("raw", ['[{"institute": "ESO"}]', '"ESO"', "42", "null"])
def test_profile_patch_refuses_a_body_that_is_not_an_object(
    ada_api: APIClient, astronomer: User, raw: str
) -> None:
    # given
    before = stored(astronomer)
    # when
    response = ada_api.patch(URL, raw, content_type="application/json")
    # then
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]
    assert stored(astronomer) == before


def test_profile_patch_refuses_a_body_that_is_not_json(ada_api: APIClient) -> None:
    # when
    response = ada_api.patch(URL, "institute=ESO", content_type="application/x-www-form-urlencoded")
    # then
    assert response.status_code == 415
    assert "detail" in response.json()


def test_profile_patch_refuses_malformed_json(ada_api: APIClient) -> None:
    # when
    response = ada_api.patch(URL, '{"institute": ', content_type="application/json")
    # then
    assert response.status_code == 400


def test_openapi_schema_documents_the_profile_api(client: Client, db: None) -> None:
    # when
    schema = client.get("/api/schema/?format=json").json()
    # then
    operations = schema["paths"]["/api/v1/profile/"]
    assert set(operations) == {"get", "patch"}
    assert set(operations["get"]["responses"]) == {"200", "401"}
    assert set(operations["patch"]["responses"]) == {"200", "400", "401", "403", "415"}
    assert list(operations["patch"]["requestBody"]["content"]) == ["application/json"]
    request_ref = operations["patch"]["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][request_ref["$ref"].rsplit("/", 1)[1]]
    assert set(request["properties"]) == {"first_name", "last_name", "institute", "country"}
    assert request["additionalProperties"] is False
    assert request["properties"]["institute"]["maxLength"] == 300
    response_ref = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    profile = schema["components"]["schemas"][response_ref["$ref"].rsplit("/", 1)[1]]
    assert set(profile["required"]) == {
        "username",
        "email",
        "first_name",
        "last_name",
        "institute",
        "country",
        "roles",
    }


# The service: the one door for the page and the API.


def test_profile_update_merges_a_partial_change_with_what_is_stored(astronomer: User) -> None:
    # given a copy of the user read before someone else renamed them
    stale = User.objects.get(pk=astronomer.pk)
    User.objects.filter(pk=astronomer.pk).update(last_name="Renamed")
    # when
    profile = profile_update(user_id=stale.pk, first_name="Augusta", institute="ESO")
    # then the change is merged with the stored row, not with the stale copy
    assert stored(astronomer) == ("Augusta", "Renamed", "ESO", "DE")
    assert profile.institute == "ESO"


def test_profile_update_saves_only_the_fields_it_changes(astronomer: User) -> None:
    # when
    with CaptureQueriesContext(connection) as queries:
        profile_update(user_id=astronomer.pk, institute="ESO")
    # then
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"institute"' in updates[0]
    assert '"country"' not in updates[0]


def test_profile_update_refuses_a_too_long_value_and_changes_nothing(astronomer: User) -> None:
    # given
    before = stored(astronomer)
    # when
    with pytest.raises(InvalidInput) as refused:
        profile_update(user_id=astronomer.pk, first_name="Wei", institute="x" * 301)
    # then
    assert list(refused.value.errors) == ["institute"]
    assert stored(astronomer) == before


def test_profile_page_saves_through_the_same_service(client: Client, astronomer: User) -> None:
    # given
    client.force_login(astronomer)
    # when
    response = client.post(
        reverse("profile"),
        {"first_name": "Wei", "last_name": "Li", "institute": "国家天文台", "country": "CN"},
    )
    # then
    assert response.status_code == 302
    assert stored(astronomer) == ("Wei", "Li", "国家天文台", "CN")


def test_profile_page_refuses_a_too_long_institute(client: Client, astronomer: User) -> None:
    # given
    client.force_login(astronomer)
    before = stored(astronomer)
    # when
    response = client.post(
        reverse("profile"),
        {"first_name": "Wei", "last_name": "Li", "institute": "x" * 10_000, "country": "CN"},
    )
    # then
    assert response.status_code == 200
    assert "at most 300 characters" in response.content.decode()
    assert stored(astronomer) == before


def test_profile_page_shows_the_stored_values_without_writing(client: Client, db: None) -> None:
    # given a user without a profile row
    user = User.objects.create_user(username="root", email="root@example.org", password="pw")
    client.force_login(user)
    # when
    response = client.get(reverse("profile"))
    # then
    assert response.status_code == 200
    assert not Profile.objects.filter(user=user).exists()
