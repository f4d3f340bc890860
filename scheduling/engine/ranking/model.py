"""Inputs and outputs of the ranking engine: frozen dataclasses, no numpy.

Units are in the field names (``_deg``, ``_arcsec``, ``_s``, ``_ms`` = metres per second,
``_pct``); times are astropy ``Time`` (UTC) at this boundary and MJD floats inside the engine.

Inputs
------
Candidate
    One Observation Block: id, ICRS coordinates with proper motion, execution time, a
    ``ConstraintSet``, absolute and LST windows, user priority, its run's rank class and
    grade, and its container memberships (``GroupMembership``, ``TimeLinkMembership``,
    ``ConcatenationMembership``).
Conditions
    The weather now: seeing, transparency, wind speed and direction.
RankingOptions
    The operator's options of ESO's ranking panel (seed 001): tolerances, sun and moon
    limits, zenith avoidance, wind pointing restriction, "fits from now" vs "at start".

Outputs
-------
RankedOB, FilteredOB, Reason (see ``engine.RankingResult`` for the container).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from astropy.time import Time


class Transparency(enum.IntEnum):
    """Sky transparency, ordered best to worst: ``PHOTOMETRIC > CLEAR > THIN_CIRRUS > VARIABLE``.

    A constraint "min transparency X" is met when the current transparency ``>= X``.
    """

    VARIABLE = 0
    THIN_CIRRUS = 1
    CLEAR = 2
    PHOTOMETRIC = 3

    @classmethod
    def parse(cls, value: str | int | Transparency) -> Transparency:
        """Accept a member, its value, or its name in any case (``"thin_cirrus"``, ``"CLR"``)."""
        if isinstance(value, Transparency):
            return value
        if isinstance(value, int):
            return cls(value)
        key = str(value).strip().upper().replace(" ", "_").replace("-", "_")
        aliases = {
            "PHO": "PHOTOMETRIC",
            "CLR": "CLEAR",
            "THN": "THIN_CIRRUS",
            "TK": "VARIABLE",
            "THIN": "THIN_CIRRUS",
            "THICK": "VARIABLE",
        }
        key = aliases.get(key, key)
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown transparency {value!r}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


RANK_CLASSES = ("A", "B", "C")


@dataclass(frozen=True)
class ConstraintSet:
    """An OB's constraint set (ESO Phase 2).

    Parameters
    ----------
    max_airmass : float
        Upper airmass limit (Kasten & Young airmass).
    min_moon_distance_deg : float
        Minimum target–Moon separation, degrees (0 = none).
    max_fli : float
        Maximum fractional lunar illumination, 0..1 (1 = none).
    max_seeing_arcsec : float
        Maximum seeing / image quality, arcsec (``inf`` = none).
    min_transparency : Transparency
        Worst acceptable transparency.
    twilight_offset_min : float or None
        Minutes after the end of evening astronomical twilight (and before the start of
        morning twilight) outside which the OB must not run; negative allows twilight.
        ``None`` = no twilight constraint beyond the operator's sun limit.
    """

    max_airmass: float = 2.0
    min_moon_distance_deg: float = 30.0
    max_fli: float = 1.0
    max_seeing_arcsec: float = float("inf")
    min_transparency: Transparency = Transparency.VARIABLE
    twilight_offset_min: float | None = None


@dataclass(frozen=True)
class GroupMembership:
    """Membership of a P2PP group: executing the OB adds ``contribution`` to the group score.

    ``group_score`` is the group's current score, 0 (not started) .. 1 (complete).
    """

    group_id: str
    contribution: float
    group_score: float = 0.0


@dataclass(frozen=True)
class TimeLinkMembership:
    """Membership of a time-link: position ``order`` (0 = first) and the execution window.

    ``earliest``/``latest`` bound the start, derived from the previous OB's execution
    (execution end + ``min_delay_s`` .. + ``max_delay_s``). For ``order > 0`` with both
    ``None`` the previous OB has not been executed yet and this one is not observable.
    The delays let the simulator derive the next OB's window after an execution.
    """

    link_id: str
    order: int
    earliest: Time | None = None
    latest: Time | None = None
    min_delay_s: float = 0.0
    max_delay_s: float = float("inf")


@dataclass(frozen=True)
class ConcatenationMembership:
    """Membership of a concatenation: executed back to back in ``order``, all or nothing."""

    concatenation_id: str
    order: int


@dataclass(frozen=True)
class Candidate:
    """One candidate Observation Block.

    Parameters
    ----------
    id : str
    ra_deg, dec_deg : float
        ICRS position at ``epoch_jyear``, degrees.
    pm_ra_mas_yr, pm_dec_mas_yr : float
        Proper motion, mas/yr; ``pm_ra`` includes the cos(dec) factor (mu_alpha*).
    epoch_jyear : float
        Julian epoch of the position (2000.0 = J2000).
    execution_time_s : float
        Execution time including overheads, seconds (> 0).
    constraints : ConstraintSet
    absolute_windows : tuple of (Time, Time)
        Start-inclusive UTC windows; empty = any time. With "fits from now" the whole
        execution must lie inside one window.
    lst_windows : tuple of (float, float)
        LST windows in hours, ``start > end`` wraps through 0 h; empty = any LST.
    user_priority : int
        1 (highest) .. 10 (lowest), as the PI set it within the run.
    rank_class : str
        The run's rank class, ``"A"``, ``"B"`` or ``"C"``.
    grade : float
        The run's OPC grade, 1.0 (best) .. 5.0.
    group, time_link, concatenation : memberships or None
    """

    id: str
    ra_deg: float
    dec_deg: float
    execution_time_s: float
    constraints: ConstraintSet = field(default_factory=ConstraintSet)
    pm_ra_mas_yr: float = 0.0
    pm_dec_mas_yr: float = 0.0
    epoch_jyear: float = 2000.0
    absolute_windows: tuple[tuple[Time, Time], ...] = ()
    lst_windows: tuple[tuple[float, float], ...] = ()
    user_priority: int = 5
    rank_class: str = "B"
    grade: float = 2.5
    group: GroupMembership | None = None
    time_link: TimeLinkMembership | None = None
    concatenation: ConcatenationMembership | None = None


@dataclass(frozen=True)
class Conditions:
    """Current conditions: seeing (arcsec, zenith, V band), transparency, wind.

    ``wind_direction_deg`` is where the wind blows *from*, azimuth N=0 E=90.
    """

    seeing_arcsec: float
    transparency: Transparency = Transparency.CLEAR
    wind_speed_ms: float = 0.0
    wind_direction_deg: float = 0.0


@dataclass(frozen=True)
class RankingOptions:
    """The operator's options (ESO ranking panel, seed 001).

    Parameters
    ----------
    airmass_tolerance_pct : float
        An OB's max airmass is relaxed to ``max_airmass * (1 + tol/100)``.
    sun_max_elevation_deg : float
        The Sun must be at or below this altitude, degrees.
    moon_elevation_limit_deg : float
        Below this altitude the Moon counts as down: FLI and Moon distance are not checked.
    fli_tolerance_pct : float
        Max FLI relaxed to ``max_fli * (1 + tol/100)``.
    moon_distance_tolerance_pct : float
        Min Moon distance relaxed to ``min_moon_distance * (1 - tol/100)``.
    zenith_avoidance_deg : float
        Targets closer than this to the zenith are filtered (alt-az tracking limit).
    wind_restriction : bool
        When the wind speed is at or above ``wind_speed_limit_ms``, targets whose azimuth is
        within ``wind_avoid_halfwidth_deg`` of the wind direction are filtered.
    fits_from_now : bool
        True: constraints must hold over the whole execution (the whole concatenation for a
        concatenated OB); False: at the start only.
    check_seeing, check_transparency : bool
        Let the operator switch the weather filters off (they still feed the score).
    """

    airmass_tolerance_pct: float = 0.0
    sun_max_elevation_deg: float = -18.0
    moon_elevation_limit_deg: float = 0.0
    fli_tolerance_pct: float = 0.0
    moon_distance_tolerance_pct: float = 0.0
    zenith_avoidance_deg: float = 2.0
    wind_restriction: bool = True
    wind_speed_limit_ms: float = 12.0
    wind_avoid_halfwidth_deg: float = 90.0
    fits_from_now: bool = True
    check_seeing: bool = True
    check_transparency: bool = True


@dataclass(frozen=True)
class Reason:
    """Why an OB is not observable: a machine ``code`` and a human ``text``."""

    code: str
    text: str


@dataclass(frozen=True)
class RankedOB:
    """An observable OB: its ``score`` is the sum of ``components`` (the rank justification).

    ``concatenation`` lists the ids executed back to back with it (itself included; empty
    when it is not concatenated).
    """

    id: str
    score: float
    components: dict[str, float]
    concatenation: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilteredOB:
    """A non-observable OB, every reason, and when it becomes observable tonight (or None)."""

    id: str
    reasons: list[Reason]
    observable_from: Time | None = None
