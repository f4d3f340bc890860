from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataflow.accounts.models import Role
from tests.factories import PeriodFactory, UserFactory, complete_proposal

ApiClientFor = Callable[[User], APIClient]


def bearer_client(user: User) -> APIClient:
    """An API client that sends ``Authorization: Bearer <token>`` for the user."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


def logged_in(user: User) -> Client:
    """A page client with ``user``'s session."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_for(db: None) -> ApiClientFor:
    return bearer_client


@pytest.fixture
def period(db):
    return PeriodFactory.create()


@pytest.fixture
def astronomer(db):
    return UserFactory.create(
        username="ada", email="ada@example.org", institute="Universität Göttingen"
    )


@pytest.fixture
def other_astronomer(db):
    return UserFactory.create(
        username="bob", email="bob@example.org", institute="Université Paris-Saclay"
    )


@pytest.fixture
def staff(db):
    return UserFactory.create(username="staff", email="staff@example.org", roles=[Role.STAFF])


@pytest.fixture
def draft(astronomer, period):
    """A complete draft of ``astronomer`` in the open ``period``."""
    return complete_proposal(pi=astronomer, period=period)


# The schemathesis run's summary at the end of the session (tests/api/test_schemathesis.py):
# one line per operation and distinct failure, above pytest's own list of failed tests (which
# names only the test). Here, not in tests/api/, so that the pytest-xdist controller, which
# prints the summary and collects nothing, loads these hooks too.

# A failing example of tests/api/test_schemathesis.py records ``(label, line)`` pairs under this
# name in its test's user properties: they travel with the report, from a pytest-xdist worker
# process too, to the process that prints the summary.
SCHEMATHESIS_FAILURE = "schemathesis_failure"
# Operation label -> "ST103 Undocumented status code".
FAILURES: dict[str, set[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == SCHEMATHESIS_FAILURE:
            label, line = cast(tuple[str, str], value)
            FAILURES.setdefault(label, set()).add(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FAILURES:
        return
    terminalreporter.section("schemathesis: operations that break their OpenAPI schema")
    for label in sorted(FAILURES):
        for line in sorted(FAILURES[label]):
            terminalreporter.write_line(f"{label}: {line}")
    terminalreporter.write_line(
        "Each failure above is detailed in its test's report, with a curl command to reproduce "
        "it; a 500 also shows the server's traceback."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    """In CI (DATAFLOW_FORBID_SKIPS=1) a skipped test is a failure: the services must be there."""
    import os

    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("DATAFLOW_FORBID_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"Skipped where skips are forbidden (DATAFLOW_FORBID_SKIPS=1): {report.longrepr}"
        )
