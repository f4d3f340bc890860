"""Parse target coordinates typed by people: sexagesimal or decimal degrees, via astropy."""

import astropy.units as u
from astropy.coordinates import Angle

from dataflow.errors import InvalidInput


def _is_sexagesimal(text: str) -> bool:
    return any(c in text for c in ":hmsd ") and not text.replace(".", "", 1).lstrip("+-").isdigit()


def parse_ra(text: str | float) -> float:
    """Right ascension in degrees from ``"10:08:22.3"`` or ``"10h08m22.3s"`` (hours), or
    ``"152.09"`` (degrees)."""
    raw = str(text).strip()
    try:
        angle = (
            Angle(raw, unit=u.hourangle) if _is_sexagesimal(raw) else Angle(float(raw), unit=u.deg)
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "Bad right ascension.",
            {
                "ra": [
                    f"Cannot read '{raw}' as a right ascension: use hh:mm:ss.s or decimal degrees."
                ]
            },
        ) from exc
    deg = float(angle.to_value(u.deg))
    if not 0.0 <= deg < 360.0:
        raise InvalidInput(
            "Bad right ascension.", {"ra": [f"Right ascension {raw} is outside 0..24 h."]}
        )
    return deg


def parse_dec(text: str | float) -> float:
    """Declination in degrees from ``"-30:12:05"``, ``"-30d12m05s"`` or ``"-30.2"``."""
    raw = str(text).strip()
    try:
        angle = Angle(raw, unit=u.deg)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "Bad declination.",
            {"dec": [f"Cannot read '{raw}' as a declination: use ±dd:mm:ss or decimal degrees."]},
        ) from exc
    deg = float(angle.to_value(u.deg))
    if not -90.0 <= deg <= 90.0:
        raise InvalidInput("Bad declination.", {"dec": [f"Declination {raw} is outside ±90°."]})
    return deg


def format_ra(deg: float) -> str:
    return Angle(deg, unit=u.deg).to_string(unit=u.hourangle, sep=":", precision=2, pad=True)


def format_dec(deg: float) -> str:
    return Angle(deg, unit=u.deg).to_string(
        unit=u.deg, sep=":", precision=1, pad=True, alwayssign=True
    )
