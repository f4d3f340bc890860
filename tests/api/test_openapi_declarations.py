"""The OpenAPI schema declares the errors every operation can answer, for endpoints to come too.

Schemathesis (test_schemathesis.py) sends the seeded PI's token and real ids, so it never sees
the 401 of a missing token nor the 404 of someone else's proposal: these rules make sure the
schema declares them anyway, with the API's error body.
"""

from typing import Any

import pytest

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def operations(client: Any, db: None) -> list[tuple[str, dict[str, Any]]]:
    """(``METHOD /path``, operation) for every operation of /api/schema/."""
    schema = client.get("/api/schema/?format=json").json()
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def declared(operation: dict[str, Any]) -> set[str]:
    return set(operation.get("responses", {}))


def test_every_operation_that_needs_a_login_declares_401(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    # given: operations that name a security scheme and do not also allow anonymous calls
    guarded = [
        (label, op) for label, op in operations if op.get("security") and {} not in op["security"]
    ]
    # then
    assert guarded
    assert [label for label, op in guarded if "401" not in declared(op)] == []


def test_every_operation_with_a_path_parameter_declares_404(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    # given
    with_ids = [(label, op) for label, op in operations if "{" in label]
    # then
    assert with_ids
    assert [label for label, op in with_ids if "404" not in declared(op)] == []


def test_every_operation_with_a_request_body_declares_400(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    # given
    with_bodies = [(label, op) for label, op in operations if "requestBody" in op]
    # then
    assert with_bodies
    assert [label for label, op in with_bodies if "400" not in declared(op)] == []


def test_every_declared_error_answers_the_api_error_body(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    # given: every 4xx of every operation
    errors = [
        (f"{label} {code}", response)
        for label, op in operations
        for code, response in op["responses"].items()
        if code.startswith("4")
    ]

    # then: {"detail": ..., "errors": {...}} as JSON, one schema for the whole API; the
    # p2-compatible layer (issue 14) answers ESO's {"error": "..."} instead
    def ref(label: str) -> str:
        return "#/components/schemas/" + ("P2Error" if " /p2/" in label else "ApiError")

    assert [
        label
        for label, response in errors
        if response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        != ref(label)
    ] == []


def test_the_schema_generates_without_warnings(tmp_path) -> None:
    # given every API view; when drf-spectacular builds and validates the schema
    from django.core.management import call_command

    # then no warning (a duplicate component name, an unresolvable view) fails it; the deploy
    # check in CI fails on the same warnings
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
