"""Invariants of the closed-form geometry (hypothesis) and a few known values."""

import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow.astro.geometry import (
    airmass,
    altaz_deg,
    altitude_for_airmass,
    angular_separation_deg,
    apply_proper_motion,
    hour_angle_deg,
)

altitudes = st.floats(min_value=0.0, max_value=90.0)
ras = st.floats(min_value=0.0, max_value=360.0)
decs = st.floats(min_value=-90.0, max_value=90.0)


@given(altitudes)
def test_airmass_is_at_least_one_above_the_horizon(alt):
    assert 1.0 <= airmass(alt) <= 37.92


@given(altitudes, altitudes)
def test_airmass_grows_with_zenith_distance(a, b):
    lo, hi = sorted((a, b))
    assert airmass(lo) >= airmass(hi)


def test_airmass_known_values_and_below_horizon():
    # Kasten & Young: 1 at the zenith, 37.92 at the horizon; close to sec z up high
    assert airmass(90.0) == 1.0
    assert abs(airmass(0.0) - 37.92) < 0.01
    assert abs(airmass(30.0) - 1.9942) < 1e-3
    assert np.isinf(airmass(-0.1))
    assert np.isnan(airmass(np.nan))
    assert airmass(np.array([[45.0, -5.0]])).shape == (1, 2)


@given(st.floats(min_value=1.0, max_value=37.9))
def test_altitude_for_airmass_inverts_airmass(x):
    assert abs(airmass(altitude_for_airmass(x)) - x) < 1e-6


@given(ras, decs, ras, decs)
def test_separation_is_symmetric_and_bounded(ra1, dec1, ra2, dec2):
    ab = angular_separation_deg(ra1, dec1, ra2, dec2)
    ba = angular_separation_deg(ra2, dec2, ra1, dec1)
    assert abs(ab - ba) < 1e-9
    assert 0.0 <= ab <= 180.0
    assert angular_separation_deg(ra1, dec1, ra1, dec1) < 1e-9


def test_separation_is_stable_for_tiny_and_antipodal_angles():
    assert abs(angular_separation_deg(10.0, 20.0, 10.0, 20.0 + 1e-7) - 1e-7) < 1e-12
    assert abs(angular_separation_deg(0.0, 0.0, 180.0, 0.0) - 180.0) < 1e-9


@given(st.floats(-1000.0, 1000.0), st.floats(-1000.0, 1000.0))
def test_hour_angle_is_wrapped(lst, ra):
    ha = hour_angle_deg(lst, ra)
    assert -180.0 <= ha < 180.0
    assert abs(((ha - (lst - ra)) / 360.0) - round((ha - (lst - ra)) / 360.0)) < 1e-9


@given(st.floats(-89.0, 89.0), decs)
def test_meridian_altitude_is_90_minus_lat_minus_dec(lat, dec):
    alt, _ = altaz_deg(lat, 0.0, dec)
    assert abs(alt - (90.0 - abs(lat - dec))) < 1e-7


@given(st.floats(-89.0, 89.0), st.floats(-180.0, 180.0), decs)
def test_altaz_is_symmetric_about_the_meridian(lat, ha, dec):
    alt_e, az_e = altaz_deg(lat, -ha, dec)
    alt_w, az_w = altaz_deg(lat, ha, dec)
    assert abs(alt_e - alt_w) < 1e-9
    if alt_e < 89.9:
        assert abs(((az_e + az_w) % 360.0 + 1e-9) % 360.0) < 1e-6


def test_altaz_broadcasts():
    alt, az = altaz_deg(-24.6, np.zeros((3, 1)), np.zeros((1, 4)))
    assert alt.shape == az.shape == (3, 4)


@settings(max_examples=50)
@given(ras, st.floats(-89.9, 89.9), st.floats(-5000.0, 5000.0), st.floats(-5000.0, 5000.0))
def test_proper_motion_matches_astropy_space_motion(ra, dec, pmra, pmdec):
    # given a star at J2016 with Gaia-convention proper motion, far away, no radial velocity
    star = SkyCoord(
        ra=ra * u.deg,
        dec=dec * u.deg,
        pm_ra_cosdec=pmra * u.mas / u.yr,
        pm_dec=pmdec * u.mas / u.yr,
        distance=1 * u.Mpc,
        radial_velocity=0 * u.km / u.s,
        obstime=Time(2016.0, format="jyear"),
    )
    # when moved to J2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moved = star.apply_space_motion(new_obstime=Time(2000.0, format="jyear"))
    ra2, dec2 = apply_proper_motion(ra, dec, pmra, pmdec, 2016.0, 2000.0)
    # then: within 1 mas for proper motions up to 5"/yr over 16 years
    sep = angular_separation_deg(ra2, dec2, moved.ra.deg, moved.dec.deg)
    assert sep * 3.6e6 < 1.0


def test_proper_motion_vectorises_and_zero_motion_is_identity():
    ra, dec = apply_proper_motion(
        np.array([0.0, 359.9]), np.array([90.0, -10.0]), 0.0, 0.0, 2016.0, 2026.0
    )
    assert ra.shape == (2,)
    assert abs(dec[0] - 90.0) < 1e-9 and abs(ra[1] - 359.9) < 1e-9 and abs(dec[1] + 10.0) < 1e-9
