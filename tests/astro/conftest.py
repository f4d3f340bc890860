"""Shared fixtures for the astro tests: seeded random (target, time) pairs and astropy references.

The reference values are computed once per session with astropy's frame machinery (the slow,
trusted path) at Paranal, ``AltAz(pressure=0)``: geometric altitudes, no refraction.
"""

import warnings
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, SkyCoord, get_body
from astropy.time import Time

from dataflow.astro.site import PARANAL, Site

N_PAIRS = 1000
SEED = 20261121


@dataclass(frozen=True)
class Reference:
    site: Site
    times: Time
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    target_alt_deg: np.ndarray
    target_az_deg: np.ndarray
    target_secz: np.ndarray
    sun_alt_deg: np.ndarray
    moon_alt_deg: np.ndarray
    moon_separation_deg: np.ndarray
    lst_deg: np.ndarray


@pytest.fixture(scope="session")
def reference() -> Reference:
    return make_reference()


def make_reference() -> Reference:
    """Astropy's values for the seeded pairs (also used by ``report_tolerances``)."""
    # given 1,000 random targets (uniform on the sphere) each at a random instant of 2026-2028
    rng = np.random.default_rng(SEED)
    times = Time("2026-01-01T00:00:00", scale="utc") + rng.uniform(0.0, 3 * 365.25, N_PAIRS) * u.day
    ra = rng.uniform(0.0, 360.0, N_PAIRS)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_PAIRS)))
    frame = AltAz(obstime=times, location=PARANAL.location, pressure=0 * u.hPa)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IERS predictive-range notices for 2027-2028
        target = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs").transform_to(frame)
        sun = get_body("sun", times, PARANAL.location).transform_to(frame)
        moon = get_body("moon", times, PARANAL.location).transform_to(frame)
        lst = times.sidereal_time("apparent", longitude=PARANAL.location.lon)
    return Reference(
        site=PARANAL,
        times=times,
        ra_deg=ra,
        dec_deg=dec,
        target_alt_deg=target.alt.deg,
        target_az_deg=target.az.deg,
        target_secz=np.asarray(target.secz),
        sun_alt_deg=sun.alt.deg,
        moon_alt_deg=moon.alt.deg,
        # Both in the same topocentric apparent frame: the separation seen in the sky.
        moon_separation_deg=target.separation(moon).deg,
        lst_deg=lst.deg,
    )
