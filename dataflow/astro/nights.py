"""Night boundaries: sunset, twilights, sunrise, moonrise and moonset, vectorised over dates.

A night is named after the local evening it starts on. "Local" is the site's mean solar time
(UTC shifted by longitude / 15 h), not the time-zone database: the night of ``date`` is searched
between local mean noon on ``date`` and local mean noon the next day.

Method: Sun and Moon altitudes on a 20-minute grid spanning all requested nights (one call to
:func:`dataflow.astro.sky.sky_samples`), sign changes located by linear interpolation, then two
regula-falsi steps with fresh samples at the estimates (all crossings of all nights at once).
The result is within ~1 s of the exact crossing of our altitude model; 366 nights take ~0.2 s.

Horizons
--------
- Sunset / sunrise: the Sun's centre at ``SUN_HORIZON_DEG`` = -0.8333 deg geometric, i.e. the
  upper limb on the horizon with standard refraction (the almanac convention).
- Twilights: the Sun's centre at -6 (civil), -12 (nautical), -18 deg (astronomical), geometric.
- Moonrise / moonset: the topocentric Moon centre at ``MOON_HORIZON_DEG`` = -0.8333 deg
  (upper limb with refraction, to within the Moon's semidiameter variation of 0.02 deg).
"""

import datetime
from dataclasses import dataclass, field

import numpy as np
from astropy.time import Time
from numpy.typing import NDArray

from dataflow.astro.site import Site
from dataflow.astro.sky import sky_samples

#: Sun centre altitude at sunset and sunrise, degrees (upper limb + standard refraction).
SUN_HORIZON_DEG = -0.8333
#: Moon centre (topocentric) altitude at moonrise and moonset, degrees.
MOON_HORIZON_DEG = -0.8333
CIVIL_DEG = -6.0
NAUTICAL_DEG = -12.0
ASTRONOMICAL_DEG = -18.0
#: Coarse grid step for the crossing search, days (20 minutes).
_GRID_DAYS = 20.0 / 1440.0
_STEPS_PER_NIGHT = 72
_SUN_HORIZONS = (
    ("sun", SUN_HORIZON_DEG),
    ("civil", CIVIL_DEG),
    ("nautical", NAUTICAL_DEG),
    ("astronomical", ASTRONOMICAL_DEG),
)
_REFINE_ITERATIONS = 2
_HOURS_PER_DAY = 24.0
_MJD_EPOCH_DATE = datetime.date(1858, 11, 17)  # MJD 0
_MJD_TO_JD = 2400000.5


@dataclass(frozen=True)
class Night:
    """The night that starts on the local evening of ``date``; all times UTC.

    Attributes
    ----------
    date : datetime.date
        Local (mean solar) date of the evening.
    sunset, sunrise : Time
        Sun centre at -0.8333 deg. In polar day both are local mean midnight (a zero-length
        night); in polar night they are the local noons bounding the search window.
    civil_dusk, civil_dawn, nautical_dusk, nautical_dawn, astronomical_dusk, astronomical_dawn
        Sun centre at -6, -12, -18 deg; ``None`` where the Sun never gets that low that night.
        If the Sun stays below the limit for the whole window, the window's noons.
    moonrise, moonset : Time or None
        First moonrise / moonset between sunset and sunrise, ``None`` if there is none.
    """

    date: datetime.date
    sunset: Time
    sunrise: Time
    civil_dusk: Time | None
    civil_dawn: Time | None
    nautical_dusk: Time | None
    nautical_dawn: Time | None
    astronomical_dusk: Time | None
    astronomical_dawn: Time | None
    moonrise: Time | None
    moonset: Time | None

    @property
    def dark_hours(self) -> float:
        """Length of the astronomical night (astronomical dusk to dawn), hours; 0 if none."""
        if self.astronomical_dusk is None or self.astronomical_dawn is None:
            return 0.0
        return float((self.astronomical_dawn.jd - self.astronomical_dusk.jd) * _HOURS_PER_DAY)


def local_noon_jd(site: Site, dates: list[datetime.date]) -> np.ndarray:
    """Julian date (UTC) of local mean solar noon on each date, (D,).

    Parameters
    ----------
    site : Site
        Its longitude (east positive) sets the local mean time.
    dates : list of datetime.date
        Local dates.
    """
    mjd = np.array([(d - _MJD_EPOCH_DATE).days for d in dates], dtype=float)
    return mjd + _MJD_TO_JD + 0.5 - site.longitude_deg / 360.0


def _altitudes(site: Site, jd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sun and Moon altitudes (degrees) at UTC Julian dates of any shape."""
    flat = jd.reshape(-1)
    sky = sky_samples(site, Time(flat, format="jd", scale="utc"))
    return sky.sun_alt_deg.reshape(jd.shape), sky.moon_alt_deg.reshape(jd.shape)


def _refine(
    site: Site,
    is_moon: NDArray[np.bool_],
    horizon: NDArray[np.float64],
    ta: NDArray[np.float64],
    tb: NDArray[np.float64],
    fa: NDArray[np.float64],
    fb: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Regula falsi on brackets ``[ta, tb]`` where ``alt - horizon`` changes sign (fa, fb).

    All brackets (Sun and Moon, all nights, all horizons) are refined together, so each
    iteration is one vectorised :func:`sky_samples` call.
    """
    t = ta - fa * (tb - ta) / (fb - fa)
    for _ in range(_REFINE_ITERATIONS):
        if t.size == 0:
            break
        sun, moon = _altitudes(site, t)
        f = np.where(is_moon, moon, sun) - horizon
        same_as_a = np.sign(f) == np.sign(fa)
        ta, fa = np.where(same_as_a, t, ta), np.where(same_as_a, f, fa)
        tb, fb = np.where(same_as_a, tb, t), np.where(same_as_a, fb, f)
        denom = np.where(fb == fa, 1.0, fb - fa)
        t = np.where(f == 0.0, t, ta - fa * (tb - ta) / denom)
    return t


def _sign_changes(f: np.ndarray, rising: bool) -> np.ndarray:
    """(D, K) bool: ``f[k] < 0 <= f[k+1]`` if ``rising`` else ``f[k] >= 0 > f[k+1]``."""
    if rising:
        return (f[:, :-1] < 0.0) & (f[:, 1:] >= 0.0)
    return (f[:, :-1] >= 0.0) & (f[:, 1:] < 0.0)


def _first_crossing(f: np.ndarray, rising: bool, after: np.ndarray) -> np.ndarray:
    """Index k of the first sign change of each row of ``f`` at or after column ``after``.

    A falling crossing is ``f[k] >= 0 > f[k+1]``, a rising one ``f[k] < 0 <= f[k+1]``.
    Returns -1 where there is none.
    """
    hit = _sign_changes(f, rising)
    cols = np.arange(hit.shape[1])[None, :]
    hit &= cols >= after[:, None]
    k = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), k, -1)


@dataclass
class _Crossings:
    """Brackets collected from the coarse grid, refined in one batch (private)."""

    grid: np.ndarray
    rows: list[np.ndarray] = field(default_factory=list)
    ks: list[np.ndarray] = field(default_factory=list)
    fs: list[np.ndarray] = field(default_factory=list)
    horizons: list[float] = field(default_factory=list)
    moon: list[bool] = field(default_factory=list)

    def add(
        self, rows: np.ndarray, k: np.ndarray, f: np.ndarray, horizon: float, moon: bool
    ) -> int:
        """Queue the brackets ``(rows, k)`` of ``f = alt - horizon``; returns a slot number."""
        self.rows.append(rows)
        self.ks.append(k)
        self.fs.append(f)
        self.horizons.append(horizon)
        self.moon.append(moon)
        return len(self.rows) - 1

    def solve(self, site: Site) -> list[np.ndarray]:
        """Refined crossing JDs, one array per slot, aligned with that slot's ``rows``."""
        sizes = [r.size for r in self.rows]
        rows = np.concatenate(self.rows)
        k = np.concatenate(self.ks)
        fa = np.concatenate(
            [f[r, kk] for f, r, kk in zip(self.fs, self.rows, self.ks, strict=True)]
        )
        fb = np.concatenate(
            [f[r, kk + 1] for f, r, kk in zip(self.fs, self.rows, self.ks, strict=True)]
        )
        horizon = np.repeat(np.array(self.horizons), sizes)
        is_moon = np.repeat(np.array(self.moon), sizes)
        t = _refine(site, is_moon, horizon, self.grid[rows, k], self.grid[rows, k + 1], fa, fb)
        return np.split(t, np.cumsum(sizes)[:-1])


def _to_times(jd: np.ndarray) -> list[Time | None]:
    """Scalar UTC Times for finite JDs, ``None`` for ``nan``."""
    ok = np.isfinite(jd)
    result: list[Time | None] = [None] * jd.size
    if ok.any():
        times = Time(jd[ok], format="jd", scale="utc")
        for i, t in zip(np.flatnonzero(ok), times, strict=True):
            result[int(i)] = t
    return result


@dataclass(frozen=True)
class NightTable:
    """Night boundaries of consecutive dates as arrays of UTC Julian dates, ``nan`` = none.

    The vectorised form of `Night` (same definitions), for callers that handle many nights.

    Attributes
    ----------
    dates : list of datetime.date
        (D,) local evening dates.
    noon_jd : ndarray
        (D,) local mean noon starting each night's search window.
    sunset_jd, sunrise_jd : ndarray
        (D,) never ``nan``.
    civil_dusk_jd, civil_dawn_jd, nautical_dusk_jd, nautical_dawn_jd : ndarray
    astronomical_dusk_jd, astronomical_dawn_jd : ndarray
    moonrise_jd, moonset_jd : ndarray
        (D,) each.
    """

    dates: list[datetime.date]
    noon_jd: np.ndarray
    sunset_jd: np.ndarray
    sunrise_jd: np.ndarray
    civil_dusk_jd: np.ndarray
    civil_dawn_jd: np.ndarray
    nautical_dusk_jd: np.ndarray
    nautical_dawn_jd: np.ndarray
    astronomical_dusk_jd: np.ndarray
    astronomical_dawn_jd: np.ndarray
    moonrise_jd: np.ndarray
    moonset_jd: np.ndarray

    @property
    def dark_hours(self) -> np.ndarray:
        """(D,) astronomical night length, hours, 0 where there is none."""
        hours = (self.astronomical_dawn_jd - self.astronomical_dusk_jd) * _HOURS_PER_DAY
        return np.where(np.isfinite(hours), hours, 0.0)


def night_table(site: Site, start: datetime.date, end: datetime.date) -> NightTable:
    """Night boundaries for the local evenings ``start`` .. ``end`` (inclusive), as arrays.

    Parameters
    ----------
    site : Site
        The observing site.
    start, end : datetime.date
        First and last local evening dates; ``end < start`` gives zero nights.

    Returns
    -------
    NightTable
        Accuracy: ~1 s against our Sun/Moon model, which matches astropy to ~1"; against
        astroplan's (grid-interpolated) rise/set/twilight times well under a minute.
    """
    n_days = max((end - start).days + 1, 0)
    dates = [start + datetime.timedelta(days=i) for i in range(n_days)]
    noon = local_noon_jd(site, dates)
    if n_days == 0:
        empty = np.zeros(0)
        return NightTable(dates, *([empty] * 11))
    # One shared grid: night d uses columns d*72 .. d*72+72 (its noon to the next noon).
    flat = noon[0] + np.arange(n_days * _STEPS_PER_NIGHT + 1) * _GRID_DAYS
    sun_flat, moon_flat = _altitudes(site, flat)
    cols = np.arange(n_days)[:, None] * _STEPS_PER_NIGHT + np.arange(_STEPS_PER_NIGHT + 1)[None, :]
    grid = flat[cols]
    sun_alt = sun_flat[cols]
    moon_alt = moon_flat[cols]
    next_noon = noon + 1.0

    crossings = _Crossings(grid)
    all_rows = np.arange(n_days)
    sun_slots: dict[str, tuple[int, int, np.ndarray, np.ndarray]] = {}
    for name, horizon in _SUN_HORIZONS:
        f = sun_alt - horizon
        k_dusk = _first_crossing(f, rising=False, after=np.zeros(n_days, dtype=int))
        k_dawn = _first_crossing(f, rising=True, after=np.maximum(k_dusk, 0))
        # A dusk without a dawn before the next noon (or the reverse) is not a usable night.
        ok = (k_dusk >= 0) & (k_dawn >= 0)
        rows = all_rows[ok]
        sun_slots[name] = (
            crossings.add(rows, k_dusk[ok], f, horizon, moon=False),
            crossings.add(rows, k_dawn[ok], f, horizon, moon=False),
            (f >= 0.0).all(axis=1),
            (f < 0.0).all(axis=1),
        )
    f_moon = moon_alt - MOON_HORIZON_DEG
    moon_slots = []
    for rising in (True, False):
        rows, k = np.nonzero(_sign_changes(f_moon, rising))
        moon_slots.append((rows, crossings.add(rows, k, f_moon, MOON_HORIZON_DEG, moon=True)))
    solved = crossings.solve(site)

    events: dict[str, np.ndarray] = {}
    for name, (i_dusk, i_dawn, above, below) in sun_slots.items():
        dusk = np.full(n_days, np.nan)
        dawn = np.full(n_days, np.nan)
        dusk[crossings.rows[i_dusk]] = solved[i_dusk]
        dawn[crossings.rows[i_dawn]] = solved[i_dawn]
        if name == "sun":
            # Polar day: a zero-length night at local midnight; polar night: the whole window.
            midnight = noon + 0.5
            dusk = np.where(above, midnight, dusk)
            dawn = np.where(above, midnight, dawn)
        dusk = np.where(below, noon, dusk)
        dawn = np.where(below, next_noon, dawn)
        events[name] = np.stack([dusk, dawn])

    sunset, sunrise = events["sun"]
    # Cannot happen on Earth, but keep the contract that sunset and sunrise exist.
    bad = np.isnan(sunset) | np.isnan(sunrise)
    sunset = np.where(bad, noon + 0.5, sunset)
    sunrise = np.where(bad, noon + 0.5, sunrise)
    moon_events = []
    for rows, slot in moon_slots:
        t = solved[slot]
        inside = (t >= sunset[rows]) & (t <= sunrise[rows])
        first = np.full(n_days, np.nan)
        # Rows come sorted by (row, k), so a row's first hit is its earliest crossing.
        uniq, pos = np.unique(rows[inside], return_index=True)
        first[uniq] = t[inside][pos]
        moon_events.append(first)
    moonrise, moonset = moon_events
    return NightTable(
        dates=dates,
        noon_jd=noon,
        sunset_jd=sunset,
        sunrise_jd=sunrise,
        civil_dusk_jd=events["civil"][0],
        civil_dawn_jd=events["civil"][1],
        nautical_dusk_jd=events["nautical"][0],
        nautical_dawn_jd=events["nautical"][1],
        astronomical_dusk_jd=events["astronomical"][0],
        astronomical_dawn_jd=events["astronomical"][1],
        moonrise_jd=moonrise,
        moonset_jd=moonset,
    )


def nights(site: Site, start: datetime.date, end: datetime.date) -> list[Night]:
    """Night boundaries for every local evening from ``start`` to ``end`` inclusive.

    Parameters
    ----------
    site : Site
        The observing site.
    start, end : datetime.date
        First and last local evening dates (inclusive); ``end < start`` gives ``[]``.

    Returns
    -------
    list of Night
        One per date, in order; see :func:`night_table` for the accuracy.
    """
    table = night_table(site, start, end)
    columns = {
        name: _to_times(getattr(table, name + "_jd"))
        for name in (
            "sunset",
            "sunrise",
            "civil_dusk",
            "civil_dawn",
            "nautical_dusk",
            "nautical_dawn",
            "astronomical_dusk",
            "astronomical_dawn",
            "moonrise",
            "moonset",
        )
    }
    result = []
    for i, date in enumerate(table.dates):
        values = {name: column[i] for name, column in columns.items()}
        sunset, sunrise = values.pop("sunset"), values.pop("sunrise")
        if sunset is None or sunrise is None:  # excluded by night_table; for type checkers
            raise ValueError(f"no sunset/sunrise computed for {date}")
        result.append(Night(date=date, sunset=sunset, sunrise=sunrise, **values))
    return result


def night_boundaries(site: Site, date: datetime.date) -> Night:
    """The `Night` starting on the local evening of ``date`` at ``site`` (see :func:`nights`)."""
    return nights(site, date, date)[0]
