"""Log-in throttling (django-axes): after too many failures for a username from one address,
the token endpoint and the login page refuse that username there, even with the right
password, until a cool-off period has passed; a successful log-in resets the count."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

LIMIT = 3
TOKEN_URL = "/api/v1/token/"


@pytest.fixture
def limit(settings: Any) -> int:
    """A lower failure limit than production's 5, with production's 15-minute cool-off."""
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    return LIMIT


def post_token(client: Client, username: Any, password: Any) -> Any:
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, content_type="application/json"
    )


def post_login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def test_token_endpoint_refuses_even_the_right_password_after_too_many_failures(
    client: Client, astronomer: User, limit: int
) -> None:
    # given
    for _ in range(limit):
        post_token(client, "ada", "wrong")
    # when
    response = post_token(client, "ada", "pw")
    # then
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "Too many failed log-in attempts" in response.json()["detail"]
    assert response["Retry-After"] == str(15 * 60)
    assert not Token.objects.filter(user=astronomer).exists()


def test_token_endpoint_answers_the_failure_that_reaches_the_limit_with_429(
    client: Client, astronomer: User, limit: int
) -> None:
    # when
    statuses = [post_token(client, "ada", "wrong").status_code for _ in range(limit + 1)]
    # then
    assert statuses == [400] * (limit - 1) + [429, 429]


def test_token_endpoint_unlocks_after_the_cool_off(
    client: Client, astronomer: User, limit: int
) -> None:
    # given a lock-out
    for _ in range(limit):
        post_token(client, "ada", "wrong")
    assert post_token(client, "ada", "pw").status_code == 429
    # when the cool-off has passed since the last attempt
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=15, seconds=1)):
        response = post_token(client, "ada", "pw")
    # then
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=astronomer).key}


def test_successful_token_request_resets_the_failure_count(
    client: Client, astronomer: User, limit: int
) -> None:
    # given failures short of the limit, then a success
    for _ in range(limit - 1):
        post_token(client, "ada", "wrong")
    assert post_token(client, "ada", "pw").status_code == 200
    # when failing again
    statuses = [post_token(client, "ada", "wrong").status_code for _ in range(limit)]
    # then the count started again from zero
    assert statuses == [400] * (limit - 1) + [429]


def test_lockout_of_one_username_leaves_other_users_alone(
    client: Client, astronomer: User, other_astronomer: User, limit: int
) -> None:
    # given
    for _ in range(limit):
        post_token(client, "ada", "wrong")
    # when
    bob = post_token(client, "bob", "pw")
    ada = post_token(client, "ada", "pw")
    # then
    assert bob.status_code == 200
    assert ada.status_code == 429


def test_token_endpoint_refuses_a_too_long_username_before_recording_it(
    client: Client, db: None
) -> None:
    # when (axes stores usernames of up to 255 characters: PostgreSQL would refuse longer ones)
    response = post_token(client, "x" * 300, "pw")
    # then
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


@pytest.mark.parametrize("username", [12345, True, ["ada"], None])
def test_token_endpoint_refuses_a_username_that_is_not_a_string(
    client: Client, astronomer: User, username: Any
) -> None:
    # when
    response = post_token(client, username, "pw")
    # then
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


def test_token_endpoint_ignores_a_stale_authorization_header(
    client: Client, astronomer: User
) -> None:
    # when a client holding an old token asks for a new one with its password
    response = client.post(
        TOKEN_URL,
        {"username": "ada", "password": "pw"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )
    # then the header plays no part: the password decides
    assert response.status_code == 200


def test_login_page_refuses_even_the_right_password_after_too_many_failures(
    client: Client, astronomer: User, limit: int
) -> None:
    # given
    for _ in range(limit):
        post_login(client, "ada", "wrong")
    # when
    response = post_login(client, "ada", "pw")
    # then
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-in attempts" in page
    assert "15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_login_page_success_resets_the_failure_count(
    client: Client, astronomer: User, limit: int
) -> None:
    # given failures short of the limit, then a success
    for _ in range(limit - 1):
        post_login(client, "ada", "wrong")
    assert post_login(client, "ada", "pw").status_code == 302
    client.logout()
    # when failing again
    statuses = [post_login(client, "ada", "wrong").status_code for _ in range(limit)]
    # then the count started again from zero
    assert statuses == [200] * (limit - 1) + [429]


def test_login_page_unlocks_after_the_cool_off(
    client: Client, astronomer: User, limit: int
) -> None:
    # given a lock-out
    for _ in range(limit):
        post_login(client, "ada", "wrong")
    # when
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=15, seconds=1)):
        response = post_login(client, "ada", "pw")
    # then
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(astronomer.pk)


def test_test_client_login_and_force_login_still_work(client: Client, astronomer: User) -> None:
    # when / then
    assert client.login(username="ada", password="pw")
    assert not client.login(username="ada", password="wrong")
    client.force_login(astronomer)
    assert client.get(reverse("profile")).status_code == 200


def test_openapi_schema_declares_the_token_endpoints_statuses(client: Client, db: None) -> None:
    # when
    schema = client.get("/api/schema/?format=json").json()
    # then
    operation = schema["paths"]["/api/v1/token/"]["post"]
    assert set(operation["responses"]) == {"200", "400", "415", "429"}
    assert "security" not in operation and "security" not in schema  # no credentials but these
