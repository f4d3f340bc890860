"""drf-spectacular post-processing: the error answers every operation can give, declared once
for all operations (present and future), so no endpoint ships with an undocumented status."""

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/ApiError"}
BODY_METHODS = {"post", "put", "patch"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def declare_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """415 on every operation that takes a body (DRF refuses a body it cannot parse, e.g. a
    malformed multipart part), when the ApiError component exists."""
    if "ApiError" not in result.get("components", {}).get("schemas", {}):
        return result
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method in BODY_METHODS and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault(
                    "415", _error("Unsupported media type: the body could not be parsed.")
                )
    return result
