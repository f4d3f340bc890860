"""JSON in and out for the command line (``python -m scheduling.engine.ranking``).

Input document (``rank``)::

    {"site": "Paranal" | {"name", "latitude_deg", "longitude_deg", "height_m"},
     "time": "2026-11-22T04:00:00",                       # UTC, ISO 8601
     "conditions": {"seeing_arcsec": 0.8, "transparency": "clear",
                    "wind_speed_ms": 5.0, "wind_direction_deg": 270.0},
     "options": {...RankingOptions fields...},              # optional
     "scorer": "default" | "survey",                         # optional
     "candidates": [{"id": "OB1", "ra_deg": 10.0, "dec_deg": -30.0,
                     "execution_time_s": 1800,
                     "constraints": {...ConstraintSet fields, transparency by name...},
                     "pm_ra_mas_yr": 0, "pm_dec_mas_yr": 0, "epoch_jyear": 2000.0,
                     "absolute_windows": [["2026-11-22T01:00", "2026-11-22T05:00"]],
                     "lst_windows": [[22.0, 3.5]],
                     "user_priority": 1, "rank_class": "A", "grade": 1.8,
                     "group": {"group_id": "G1", "contribution": 0.5, "group_score": 0.5},
                     "time_link": {"link_id": "L1", "order": 1, "earliest": "...",
                                   "latest": "...", "min_delay_s": 86400, "max_delay_s": 259200},
                     "concatenation": {"concatenation_id": "C1", "order": 0}}, ...]}

``simulate`` takes ``date`` (the local evening, ``YYYY-MM-DD``) instead of ``time`` and
``weather``: a conditions object or a list of conditions objects each with a ``time``.
Unknown keys and wrong types raise ``InputError`` naming the offending path.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from astropy.time import Time

from dataflow.astro.site import PARANAL, Site
from scheduling.engine.ranking.model import (
    Candidate,
    ConcatenationMembership,
    Conditions,
    ConstraintSet,
    GroupMembership,
    RankingOptions,
    TimeLinkMembership,
    Transparency,
)

SITES = {"paranal": PARANAL}


class InputError(ValueError):
    """Malformed input document; the message names the JSON path."""


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _time(value: Any, path: str) -> Time:
    if not isinstance(value, str):
        raise InputError(f"{path}: expected an ISO 8601 UTC time string")
    try:
        return Time(value, scale="utc")
    except ValueError:
        raise InputError(f"{path}: not an ISO 8601 time: {value!r}") from None


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{path}: expected a number, got {value!r}")
    return float(value)


def _fields(cls: type, data: dict[str, Any], path: str, special: dict[str, Any]) -> dict[str, Any]:
    """Map ``data`` onto the dataclass fields of ``cls``; numbers and bools checked by type."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise InputError(f"{path}: unknown field(s) {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        p = f"{path}.{key}"
        if key in special:
            out[key] = None if value is None else special[key](value, p)
            continue
        t = names[key].type
        kind = t if isinstance(t, str) else getattr(t, "__name__", str(t))
        if kind == "bool":
            if not isinstance(value, bool):
                raise InputError(f"{p}: expected true or false")
            out[key] = value
        elif kind.startswith("float"):
            out[key] = None if value is None and "None" in kind else _num(value, p)
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{p}: expected an integer")
            out[key] = value
        elif kind == "str":
            if not isinstance(value, str):
                raise InputError(f"{p}: expected a string")
            out[key] = value
        else:
            out[key] = value
    return out


def _transparency(value: Any, path: str) -> Transparency:
    try:
        return Transparency.parse(value)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None


def parse_site(value: Any, path: str = "site") -> Site:
    if isinstance(value, str):
        try:
            return SITES[value.lower()]
        except KeyError:
            raise InputError(f"{path}: unknown site {value!r}; known: {sorted(SITES)}") from None
    return Site(**_fields(Site, _obj(value, path), path, {}))


def parse_conditions(value: Any, path: str = "conditions") -> Conditions:
    data = _obj(value, path)
    if "seeing_arcsec" not in data:
        raise InputError(f"{path}: seeing_arcsec is required")
    return Conditions(**_fields(Conditions, data, path, {"transparency": _transparency}))


def parse_options(value: Any, path: str = "options") -> RankingOptions:
    return RankingOptions(**_fields(RankingOptions, _obj(value, path), path, {}))


def _windows(value: Any, path: str) -> tuple[tuple[Time, Time], ...]:
    if not isinstance(value, list):
        raise InputError(f"{path}: expected a list of [start, end]")
    out = []
    for k, w in enumerate(value):
        if not (isinstance(w, list) and len(w) == 2):
            raise InputError(f"{path}[{k}]: expected [start, end]")
        out.append((_time(w[0], f"{path}[{k}][0]"), _time(w[1], f"{path}[{k}][1]")))
    return tuple(out)


def _lst_windows(value: Any, path: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list):
        raise InputError(f"{path}: expected a list of [start_h, end_h]")
    out = []
    for k, w in enumerate(value):
        if not (isinstance(w, list) and len(w) == 2):
            raise InputError(f"{path}[{k}]: expected [start_h, end_h]")
        out.append((_num(w[0], f"{path}[{k}][0]"), _num(w[1], f"{path}[{k}][1]")))
    return tuple(out)


def parse_candidate(value: Any, path: str) -> Candidate:
    data = _obj(value, path)
    for req in ("id", "ra_deg", "dec_deg", "execution_time_s"):
        if req not in data:
            raise InputError(f"{path}: {req} is required")
    special = {
        "constraints": lambda v, p: ConstraintSet(
            **_fields(ConstraintSet, _obj(v, p), p, {"min_transparency": _transparency})
        ),
        "absolute_windows": _windows,
        "lst_windows": _lst_windows,
        "group": lambda v, p: GroupMembership(**_fields(GroupMembership, _obj(v, p), p, {})),
        "time_link": lambda v, p: TimeLinkMembership(
            **_fields(TimeLinkMembership, _obj(v, p), p, {"earliest": _time, "latest": _time})
        ),
        "concatenation": lambda v, p: ConcatenationMembership(
            **_fields(ConcatenationMembership, _obj(v, p), p, {})
        ),
    }
    try:
        return Candidate(**_fields(Candidate, data, path, special))
    except TypeError as exc:
        raise InputError(f"{path}: {exc}") from None


def parse_candidates(value: Any, path: str = "candidates") -> list[Candidate]:
    if not isinstance(value, list):
        raise InputError(f"{path}: expected a list")
    return [parse_candidate(c, f"{path}[{k}]") for k, c in enumerate(value)]


def parse_rank_request(doc: Any) -> dict[str, Any]:
    """Validate a ``rank`` document into keyword arguments of ``rank``."""
    data = _obj(doc, "$")
    allowed = {"site", "time", "conditions", "options", "scorer", "candidates", "sky_method"}
    unknown = set(data) - allowed
    if unknown:
        raise InputError(f"$: unknown field(s) {sorted(unknown)}")
    for req in ("site", "time", "conditions", "candidates"):
        if req not in data:
            raise InputError(f"$: {req} is required")
    return {
        "candidates": parse_candidates(data["candidates"]),
        "site": parse_site(data["site"]),
        "time": _time(data["time"], "time"),
        "conditions": parse_conditions(data["conditions"]),
        "options": parse_options(data.get("options", {})),
        "scorer": data.get("scorer", "default"),
        "sky_method": data.get("sky_method", "exact"),
    }


def parse_simulate_request(doc: Any) -> dict[str, Any]:
    """Validate a ``simulate`` document into keyword arguments of ``simulate_night``."""
    data = _obj(doc, "$")
    allowed = {"site", "date", "weather", "options", "scorer", "candidates"}
    unknown = set(data) - allowed
    if unknown:
        raise InputError(f"$: unknown field(s) {sorted(unknown)}")
    for req in ("site", "date", "weather", "candidates"):
        if req not in data:
            raise InputError(f"$: {req} is required")
    try:
        date = datetime.date.fromisoformat(str(data["date"]))
    except ValueError:
        raise InputError("date: expected YYYY-MM-DD") from None
    w = data["weather"]
    if isinstance(w, list):
        weather: Any = []
        for k, step in enumerate(w):
            s = dict(_obj(step, f"weather[{k}]"))
            if "time" not in s:
                raise InputError(f"weather[{k}]: time is required")
            t = _time(s.pop("time"), f"weather[{k}].time")
            weather.append((t, parse_conditions(s, f"weather[{k}]")))
        if not weather:
            raise InputError("weather: empty list")
    else:
        weather = parse_conditions(w, "weather")
    return {
        "candidates": parse_candidates(data["candidates"]),
        "site": parse_site(data["site"]),
        "date": date,
        "weather": weather,
        "options": parse_options(data.get("options", {})),
        "scorer": data.get("scorer", "default"),
    }
