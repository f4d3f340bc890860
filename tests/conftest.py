import pytest

from dataflow.accounts.models import Role
from tests.factories import PeriodFactory, UserFactory, complete_proposal


@pytest.fixture
def period(db):
    return PeriodFactory()


@pytest.fixture
def astronomer(db):
    return UserFactory(username="ada", email="ada@example.org", institute="Universität Göttingen")


@pytest.fixture
def other_astronomer(db):
    return UserFactory(username="bob", email="bob@example.org", institute="Université Paris-Saclay")


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", email="staff@example.org", roles=[Role.STAFF])


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
