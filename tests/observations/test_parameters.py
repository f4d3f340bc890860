"""Template parameter rules (observations.parameters): types, ranges, allowed values, required
values and unknown names. No database."""

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as sts

from observations.parameters import check_value, defaults, definition_errors, effective, validate

DIT: dict[str, Any] = {
    "name": "DET.DIT",
    "type": "number",
    "default": 10.0,
    "min": 0.5,
    "max": 3600,
}
NEXPO: dict[str, Any] = {"name": "SEQ.NEXPO", "type": "integer", "default": 1, "min": 1, "max": 50}
FILTER: dict[str, Any] = {
    "name": "INS.FILT1.NAME",
    "type": "string",
    "default": "R",
    "allowed": ["B", "V", "R"],
}
SLICER: dict[str, Any] = {"name": "INS.SLICER", "type": "boolean", "default": False}
OFFSETS: dict[str, Any] = {
    "name": "SEQ.OFFSET1.LIST",
    "type": "list",
    "default": [0, 10],
    "min": -60,
    "max": 60,
}
TARGET: dict[str, Any] = {
    "name": "SEQ.NOTE",
    "type": "string",
    "default": None,
}  # no default: required
DEFINITIONS = [DIT, NEXPO, FILTER, SLICER, OFFSETS, TARGET]


def test_a_new_template_has_every_default_and_null_where_there_is_none() -> None:
    # given the definitions
    # when
    values = defaults(DEFINITIONS)
    # then
    assert values == {
        "DET.DIT": 10.0,
        "SEQ.NEXPO": 1,
        "INS.FILT1.NAME": "R",
        "INS.SLICER": False,
        "SEQ.OFFSET1.LIST": [0, 10],
        "SEQ.NOTE": None,
    }


def test_a_parameter_without_default_is_required() -> None:
    # given a new template: all defaults, SEQ.NOTE has none
    # when
    errors = validate(DEFINITIONS, defaults(DEFINITIONS))
    # then only the required one is reported, saying what to do
    assert list(errors) == ["SEQ.NOTE"]
    assert "give a value" in errors["SEQ.NOTE"]


def test_values_left_out_take_their_defaults() -> None:
    # given only the required value
    # when
    errors = validate(DEFINITIONS, {"SEQ.NOTE": "faint"})
    # then
    assert errors == {}


def test_complete_values_in_range_are_valid() -> None:
    values = {
        "DET.DIT": 0.5,
        "SEQ.NEXPO": 50,
        "INS.FILT1.NAME": "B",
        "INS.SLICER": True,
        "SEQ.OFFSET1.LIST": [-60, 0, 60.0],
        "SEQ.NOTE": "",
    }
    assert validate(DEFINITIONS, values) == {}


def test_unknown_parameter_names_are_refused() -> None:
    # when
    errors = validate(DEFINITIONS, {"SEQ.NOTE": "x", "DET.NDIT": 3})
    # then
    assert errors == {"DET.NDIT": "Unknown parameter for this template: remove it."}


@pytest.mark.parametrize(
    ("definition", "value", "expected"),
    [
        (DIT, 3601, "between 0.5 and 3600"),
        (DIT, 0.1, "between 0.5 and 3600"),
        (DIT, "10", "Give a number"),
        (DIT, True, "Give a number"),
        (DIT, float("nan"), "Give a number"),
        (DIT, float("inf"), "Give a number"),
        (NEXPO, 2.5, "whole number"),
        (NEXPO, 0, "between 1 and 50"),
        (FILTER, "I", "Choose one of B, V, R"),
        (FILTER, 3, "Give a text value"),
        (SLICER, 1, "Give true or false"),
        (SLICER, "false", "Give true or false"),
        (OFFSETS, 10, "Give a list"),
        (OFFSETS, [0, 61], "Element 2: Give a value between -60 and 60"),
        (OFFSETS, [0, "a"], "Element 2: Give a number"),
    ],
)
def test_a_value_breaking_its_definition_says_what_to_give(
    definition: dict[str, Any], value: Any, expected: str
) -> None:
    # when
    errors = validate([definition], {definition["name"]: value})
    # then
    assert expected in errors[definition["name"]]
    assert repr(value) in errors[definition["name"]] or definition is OFFSETS


def test_an_integral_float_is_a_valid_integer() -> None:
    # JSON encoders may write 3 as 3.0
    assert check_value(NEXPO, 3.0) is None


def test_allowed_values_bound_numbers_and_list_elements() -> None:
    # given a numeric parameter and a list parameter with allowed values
    wavelength = {"name": "WLEN", "type": "number", "default": 390, "allowed": [346, 390, 437]}
    angles = {"name": "POSANG", "type": "list", "default": [0, 45], "allowed": [0, 22.5, 45]}
    pattern = {"name": "OBSSEQ", "type": "list", "default": ["O", "S"], "allowed": ["O", "S"]}
    # when / then
    assert check_value(wavelength, 390.0) is None
    assert "Choose one of 346, 390, 437" in (check_value(wavelength, 400) or "")
    assert check_value(angles, [22.5, 0]) is None
    assert "Element 1" in (check_value(angles, [30]) or "")
    assert check_value(pattern, ["O", "S", "O"]) is None
    assert "Element 2" in (check_value(pattern, ["O", "X"]) or "")


def test_effective_values_are_the_defaults_overridden_by_those_given() -> None:
    # given values with a reset (None) and an unknown name
    values = {"DET.DIT": 30.0, "SEQ.NEXPO": None, "JUNK": 1}
    # when
    result = effective(DEFINITIONS, values)
    # then
    assert result["DET.DIT"] == 30.0
    assert result["SEQ.NEXPO"] == 1
    assert "JUNK" not in result


def test_definition_errors_find_broken_signatures() -> None:
    # given definitions with each kind of mistake
    broken: list[dict[str, Any]] = [
        {"name": "A", "type": "float", "default": 1},
        {"name": "B", "type": "number", "default": 1, "min": 5, "max": 2},
        {"name": "C", "type": "string", "default": "x", "allowed": ["y"]},
        {"name": "C", "type": "string", "default": "y"},
        {"name": "D", "type": "string", "default": "y", "allowed": []},
        {"type": "number"},
    ]
    # when
    errors = definition_errors(broken)
    # then every broken parameter is named
    assert {message.split(" ")[1] for message in errors} == {"1", "2", "3", "4", "5", "6"}
    assert definition_errors(DEFINITIONS) == []


bounds = sts.tuples(
    sts.floats(-1e6, 1e6, allow_nan=False), sts.floats(0, 1e6, allow_nan=False)
).map(lambda t: (t[0], t[0] + t[1]))


@given(bounds=bounds, fraction=sts.floats(0, 1))
def test_any_number_within_its_range_is_valid(bounds: tuple[float, float], fraction: float) -> None:
    # given a range and a number inside it
    lo, hi = bounds
    value = min(max(lo + fraction * (hi - lo), lo), hi)
    definition = {"name": "X", "type": "number", "default": lo, "min": lo, "max": hi}
    # then
    assert validate([definition], {"X": value}) == {}


@given(bounds=bounds, excess=sts.floats(1e-3, 1e6))
def test_any_number_outside_its_range_is_refused(
    bounds: tuple[float, float], excess: float
) -> None:
    lo, hi = bounds
    definition = {"name": "X", "type": "number", "default": lo, "min": lo, "max": hi}
    assert "X" in validate([definition], {"X": hi + excess})
    assert "X" in validate([definition], {"X": lo - excess})


def test_the_pure_rules_import_no_django() -> None:
    # given a fresh interpreter
    code = (
        "import sys, observations.parameters, observations.exectime, observations.windows; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    # when / then
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_text_with_a_nul_character_is_refused() -> None:
    # PostgreSQL's JSON cannot store U+0000: storing it was a server error.
    text = {"name": "OBJ.NAME", "type": "string", "default": None}
    assert check_value(text, "M31\x00") is not None
    assert check_value(text, "M31") is None


def test_an_integer_too_large_for_a_float_is_refused_not_a_crash() -> None:
    number = {"name": "DET.DIT", "type": "number", "default": 1.0, "min": 0, "max": 10}
    assert check_value(number, 10**400) is not None
