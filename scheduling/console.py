"""What the operators' console and the night API read: the telescopes with their running visit,
a visit with its executions, and a ranking request checked and completed from the telescope's
latest weather reading (the engine's ``Conditions`` and ``RankingOptions``).

The page's form and the API's serializer only check the shape of the values (numbers,
booleans, a time, a choice); :func:`rank_request` holds the ranges and the defaults, so both
refuse the same values with the same messages (``InvalidInput`` naming each field).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from dataflow.errors import InvalidInput
from dataflow.observatory.models import Telescope
from observations.models import Execution, SkyTransparency, Visit, VisitState, WeatherReading
from observations.night_selectors import latest_weather
from scheduling.engine.ranking.model import Conditions, RankingOptions, Transparency
from scheduling.engine.ranking.scores import SCORERS
from scheduling.night.ranking import NightRanking, rank_for

#: The ranking's time: years the sky computations are meant for (astropy's tables).
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
MAX_ROWS = 500  # ranked or filtered rows one answer may ask for

#: Conditions the ranking uses (water vapour is not an engine constraint): field ->
#: (low, high, unit, low excluded). Blank: the latest weather reading's value.
CONDITION_RANGES: Mapping[str, tuple[float, float, str, bool]] = {
    "seeing_arcsec": (0.0, 10.0, "arcsec", True),
    "wind_speed_ms": (0.0, 80.0, "m/s", False),
    "wind_direction_deg": (0.0, 360.0, "degrees", False),
}
#: The panel's options (seed 001): field -> (low, high, unit). Blank: the engine's default.
OPTION_RANGES: Mapping[str, tuple[float, float, str]] = {
    "airmass_tolerance_pct": (0.0, 100.0, "%"),
    "fli_tolerance_pct": (0.0, 100.0, "%"),
    "moon_distance_tolerance_pct": (0.0, 100.0, "%"),
    "sun_max_elevation_deg": (-90.0, 0.0, "degrees"),
    "moon_elevation_limit_deg": (-90.0, 90.0, "degrees"),
    "zenith_avoidance_deg": (0.0, 20.0, "degrees"),
}
#: Switches: ``start_only`` is ESO's "Exec at UT start-time only" (the engine's
#: ``fits_from_now`` False), ``wind_restriction`` the pointing limit in strong wind.
SWITCHES = ("start_only", "wind_restriction")
ENGINE_DEFAULTS = RankingOptions()
OPTION_DEFAULTS: Mapping[str, float | bool] = {
    **{name: getattr(ENGINE_DEFAULTS, name) for name in OPTION_RANGES},
    "start_only": not ENGINE_DEFAULTS.fits_from_now,
    "wind_restriction": ENGINE_DEFAULTS.wind_restriction,
}
CONDITIONS = frozenset({*CONDITION_RANGES, "transparency"})
SCORER_NAMES = tuple(SCORERS)
DEFAULT_SCORER = "default"
#: p2's transparency names (the readings') -> the engine's.
TRANSPARENCY = {
    SkyTransparency.PHOTOMETRIC.value: Transparency.PHOTOMETRIC,
    SkyTransparency.CLEAR.value: Transparency.CLEAR,
    SkyTransparency.THIN.value: Transparency.THIN_CIRRUS,
    SkyTransparency.VARIABLE.value: Transparency.VARIABLE,
}
#: Score components as the justification names them.
COMPONENT_LABELS = {
    "rank_class": "Run's rank class",
    "grade": "Proposal's grade",
    "user_priority": "PI's priority",
    "group": "Started group",
    "group_completion": "Group completion",
    "time_link_urgency": "Time-link window closing",
    "setting_pressure": "Setting soon",
    "seeing_demand": "Needs good seeing",
    "transparency_demand": "Needs a clear sky",
    "moon_demand": "Needs dark time",
    "airmass_quality": "Near the meridian",
}


# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------


def _with_executions(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    executions = Execution.objects.select_related("ob").order_by("position", "pk")
    return visits.select_related("telescope", "operator").prefetch_related(
        Prefetch("executions", queryset=executions)
    )


def running_visit(telescope_id: int) -> Visit | None:
    """The visit running on the telescope, with its executions and their OBs."""
    found = Visit.objects.filter(telescope_id=telescope_id, state=VisitState.RUNNING)
    return _with_executions(found).first()


def visit_detail(visit_id: int) -> Visit | None:
    """A visit with its telescope, operator, executions and their OBs (three queries)."""
    return _with_executions(Visit.objects.filter(pk=visit_id)).first()


@dataclass(frozen=True)
class TelescopeRow:
    telescope: Telescope
    visit: Visit | None


def telescope_rows() -> list[TelescopeRow]:
    """Every telescope (by name) with the visit running on it, if any (four queries)."""
    telescopes = list(Telescope.objects.select_related("site").order_by("name"))
    running = _with_executions(Visit.objects.filter(state=VisitState.RUNNING))
    by_telescope = {visit.telescope_id: visit for visit in running}
    return [TelescopeRow(t, by_telescope.get(t.pk)) for t in telescopes]


# --------------------------------------------------------------------------------------------
# A ranking request
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankRequest:
    """A ranking request with every blank filled in: ``reading`` is the weather reading that
    gave the conditions not typed in (None when every one was typed), ``typed`` the names of
    those typed."""

    at: dt.datetime
    conditions: Conditions
    options: RankingOptions
    scorer: str
    reading: WeatherReading | None
    typed: frozenset[str]

    @property
    def transparency(self) -> str:
        """The transparency used, in p2's words."""
        return next(k for k, v in TRANSPARENCY.items() if v == self.conditions.transparency)

    @property
    def start_only(self) -> bool:
        return not self.options.fits_from_now


def _blank(value: object) -> bool:
    return value is None or value == ""


def _number(
    values: Mapping[str, Any], name: str, low: float, high: float, unit: str, open_low: bool
) -> tuple[float | None, str | None]:
    """``values[name]`` as a float in its range (None when blank), or the error message."""
    value = values.get(name)
    if _blank(value):
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, "Give a number."
    if (value <= low if open_low else value < low) or value > high:
        lower = f"more than {low:g}" if open_low else f"at least {low:g}"
        return None, f"Must be {lower} and at most {high:g} {unit}."
    return float(value), None


def _moment(value: object) -> tuple[dt.datetime, str | None]:
    """The ranking's time: now when blank; an aware time within the supported years."""
    if _blank(value):
        return timezone.now(), None
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        return timezone.now(), "Give a time with its time zone (UTC)."
    if not EARLIEST <= value < LATEST:
        return value, f"Give a time from {EARLIEST:%Y} to {LATEST.year - 1} (UTC)."
    return value.astimezone(dt.UTC), None


def rank_request(telescope_id: int, values: Mapping[str, Any]) -> RankRequest:
    """The ranking request ``values`` describe (time ``at``, conditions, options, ``scorer``;
    blank or missing ones take the latest reading's conditions at ``at`` and the engine's
    defaults); ``InvalidInput`` naming every bad field."""
    errors: dict[str, list[str]] = {}
    at, problem = _moment(values.get("at"))
    if problem:
        errors["at"] = [problem]
    measured: dict[str, float] = {}
    for name, (low, high, unit, open_low) in CONDITION_RANGES.items():
        number, problem = _number(values, name, low, high, unit, open_low)
        if problem:
            errors[name] = [problem]
        elif number is not None:
            measured[name] = number
    transparency = values.get("transparency")
    if not _blank(transparency) and transparency not in TRANSPARENCY:
        errors["transparency"] = [f"Choose one of {', '.join(TRANSPARENCY)}."]
    options: dict[str, Any] = {}
    for name, (low, high, unit) in OPTION_RANGES.items():
        number, problem = _number(values, name, low, high, unit, False)
        if problem:
            errors[name] = [problem]
        options[name] = OPTION_DEFAULTS[name] if number is None else number
    for name in SWITCHES:
        value = values.get(name)
        if _blank(value):
            options[name] = OPTION_DEFAULTS[name]
        elif isinstance(value, bool):
            options[name] = value
        else:
            errors[name] = ["Give true or false."]
    scorer = values.get("scorer")
    if _blank(scorer):
        scorer = DEFAULT_SCORER
    elif scorer not in SCORER_NAMES:
        errors["scorer"] = [f"Choose one of {', '.join(SCORER_NAMES)}."]
    if errors:
        raise InvalidInput("Invalid ranking request.", errors)

    typed = frozenset(measured) | ({"transparency"} if not _blank(transparency) else set())
    reading = None
    if typed != CONDITIONS:
        reading = latest_weather(telescope_id, until=at)
        for name in CONDITION_RANGES:
            value = getattr(reading, name, None) if reading is not None else None
            if name not in measured and value is not None:
                measured[name] = float(value)
        if _blank(transparency) and reading is not None and reading.transparency:
            transparency = reading.transparency
    if "seeing_arcsec" not in measured:
        when = f"{at:%Y-%m-%d %H:%M} UTC"
        raise InvalidInput(
            "No seeing.",
            {"seeing_arcsec": [f"No weather reading gives the seeing at {when}: type it in."]},
        )
    conditions = Conditions(
        seeing_arcsec=measured["seeing_arcsec"],
        transparency=TRANSPARENCY[str(transparency)] if transparency else Transparency.CLEAR,
        wind_speed_ms=measured.get("wind_speed_ms", 0.0),
        wind_direction_deg=measured.get("wind_direction_deg", 0.0),
    )
    start_only = options.pop("start_only")
    engine_options = RankingOptions(**options, fits_from_now=not start_only)
    return RankRequest(at, conditions, engine_options, str(scorer), reading, typed)


def ranking(
    telescope_id: int,
    request: RankRequest,
    *,
    limit: int | None = 50,
    filtered_limit: int | None = 50,
) -> NightRanking:
    """The telescope's ranking for ``request`` (``scheduling.night.ranking.rank_for``)."""
    return rank_for(
        telescope_id,
        request.at,
        request.conditions,
        request.options,
        request.scorer,
        limit=limit,
        filtered_limit=filtered_limit,
    )
