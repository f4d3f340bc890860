"""The domain rules of a target's and a run's values, applied by the services on every write.

Each function takes the merged values (stored values under the sent changes) and returns the
values to store, or raises ``InvalidInput`` with every field's problem at once. Nothing here
saves; the services call these under the proposal's row lock.
"""

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dataflow.astro.nights import night_table
from dataflow.astro.site import Site as AstroSite
from dataflow.errors import InvalidInput
from dataflow.observatory.models import Instrument, Telescope
from proposals.coordinates import parse_dec, parse_ra
from proposals.models import Mode, Period, Transparency

# An id typed by a person or a script: ASCII digits only ("²".isdigit() is True but int() fails),
# and small enough for a 64-bit primary key.
_ID = re.compile(r"[0-9]{1,18}")
Errors = dict[str, list[str]]


def posted_id(raw: str) -> int | None:
    """An id posted by a page form (ASCII digits, fits a 64-bit key), else None."""
    return int(raw) if _ID.fullmatch(raw) else None


def number(
    value: Any,
    field: str,
    errors: Errors,
    *,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
    positive_message: str = "Must be positive.",
) -> float | None:
    """A finite real number within bounds, else a message on ``field`` (booleans refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.setdefault(field, []).append("Give a number.")
        return None
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        errors.setdefault(field, []).append("Give a finite number.")
    elif positive and result <= 0:
        errors.setdefault(field, []).append(positive_message)
    elif low is not None and result < low:
        errors.setdefault(field, []).append(f"Must be at least {low:g}.")
    elif high is not None and result > high:
        errors.setdefault(field, []).append(f"Must be at most {high:g}.")
    else:
        return result
    return None


def target_values(values: dict[str, Any]) -> dict[str, Any]:
    """Model values of a target from name, ra, dec (sexagesimal or degrees), magnitude, PM."""
    errors: Errors = {}
    name = values.get("name")
    out: dict[str, Any] = {"name": name.strip() if isinstance(name, str) else ""}
    if not out["name"]:
        errors["name"] = ["A target needs a name."]
    for key, parse, field in (("ra_deg", parse_ra, "ra"), ("dec_deg", parse_dec, "dec")):
        raw = values.get(field)
        if raw is None or isinstance(raw, bool):
            errors[field] = ["Give a sexagesimal string or a number of degrees."]
            continue
        try:
            out[key] = parse(raw)
        except InvalidInput as exc:
            errors.update(exc.errors)
    out["magnitude"] = number(values.get("magnitude"), "magnitude", errors, low=-30, high=40)
    for field in ("pm_ra_mas_yr", "pm_dec_mas_yr"):
        # |PM| beyond 20"/yr: faster than any known star (Barnard's is 10.4"/yr).
        out[field] = number(values.get(field) or 0.0, field, errors, low=-2e4, high=2e4) or 0.0
    if errors:
        raise InvalidInput("Invalid target.", errors)
    return out


def keywords(values: Any) -> list[str]:
    """A proposal's keywords: short texts, lower case, unique, sorted (at most 10)."""
    if isinstance(values, str):
        values = re.split(r"[,;]", values)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput("Invalid keywords.", {"keywords": ["Give a list of keywords."]})
    cleaned = sorted({v.strip().lower() for v in values if v.strip()})
    if len(cleaned) > 10 or any(len(v) > 40 for v in cleaned):
        raise InvalidInput(
            "Invalid keywords.", {"keywords": ["At most 10 keywords of at most 40 characters."]}
        )
    return cleaned


def _by_id_or_name(model: type[Any], ref: Any, **filters: Any) -> Any:
    if isinstance(ref, int) and not isinstance(ref, bool):
        return model.objects.filter(pk=ref, **filters).first() if 0 < ref < 2**63 else None
    if isinstance(ref, str):
        ref = ref.strip()
        if _ID.fullmatch(ref):
            return model.objects.filter(pk=int(ref), **filters).first()
        return model.objects.filter(name=ref, **filters).first() if ref else None
    return None


def _telescope(ref: Any, errors: Errors) -> Telescope | None:
    if ref is None or ref == "":
        errors["telescope"] = ["Choose a telescope."]
        return None
    telescope = _by_id_or_name(Telescope, ref)
    if telescope is None:
        errors["telescope"] = [f"There is no telescope {ref}."]
    return telescope  # type: ignore[no-any-return]


def _instrument(ref: Any, telescope: Telescope | None, errors: Errors) -> Instrument | None:
    """The instrument by id, or by name on the chosen telescope; a message naming both when it
    is mounted elsewhere, however it was named."""
    if ref is None or ref == "":
        errors["instrument"] = ["Choose an instrument."]
        return None
    if telescope is not None and not isinstance(ref, int):
        on_telescope = _by_id_or_name(Instrument, ref, telescope=telescope)
        if on_telescope is not None:
            return on_telescope  # type: ignore[no-any-return]
    instrument: Instrument | None = _by_id_or_name(Instrument, ref)
    if instrument is None:
        errors["instrument"] = [f"There is no instrument {ref}."]
    elif telescope is not None and instrument.telescope_id != telescope.pk:
        errors["instrument"] = [f"{instrument.name} is not an instrument of {telescope.name}."]
    return instrument


def _dates(values: Any, field: str, errors: Errors) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = [v for v in re.split(r"[,;\s]+", values) if v]
    if not isinstance(values, list):
        errors[field] = ["Give a list of dates (YYYY-MM-DD)."]
        return []
    out = set()
    for v in values:
        try:
            out.add(dt.date.fromisoformat(str(v).strip()).isoformat())
        except ValueError:
            errors.setdefault(field, []).append(f"'{v}' is not a date (YYYY-MM-DD).")
    return sorted(out)


@lru_cache(maxsize=64)
def _night_hours(site: AstroSite, start: dt.date, end: dt.date) -> float:
    """Sunset-to-sunrise hours summed over the period's nights at the site."""
    table = night_table(site, start, end)
    return float(((table.sunrise_jd - table.sunset_jd) * 24.0).sum())


def period_capacity(period: Period, telescope: Telescope) -> tuple[int, float]:
    """What one telescope's period can hold: (nights, hours of night)."""
    nights = (period.end - period.start).days + 1
    return nights, _night_hours(telescope.site.as_astro(), period.start, period.end)


@dataclass(frozen=True)
class RunValues:
    telescope: Telescope
    instrument: Instrument
    fields: dict[str, Any]  # every other model field of the run
    target_ids: list[int]


def run_values(
    merged: dict[str, Any], sent: dict[str, Any], *, period: Period, target_ids: set[int]
) -> RunValues:
    """Check a run: telescope and instrument, the SM/VM rules, time within what the period can
    hold, constraints, targets of the proposal (``target_ids``), dates.

    A service-mode run asks for hours and has no nights or dates; a visitor-mode run the
    reverse. Sending the other mode's fields is an error; stored ones are cleared when the
    mode changes.
    """
    errors: Errors = {}
    telescope = _telescope(merged.get("telescope"), errors)
    instrument = _instrument(merged.get("instrument"), telescope, errors)
    mode = merged.get("mode") or Mode.SM
    if mode not in Mode.values:
        errors["mode"] = [f"Mode must be one of {', '.join(Mode.values)}."]
    transparency = merged.get("transparency") or Transparency.CLEAR
    if transparency not in Transparency.values:
        errors["transparency"] = [f"Choose one of {', '.join(Transparency.values)}."]
    out: dict[str, Any] = {"mode": mode, "transparency": transparency}
    out["max_fli"] = number(merged.get("max_fli", 1.0), "max_fli", errors, low=0, high=1)
    out["max_seeing_arcsec"] = number(
        merged.get("max_seeing_arcsec", 1.2), "max_seeing_arcsec", errors, low=0.1, high=10
    )
    out["max_airmass"] = number(
        merged.get("max_airmass", 1.6), "max_airmass", errors, low=1.0, high=5.0
    )
    time_message = "Requested time must be positive."
    hours = number(
        merged.get("hours"), "hours", errors, positive=True, positive_message=time_message
    )
    nights = number(
        merged.get("nights"), "nights", errors, positive=True, positive_message=time_message
    )
    preferred = _dates(merged.get("preferred_dates"), "preferred_dates", errors)
    impossible = _dates(merged.get("impossible_dates"), "impossible_dates", errors)
    if mode == Mode.VM:
        if sent.get("hours") is not None:
            errors.setdefault("hours", []).append("A visitor-mode run asks for nights, not hours.")
        hours = None
    else:
        if sent.get("nights") is not None:
            errors.setdefault("nights", []).append("A service-mode run asks for hours, not nights.")
        for field in ("preferred_dates", "impossible_dates"):
            if sent.get(field):
                errors.setdefault(field, []).append(
                    "Only visitor-mode runs have preferred or impossible dates."
                )
        nights, preferred, impossible = None, [], []
    if telescope is not None and (hours is not None or nights is not None):
        max_nights, max_hours = period_capacity(period, telescope)
        if nights is not None and nights > max_nights:
            errors["nights"] = [f"{period} has {max_nights} nights; ask for at most that."]
        if hours is not None and hours > max_hours:
            errors["hours"] = [
                f"{period} holds {max_hours:.0f} h of night at {telescope.site.name}; "
                "ask for at most that."
            ]
    ids = merged.get("target_ids") or []
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        errors["target_ids"] = ["Give a list of target ids."]
        ids = []
    elif not set(ids) <= target_ids:
        errors["target_ids"] = ["Every target of a run must be a target of this proposal."]
    if errors or telescope is None or instrument is None:
        raise InvalidInput("Invalid observing run.", errors)
    out.update(hours=hours, nights=nights, preferred_dates=preferred, impossible_dates=impossible)
    return RunValues(telescope, instrument, out, sorted(set(ids)))
