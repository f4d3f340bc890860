"""Closed-form target geometry with numpy: hour angle, altitude/azimuth, airmass, separations.

No astropy frames in here: the per-instant work (sidereal time, Sun, Moon) is done once by
:func:`dataflow.astro.sky.sky_samples`, and targets are combined with it in closed form. All
angles are in degrees; arrays broadcast like numpy ufuncs.

ICRS targets against the apparent sidereal time: :func:`target_altaz` moves each target to its
apparent place of date (IAU 2000B bias-precession-nutation + first-order annual aberration)
once per calendar day (TT) present in the samples, so the error from doing it per day rather
than per instant is < 0.5 arcsec; refraction is not applied (geometric altitude, like astropy
``AltAz(pressure=0)``). Measured against astropy: altitudes agree to ~1 arcsec.
"""

import erfa
import numpy as np
from astropy.time import Time
from numpy.typing import ArrayLike, NDArray

from dataflow.astro.site import Site
from dataflow.astro.sky import C_AU_PER_DAY, SkySamples, _earth_pv, aberrate

#: Kasten & Young (1989) airmass coefficients.
_KY_A = 0.50572
_KY_B = 6.07995
_KY_C = 1.6364
#: Milliarcseconds per degree.
_MAS_PER_DEG = 3.6e6


def airmass(alt_deg: ArrayLike) -> np.ndarray:
    """Relative airmass, Kasten & Young (1989), valid down to the horizon.

    ``X = 1 / (sin h + 0.50572 (h + 6.07995)**-1.6364)`` with ``h`` the altitude in degrees.
    It gives 1 at the zenith, ~38 at the horizon, and is lower than ``sec z`` (astropy's and
    astroplan's airmass) by < 0.002 below sec z = 1.5, < 0.006 below 2 and < 0.023 below 3.

    Parameters
    ----------
    alt_deg : array_like
        Altitude, degrees. We feed it the geometric (unrefracted) altitude.

    Returns
    -------
    ndarray
        Airmass, >= 1 (floored at 1 above 88.6 deg, where the fit gives down to 0.99971);
        ``inf`` below the horizon (``alt < 0``), ``nan`` for ``nan`` input.
        Altitudes above 90 are clipped to 90.
    """
    h = np.minimum(np.asarray(alt_deg, dtype=float), 90.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = h >= 0.0
        hc = np.where(up, h, 0.0)
        x = 1.0 / (np.sin(np.radians(hc)) + _KY_A * (hc + _KY_B) ** -_KY_C)
    # The published fit dips to 0.99971 at the zenith; an airmass below 1 would only confuse
    # limits, so it is floored at 1 (changes nothing below 88.6 deg altitude).
    x = np.maximum(x, 1.0)
    return np.where(up, x, np.where(np.isnan(h), np.nan, np.inf))


def altitude_for_airmass(airmass_limit: ArrayLike) -> np.ndarray:
    """Inverse of :func:`airmass`: the altitude (degrees) where the airmass equals the limit.

    Parameters
    ----------
    airmass_limit : array_like
        Airmass, >= 1 (values below 1 give 90; values above the horizon airmass give 0).

    Returns
    -------
    ndarray
        Altitude, degrees, accurate to 1e-9 deg (bisection, vectorised).
    """
    x = np.asarray(airmass_limit, dtype=np.float64)
    lo = np.zeros_like(x)
    hi = np.full_like(x, 90.0)
    # airmass decreases with altitude: find h with airmass(h) == x.
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        above = airmass(mid) > x  # still too low in the sky
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def hour_angle_deg(lst_deg: ArrayLike, ra_deg: ArrayLike) -> np.ndarray:
    """Hour angle ``lst - ra`` wrapped to [-180, 180), degrees (positive west of the meridian)."""
    ha = np.asarray(lst_deg, dtype=np.float64) - np.asarray(ra_deg, dtype=np.float64)
    return (ha + 180.0) % 360.0 - 180.0


def altaz_deg(
    lat_deg: float, ha_deg: ArrayLike, dec_deg: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Altitude and azimuth from hour angle and declination.

    Parameters
    ----------
    lat_deg : float
        Geodetic latitude of the site, degrees.
    ha_deg, dec_deg : array_like
        Hour angle and declination (of date), degrees; broadcast together.

    Returns
    -------
    alt_deg, az_deg : ndarray
        Altitude in [-90, 90] and azimuth from north through east in [0, 360), degrees.
    """
    ha = np.radians(np.asarray(ha_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    phi = np.radians(lat_deg)
    sd, cd = np.sin(dec), np.cos(dec)
    ch = np.cos(ha)
    north = sd * np.cos(phi) - cd * np.sin(phi) * ch
    east = -cd * np.sin(ha)
    up = sd * np.sin(phi) + cd * np.cos(phi) * ch
    alt = np.degrees(np.arctan2(up, np.hypot(north, east)))
    az = np.degrees(np.arctan2(east, north)) % 360.0
    return alt, az


def angular_separation_deg(
    ra1_deg: ArrayLike, dec1_deg: ArrayLike, ra2_deg: ArrayLike, dec2_deg: ArrayLike
) -> np.ndarray:
    """Great-circle separation (Vincenty formula, stable at 0 and 180 deg), degrees.

    Parameters
    ----------
    ra1_deg, dec1_deg, ra2_deg, dec2_deg : array_like
        Longitudes and latitudes of the two points, degrees; broadcast together.

    Returns
    -------
    ndarray
        Separation in [0, 180], degrees.
    """
    l1 = np.radians(np.asarray(ra1_deg, dtype=float))
    b1 = np.radians(np.asarray(dec1_deg, dtype=float))
    l2 = np.radians(np.asarray(ra2_deg, dtype=float))
    b2 = np.radians(np.asarray(dec2_deg, dtype=float))
    dl = l2 - l1
    sb1, cb1 = np.sin(b1), np.cos(b1)
    sb2, cb2 = np.sin(b2), np.cos(b2)
    sdl, cdl = np.sin(dl), np.cos(dl)
    num1 = cb2 * sdl
    num2 = cb1 * sb2 - sb1 * cb2 * cdl
    den = sb1 * sb2 + cb1 * cb2 * cdl
    # annotated: numpy's stubs lose the dtype through the ufunc chain above (Any)
    sep: NDArray[np.float64] = np.degrees(np.arctan2(np.hypot(num1, num2), den))
    return sep


def radec_to_unit(ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Unit vectors (..., 3) for right ascension and declination in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1)


def unit_to_radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in [0, 360) and declination, degrees, of (..., 3) vectors."""
    ra = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return ra, dec


def apply_proper_motion(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    pmra_mas_yr: ArrayLike,
    pmdec_mas_yr: ArrayLike,
    epoch_from_jyear: ArrayLike,
    epoch_to_jyear: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Move positions along their proper motion (linear space motion, no parallax, no RV).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Position at ``epoch_from_jyear``, degrees.
    pmra_mas_yr : array_like
        Proper motion in right ascension *including* ``cos(dec)`` (Gaia's ``pmra``), mas/yr.
    pmdec_mas_yr : array_like
        Proper motion in declination, mas/yr.
    epoch_from_jyear, epoch_to_jyear : array_like
        Julian epochs (e.g. 2016.0 for Gaia DR3, 2000.0 for J2000), years.

    Returns
    -------
    ra_deg, dec_deg : ndarray
        Position at ``epoch_to_jyear``, degrees, RA in [0, 360). Well defined at the poles.
        Neglecting radial velocity and parallax (perspective acceleration) errs by
        < 0.01" per century for all but the nearest stars.
    """
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    dt = np.asarray(epoch_to_jyear, dtype=float) - np.asarray(epoch_from_jyear, dtype=float)
    mu_a = np.radians(np.asarray(pmra_mas_yr, dtype=float) / _MAS_PER_DEG) * dt
    mu_d = np.radians(np.asarray(pmdec_mas_yr, dtype=float) / _MAS_PER_DEG) * dt
    sa, ca = np.sin(ra), np.cos(ra)
    sd, cd = np.sin(dec), np.cos(dec)
    u = np.stack(np.broadcast_arrays(cd * ca, cd * sa, sd), axis=-1)
    p = np.stack(np.broadcast_arrays(-sa, ca, np.zeros_like(sa)), axis=-1)  # east
    q = np.stack(np.broadcast_arrays(-sd * ca, -sd * sa, cd), axis=-1)  # north
    v = u + np.asarray(mu_a)[..., None] * p + np.asarray(mu_d)[..., None] * q
    return unit_to_radec(v)


def apparent_place_by_day(
    times: Time, ra_deg: np.ndarray, dec_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apparent RA/Dec (true equator and equinox of date) of ICRS targets, once per TT day.

    IAU 2000B bias-precession-nutation and first-order annual aberration, at the mean instant
    of the ``times`` falling on each TT day; the change within a day is < 0.5 arcsec.
    Parallax, light deflection (< 0.01" away from the Sun) and diurnal aberration are ignored.

    Parameters
    ----------
    times : Time
        (T,) instants.
    ra_deg, dec_deg : ndarray
        (N,) ICRS coordinates, degrees.

    Returns
    -------
    ra_app_deg, dec_app_deg : ndarray
        (N, E) apparent places at the E distinct days, degrees.
    epoch_index : ndarray
        (T,) index into the E days for each instant.
    """
    tt = times.tt
    day = np.atleast_1d((tt.jd1 - erfa.DJ00) + tt.jd2).reshape(-1)
    key = np.floor(day).astype(np.int64)
    _, epoch_index = np.unique(key, return_inverse=True)
    epoch_index = epoch_index.reshape(-1)
    # Each epoch at the mean instant of its samples: a single instant is then exact.
    n_epochs = int(epoch_index.max()) + 1
    counts = np.bincount(epoch_index, minlength=n_epochs)
    mean_day = np.bincount(epoch_index, weights=day, minlength=n_epochs) / counts
    jd1 = np.full(n_epochs, erfa.DJ00)
    rnpb = erfa.pnm00b(jd1, mean_day)
    _, vel_b = _earth_pv(jd1, mean_day)
    beta = vel_b / C_AU_PER_DAY
    u = radec_to_unit(ra_deg, dec_deg)  # (N, 3)
    app = aberrate(u[:, None, :], beta[None, :, :])  # (N, E, 3)
    tod = np.einsum("eij,nej->nei", rnpb, app)
    ra_app, dec_app = unit_to_radec(tod)
    return ra_app, dec_app, epoch_index


def target_altaz(
    site: Site, sky: SkySamples, ra_deg: ArrayLike, dec_deg: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Altitude and azimuth of ICRS targets at every sample of ``sky``.

    Parameters
    ----------
    site : Site
        The site ``sky`` was computed for (its latitude is used).
    sky : SkySamples
        Per-instant quantities, T samples.
    ra_deg, dec_deg : array_like
        ICRS right ascension and declination (proper motion already applied), degrees, (N,);
        scalars count as N = 1.

    Returns
    -------
    alt_deg, az_deg : ndarray
        (N, T) geometric altitude and azimuth (N through E), degrees.
    """
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float)).reshape(-1)
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float)).reshape(-1)
    ra_app, dec_app, idx = apparent_place_by_day(sky.times, ra, dec)
    ha = hour_angle_deg(sky.lst_deg[None, :], ra_app[:, idx])
    return altaz_deg(site.latitude_deg, ha, dec_app[:, idx])


def moon_separation_deg(sky: SkySamples, ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Angular distance between ICRS targets and the Moon at every sample, degrees.

    Parameters
    ----------
    sky : SkySamples
        T samples; uses ``moon_ra_deg`` / ``moon_dec_deg`` (topocentric, aberration removed).
    ra_deg, dec_deg : array_like
        ICRS coordinates, degrees, (N,); scalars count as N = 1.

    Returns
    -------
    ndarray
        (N, T) separations in [0, 180], degrees; error budget in `SkySamples`.
    """
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float)).reshape(-1)
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float)).reshape(-1)
    return angular_separation_deg(
        ra[:, None], dec[:, None], sky.moon_ra_deg[None, :], sky.moon_dec_deg[None, :]
    )
