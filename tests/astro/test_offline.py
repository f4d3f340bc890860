"""astropy stays offline: with stale IERS tables and far-future dates nothing is downloaded and
every transform still computes (shared/DOMAIN.md, "astropy offline: traps")."""

import datetime
import urllib.request
import warnings

import astropy.units as u
import numpy as np
import pytest
import time_machine
from astropy.coordinates import AltAz, SkyCoord, get_body
from astropy.time import Time
from astropy.utils import data as astropy_data
from astropy.utils import iers
from astropy.utils.iers import iers as iers_module

from dataflow.astro.geometry import target_altaz
from dataflow.astro.nights import night_boundaries
from dataflow.astro.offline import configure_offline
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples


def _forbid(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"astropy tried to reach the network: {args!r}")


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setattr(astropy_data, "download_file", _forbid)
    monkeypatch.setattr(iers_module, "download_file", _forbid)
    monkeypatch.setattr(urllib.request, "urlopen", _forbid)


@pytest.fixture
def stale_clock():
    """Move the clock 2 years past the bundled IERS-A predictions: the table looks stale."""
    predictive_mjd = float(iers.IERS_Auto.open().meta["predictive_mjd"])
    now = Time(predictive_mjd + 730.0, format="mjd").to_datetime(datetime.UTC)
    with time_machine.travel(now, tick=False):
        yield Time(now)


def test_importing_dataflow_astro_configures_astropy_offline():
    configure_offline()
    assert iers.conf.auto_download is False
    assert iers.conf.auto_max_age is None


def test_altaz_with_stale_tables_and_far_future_computes_without_download(no_network, stale_clock):
    # given a time beyond the IERS predictions and a clock that makes the tables stale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ERFA "dubious year": leap seconds unknown in 10 years
        times = stale_clock + np.array([0.0, 3650.0]) * u.day
        frame = AltAz(obstime=times, location=PARANAL.location, pressure=0 * u.hPa)
        # when astropy transforms a star and the Moon, and we compute our sky model
        star = SkyCoord(ra=266.4 * u.deg, dec=-29.0 * u.deg).transform_to(frame)
        moon = get_body("moon", times, PARANAL.location).transform_to(frame)
        sky = sky_samples(PARANAL, times)
        alt, _ = target_altaz(PARANAL, sky, 266.4, -29.0)
        night = night_boundaries(PARANAL, stale_clock.to_datetime().date())
    # then everything is finite and the two paths still agree (UT1 extrapolated alike)
    assert np.all(np.isfinite(star.alt.deg)) and np.all(np.isfinite(moon.alt.deg))
    assert np.abs(alt[0] - star.alt.deg).max() < 0.01
    assert np.abs(sky.moon_alt_deg - moon.alt.deg).max() < 0.01
    assert night.astronomical_dusk is not None


def test_downloads_off_alone_would_break_a_month_after_install(no_network, stale_clock):
    # given the trap: downloads off but the default 30-day maximum age
    times = stale_clock + np.array([0.0, 1.0]) * u.day
    frame = AltAz(obstime=times, location=PARANAL.location)
    with iers.conf.set_temp("auto_max_age", 30.0), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # then transforms raise instead of computing (why offline.py also sets auto_max_age)
        with pytest.raises(ValueError, match="interpolating from IERS_Auto"):
            SkyCoord(ra=10 * u.deg, dec=-20 * u.deg).transform_to(frame)
