"""Sun, Moon and sidereal time at a site, computed once per time sample and shared by all targets.

Everything here is vectorised over an array of instants. The positions come straight from ERFA
(the same routines astropy's built-in ephemeris uses: ``epv00`` for the Earth, ``moon98`` for
the Moon) plus a few lines of numpy, not from astropy frame transforms: a frame transform costs
~0.3 ms per instant on this machine, this module ~5 microseconds.

Conventions
-----------
- Altitudes and azimuths are *geometric* (no refraction), i.e. what astropy's ``AltAz`` gives
  with ``pressure=0``; azimuth from north through east, degrees in [0, 360).
- Sun and Moon are topocentric (parallax included: up to ~1 deg for the Moon) and apparent
  (the Sun carries the Earth's annual aberration; the Moon needs none since it moves with the
  Earth). Polar motion, diurnal aberration (0.3") and light deflection are ignored.
- ``lst_deg`` is the local *apparent* sidereal time (IAU 2006 GMST + IAU 2000B equation of the
  equinoxes), measured from the true equinox of date. UT1 comes from astropy's bundled IERS
  table (see :mod:`dataflow.astro.offline`); outside it astropy extrapolates with a warning.

Measured against astropy 8 ``AltAz(pressure=0)`` (see ``tests/astro`` and ``docs/astro.md``):
Sun and Moon altitudes agree to a few arcseconds.
"""

from dataclasses import dataclass

import erfa
import numpy as np
from astropy.time import Time
from numpy.typing import NDArray

from dataflow.astro import offline  # noqa: F401  (configures astropy offline on import)
from dataflow.astro.site import Site

#: Speed of light, au per day.
C_AU_PER_DAY = erfa.CMPS * erfa.DAYSEC / erfa.DAU
#: Spacing of the nodes where the (slow, ~20 us) Earth ephemeris is evaluated, days.
_EARTH_NODE_DAYS = 1.0


@dataclass(frozen=True)
class SkySamples:
    """Per-instant quantities at one site, shared by all targets.

    Attributes
    ----------
    times : Time
        The instants, UTC scale, shape (T,).
    lst_deg : ndarray
        Local apparent sidereal time, degrees in [0, 360), shape (T,).
    sun_alt_deg, sun_az_deg : ndarray
        Topocentric geometric altitude / azimuth (N through E) of the Sun's centre, degrees.
    moon_alt_deg, moon_az_deg : ndarray
        Same for the Moon's centre, degrees.
    moon_ra_deg, moon_dec_deg : ndarray
        Topocentric direction of the Moon in ICRS axes with the Earth's annual aberration taken
        out, degrees, so that a plain angular separation from an ICRS (astrometric) target is
        the separation seen in the sky. Residual error: at most ``2 * 20.5" * sin(sep / 2)``
        from the non-uniformity of aberration, i.e. <= 0.003 deg for separations up to 30 deg
        and <= 0.011 deg at any separation; plus the Moon ephemeris (ERFA ``moon98``, a few ").
    moon_fli : ndarray
        Fraction of lunar illumination, 0..1, geocentric, the same definition as astroplan's
        ``moon_illumination``: ``(1 + cos i) / 2`` with ``i`` the Sun-Moon-Earth phase angle.
    """

    times: Time
    lst_deg: np.ndarray
    sun_alt_deg: np.ndarray
    sun_az_deg: np.ndarray
    moon_alt_deg: np.ndarray
    moon_az_deg: np.ndarray
    moon_ra_deg: np.ndarray
    moon_dec_deg: np.ndarray
    moon_fli: np.ndarray


@dataclass(frozen=True)
class _Frames:
    """Per-instant rotation and aberration data (private).

    Attributes
    ----------
    rnpb : ndarray
        (T, 3, 3) bias-precession-nutation matrices, GCRS -> true equator and equinox of date.
    gast_rad : ndarray
        (T,) Greenwich apparent sidereal time, radians.
    beta : ndarray
        (T, 3) Earth's barycentric velocity / c, GCRS axes (annual aberration vector).
    earth_helio_au : ndarray
        (T, 3) heliocentric position of the Earth, au.
    tt_jd1, tt_jd2 : ndarray
        (T,) TT Julian date, two parts.
    """

    rnpb: np.ndarray
    gast_rad: np.ndarray
    beta: np.ndarray
    earth_helio_au: np.ndarray
    tt_jd1: np.ndarray
    tt_jd2: np.ndarray


def as_utc_1d(times: Time) -> Time:
    """Return ``times`` as a flat UTC `Time` of shape (T,); a scalar becomes shape (1,)."""
    t = times if isinstance(times, Time) else Time(times)
    t = t.utc
    if t.isscalar:
        return t.reshape((1,))
    return t.reshape((-1,))


def _earth_pv(tt_jd1: np.ndarray, tt_jd2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heliocentric Earth position (au) and barycentric Earth velocity (au/day), (T, 3).

    ``epv00`` (~20 us a call) is evaluated only at whole TT days and interpolated: cubic
    Hermite for the position (it gives the velocity too; error < 1e-9 au), linear for the
    velocity (relative error < 1e-4). A year of 15-minute samples needs ~370 calls, not 35,000.
    """
    day = (tt_jd1 - erfa.DJ00) + tt_jd2
    lo = np.floor(day / _EARTH_NODE_DAYS).astype(np.int64)
    nodes, inverse = np.unique(np.concatenate([lo, lo + 1]), return_inverse=True)
    node_day = nodes * _EARTH_NODE_DAYS
    pvh, pvb = erfa.epv00(np.full(node_day.shape, erfa.DJ00), node_day)
    i0 = inverse[: lo.size]
    i1 = inverse[lo.size :]
    s = ((day - node_day[i0]) / _EARTH_NODE_DAYS)[:, None]
    s2, s3 = s * s, s * s * s
    h = _EARTH_NODE_DAYS
    pos_h = (
        (2 * s3 - 3 * s2 + 1) * pvh["p"][i0]
        + (s3 - 2 * s2 + s) * h * pvh["v"][i0]
        + (-2 * s3 + 3 * s2) * pvh["p"][i1]
        + (s3 - s2) * h * pvh["v"][i1]
    )
    vel_b = pvb["v"][i0] * (1.0 - s) + pvb["v"][i1] * s
    return pos_h, vel_b


def _frames(times: Time) -> _Frames:
    """Rotation matrices, sidereal time and aberration for flat UTC ``times``."""
    tt = times.tt
    ut1 = times.ut1
    rnpb = erfa.pnm00b(tt.jd1, tt.jd2)
    gast = erfa.gst06(ut1.jd1, ut1.jd2, tt.jd1, tt.jd2, rnpb)
    earth_h, earth_vb = _earth_pv(tt.jd1, tt.jd2)
    return _Frames(
        rnpb=rnpb,
        gast_rad=np.asarray(gast),
        beta=earth_vb / C_AU_PER_DAY,
        earth_helio_au=earth_h,
        tt_jd1=np.asarray(tt.jd1),
        tt_jd2=np.asarray(tt.jd2),
    )


def aberrate(u: NDArray[np.float64], beta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Apply annual aberration to unit vectors (first order in beta, error ~beta**2 ~ 0.002").

    Parameters
    ----------
    u : ndarray
        (..., 3) unit vectors (astrometric directions).
    beta : ndarray
        (..., 3) observer velocity / c, broadcastable against ``u``; pass ``-beta`` to remove
        aberration from an apparent direction.

    Returns
    -------
    ndarray
        (..., 3) unit vectors (apparent directions).
    """
    p = u + beta
    norm: NDArray[np.float64] = np.linalg.norm(p, axis=-1, keepdims=True)  # Any in the stubs
    return p / norm


def _radec_deg(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in [0, 360) and declination of (..., 3) vectors, degrees."""
    ra = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return ra, dec


def _observer_tod_au(site: Site, gast_rad: np.ndarray) -> np.ndarray:
    """Geocentric position of the site in the true-of-date equatorial frame, au, (T, 3).

    Polar motion (< 0.5") is ignored: the terrestrial frame is rotated by GAST about the pole.
    """
    geo = site.location
    x = float(geo.x.to_value("m")) / erfa.DAU
    y = float(geo.y.to_value("m")) / erfa.DAU
    z = float(geo.z.to_value("m")) / erfa.DAU
    c, s = np.cos(gast_rad), np.sin(gast_rad)
    return np.stack([x * c - y * s, x * s + y * c, np.full_like(c, z)], axis=-1)


def _tod_to_altaz_deg(
    site: Site, lst_rad: np.ndarray, v_tod: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Altitude and azimuth (degrees) of topocentric true-of-date vectors (T, 3)."""
    # Local frame: rotate by the local sidereal time, then tilt by the geodetic latitude.
    c, s = np.cos(lst_rad), np.sin(lst_rad)
    # Hour-angle frame: x toward the local meridian, y toward the east, z to the pole.
    xh = v_tod[..., 0] * c + v_tod[..., 1] * s  # cos(dec) cos(ha)
    yh = -v_tod[..., 0] * s + v_tod[..., 1] * c  # -cos(dec) sin(ha)
    zh = v_tod[..., 2]  # sin(dec)
    phi = np.radians(site.latitude_deg)
    sp, cp = np.sin(phi), np.cos(phi)
    north = zh * cp - xh * sp
    east = yh
    up = zh * sp + xh * cp
    alt = np.degrees(np.arctan2(up, np.hypot(north, east)))
    az = np.degrees(np.arctan2(east, north)) % 360.0
    return alt, az


def sky_samples(site: Site, times: Time) -> SkySamples:
    """Compute the Sun, Moon and sidereal time at ``site`` for every instant of ``times``.

    Parameters
    ----------
    site : Site
        The observing site.
    times : Time
        Instants (any scale; converted to UTC). A scalar is treated as shape (1,), any other
        shape is flattened to (T,).

    Returns
    -------
    SkySamples
        All arrays of shape (T,), angles in degrees. See `SkySamples` for the conventions and
        error budget.
    """
    t = as_utc_1d(times)
    fr = _frames(t)
    lst_rad = fr.gast_rad + np.radians(site.longitude_deg)
    lst_deg = np.degrees(lst_rad) % 360.0

    obs_tod = _observer_tod_au(site, fr.gast_rad)
    # GCRS -> true of date is v_tod = rnpb @ v; the inverse is the transpose.
    obs_gcrs = np.einsum("tji,tj->ti", fr.rnpb, obs_tod)

    # Sun: geocentric direction is minus the Earth's heliocentric position; the Sun's own
    # barycentric motion over the 8-minute light time (~6 km) is negligible.
    sun_geo = -fr.earth_helio_au
    sun_dist = np.linalg.norm(sun_geo, axis=-1, keepdims=True)
    sun_app = aberrate(sun_geo / sun_dist, fr.beta) * sun_dist
    sun_topo = np.einsum("tij,tj->ti", fr.rnpb, sun_app - obs_gcrs)
    sun_alt, sun_az = _tod_to_altaz_deg(site, lst_rad, sun_topo)

    # Moon: moon98 is geocentric, GCRS axes. Light time (1.3 s, ~0.7") and aberration cancel to
    # that level because the Moon moves with the Earth.
    moon_geo = erfa.moon98(fr.tt_jd1, fr.tt_jd2)["p"]
    moon_topo_gcrs = moon_geo - obs_gcrs
    moon_topo = np.einsum("tij,tj->ti", fr.rnpb, moon_topo_gcrs)
    moon_alt, moon_az = _tod_to_altaz_deg(site, lst_rad, moon_topo)

    # For separations with astrometric ICRS targets, take the annual aberration back out.
    moon_dir = moon_topo_gcrs / np.linalg.norm(moon_topo_gcrs, axis=-1, keepdims=True)
    moon_ra, moon_dec = _radec_deg(aberrate(moon_dir, -fr.beta))

    # FLI, geocentric like astroplan.moon_illumination: phase angle from the elongation.
    moon_dist = np.linalg.norm(moon_geo, axis=-1)
    sdist = sun_dist[:, 0]
    cos_el = np.einsum("ti,ti->t", sun_geo, moon_geo) / (sdist * moon_dist)
    sin_el = np.linalg.norm(np.cross(sun_geo, moon_geo), axis=-1) / (sdist * moon_dist)
    phase = np.arctan2(sdist * sin_el, moon_dist - sdist * cos_el)
    fli = (1.0 + np.cos(phase)) / 2.0

    return SkySamples(
        times=t,
        lst_deg=lst_deg,
        sun_alt_deg=sun_alt,
        sun_az_deg=sun_az,
        moon_alt_deg=moon_alt,
        moon_az_deg=moon_az,
        moon_ra_deg=moon_ra,
        moon_dec_deg=moon_dec,
        moon_fli=fli,
    )
