"""List endpoints: absurd ``limit``/``offset`` values are capped, never a 500."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils.module_loading import import_string

from tests.conftest import ApiClientFor
from tests.factories import TelescopeFactory, complete_proposal

LISTS = ["/api/v1/proposals/", "/api/v1/periods/", "/api/v1/telescopes/"]
TWENTY_DIGITS = "9" * 20


@pytest.fixture
def listed(astronomer: User, period: object) -> None:
    complete_proposal(pi=astronomer, period=period)
    TelescopeFactory.create(name="UT2")


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    "query",
    [
        f"limit={TWENTY_DIGITS}",
        f"offset={TWENTY_DIGITS}",
        f"limit={TWENTY_DIGITS}&offset={TWENTY_DIGITS}",
        f"offset=-{TWENTY_DIGITS}",
        "limit=-5&offset=-5",
        "limit=ten&offset=two",
        "limit=&offset=",
        "limit=²&offset=²",
    ],
)
def test_absurd_limit_or_offset_is_not_a_server_error(
    client_for: ApiClientFor, astronomer: User, listed: None, url: str, query: str
) -> None:
    # when
    response = client_for(astronomer).get(f"{url}?{query}")
    # then a page, capped, as JSON
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize("url", LISTS)
def test_a_huge_limit_is_capped_at_max_limit(
    client_for: ApiClientFor, astronomer: User, listed: None, url: str
) -> None:
    # when
    response = client_for(astronomer).get(f"{url}?limit={TWENTY_DIGITS}")
    # then every row fits the page, and the project's pagination caps the limit
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == body["count"]
    pagination = import_string(str(settings.REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]))
    assert pagination.max_limit == 500


def test_a_huge_offset_gives_an_empty_page(
    client_for: ApiClientFor, astronomer: User, listed: None
) -> None:
    # when
    response = client_for(astronomer).get(f"/api/v1/periods/?offset={TWENTY_DIGITS}")
    # then
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["count"] == 1


def test_limit_and_offset_still_page(
    client_for: ApiClientFor, astronomer: User, listed: None
) -> None:
    # when
    response = client_for(astronomer).get("/api/v1/telescopes/?limit=1&offset=1")
    # then
    body = response.json()
    assert body["count"] == 2
    assert [t["name"] for t in body["results"]] == ["UT2"]
    assert body["next"] is None and "limit=1" in body["previous"]
