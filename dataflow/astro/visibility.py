"""Night-by-night visibility of many targets over a period.

Used by Phase 1 verification (does each target reach its airmass limit on some night of the
period?), the visibility plot of the proposal PDF, and the long-term scheduler.

Method
------
- Night boundaries come from :func:`dataflow.astro.nights.night_table` (vectorised).
- Sun, Moon and sidereal time are computed once per time sample (one
  :func:`dataflow.astro.sky.sky_samples` call for the whole period).
- Targets need no time sampling at all: each target's apparent place is computed once per
  night, and the time its altitude stays above the airmass limit inside the astronomical night
  is the overlap of two arcs of hour angle (the night, and ``|HA| <= H0`` with
  ``cos H0 = (sin h_lim - sin phi sin dec) / (cos phi cos dec)``). This is exact for our
  geometry, and 3,000 targets x 183 nights take ~0.3 s.
- The Moon altitude is sampled every ``step_minutes`` inside the astronomical night and the time
  above the horizon interpolated linearly between samples.
"""

import datetime
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.time import Time
from numpy.typing import ArrayLike, NDArray

from dataflow.astro.geometry import airmass, altitude_for_airmass, apparent_place_by_day
from dataflow.astro.nights import MOON_HORIZON_DEG, NightTable, night_table
from dataflow.astro.site import Site
from dataflow.astro.sky import sky_samples

#: Rate of the sidereal time, degrees per (UT1 ~ UTC) day.
SIDEREAL_DEG_PER_DAY = 360.98564736629
_HOURS_PER_DAY = 24.0
_MINUTES_PER_DAY = 1440.0


@dataclass(frozen=True)
class NightlyVisibility:
    """Per-night visibility of N targets over D nights.

    Attributes
    ----------
    dates : list of datetime.date
        (D,) local evening dates (see :mod:`dataflow.astro.nights`).
    dark_hours : ndarray
        (D,) length of the astronomical night (Sun below -18 deg), hours.
    hours : ndarray
        (N, D) hours each target spends at airmass <= its limit within the astronomical night.
    min_airmass : ndarray
        (N, D) best (lowest) airmass reached within the astronomical night; ``inf`` if the
        target stays below the horizon or the night has no astronomical darkness.
    moon_fli : ndarray
        (D,) fraction of lunar illumination at the middle of the night (mid sunset..sunrise).
    moon_up_dark_hours : ndarray
        (D,) hours of astronomical night with the Moon's centre above -0.8333 deg (the
        moonrise/moonset horizon of :mod:`dataflow.astro.nights`).
    """

    dates: list[datetime.date]
    dark_hours: np.ndarray
    hours: np.ndarray
    min_airmass: np.ndarray
    moon_fli: np.ndarray
    moon_up_dark_hours: np.ndarray

    def best_date(self, i: int) -> datetime.date | None:
        """Night with the most hours for target ``i`` (earliest on ties); ``None`` if none."""
        row = self.hours[i]
        if row.size == 0 or not np.any(row > 0.0):
            return None
        return self.dates[int(np.argmax(row))]


def _arc_measure(x: NDArray[np.float64], half_width: NDArray[np.float64]) -> NDArray[np.float64]:
    """Measure of ``{y in [0, x] : |wrap(y)| <= half_width}`` for ``x >= 0``, degrees."""
    turns = np.floor(x / 360.0)
    y = x - 360.0 * turns
    return (
        turns * 2.0 * half_width
        + np.minimum(y, half_width)
        + np.maximum(0.0, y - (360.0 - half_width))
    )


def _sin_alt(
    sin_phi: float, cos_phi: float, dec_rad: NDArray[np.float64], ha_deg: NDArray[np.float64]
) -> NDArray[np.float64]:
    return sin_phi * np.sin(dec_rad) + cos_phi * np.cos(dec_rad) * np.cos(np.radians(ha_deg))


@dataclass(frozen=True)
class _NightSky:
    """What a period's visibility needs of the sky, whatever the targets (read-only arrays)."""

    table: NightTable
    has_dark: NDArray[np.bool_]
    length_days: NDArray[np.float64]
    lst_dusk: NDArray[np.float64]
    moon_fli: NDArray[np.float64]
    moon_up_hours: NDArray[np.float64]
    mid_times: Time


# Memoised: every run of every proposal of a period shares its nights and sky (~0.3 s each);
# the inputs are immutable (frozen Site, dates) and the arrays are made read-only.
@lru_cache(maxsize=16)
def _night_sky(
    site: Site, start: datetime.date, end: datetime.date, step_minutes: float
) -> _NightSky:
    table = night_table(site, start, end)
    n_days = len(table.dates)
    if n_days == 0:
        empty = np.zeros(0)
        return _NightSky(
            table, empty.astype(bool), empty, empty, empty, empty, Time([], format="jd")
        )
    dusk = table.astronomical_dusk_jd
    dawn = table.astronomical_dawn_jd
    has_dark = np.isfinite(dusk) & np.isfinite(dawn) & (dawn > dusk)
    mid = 0.5 * (table.sunset_jd + table.sunrise_jd)
    dusk = np.where(has_dark, dusk, mid)
    dawn = np.where(has_dark, dawn, mid)
    length_days = dawn - dusk

    # One sky_samples call: dusks, mid-nights, then the Moon grid (D, K + 1).
    k = max(1, int(np.ceil(length_days.max() * _MINUTES_PER_DAY / step_minutes)))
    grid = dusk[:, None] + length_days[:, None] * (np.arange(k + 1) / k)[None, :]
    jd = np.concatenate([dusk, mid, grid.reshape(-1)])
    sky = sky_samples(site, Time(jd, format="jd", scale="utc"))
    moon_alt = sky.moon_alt_deg[2 * n_days :].reshape(n_days, k + 1) - MOON_HORIZON_DEG
    f0, f1 = moon_alt[:, :-1], moon_alt[:, 1:]
    total = np.abs(f0) + np.abs(f1)
    frac = np.divide(
        np.maximum(f0, 0.0) + np.maximum(f1, 0.0),
        total,
        out=(f0 >= 0.0).astype(float),
        where=total > 0.0,
    )
    moon_up_hours = frac.sum(axis=1) * length_days / k * _HOURS_PER_DAY
    result = _NightSky(
        table=table,
        has_dark=np.array(has_dark),
        length_days=np.array(length_days),
        lst_dusk=np.array(sky.lst_deg[:n_days]),
        moon_fli=np.array(sky.moon_fli[n_days : 2 * n_days]),
        moon_up_hours=np.array(moon_up_hours),
        mid_times=sky.times[n_days : 2 * n_days],
    )
    for a in (result.has_dark, result.length_days, result.lst_dusk, result.moon_fli):
        a.setflags(write=False)
    result.moon_up_hours.setflags(write=False)
    return result


def nightly_visibility(
    site: Site,
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    start: datetime.date,
    end: datetime.date,
    max_airmass: float | ArrayLike,
    step_minutes: float = 15.0,
) -> NightlyVisibility:
    """Hours each target is observable on each night from ``start`` to ``end`` (inclusive).

    Parameters
    ----------
    site : Site
        The observing site.
    ra_deg, dec_deg : array_like
        (N,) ICRS coordinates at the period's epoch (apply proper motion first), degrees.
    start, end : datetime.date
        First and last local evening dates, inclusive.
    max_airmass : float or array_like
        Airmass limit (Kasten & Young airmass), scalar or (N,); must be >= 1.
    step_minutes : float
        Sampling step for the Moon altitude inside the night, minutes. Target hours do not
        depend on it (closed form).

    Returns
    -------
    NightlyVisibility
        See the class for shapes and units. Accuracy: target hours within ~1 s of exact
        for our geometry (which matches astropy to ~1"), night edges within ~1 s.
    """
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float)).reshape(-1)
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float)).reshape(-1)
    n = ra.size
    limit = np.broadcast_to(np.asarray(max_airmass, dtype=float), (n,))
    if np.any(limit < 1.0):
        raise ValueError("max_airmass must be >= 1")
    if step_minutes <= 0:
        raise ValueError("step_minutes must be positive")
    sky = _night_sky(site, start, end, float(step_minutes))
    table = sky.table
    n_days = len(table.dates)
    if n_days == 0:
        empty = np.zeros(0)
        return NightlyVisibility([], empty, np.zeros((n, 0)), np.zeros((n, 0)), empty, empty)
    has_dark, length_days, lst_dusk = sky.has_dark, sky.length_days, sky.lst_dusk

    # Targets, closed form: apparent place at each night's middle.
    ra_app, dec_app, idx = apparent_place_by_day(sky.mid_times, ra, dec)
    ra_app, dec_app = ra_app[:, idx], dec_app[:, idx]  # (N, D)
    phi = np.radians(site.latitude_deg)
    sin_phi, cos_phi = float(np.sin(phi)), float(np.cos(phi))
    dec_rad = np.radians(dec_app)
    sin_lim = np.sin(np.radians(altitude_for_airmass(limit)))[:, None]
    num = sin_lim - sin_phi * np.sin(dec_rad)
    den = cos_phi * np.cos(dec_rad)
    # At the celestial pole (den == 0) the altitude is constant: always or never above.
    cos_h0 = np.divide(num, den, out=np.where(num <= 0.0, -2.0, 2.0), where=np.abs(den) > 1e-12)
    h0 = np.degrees(np.arccos(np.clip(cos_h0, -1.0, 1.0)))
    ha_dusk = (lst_dusk[None, :] - ra_app) % 360.0  # [0, 360)
    span = (length_days * SIDEREAL_DEG_PER_DAY)[None, :]
    # Hour-angle arc swept during the night, intersected with |HA| <= H0 (modulo 360).
    on_deg = _arc_measure(ha_dusk + span, h0) - _arc_measure(ha_dusk, h0)
    hours = np.where(has_dark[None, :], on_deg / SIDEREAL_DEG_PER_DAY * _HOURS_PER_DAY, 0.0)

    transit_inside = (360.0 - ha_dusk) % 360.0 <= span
    sin_best = np.where(
        transit_inside,
        np.cos(phi - dec_rad),
        np.maximum(
            _sin_alt(sin_phi, cos_phi, dec_rad, ha_dusk),
            _sin_alt(sin_phi, cos_phi, dec_rad, ha_dusk + span),
        ),
    )
    best_alt = np.degrees(np.arcsin(np.clip(sin_best, -1.0, 1.0)))
    min_airmass = np.where(has_dark[None, :], airmass(best_alt), np.inf)

    return NightlyVisibility(
        dates=table.dates,
        dark_hours=np.where(has_dark, length_days * _HOURS_PER_DAY, 0.0),
        hours=hours,
        min_airmass=min_airmass,
        moon_fli=sky.moon_fli.copy(),
        moon_up_dark_hours=np.where(has_dark, sky.moon_up_hours, 0.0),
    )
