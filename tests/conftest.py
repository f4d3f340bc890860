from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
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
