"""Errors: JSON under /api/ whatever DEBUG says, styled pages elsewhere, and a favicon."""

import logging

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import ApiClientFor

ERROR_URLS = "tests.platform.urls_with_errors"
DEBUG_MODES = pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@DEBUG_MODES
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/proposals/abc/",
        "/api/v1/proposals/999999/",
        "/api/v1/periods/abc/",
        "/api/v1/nothing/",
        "/api/v1/proposals/1/nothing/",
        "/api/nothing",
        "/api/",
    ],
)
def test_an_unknown_api_path_is_a_json_404(
    client_for: ApiClientFor, astronomer: User, settings, debug: bool, path: str
) -> None:
    # given
    settings.DEBUG = debug
    # when
    response = client_for(astronomer).get(path)
    # then
    assert_json_error(response, 404)


@DEBUG_MODES
def test_an_unknown_api_path_is_a_json_404_for_anonymous_users_too(
    db: None, settings, debug: bool
) -> None:
    settings.DEBUG = debug
    assert_json_error(Client().post("/api/v1/nothing/", {"x": 1}), 404)


@DEBUG_MODES
def test_an_api_path_without_its_trailing_slash_is_json_not_a_debug_error(
    client_for: ApiClientFor, astronomer: User, settings, debug: bool
) -> None:
    # given Django's APPEND_SLASH, which cannot redirect a POST (a RuntimeError under DEBUG)
    settings.DEBUG = debug
    client = client_for(astronomer)
    # when / then
    body = assert_json_error(client.post("/api/v1/proposals", {}, format="json"), 404)
    assert "/api/v1/proposals/" in body["detail"]
    redirect = client.get("/api/v1/periods?limit=1")
    assert redirect.status_code == 301 and redirect["Location"] == "/api/v1/periods/?limit=1"


@DEBUG_MODES
def test_a_wrong_method_on_the_api_is_a_json_405(
    client_for: ApiClientFor, astronomer: User, settings, debug: bool
) -> None:
    settings.DEBUG = debug
    client = client_for(astronomer)
    assert_json_error(client.post("/api/v1/periods/", {}, format="json"), 405)
    assert_json_error(client.delete("/api/v1/telescopes/"), 405)
    assert_json_error(client.put("/api/v1/token/", {}, format="json"), 405)


@DEBUG_MODES
@pytest.mark.urls(ERROR_URLS)
@pytest.mark.parametrize("path", ["/api/v1/broken/", "/api/v1/broken-plain/"])
def test_an_unhandled_exception_in_the_api_is_a_logged_json_500(
    db: None, settings, caplog, debug: bool, path: str
) -> None:
    # given
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    # when
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    # then the body says no more than that, and the traceback is in the log
    assert assert_json_error(response, 500) == {"detail": "Internal server error."}
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and "planted" in str(record.exc_info[1])
    assert path in record.getMessage()


@DEBUG_MODES
@pytest.mark.urls(ERROR_URLS)
@pytest.mark.parametrize(
    ("path", "status"), [("/api/v1/missing-plain/", 404), ("/api/v1/forbidden-plain/", 403)]
)
def test_django_errors_raised_by_a_plain_view_under_the_api_are_json(
    db: None, settings, debug: bool, path: str, status: int
) -> None:
    settings.DEBUG = debug
    body = assert_json_error(Client().get(path), status)
    assert "planted" not in body["detail"]


def test_a_missing_page_uses_the_styled_404_template(db: None) -> None:
    # when
    response = Client().get("/nowhere/")
    # then
    assert response.status_code == 404
    assert {"404.html", "base.html"} <= {t.name for t in response.templates}
    assert "Page not found" in response.content.decode()
    assert 'rel="icon"' in response.content.decode()


def test_a_missing_proposal_page_uses_the_styled_404_template(
    client: Client, astronomer: User
) -> None:
    # given
    client.force_login(astronomer)
    # when
    response = client.get("/proposals/999999/")
    # then
    assert response.status_code == 404
    assert "404.html" in {t.name for t in response.templates}


@pytest.mark.urls(ERROR_URLS)
def test_a_refused_page_uses_the_styled_403_template(client: Client, astronomer: User) -> None:
    # given
    client.force_login(astronomer)
    # when
    response = client.get("/forbidden/")
    # then
    assert response.status_code == 403
    assert {"403.html", "base.html"} <= {t.name for t in response.templates}
    assert "not allowed" in response.content.decode()


@pytest.mark.urls(ERROR_URLS)
def test_a_failing_page_uses_the_plain_500_template(db: None, caplog) -> None:
    # when
    with caplog.at_level(logging.ERROR):
        response = Client(raise_request_exception=False).get("/broken/")
    # then a page of our own that needs no context, not JSON
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "500.html" in {t.name for t in response.templates}
    assert "Server error" in response.content.decode()


def test_the_favicon_is_served(db: None) -> None:
    # when
    response = Client().get("/favicon.ico", follow=False)
    # then it points at the static icon that base.html links
    assert response.status_code in (301, 302)
    assert response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")
    login_page = Client().get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in login_page
