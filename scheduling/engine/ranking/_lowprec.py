"""Low-precision closed-form Sun, Moon and sidereal time (private helper).

Formulae: the *Astronomical Almanac*'s low-precision Sun (~0.01 deg, 1950-2050) and Moon
(~0.3 deg in longitude, ~0.2 deg in latitude, parallax ~0.003 deg, with topocentric
correction), GMST from the IAU 1982 expression with UTC standing in for UT1 (< 1 s), and the
IAU 1976 precession to carry the Moon back to J2000 for separations from ICRS targets.
Measured against ``dataflow.astro.sky`` (astropy) in tests/engine/ranking/test_skytrack.py.

Everything is vectorised over MJD (UTC) and costs microseconds, against ~15 ms for astropy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_D2R = np.pi / 180.0
_MJD_J2000 = 51544.5
_AU_EARTH_RADII = 23454.78


def gmst_deg(mjd: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time, degrees (UTC used for UT1)."""
    d = mjd - _MJD_J2000
    t = d / 36525.0
    return np.mod(280.46061837 + 360.98564736629 * d + 0.000387933 * t * t, 360.0)


def precession_matrix(mjd: float) -> np.ndarray:
    """IAU 1976 precession, J2000 mean equator/equinox -> mean of date (3x3)."""
    t = (mjd - _MJD_J2000) / 36525.0
    arc = _D2R / 3600.0
    zeta = (2306.2181 * t + 0.30188 * t * t + 0.017998 * t**3) * arc
    z = (2306.2181 * t + 1.09468 * t * t + 0.018203 * t**3) * arc
    theta = (2004.3109 * t - 0.42665 * t * t - 0.041833 * t**3) * arc

    def rz(a: float) -> NDArray[np.float64]:
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])

    def ry(a: float) -> NDArray[np.float64]:
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])

    return rz(-z) @ ry(theta) @ rz(-zeta)


def rotate_radec(
    matrix: np.ndarray, ra_deg: np.ndarray, dec_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a 3x3 rotation to RA/Dec (degrees)."""
    ra, dec = ra_deg * _D2R, dec_deg * _D2R
    cd = np.cos(dec)
    v = np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)])
    w = np.tensordot(matrix, v, axes=1)
    return (
        np.mod(np.arctan2(w[1], w[0]) / _D2R, 360.0),
        np.arcsin(np.clip(w[2], -1.0, 1.0)) / _D2R,
    )


def sky(mjd: np.ndarray, lat_deg: float, lon_deg: float, height_m: float) -> dict[str, np.ndarray]:
    """Sun and Moon for a site at ``mjd`` (array).

    Returns
    -------
    dict with ``lst_deg`` (local mean sidereal time), ``sun_ra_eff_deg``, ``sun_dec_deg``
    (mean of date, pairs with ``lst_deg``), ``moon_ra_eff_deg``, ``moon_dec_eff_deg``
    (topocentric, of date), ``moon_ra_deg``, ``moon_dec_deg`` (topocentric, J2000 axes, for
    separations from ICRS targets), ``moon_fli`` (0..1).
    """
    mjd = np.atleast_1d(np.asarray(mjd, dtype=float))
    n = mjd - _MJD_J2000
    t = n / 36525.0
    eps = (23.439 - 0.0000004 * n) * _D2R
    # Sun
    g = (357.528 + 0.9856003 * n) * _D2R
    lam_s = (280.460 + 0.9856474 * n) * _D2R + (1.915 * np.sin(g) + 0.020 * np.sin(2 * g)) * _D2R
    s_ra = np.arctan2(np.cos(eps) * np.sin(lam_s), np.cos(lam_s))
    s_dec = np.arcsin(np.sin(eps) * np.sin(lam_s))

    # Moon (geocentric ecliptic of date)
    def s(a: float, b: float) -> np.ndarray:
        return np.sin((a + b * t) * _D2R)

    def c(a: float, b: float) -> np.ndarray:
        return np.cos((a + b * t) * _D2R)

    lam = (
        218.32
        + 481267.881 * t
        + 6.29 * s(135.0, 477198.87)
        - 1.27 * s(259.3, -413335.36)
        + 0.66 * s(235.7, 890534.22)
        + 0.21 * s(269.9, 954397.74)
        - 0.19 * s(357.5, 35999.05)
        - 0.11 * s(186.5, 966404.03)
    ) * _D2R
    bet = (
        5.13 * s(93.3, 483202.02)
        + 0.28 * s(228.2, 960400.89)
        - 0.28 * s(318.3, 6003.15)
        - 0.17 * s(217.6, -407332.21)
    ) * _D2R
    par = (
        0.9508
        + 0.0518 * c(135.0, 477198.87)
        + 0.0095 * c(259.3, -413335.36)
        + 0.0078 * c(235.7, 890534.22)
        + 0.0028 * c(269.9, 954397.74)
    ) * _D2R
    r = 1.0 / np.sin(par)  # Earth radii
    cl, sl, cb, sb = np.cos(lam), np.sin(lam), np.cos(bet), np.sin(bet)
    x = r * cb * cl
    y = r * (np.cos(eps) * cb * sl - np.sin(eps) * sb)
    z = r * (np.sin(eps) * cb * sl + np.cos(eps) * sb)
    # topocentric: subtract the observer (geocentric latitude, radius in Earth radii)
    lat = lat_deg * _D2R
    u = np.arctan(0.99664719 * np.tan(lat))
    rho_c = np.cos(u) + height_m / 6378140.0 * np.cos(lat)
    rho_s = 0.99664719 * np.sin(u) + height_m / 6378140.0 * np.sin(lat)
    lst = np.mod(gmst_deg(mjd) + lon_deg, 360.0)
    lr = lst * _D2R
    xt, yt, zt = x - rho_c * np.cos(lr), y - rho_c * np.sin(lr), z - rho_s
    m_ra = np.arctan2(yt, xt)
    m_dec = np.arctan2(zt, np.hypot(xt, yt))
    # FLI from the Sun-Moon elongation and the phase angle
    cos_psi = cb * np.cos(lam - lam_s)
    psi = np.arccos(np.clip(cos_psi, -1.0, 1.0))
    big_r = _AU_EARTH_RADII * (1.00014 - 0.01671 * np.cos(g))
    phase = np.arctan2(big_r * np.sin(psi), r - big_r * np.cos(psi))
    fli = (1.0 + np.cos(phase)) / 2.0
    # Moon on J2000 axes for separations (precession at the mean epoch is plenty for a night)
    back = precession_matrix(float(np.mean(mjd))).T
    m_ra_j, m_dec_j = rotate_radec(back, m_ra / _D2R, m_dec / _D2R)
    return {
        "lst_deg": lst,
        "sun_ra_eff_deg": np.mod(s_ra / _D2R, 360.0),
        "sun_dec_deg": s_dec / _D2R,
        "moon_ra_eff_deg": np.mod(m_ra / _D2R, 360.0),
        "moon_dec_eff_deg": m_dec / _D2R,
        "moon_ra_deg": m_ra_j,
        "moon_dec_deg": m_dec_j,
        "moon_fli": fli,
    }
