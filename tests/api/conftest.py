"""A summary of the schemathesis run at the end of the session: one line per operation and
distinct failure, above pytest's own list of failed tests (which names only the test)."""

from typing import Any

# Filled by tests/api/test_schemathesis.py: operation label -> "ST103 Undocumented status code".
FAILURES: dict[str, set[str]] = {}


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
