"""Sun, Moon and LST on a time grid, interpolated to any instant.

Computing the Sun, Moon and LST costs ~15 ms per call through astropy frames and ~0.7 ms
through ``dataflow.astro.sky.sky_samples``, so the engine never asks per candidate: it builds
a ``SkyTrack`` once (for a night on a 5-minute grid, or for a ranking instant and its "fits
from now" horizon) and interpolates.

What is interpolated and the error
----------------------------------
The grid stores, per sample, the LST (unwrapped, exactly linear in time), the Sun's and the
Moon's *effective* hour-angle coordinates (``ra_eff = LST - HA`` and declination, recovered
from the sampled alt/az, so they agree with the sky model's own alt/az whatever its frame),
the Moon's topocentric RA/Dec on ICRS axes (for separations) and the FLI, all interpolated
linearly (extrapolated from the end segments outside the grid). Altitudes at a query instant
are recomputed in closed form from the interpolated LST and coordinates, so there is no
curvature error near the zenith; what remains is the drift of the coordinates between samples
(the Moon's topocentric parallax changes by up to ~1 deg over a day). Measured in
tests/engine/ranking/test_skytrack.py: altitudes < 0.005 deg on a 5-minute grid (the engine's
own and the simulator's default) and < 0.02 deg on a 10-minute grid; Moon position < 0.005 deg.

Builders
--------
``SkyTrack.from_samples(samples, site)``  any ``dataflow.astro.sky.SkySamples``
``SkyTrack.exact(site, times)``            ``sky_samples`` at ``times``
``SkyTrack.analytic(site, times)``         low-precision closed-form Sun/Moon (``_lowprec``)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.time import Time
from numpy.typing import NDArray

from dataflow.astro.site import Site
from scheduling.engine.ranking import _lowprec

_D2R = np.pi / 180.0
SIDEREAL_DEG_PER_DAY = 360.98564736629


def _radec_eff(
    lat_deg: float, lst_deg: np.ndarray, alt_deg: np.ndarray, az_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Invert the closed-form alt/az: (RA_eff = LST - HA, Dec), degrees."""
    lat, alt, az = lat_deg * _D2R, alt_deg * _D2R, az_deg * _D2R
    sin_dec = np.sin(alt) * np.sin(lat) + np.cos(alt) * np.cos(lat) * np.cos(az)
    dec = np.arcsin(np.clip(sin_dec, -1.0, 1.0))
    ha = np.arctan2(
        -np.sin(az) * np.cos(alt),
        np.cos(lat) * np.sin(alt) - np.sin(lat) * np.cos(alt) * np.cos(az),
    )
    return lst_deg - ha / _D2R, dec / _D2R


def _unwrap(a: Any) -> np.ndarray:
    return np.degrees(np.unwrap(np.radians(np.atleast_1d(np.asarray(a, dtype=np.float64)))))


def _f(a: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(a, dtype=float))


def sin_altitude(
    lat_deg: float, ha_deg: NDArray[np.float64], dec_deg: NDArray[np.float64]
) -> NDArray[np.float64]:
    """sin(altitude) for hour angle and declination in degrees."""
    lat = lat_deg * _D2R
    dec = dec_deg * _D2R
    cos_ha = np.cos(ha_deg * _D2R)
    # annotated: numpy's stubs type a ufunc of a Python float (np.sin(lat)) as Any
    sin_alt: NDArray[np.float64] = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * cos_ha
    return sin_alt


def _alt(sin_alt: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.degrees(np.arcsin(np.clip(sin_alt, -1.0, 1.0)))


@dataclass(frozen=True)
class SkyAt:
    """Interpolated sky at query instants (arrays shaped like the query), degrees."""

    lst_deg: np.ndarray  # unwrapped (may exceed 360)
    sun_alt_deg: np.ndarray
    moon_alt_deg: np.ndarray
    moon_ra_deg: np.ndarray  # unwrapped
    moon_dec_deg: np.ndarray
    moon_fli: np.ndarray
    moon_sin_dec: np.ndarray
    moon_cos_dec: np.ndarray


@dataclass(frozen=True)
class DenseSky:
    """A ``SkyTrack`` resampled on uniform nodes (default 1 min) for fast lookups.

    Altitudes are evaluated in closed form at the nodes, then interpolated linearly with
    arithmetic indexing (no search): the added error is < 0.002 deg on 1-minute nodes.
    Queries outside the nodes are clamped to the end nodes except the LST (exactly linear).
    """

    latitude_deg: float
    start_mjd: float
    step_d: float
    lst0_deg: float
    nodes: dict[str, np.ndarray]

    @property
    def end_mjd(self) -> float:
        return self.start_mjd + self.step_d * (next(iter(self.nodes.values())).size - 1)

    def at(self, mjd: np.ndarray | float) -> SkyAt:
        x = np.asarray(mjd, dtype=float)
        n = next(iter(self.nodes.values())).size
        u = (x - self.start_mjd) / self.step_d
        i = np.clip(u.astype(np.int64), 0, max(n - 2, 0))
        w = np.clip(u - i, 0.0, 1.0)
        nd = self.nodes

        def get(name: str) -> np.ndarray:
            lo = nd[name][i]
            if n == 1:
                return lo
            # annotated: numpy's stubs type fancy indexing and its arithmetic as Any
            interpolated: np.ndarray = lo + w * (nd[name][i + 1] - lo)
            return interpolated

        return SkyAt(
            lst_deg=self.lst0_deg + SIDEREAL_DEG_PER_DAY * (x - self.start_mjd),
            sun_alt_deg=get("sun_alt"),
            moon_alt_deg=get("moon_alt"),
            moon_ra_deg=get("moon_ra"),
            moon_dec_deg=get("moon_dec"),
            moon_fli=get("moon_fli"),
            moon_sin_dec=get("moon_sin_dec"),
            moon_cos_dec=get("moon_cos_dec"),
        )


@dataclass(frozen=True)
class SkyTrack:
    """The sky of one site sampled at ``mjd`` (UTC, strictly increasing, shape (T,), T >= 1).

    Angles in degrees, RA-like ones unwrapped (continuous). ``*_ra_eff_deg``/``*_dec*`` pair
    with ``lst_deg`` to give geometric altitudes; ``moon_ra_deg``/``moon_dec_deg`` are the
    Moon's topocentric direction on ICRS axes, for separations from ICRS targets.
    """

    latitude_deg: float
    mjd: np.ndarray
    lst_deg: np.ndarray
    sun_ra_eff_deg: np.ndarray
    sun_dec_deg: np.ndarray
    moon_ra_eff_deg: np.ndarray
    moon_dec_eff_deg: np.ndarray
    moon_ra_deg: np.ndarray
    moon_dec_deg: np.ndarray
    moon_fli: np.ndarray

    @classmethod
    def from_samples(cls, samples: Any, site: Site) -> SkyTrack:
        """From a ``dataflow.astro.sky.SkySamples`` computed for ``site``."""
        mjd = _f(samples.times.utc.mjd)
        if mjd.size > 1 and np.any(np.diff(mjd) <= 0):
            raise ValueError("sky samples must be strictly increasing in time")
        lst = _unwrap(samples.lst_deg)
        lat = site.latitude_deg
        s_ra, s_dec = _radec_eff(lat, lst, _f(samples.sun_alt_deg), _f(samples.sun_az_deg))
        m_ra, m_dec = _radec_eff(lat, lst, _f(samples.moon_alt_deg), _f(samples.moon_az_deg))
        return cls(
            latitude_deg=lat,
            mjd=mjd,
            lst_deg=lst,
            sun_ra_eff_deg=_unwrap(s_ra),
            sun_dec_deg=s_dec,
            moon_ra_eff_deg=_unwrap(m_ra),
            moon_dec_eff_deg=m_dec,
            moon_ra_deg=_unwrap(samples.moon_ra_deg),
            moon_dec_deg=_f(samples.moon_dec_deg),
            moon_fli=_f(samples.moon_fli),
        )

    @classmethod
    def exact(cls, site: Site, times: Time) -> SkyTrack:
        """Sample ``dataflow.astro.sky.sky_samples`` (ERFA, ~0.7 ms a call) at ``times``."""
        from dataflow.astro.sky import sky_samples

        return cls.from_samples(sky_samples(site, times), site)

    @classmethod
    def analytic(cls, site: Site, times: Time) -> SkyTrack:
        """Low-precision closed-form Sun/Moon/LST (see ``_lowprec`` for the errors)."""
        mjd = _f(times.utc.mjd)
        sky = _lowprec.sky(mjd, site.latitude_deg, site.longitude_deg, site.height_m)
        return cls(
            latitude_deg=site.latitude_deg,
            mjd=mjd,
            lst_deg=_unwrap(sky["lst_deg"]),
            sun_ra_eff_deg=_unwrap(sky["sun_ra_eff_deg"]),
            sun_dec_deg=sky["sun_dec_deg"],
            moon_ra_eff_deg=_unwrap(sky["moon_ra_eff_deg"]),
            moon_dec_eff_deg=sky["moon_dec_eff_deg"],
            moon_ra_deg=_unwrap(sky["moon_ra_deg"]),
            moon_dec_deg=sky["moon_dec_deg"],
            moon_fli=sky["moon_fli"],
        )

    @property
    def start_mjd(self) -> float:
        return float(self.mjd[0])

    @property
    def end_mjd(self) -> float:
        return float(self.mjd[-1])

    def at(self, mjd: np.ndarray | float) -> SkyAt:
        """Interpolate linearly to ``mjd`` (extrapolating from the end segments)."""
        x = np.asarray(mjd, dtype=float)
        g = self.mjd
        if g.size == 1:

            def get(a: np.ndarray) -> np.ndarray:
                return np.broadcast_to(a[0], x.shape)

            lst = self.lst_deg[0] + SIDEREAL_DEG_PER_DAY * (x - g[0])
        else:
            i = np.clip(np.searchsorted(g, x), 1, g.size - 1)
            w = (x - g[i - 1]) / (g[i] - g[i - 1])

            def get(a: np.ndarray) -> np.ndarray:
                lo = a[i - 1]
                interpolated: np.ndarray = lo + w * (a[i] - lo)  # Any in numpy's stubs
                return interpolated

            lst = get(self.lst_deg)
        lat = self.latitude_deg
        sun = sin_altitude(lat, lst - get(self.sun_ra_eff_deg), get(self.sun_dec_deg))
        moon = sin_altitude(lat, lst - get(self.moon_ra_eff_deg), get(self.moon_dec_eff_deg))
        mdec = get(self.moon_dec_deg)
        return SkyAt(
            lst_deg=lst,
            sun_alt_deg=_alt(sun),
            moon_alt_deg=_alt(moon),
            moon_ra_deg=get(self.moon_ra_deg),
            moon_dec_deg=mdec,
            moon_fli=np.clip(get(self.moon_fli), 0.0, 1.0),
            moon_sin_dec=np.sin(mdec * _D2R),
            moon_cos_dec=np.cos(mdec * _D2R),
        )

    def dense(self, start_mjd: float, end_mjd: float, step_d: float = 1.0 / 1440.0) -> DenseSky:
        """Resample on uniform nodes from ``start_mjd`` to (at least) ``end_mjd``."""
        n = max(2, int(np.ceil((end_mjd - start_mjd) / step_d)) + 1)
        at = self.at(start_mjd + np.arange(n) * step_d)
        return DenseSky(
            latitude_deg=self.latitude_deg,
            start_mjd=start_mjd,
            step_d=step_d,
            lst0_deg=float(at.lst_deg[0]),
            nodes={
                "sun_alt": at.sun_alt_deg,
                "moon_alt": at.moon_alt_deg,
                "moon_ra": at.moon_ra_deg,
                "moon_dec": at.moon_dec_deg,
                "moon_fli": at.moon_fli,
                "moon_sin_dec": at.moon_sin_dec,
                "moon_cos_dec": at.moon_cos_dec,
            },
        )
