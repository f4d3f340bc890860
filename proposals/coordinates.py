"""Parse target coordinates typed by people: sexagesimal or decimal degrees, via astropy.

Whatever a client sends, a refusal is an ``InvalidInput`` on the field (``"ra"`` or ``"dec"``):
a 400-digit integer overflows a float, and astropy itself reads ``05:60:00`` as 06:00:00 and
``24:00:00`` as 360° (with a warning only), so minutes, seconds and hours are checked here on
the parsed components before any conversion.
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NoReturn

import astropy.units as u
from astropy.coordinates import Angle
from astropy.coordinates.angles.formats import parse_angle

from dataflow.errors import InvalidInput

# No coordinate needs more characters; longer text is refused before parsing and never quoted
# in full (a message echoing 400 digits helps nobody).
MAX_TEXT_LENGTH = 40
_QUOTED_LENGTH = 24


@dataclass(frozen=True)
class _Field:
    key: str  # the field the messages are attached to
    label: str
    syntax: str
    text_unit: u.UnitBase  # how sexagesimal text is read when it names no unit
    limits: str

    def refuse(self, message: str) -> NoReturn:
        raise InvalidInput(f"Bad {self.label}.", {self.key: [message]})

    def unreadable(self, shown: str, why: str = "") -> NoReturn:
        self.refuse(f"Cannot read '{shown}' as a {self.label}: {why or 'use ' + self.syntax}.")

    def out_of_range(self, shown: str) -> NoReturn:
        self.refuse(f"{self.label.capitalize()} {shown} is outside {self.limits}.")


_RA = _Field("ra", "right ascension", "hh:mm:ss.s or decimal degrees", u.hourangle, "0..24 h")
_DEC = _Field("dec", "declination", "±dd:mm:ss or decimal degrees", u.deg, "±90°")


def _quoted(text: str) -> str:
    return text if len(text) <= _QUOTED_LENGTH else f"{text[: _QUOTED_LENGTH - 4]}…"


def _shown_number(value: Real) -> str:
    if isinstance(value, Integral) and int(value).bit_length() > 64:
        # str() of a huge int is slow, and refused beyond 4300 digits: say how long it is.
        digits = int(int(value).bit_length() * math.log10(2)) + 1
        return f"(a number of about {digits} digits)"
    return _quoted(str(value))


def _is_sexagesimal(text: str) -> bool:
    return any(c in text for c in ":hmsd ") and not text.replace(".", "", 1).lstrip("+-").isdigit()


def _parse_text(raw: str, field: _Field, unit: u.UnitBase) -> float:
    """Degrees from text read by astropy's angle grammar, its components checked first."""
    shown = _quoted(raw)
    try:
        found, found_unit = parse_angle(raw, unit)
    except (ValueError, TypeError, ArithmeticError, u.UnitsError):
        field.unreadable(shown)
    unit = found_unit or unit
    if isinstance(found, tuple):
        lead, *rest = (float(part) for part in found)
        if any(not 0.0 <= part < 60.0 for part in rest):
            field.unreadable(shown, "minutes and seconds must be below 60")
        if unit == u.hourangle and abs(lead) >= 24.0:
            field.out_of_range(shown)
        # The sign sits on the leading component, also for -00:30:00 (a signed zero).
        magnitude = abs(lead) + sum(part / 60.0**i for i, part in enumerate(rest, start=1))
        value = math.copysign(magnitude, lead)
    else:
        try:
            value = float(found)
        except OverflowError:
            field.out_of_range(shown)
    try:
        return float(u.Quantity(value, unit).to_value(u.deg))
    except u.UnitsError:  # e.g. "30s" read as seconds of time for a declination
        field.unreadable(shown)


def _degrees(value: str | float, field: _Field) -> tuple[float, str]:
    """The value in degrees, not yet range-checked, and how to quote it in a message."""
    if isinstance(value, bool) or not isinstance(value, str | Real):
        field.unreadable(_quoted(str(value)))  # True is an int to Python, not a coordinate
    if isinstance(value, Real):
        shown = _shown_number(value)
        try:
            return float(value), shown
        except OverflowError:
            field.out_of_range(shown)
    raw = value.strip()
    shown = _quoted(raw)
    if len(raw) > MAX_TEXT_LENGTH:
        field.unreadable(shown, f"a coordinate has at most {MAX_TEXT_LENGTH} characters")
    if field is _RA and not _is_sexagesimal(raw):
        # Decimal right ascensions are degrees (sexagesimal ones are hours).
        try:
            return float(raw), shown
        except ValueError:
            field.unreadable(shown)
    return _parse_text(raw, field, field.text_unit), shown


def parse_ra(text: str | float) -> float:
    """Right ascension in degrees from ``"10:08:22.3"`` or ``"10h08m22.3s"`` (hours), or
    ``"152.09"`` (degrees); ``0 <= ra < 24 h``."""
    deg, shown = _degrees(text, _RA)
    if math.isnan(deg):
        _RA.unreadable(shown)
    if not 0.0 <= deg < 360.0:
        _RA.out_of_range(shown)
    return deg


def parse_dec(text: str | float) -> float:
    """Declination in degrees from ``"-30:12:05"``, ``"-30d12m05s"`` or ``"-30.2"``."""
    deg, shown = _degrees(text, _DEC)
    if math.isnan(deg):
        _DEC.unreadable(shown)
    if not -90.0 <= deg <= 90.0:
        _DEC.out_of_range(shown)
    return deg


def format_ra(deg: float) -> str:
    text = Angle(deg, unit=u.deg).to_string(unit=u.hourangle, sep=":", precision=2, pad=True)
    # Within 0.005 s of 24 h the rounding shows 24:00:00.00, which parse_ra refuses: it is 0 h.
    return "00:00:00.00" if text.startswith("24:") else text


def format_dec(deg: float) -> str:
    return Angle(deg, unit=u.deg).to_string(
        unit=u.deg, sep=":", precision=1, pad=True, alwayssign=True
    )
