"""The rules of Phase 2 values, applied by the services on every write: an OB's fields and
a template's parameter values (each returns the values to store or raises ``InvalidInput`` with
every field's problem at once), and the minimal verification of an OB before submission.
Nothing here saves; the services call these under the run's lock.
"""

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, prefetch_related_objects

from dataflow.errors import InvalidInput
from observations import parameters, verification
from observations.models import (
    ItemType,
    ObservationBlock,
    SkyTransparency,
    Template,
    TemplateType,
)
from proposals.coordinates import parse_dec, parse_ra
from proposals.models import ObservingRun, Transparency
from proposals.rules import number

Errors = dict[str, list[str]]
NAME_LENGTH = 100


def clean_name(value: Any, errors: Errors, field: str = "name") -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        errors.setdefault(field, []).append("Give a name.")
    elif len(text) > NAME_LENGTH:
        errors.setdefault(field, []).append(f"At most {NAME_LENGTH} characters.")
    return text


def checked_name(value: Any) -> str:
    errors: Errors = {}
    checked = clean_name(value, errors)
    if errors:
        raise InvalidInput("Invalid name.", errors)
    return checked


def clean_integer(value: Any, field: str, errors: Errors, *, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.setdefault(field, []).append("Give a whole number.")
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        errors.setdefault(field, []).append("Give a whole number.")
        return None
    if not low <= value <= high:
        errors.setdefault(field, []).append(f"Must be between {low} and {high}.")
        return None
    return int(value)


def clean_text(value: Any, field: str, errors: Errors, *, length: int) -> str:
    if not isinstance(value, str):
        errors.setdefault(field, []).append("Give a text.")
        return ""
    if len(value) > length:
        errors.setdefault(field, []).append(f"At most {length} characters.")
    return value.strip()


_EQUINOX = re.compile(r"[JB][0-9]{4}(\.[0-9]+)?")
# (low, high) of the constraint set and the target's numbers; None: positive, no lower bound.
_RANGES: dict[str, tuple[float | None, float]] = {
    "pm_ra": (-20.0, 20.0),  # arcsec/yr; Barnard's star moves 10.4"/yr
    "pm_dec": (-20.0, 20.0),
    "epoch": (1900.0, 2100.0),
    "max_airmass": (1.0, 5.0),
    "seeing_arcsec": (0.1, 10.0),
    "max_fli": (0.0, 1.0),
    "min_moon_distance_deg": (0.0, 180.0),
    "twilight_min": (-120.0, 120.0),  # minutes from the end of astronomical twilight
    "water_vapour_mm": (None, 30.0),  # 30 mm: no constraint
    "contribution": (None, 100.0),
}
MAX_DELAY_S = 366 * 86400


def ob_values(ob: ObservationBlock, sent: dict[str, Any]) -> dict[str, Any]:
    """Model values of the sent OB fields, checked; every field's problem at once."""
    errors: Errors = {}
    out: dict[str, Any] = {}
    for key, value in sent.items():
        if key == "name":
            out["name"] = clean_name(value, errors)
        elif key == "target_name":
            out["target_name"] = clean_text(value, key, errors, length=NAME_LENGTH)
        elif key in ("ra", "dec"):
            parse = parse_ra if key == "ra" else parse_dec
            try:
                out[f"{key}_deg"] = None if value is None else parse(value)
            except InvalidInput as exc:
                for k, messages in exc.errors.items():
                    errors.setdefault(k, []).extend(messages)
        elif key == "equinox":
            if not isinstance(value, str) or not _EQUINOX.fullmatch(value.strip()):
                errors[key] = ["Give an equinox such as J2000."]
            else:
                out[key] = value.strip()
        elif key == "sky_transparency":
            if value not in SkyTransparency.values:
                errors[key] = [f"Choose one of {', '.join(SkyTransparency.values)}."]
            else:
                out[key] = value
        elif key == "user_priority":
            out[key] = clean_integer(value, key, errors, low=1, high=1000)
        elif key == "user_comments":
            out[key] = clean_text(value, key, errors, length=5000)
        elif key in ("min_delay_s", "max_delay_s"):
            if value is None and key == "max_delay_s":
                out[key] = None
            else:
                out[key] = clean_integer(value, key, errors, low=0, high=MAX_DELAY_S)
        elif key in _RANGES:
            low, high = _RANGES[key]
            if value is None:
                errors[key] = ["Give a number."]
            else:
                out[key] = number(value, key, errors, low=low, high=high, positive=low is None)
        else:  # a field of OBData this function does not know: a programming error
            raise AssertionError(f"unhandled OB field {key}")
    _scheduling_fields(ob, out, errors)
    if errors:
        raise InvalidInput("Invalid OB.", errors)
    return out


def _scheduling_fields(ob: ObservationBlock, out: dict[str, Any], errors: Errors) -> None:
    """A contribution means something in a Group, delays in a TimeLink: refuse changing them
    elsewhere rather than store values that no scheduler reads."""
    kind = ob.container.item_type
    if "contribution" in out and out["contribution"] != ob.contribution and kind != ItemType.GROUP:
        errors.setdefault("contribution", []).append("Only OBs in a Group have a contribution.")
    for key in ("min_delay_s", "max_delay_s"):
        if key in out and out[key] != getattr(ob, key) and kind != ItemType.TIMELINK:
            errors.setdefault(key, []).append("Only OBs in a TimeLink have delays.")
    low = out.get("min_delay_s", ob.min_delay_s)
    high = out.get("max_delay_s", ob.max_delay_s)
    if low is not None and high is not None and high < low and "max_delay_s" not in errors:
        errors.setdefault("max_delay_s", []).append(
            "The latest delay must not be shorter than the earliest."
        )


_PHASE1_TRANSPARENCY = {
    Transparency.PHOTOMETRIC: SkyTransparency.PHOTOMETRIC,
    Transparency.CLEAR: SkyTransparency.CLEAR,
    Transparency.THIN_CIRRUS: SkyTransparency.THIN,
    Transparency.VARIABLE: SkyTransparency.VARIABLE,
}


def phase1_constraints(run: ObservingRun) -> dict[str, Any]:
    """A new OB starts from the run's Phase 1 constraints, on which its time was allocated."""
    return {
        "max_airmass": run.max_airmass,
        "seeing_arcsec": run.max_seeing_arcsec,
        "max_fli": run.max_fli,
        "sky_transparency": _PHASE1_TRANSPARENCY.get(
            Transparency(run.transparency), SkyTransparency.VARIABLE
        ),
    }


def template_value_errors(definitions: list[dict[str, Any]], values: dict[str, Any]) -> Errors:
    """Messages per parameter for values being set: known names, and each given value of the
    right type, in range and allowed (``observations.parameters``). ``None`` resets a value
    to its default; a required value still missing is verification's business, so that
    astronomers can fill a template one parameter at a time."""
    by_name = {d["name"]: d for d in definitions}
    errors: Errors = {}
    for name, value in values.items():
        definition = by_name.get(name)
        if definition is None:
            errors[name] = ["Unknown parameter for this template: remove it."]
        elif value is not None:
            message = parameters.check_value(definition, value)
            if message:
                errors[name] = [message]
    return errors


@dataclasses.dataclass(frozen=True)
class Verification:
    """What to change before an OB can be submitted (errors) and what to look at (warnings)."""

    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def verify(ob: ObservationBlock) -> Verification:
    """Verify one OB (see :func:`verify_many`)."""
    return verify_many([ob])[ob.pk]


def verify_many(obs: Sequence[ObservationBlock]) -> dict[int, Verification]:
    """Verify OBs together, by id: their completeness (target, templates and their values)
    here, the richer checks (constraints against Phase 1, the service-mode minimum, the run's
    allocation, containers, observability) from ``observations.verification``, computed once
    for all (one sky computation per run, not one per OB)."""
    prefetch_related_objects(
        list(obs),
        Prefetch("templates", queryset=Template.objects.select_related("signature")),
        "absolute",
    )
    richer = verification.check_many(obs)
    reports = {}
    for ob in obs:
        errors, warnings = _completeness(ob)
        more_errors, more_warnings = richer[ob.pk]
        reports[ob.pk] = Verification(errors + more_errors, warnings + more_warnings)
    return reports


def _completeness(ob: ObservationBlock) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    if ob.ra_deg is None or ob.dec_deg is None:
        errors.append("Set the target's RA and Dec (or copy a Phase 1 target).")
    if not ob.target_name.strip():
        errors.append("Name the target.")
    templates = list(ob.templates.all())
    types = [t.signature.type for t in templates]
    if types.count(TemplateType.ACQUISITION) > 1:
        errors.append("Keep one acquisition template: an OB has at most one.")
    elif TemplateType.ACQUISITION in types[1:]:
        errors.append("Move the acquisition template to the start of the OB.")
    if TemplateType.SCIENCE not in types:
        errors.append("Add a science template.")
    elif TemplateType.ACQUISITION not in types:
        warnings.append("No acquisition template: the telescope will not centre the target.")
    for i, template in enumerate(templates, start=1):
        signature = template.signature
        shown = f"Template {i} ({signature.name})"
        if signature.ip_version != ob.ip_version:
            errors.append(
                f"{shown} is from instrument package {signature.ip_version}, the OB uses "
                f"{ob.ip_version}: replace it."
            )
        for name, message in parameters.validate(signature.parameters, template.values).items():
            errors.append(f"{shown}, {name}: {message}")
    return errors, warnings


def ip_version_key(ip_version: str) -> tuple[float, str]:
    """Instrument-package versions in numeric order ("119.10" after "119.9"); others first."""
    try:
        return float(ip_version), ip_version
    except ValueError:
        return -1.0, ip_version
