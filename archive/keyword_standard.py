"""The keyword standard an external product's header must meet (seed 002's Phase 3): which
keywords are required, their types, ranges and allowed values, and the ``PROVi`` keywords
naming the archived files the product was made from. No Django: the standard is data
(:func:`standard_from_config` reads the ``ARCHIVE_KEYWORD_STANDARD`` setting's shape) and
:func:`validate` reports every problem at once, keyword by keyword.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.ingest import RUN_ID_PATTERN, CardValue

TYPES = ("str", "int", "float", "bool", "datetime")


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """One keyword: its type (one of ``TYPES``), whether it must be there, the values it may
    take (``allowed``), a range for numbers and a regular expression for strings."""

    keyword: str
    type: str = "str"
    required: bool = True
    allowed: tuple[CardValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.keyword}: type {self.type!r} is not one of {TYPES}")


@dataclass(frozen=True, slots=True)
class KeywordStandard:
    """Rules, and how provenance is named: ``PROV1``, ``PROV2``, ... each an archived file's
    ARCFILE or dataset id, at least ``min_provenance`` of them."""

    name: str
    rules: tuple[KeywordRule, ...]
    provenance_prefix: str = "PROV"
    min_provenance: int = 1
    #: The keyword holding the run id the product belongs to (``130.C-0001(A)``).
    run_keyword: str = "PROG_ID"
    extra: Mapping[str, Any] = field(default_factory=dict)


PRODUCT_CATEGORIES = (
    "SCIENCE.IMAGE",
    "SCIENCE.MEFIMAGE",
    "SCIENCE.SPECTRUM",
    "SCIENCE.CUBE",
    "SCIENCE.SRCTBL",
)
TECHNIQUES = ("IMAGE", "SPECTRUM", "IFU", "POLARIMETRY", "ECHELLE", "MOS")

#: ESO's Phase 3 standard, the parts this archive reads.
DEFAULT_STANDARD = KeywordStandard(
    name="Phase 3 (default)",
    rules=(
        KeywordRule("PRODCATG", allowed=PRODUCT_CATEGORIES, description="Product category"),
        KeywordRule("PROG_ID", pattern=RUN_ID_PATTERN.pattern, description="Run id"),
        KeywordRule("OBJECT", description="Target"),
        KeywordRule("RA", "float", minimum=0.0, maximum=360.0, description="deg, ICRS"),
        KeywordRule("DEC", "float", minimum=-90.0, maximum=90.0, description="deg, ICRS"),
        KeywordRule("EXPTIME", "float", minimum=0.0, description="Total exposure, s"),
        KeywordRule("MJD-OBS", "float", minimum=0.0, description="Start, MJD (UTC)"),
        KeywordRule("MJD-END", "float", minimum=0.0, description="End, MJD (UTC)"),
        KeywordRule("INSTRUME", description="Instrument"),
        KeywordRule("TELESCOP", description="Telescope"),
        KeywordRule("OBSTECH", allowed=TECHNIQUES, description="Technique"),
        KeywordRule("PROCSOFT", description="Reduction software and version"),
        KeywordRule("PRODLVL", "int", required=False, allowed=(2, 3), description="2 or 3"),
        KeywordRule("REFERENC", required=False, description="Bibliographic reference"),
        KeywordRule("DATE-OBS", "datetime", required=False, description="Start (UTC)"),
    ),
)


def standard_from_config(config: Mapping[str, Any] | None) -> KeywordStandard:
    """A standard from settings (``None``: :data:`DEFAULT_STANDARD`). Shape::

    {"name": "...", "rules": [{"keyword": "PRODCATG", "type": "str", "required": True,
      "allowed": [...], "minimum": ..., "maximum": ..., "pattern": "..."}, ...],
     "provenance_prefix": "PROV", "min_provenance": 1, "run_keyword": "PROG_ID"}
    """
    if config is None:
        return DEFAULT_STANDARD
    rules = tuple(
        KeywordRule(
            keyword=str(rule["keyword"]),
            type=str(rule.get("type", "str")),
            required=bool(rule.get("required", True)),
            allowed=tuple(rule.get("allowed", ())),
            minimum=rule.get("minimum"),
            maximum=rule.get("maximum"),
            pattern=str(rule.get("pattern", "")),
            description=str(rule.get("description", "")),
        )
        for rule in config.get("rules", ())
    )
    return KeywordStandard(
        name=str(config.get("name", "configured")),
        rules=rules,
        provenance_prefix=str(config.get("provenance_prefix", "PROV")),
        min_provenance=int(config.get("min_provenance", 1)),
        run_keyword=str(config.get("run_keyword", "PROG_ID")),
    )


@dataclass(frozen=True, slots=True)
class Validation:
    """Every problem by keyword (empty: the header meets the standard), and the provenance
    read from the ``PROVi`` keywords in order."""

    problems: Mapping[str, tuple[str, ...]]
    provenance: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(
    header: Mapping[str, CardValue],
    standard: KeywordStandard,
    *,
    archived: Callable[[Sequence[str]], Collection[str]],
) -> Validation:
    """Check ``header`` against ``standard``; ``archived(names)`` answers which of the names
    are archived files (ARCFILE or dataset id). Every problem is reported, not the first."""
    problems: dict[str, list[str]] = {}
    for rule in standard.rules:
        value = header.get(rule.keyword)
        if value is None or (isinstance(value, str) and not value.strip()):
            if rule.required:
                problems.setdefault(rule.keyword, []).append("missing (required)")
            continue
        for message in _check(rule, value):
            problems.setdefault(rule.keyword, []).append(message)
    provenance, prov_problems = _provenance(header, standard, archived)
    for key, messages in prov_problems.items():
        problems.setdefault(key, []).extend(messages)
    return Validation({k: tuple(v) for k, v in problems.items()}, provenance)


def _check(rule: KeywordRule, value: CardValue) -> list[str]:
    if rule.type == "str" and not isinstance(value, str):
        return [f"must be a string, not {value!r}"]
    if rule.type == "bool" and not isinstance(value, bool):
        return [f"must be T or F, not {value!r}"]
    if rule.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"must be an integer, not {value!r}"]
    if rule.type == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return [f"must be a number, not {value!r}"]
    if rule.type == "datetime":
        try:
            datetime.datetime.fromisoformat(str(value))
        except ValueError:
            return [f"must be an ISO date and time (YYYY-MM-DDThh:mm:ss), not {value!r}"]
    messages = []
    if rule.allowed and value not in rule.allowed:
        allowed = ", ".join(str(a) for a in rule.allowed)
        messages.append(f"{value!r} is not allowed (one of {allowed})")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if rule.minimum is not None and value < rule.minimum:
            messages.append(f"{value} is below the minimum {rule.minimum:g}")
        if rule.maximum is not None and value > rule.maximum:
            messages.append(f"{value} is above the maximum {rule.maximum:g}")
    if rule.pattern and isinstance(value, str) and not re.fullmatch(rule.pattern, value.strip()):
        messages.append(f"{value!r} does not have the expected form")
    return messages


def _provenance(
    header: Mapping[str, CardValue],
    standard: KeywordStandard,
    archived: Callable[[Sequence[str]], Collection[str]],
) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    prefix = standard.provenance_prefix
    numbered = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    found: dict[int, str] = {}
    problems: dict[str, list[str]] = {}
    for key, value in header.items():
        match = numbered.match(key)
        if match is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.setdefault(key, []).append("must name an archived file (a string)")
            continue
        found[int(match[1])] = value.strip()
    indexes = sorted(found)
    if indexes != list(range(1, len(indexes) + 1)):
        gaps = sorted(set(range(1, max(indexes, default=0) + 1)) - set(indexes))
        for i in gaps:
            problems.setdefault(f"{prefix}{i}", []).append(
                f"missing: {prefix}i are numbered from 1 without gaps"
            )
    if len(found) < standard.min_provenance:
        problems.setdefault(f"{prefix}1", []).append(
            f"missing: a product names the archived files it was made from ({prefix}1, "
            f"{prefix}2, ...; at least {standard.min_provenance})"
        )
    names = [found[i] for i in indexes]
    known = set(archived([n.removesuffix(".fits") for n in names])) if names else set()
    for i in indexes:
        if found[i].removesuffix(".fits") not in known:
            problems.setdefault(f"{prefix}{i}", []).append(
                f"{found[i]!r} is not a file of this archive"
            )
    return tuple(n.removesuffix(".fits") for n in names), problems
