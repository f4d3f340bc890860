"""Interpolation error of the sky track and accuracy of the low-precision Sun/Moon."""

from __future__ import annotations

import numpy as np
from astropy.time import Time

from dataflow.astro.geometry import angular_separation_deg
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from scheduling.engine.ranking.skytrack import SkyTrack


def _grid(start: float, hours: float, step_min: float) -> Time:
    n = int(hours * 60 / step_min) + 1
    return Time(start + np.arange(n) * step_min / 1440.0, format="mjd", scale="utc")


def test_ten_minute_track_interpolates_within_stated_error() -> None:
    # given a 10-minute track over two days and exact samples in between
    track = SkyTrack.exact(PARANAL, _grid(60999.9, 48.0, 10.0))
    probe = Time(60999.9 + np.random.default_rng(1).uniform(0, 2.0, 500), format="mjd")
    exact = sky_samples(PARANAL, probe)
    at = track.at(probe.utc.mjd)
    # then altitudes are within 0.02 deg, LST and the Moon's position far better
    assert np.max(np.abs(at.sun_alt_deg - exact.sun_alt_deg)) < 0.02
    assert np.max(np.abs(at.moon_alt_deg - exact.moon_alt_deg)) < 0.02
    dl = np.abs((np.mod(at.lst_deg, 360.0) - exact.lst_deg + 180.0) % 360.0 - 180.0)
    assert np.max(dl) < 1e-5
    sep = angular_separation_deg(
        at.moon_ra_deg, at.moon_dec_deg, exact.moon_ra_deg, exact.moon_dec_deg
    )
    assert np.max(sep) < 0.005
    assert np.max(np.abs(at.moon_fli - exact.moon_fli)) < 1e-3


def test_five_minute_track_is_within_five_millidegrees() -> None:
    track = SkyTrack.exact(PARANAL, _grid(61099.9, 48.0, 5.0))
    probe = Time(61099.9 + np.random.default_rng(2).uniform(0, 2.0, 1000), format="mjd")
    exact = sky_samples(PARANAL, probe)
    at = track.at(probe.utc.mjd)
    assert np.max(np.abs(at.sun_alt_deg - exact.sun_alt_deg)) < 0.005
    assert np.max(np.abs(at.moon_alt_deg - exact.moon_alt_deg)) < 0.005


def test_analytic_sky_errors_against_the_sky_model() -> None:
    # given a month of hourly samples
    t = _grid(61000.0, 30 * 24.0, 60.0)
    exact = sky_samples(PARANAL, t)
    low = SkyTrack.analytic(PARANAL, t).at(t.utc.mjd)
    # then the Sun is within 0.02 deg, the Moon within 0.3 deg, the FLI within 0.005
    assert np.max(np.abs(low.sun_alt_deg - exact.sun_alt_deg)) < 0.02
    assert np.max(np.abs(low.moon_alt_deg - exact.moon_alt_deg)) < 0.3
    sep = angular_separation_deg(
        low.moon_ra_deg, low.moon_dec_deg, exact.moon_ra_deg, exact.moon_dec_deg
    )
    assert np.max(sep) < 0.3
    assert np.max(np.abs(low.moon_fli - exact.moon_fli)) < 0.005


def test_single_sample_track_advances_lst_at_the_sidereal_rate() -> None:
    t = Time(61000.3, format="mjd")
    track = SkyTrack.exact(PARANAL, t)
    later = Time(61000.3 + 1 / 24, format="mjd")
    dl = float(track.at(later.utc.mjd).lst_deg) % 360.0 - sky_samples(PARANAL, later).lst_deg[0]
    assert abs((dl + 180.0) % 360.0 - 180.0) < 1e-3
