"""Template parameters as data: type, range and allowed-value checks. Pure Python, no Django.

A template signature (``observations.models.TemplateSignature.parameters``) is a list of
definitions::

    {"name": "DET.DIT", "type": "number", "default": 10.0, "min": 0.5, "max": 3600,
     "allowed": null, "label": "Exposure time (s)"}

``type`` is one of ``number`` (int or float), ``integer``, ``string``, ``boolean``, ``list``
(a JSON array; its elements are numbers unless ``allowed`` lists the values they may take, and
``min``/``max`` bound each element). ``default`` ``None`` or absent means the astronomer must
give a value. A template's values are a ``{name: value}`` mapping; a missing or ``None`` value
means "the default".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

TYPES = ("number", "integer", "string", "boolean", "list")

Definition = Mapping[str, Any]


def defaults(definitions: Sequence[Definition]) -> dict[str, Any]:
    """The values of a new template: every parameter's default, ``None`` where it has none."""
    return {d["name"]: d.get("default") for d in definitions}


def effective(definitions: Sequence[Definition], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a template runs with: its own where given, the defaults elsewhere."""
    result = defaults(definitions)
    result.update((k, v) for k, v in values.items() if v is not None and k in result)
    return result


def validate(definitions: Sequence[Definition], values: Mapping[str, Any]) -> dict[str, str]:
    """Check a template's values against its definitions.

    Returns ``{parameter name: message}``, empty when the values are complete and valid. A
    parameter left out (or ``None``) takes its default, so it is an error only without one.
    """
    errors: dict[str, str] = {}
    known = {d["name"] for d in definitions}
    for name in values:
        if name not in known:
            errors[name] = "Unknown parameter for this template: remove it."
    for definition in definitions:
        name = definition["name"]
        value = values.get(name)
        if value is None:
            if definition.get("default") is None:
                errors[name] = "Required: this parameter has no default, give a value."
            continue
        message = check_value(definition, value)
        if message:
            errors[name] = message
    return errors


def check_value(definition: Definition, value: Any) -> str | None:
    """The message for one value that breaks its definition, or ``None`` when it is valid."""
    kind = definition.get("type")
    if kind == "list":
        if not isinstance(value, list):
            return f"Give a list of values, e.g. [0, 10] (got {value!r})."
        for i, item in enumerate(value, start=1):
            message = _check_scalar(definition, "number", item)
            if message:
                return f"Element {i}: {message}"
        return None
    if kind not in TYPES:
        return f"The template defines an unknown type {kind!r}: report this to the observatory."
    return _check_scalar(definition, kind, value)


def definition_errors(definitions: Sequence[Definition]) -> list[str]:
    """What is wrong with a signature's definitions themselves (for fixture checks)."""
    errors: list[str] = []
    seen: set[str] = set()
    for i, d in enumerate(definitions, start=1):
        name = d.get("name")
        where = f"parameter {i} ({name!r})"
        if not isinstance(name, str) or not name:
            errors.append(f"{where}: needs a name")
            continue
        if name in seen:
            errors.append(f"{where}: defined twice")
        seen.add(name)
        if d.get("type") not in TYPES:
            errors.append(f"{where}: type must be one of {', '.join(TYPES)}")
            continue
        lo, hi = d.get("min"), d.get("max")
        if lo is not None and hi is not None and lo > hi:
            errors.append(f"{where}: min {lo} is above max {hi}")
        allowed = d.get("allowed")
        if allowed is not None and (not isinstance(allowed, list) or not allowed):
            errors.append(f"{where}: allowed must be a non-empty list")
        elif d.get("default") is not None:
            message = check_value(d, d["default"])
            if message:
                errors.append(f"{where}: default {d['default']!r}: {message}")
    return errors


def _check_scalar(definition: Definition, kind: str, value: Any) -> str | None:
    allowed = definition.get("allowed")
    if kind == "boolean":
        return None if isinstance(value, bool) else f"Give true or false (got {value!r})."
    if kind == "string" or (allowed and all(isinstance(a, str) for a in allowed)):
        if not isinstance(value, str):
            return f"Give a text value (got {value!r})."
        if "\x00" in value:  # no database stores it in JSON text
            return "Remove the NUL character from the text."
    elif not _is_number(value):
        return f"Give a number (got {value!r})."
    elif kind == "integer" and not float(value).is_integer():
        return f"Give a whole number (got {value!r})."
    if allowed:
        if value not in allowed:
            return f"Choose one of {', '.join(map(str, allowed))} (got {value!r})."
        return None
    if isinstance(value, str):
        return None
    lo, hi = definition.get("min"), definition.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"Give a value {_range(lo, hi)} (got {value!r})."
    return None


def _is_number(value: Any) -> bool:
    # bool is an int subclass; JSON true is not a number to an astronomer.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    return f"of at least {lo:g}" if lo is not None else f"of at most {hi:g}"
