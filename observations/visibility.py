"""An OB's visibility for the OB editor: airmass through one night, hours per night over a period.

Pure Python on :mod:`dataflow.astro` (no Django, no database): callers pass plain numbers,
dates and a :class:`~dataflow.astro.site.Site`; ``observations.visibility_views`` turns an OB
into an :class:`ObTarget`.

- :func:`night_airmass`: the target's airmass every ``step_minutes`` from sunset to sunrise,
  the night's twilights, the Moon's altitude and its distance from the target.
- :func:`period_hours`: hours per night at airmass <= the OB's limit in astronomical night
  (:func:`dataflow.astro.visibility.nightly_visibility`) and, when the OB has absolute time
  windows, the same hours restricted to them (closed form, :func:`hours_in_intervals`).
Their PNGs are drawn by :mod:`observations.visibility_plot`.

Airmass is Kasten & Young's of the geometric altitude, as in verification and scheduling: it is
lower than astropy's ``sec z`` by < 0.006 below airmass 2 and < 0.023 below 3.
Sidereal (LST) windows and the OB's twilight offset are not applied (astronomical night only).
"""

import datetime
import math
from dataclasses import dataclass

import numpy as np
from astropy.time import Time
from numpy.typing import ArrayLike, NDArray

from dataflow.astro.geometry import (
    airmass,
    altitude_for_airmass,
    apparent_place_by_day,
    apply_proper_motion,
    moon_separation_deg,
    target_altaz,
)
from dataflow.astro.nights import ASTRONOMICAL_DEG, night_table
from dataflow.astro.site import Site
from dataflow.astro.sky import sky_samples
from dataflow.astro.visibility import SIDEREAL_DEG_PER_DAY, nightly_visibility

#: Sampling of the night's airmass curve, minutes.
NIGHT_STEP_MINUTES = 5.0
#: Sampling of the Moon inside each night for the period plot (its hours do not depend on it).
PERIOD_STEP_MINUTES = 30.0

JD_UNIX_EPOCH = 2440587.5
_JD_J2000 = 2451545.0
_MJD_TO_JD = 2400000.5
_MJD_EPOCH_DATE = datetime.date(1858, 11, 17)
UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_HOURS_PER_DAY = 24.0
_MAS_PER_ARCSEC = 1000.0

Window = tuple[datetime.datetime, datetime.datetime]


# ---------------------------------------------------------------------------------------------
# Inputs and time helpers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObTarget:
    """What the plots need of an OB: its target, airmass limit, Moon distance and windows.

    Attributes
    ----------
    name : str
        Shown in titles and legends.
    ra_deg, dec_deg : float
        ICRS (J2000) coordinates at ``epoch_jyear``, degrees.
    max_airmass : float
        The OB's airmass limit (>= 1).
    min_moon_distance_deg : float
        The OB's minimum distance from the Moon, degrees (drawn, not applied to the hours).
    pm_ra_arcsec_yr, pm_dec_arcsec_yr : float
        Proper motion in RA (including cos Dec) and Dec, arcsec/yr (p2's units).
    epoch_jyear : float
        Julian epoch of the coordinates, years.
    windows : tuple of (datetime, datetime)
        Absolute UTC time windows (timezone-aware); empty: no restriction.
    """

    name: str
    ra_deg: float
    dec_deg: float
    max_airmass: float
    min_moon_distance_deg: float = 0.0
    pm_ra_arcsec_yr: float = 0.0
    pm_dec_arcsec_yr: float = 0.0
    epoch_jyear: float = 2000.0
    windows: tuple[Window, ...] = ()

    def position_at(self, jd: float) -> tuple[float, float]:
        """ICRS RA and Dec at the UTC Julian date ``jd`` (proper motion applied), degrees."""
        if self.pm_ra_arcsec_yr == 0.0 and self.pm_dec_arcsec_yr == 0.0:
            return self.ra_deg, self.dec_deg
        ra, dec = apply_proper_motion(
            self.ra_deg,
            self.dec_deg,
            self.pm_ra_arcsec_yr * _MAS_PER_ARCSEC,
            self.pm_dec_arcsec_yr * _MAS_PER_ARCSEC,
            self.epoch_jyear,
            2000.0 + (jd - _JD_J2000) / 365.25,
        )
        return float(ra), float(dec)


def jd_of(instant: datetime.datetime) -> float:
    """UTC Julian date of a timezone-aware datetime (leap seconds ignored: < 1 s)."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    return (instant - UNIX_EPOCH).total_seconds() / 86400.0 + JD_UNIX_EPOCH


def night_date_at(site: Site, jd: float) -> datetime.date:
    """The local evening date of the night containing the UTC Julian date ``jd``.

    Nights run from local mean noon to local mean noon, as in :mod:`dataflow.astro.nights`.
    """
    days = math.floor(jd - _MJD_TO_JD - 0.5 + site.longitude_deg / 360.0)
    return _MJD_EPOCH_DATE + datetime.timedelta(days=days)


def default_night(
    site: Site, start: datetime.date, end: datetime.date, now: datetime.datetime
) -> datetime.date:
    """Tonight (the night containing ``now``) if it falls in ``start..end``, else ``start``."""
    tonight = night_date_at(site, jd_of(now))
    return tonight if start <= tonight <= end else start


def merged_windows(windows: tuple[Window, ...]) -> list[tuple[float, float]]:
    """Windows as sorted, non-overlapping (start, end) UTC Julian dates; empty ones dropped."""
    spans = sorted((jd_of(s), jd_of(e)) for s, e in windows if e > s)
    merged: list[tuple[float, float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# ---------------------------------------------------------------------------------------------
# Hours at airmass <= limit in given intervals (closed form)
# ---------------------------------------------------------------------------------------------


def _arc_measure(x: NDArray[np.float64], half_width: NDArray[np.float64]) -> NDArray[np.float64]:
    """Measure of ``{y in [0, x] : |wrap(y)| <= half_width}`` for ``x >= 0``, degrees."""
    turns = np.floor(x / 360.0)
    y = x - 360.0 * turns
    measure: NDArray[np.float64] = (
        turns * 2.0 * half_width
        + np.minimum(y, half_width)
        + np.maximum(0.0, y - (360.0 - half_width))
    )
    return measure


def hours_in_intervals(
    site: Site,
    ra_deg: float,
    dec_deg: float,
    max_airmass: float,
    start_jd: ArrayLike,
    end_jd: ArrayLike,
) -> NDArray[np.float64]:
    """Hours a target spends at airmass <= ``max_airmass`` inside each UTC interval.

    The same closed form as :func:`dataflow.astro.visibility.nightly_visibility`: the target
    is above the limit altitude while ``|HA| <= H0``; the interval sweeps an arc of hour angle
    from its start at the sidereal rate, and the answer is the overlap of the two arcs.

    Parameters
    ----------
    site : Site
    ra_deg, dec_deg : float
        ICRS coordinates (proper motion applied), degrees.
    max_airmass : float
        Kasten & Young airmass limit, >= 1.
    start_jd, end_jd : array_like
        (K,) interval ends, UTC Julian dates; an interval with ``end <= start`` counts 0.

    Returns
    -------
    ndarray
        (K,) hours; within ~1 s of exact (apparent place per TT day, UT1 rate ~ UTC rate).
    """
    start = np.atleast_1d(np.asarray(start_jd, dtype=np.float64)).reshape(-1)
    end = np.atleast_1d(np.asarray(end_jd, dtype=np.float64)).reshape(-1)
    if start.shape != end.shape:
        raise ValueError("start_jd and end_jd must have the same length")
    if max_airmass < 1.0:
        raise ValueError("max_airmass must be >= 1")
    if start.size == 0:
        return np.zeros(0)
    times = Time(start, format="jd", scale="utc")
    sky = sky_samples(site, times)
    ra_app, dec_app, idx = apparent_place_by_day(times, np.array([ra_deg]), np.array([dec_deg]))
    ra_t = ra_app[0, idx]
    dec_rad = np.radians(dec_app[0, idx])
    phi = math.radians(site.latitude_deg)
    sin_lim = math.sin(math.radians(float(altitude_for_airmass(max_airmass))))
    num = sin_lim - math.sin(phi) * np.sin(dec_rad)
    den = math.cos(phi) * np.cos(dec_rad)
    # At the celestial pole (den == 0) the altitude is constant: always or never above.
    cos_h0 = np.divide(num, den, out=np.where(num <= 0.0, -2.0, 2.0), where=np.abs(den) > 1e-12)
    h0 = np.degrees(np.arccos(np.clip(cos_h0, -1.0, 1.0)))
    ha_start = (sky.lst_deg - ra_t) % 360.0
    span = np.maximum(end - start, 0.0) * SIDEREAL_DEG_PER_DAY
    on_deg = _arc_measure(ha_start + span, h0) - _arc_measure(ha_start, h0)
    hours: NDArray[np.float64] = on_deg / SIDEREAL_DEG_PER_DAY * _HOURS_PER_DAY
    return hours


# ---------------------------------------------------------------------------------------------
# One night
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NightAirmass:
    """The target through one night, sampled from sunset to sunrise (both included).

    Attributes
    ----------
    date : datetime.date
        Local evening date of the night.
    target : ObTarget
    jd : ndarray
        (T,) UTC Julian dates, every ``step_minutes`` from sunset, then sunrise.
    altitude_deg, airmass : ndarray
        (T,) the target's geometric altitude, degrees, and airmass (``inf`` below the horizon).
    lst_hours : ndarray
        (T,) local apparent sidereal time, hours in [0, 24).
    sun_alt_deg, moon_alt_deg : ndarray
        (T,) geometric altitudes of the Sun's and the Moon's centres, degrees.
    moon_separation_deg : ndarray
        (T,) target-Moon distance, degrees.
    moon_fli : float
        Fraction of lunar illumination at the middle of the night.
    sunset_jd, sunrise_jd : float
        Sun's centre at -0.8333 deg.
    civil_dusk_jd, civil_dawn_jd, nautical_dusk_jd, nautical_dawn_jd : float
    astronomical_dusk_jd, astronomical_dawn_jd : float
        Sun's centre at -6, -12, -18 deg; ``nan`` where the Sun does not get that low.
    hours : float
        Hours at airmass <= the limit in astronomical night (within the windows, if any):
        the value :func:`period_hours` gives for this night.
    """

    date: datetime.date
    target: ObTarget
    jd: NDArray[np.float64]
    altitude_deg: NDArray[np.float64]
    airmass: NDArray[np.float64]
    lst_hours: NDArray[np.float64]
    sun_alt_deg: NDArray[np.float64]
    moon_alt_deg: NDArray[np.float64]
    moon_separation_deg: NDArray[np.float64]
    moon_fli: float
    sunset_jd: float
    sunrise_jd: float
    civil_dusk_jd: float
    civil_dawn_jd: float
    nautical_dusk_jd: float
    nautical_dawn_jd: float
    astronomical_dusk_jd: float
    astronomical_dawn_jd: float
    hours: float

    def observable(self) -> NDArray[np.bool_]:
        """(T,) samples at airmass <= the limit, Sun below -18 deg and inside a window (if any)."""
        ok: NDArray[np.bool_] = (self.airmass <= self.target.max_airmass) & (
            self.sun_alt_deg <= ASTRONOMICAL_DEG
        )
        if self.target.windows:
            inside = np.zeros(self.jd.shape, dtype=bool)
            for s, e in merged_windows(self.target.windows):
                inside |= (self.jd >= s) & (self.jd <= e)
            ok &= inside
        return ok


def night_airmass(
    site: Site,
    target: ObTarget,
    date: datetime.date,
    step_minutes: float = NIGHT_STEP_MINUTES,
) -> NightAirmass:
    """The target's airmass, the Moon and the twilights through the night of ``date``.

    Parameters
    ----------
    site : Site
    target : ObTarget
    date : datetime.date
        Local evening date (see :mod:`dataflow.astro.nights`).
    step_minutes : float
        Sampling step, minutes (> 0).

    Returns
    -------
    NightAirmass
        Altitudes match astropy's ``AltAz(pressure=0)`` to ~1" (see ``tests/astro``).
    """
    if step_minutes <= 0:
        raise ValueError("step_minutes must be positive")
    table = night_table(site, date, date)
    sunset, sunrise = float(table.sunset_jd[0]), float(table.sunrise_jd[0])
    step = step_minutes / 1440.0
    jd = (
        np.append(np.arange(sunset, sunrise, step), sunrise)
        if sunrise > sunset
        else np.array([sunset])
    )
    mid = 0.5 * (sunset + sunrise)
    ra, dec = target.position_at(mid)
    sky = sky_samples(site, Time(np.append(jd, mid), format="jd", scale="utc"))
    n = jd.size
    alt = target_altaz(site, sky, ra, dec)[0][0, :n]
    separation = moon_separation_deg(sky, ra, dec)[0, :n]
    hours = period_hours(site, target, date, date).observable_hours
    return NightAirmass(
        date=date,
        target=target,
        jd=jd,
        altitude_deg=alt,
        airmass=airmass(alt),
        lst_hours=sky.lst_deg[:n] / 15.0,
        sun_alt_deg=sky.sun_alt_deg[:n],
        moon_alt_deg=sky.moon_alt_deg[:n],
        moon_separation_deg=separation,
        moon_fli=float(sky.moon_fli[n]),
        sunset_jd=sunset,
        sunrise_jd=sunrise,
        civil_dusk_jd=float(table.civil_dusk_jd[0]),
        civil_dawn_jd=float(table.civil_dawn_jd[0]),
        nautical_dusk_jd=float(table.nautical_dusk_jd[0]),
        nautical_dawn_jd=float(table.nautical_dawn_jd[0]),
        astronomical_dusk_jd=float(table.astronomical_dusk_jd[0]),
        astronomical_dawn_jd=float(table.astronomical_dawn_jd[0]),
        hours=float(hours[0]),
    )


# ---------------------------------------------------------------------------------------------
# The period
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodHours:
    """Hours per night over a period for one target.

    Attributes
    ----------
    target : ObTarget
    dates : list of datetime.date
        (D,) local evening dates.
    dark_hours : ndarray
        (D,) length of the astronomical night, hours.
    moon_up_dark_hours : ndarray
        (D,) hours of astronomical night with the Moon up.
    hours : ndarray
        (D,) hours at airmass <= the limit in astronomical night, ignoring the time windows.
    window_hours : ndarray or None
        (D,) the same inside the absolute time windows; ``None`` when the OB has none.
    window_nights : list of (datetime.date, datetime.date)
        First and last night each (merged) absolute window touches, local evening dates.
    """

    target: ObTarget
    dates: list[datetime.date]
    dark_hours: NDArray[np.float64]
    moon_up_dark_hours: NDArray[np.float64]
    hours: NDArray[np.float64]
    window_hours: NDArray[np.float64] | None
    window_nights: list[tuple[datetime.date, datetime.date]]

    @property
    def observable_hours(self) -> NDArray[np.float64]:
        """(D,) the hours that count: inside the windows when there are any."""
        return self.hours if self.window_hours is None else self.window_hours


def period_hours(
    site: Site,
    target: ObTarget,
    start: datetime.date,
    end: datetime.date,
    step_minutes: float = PERIOD_STEP_MINUTES,
) -> PeriodHours:
    """Hours per night at airmass <= the target's limit in astronomical night, ``start..end``.

    Parameters
    ----------
    site : Site
    target : ObTarget
        Its position is taken at the middle of the period (proper motion applied).
    start, end : datetime.date
        First and last local evening dates, inclusive.
    step_minutes : float
        Moon sampling inside the nights (only ``moon_up_dark_hours`` depends on it).

    Returns
    -------
    PeriodHours
        Hours within ~1 s of exact for our sky model (see ``nightly_visibility``).
    """
    n_days = max((end - start).days + 1, 0)
    mid_jd = float(_MJD_TO_JD + (start - _MJD_EPOCH_DATE).days + n_days / 2.0)
    ra, dec = target.position_at(mid_jd)
    vis = nightly_visibility(
        site, [ra], [dec], start, end, max_airmass=target.max_airmass, step_minutes=step_minutes
    )
    window_hours = None
    if target.windows:
        window_hours = _hours_in_windows(site, ra, dec, target, start, n_days)
    return PeriodHours(
        target=target,
        dates=vis.dates,
        dark_hours=np.asarray(vis.dark_hours, dtype=np.float64),
        moon_up_dark_hours=np.asarray(vis.moon_up_dark_hours, dtype=np.float64),
        hours=np.asarray(vis.hours[0], dtype=np.float64),
        window_hours=window_hours,
        window_nights=[
            (night_date_at(site, s), night_date_at(site, e))
            for s, e in merged_windows(target.windows)
        ],
    )


def _hours_in_windows(
    site: Site, ra: float, dec: float, target: ObTarget, start: datetime.date, n_days: int
) -> NDArray[np.float64]:
    """(n_days,) hours at airmass <= limit inside astronomical night and the target's windows."""
    hours = np.zeros(n_days)
    merged = merged_windows(target.windows)
    if not merged or n_days == 0:
        return hours
    end = start + datetime.timedelta(days=n_days - 1)
    # Only the nights a window touches need their boundaries.
    first = max(start, night_date_at(site, merged[0][0]))
    last = min(end, night_date_at(site, merged[-1][1]))
    if last < first:
        return hours
    table = night_table(site, first, last)
    dusk, dawn = table.astronomical_dusk_jd, table.astronomical_dawn_jd
    has_dark = np.isfinite(dusk) & np.isfinite(dawn) & (dawn > dusk)
    spans = np.array(merged)
    lo = np.maximum(np.where(has_dark, dusk, 0.0)[:, None], spans[None, :, 0])
    hi = np.minimum(np.where(has_dark, dawn, 0.0)[:, None], spans[None, :, 1])
    inside = has_dark[:, None] & (hi > lo)
    rows, _ = np.nonzero(inside)
    pieces = hours_in_intervals(site, ra, dec, target.max_airmass, lo[inside], hi[inside])
    offset = (first - start).days
    hours[offset : offset + len(table.dates)] = np.bincount(
        rows, weights=pieces, minlength=len(table.dates)
    )
    return hours
