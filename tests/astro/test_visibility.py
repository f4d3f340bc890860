"""Nightly visibility: closed form against brute-force sampling, and the observability decision
against astroplan's AirmassConstraint + AtNightConstraint."""

import datetime
import time
import warnings

import astropy.units as u
import numpy as np
from astroplan import AirmassConstraint, AtNightConstraint, Observer
from astropy.coordinates import SkyCoord
from astropy.time import Time

from dataflow.astro.geometry import airmass, altitude_for_airmass, target_altaz
from dataflow.astro.nights import night_table
from dataflow.astro.plot import visibility_plot_png
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from dataflow.astro.visibility import nightly_visibility

START = datetime.date(2027, 4, 1)
END = datetime.date(2027, 9, 30)  # 183 nights


def _random_targets(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 360.0, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))


def test_hours_and_best_airmass_match_one_minute_sampling():
    # given 200 targets and 6 nights of the period
    ra, dec = _random_targets(200, seed=1)
    vis = nightly_visibility(PARANAL, ra, dec, START, END, max_airmass=2.0)
    table = night_table(PARANAL, START, END)
    for d in range(0, 183, 37):
        # when sampling the astronomical night every minute
        step = 1.0 / 1440.0
        dusk, dawn = table.astronomical_dusk_jd[d], table.astronomical_dawn_jd[d]
        jd = np.append(np.arange(dusk, dawn, step), dawn)
        sky = sky_samples(PARANAL, Time(jd, format="jd", scale="utc"))
        alt, _ = target_altaz(PARANAL, sky, ra, dec)
        x = airmass(alt)
        # then hours agree to the sampling step, best airmass to the motion within a step
        sampled_hours = (x[:, :-1] <= 2.0).sum(axis=1) * step * 24.0
        assert np.abs(sampled_hours - vis.hours[:, d]).max() <= 1.5 / 60.0
        up = vis.min_airmass[:, d] < 3.0
        assert np.abs(x.min(axis=1)[up] - vis.min_airmass[up, d]).max() <= 0.002
        assert np.all(np.isinf(x.min(axis=1)[~np.isfinite(vis.min_airmass[:, d])]))
        moon_up = (sky.moon_alt_deg[:-1] > -0.8333).sum() * step * 24.0
        assert abs(moon_up - vis.moon_up_dark_hours[d]) <= 1.5 / 60.0
        assert abs(vis.dark_hours[d] - (dawn - dusk) * 24.0) <= 1e-6


def test_observability_decision_agrees_with_astroplan_except_near_a_limit(reference):
    # given the 1,000 seeded (target, time) pairs and airmass limits of 1.2 .. 3
    rng = np.random.default_rng(7)
    limit = rng.uniform(1.2, 3.0, reference.times.size)
    sky = sky_samples(PARANAL, reference.times)
    alt = np.diagonal(target_altaz(PARANAL, sky, reference.ra_deg, reference.dec_deg)[0])
    # when we decide (Kasten & Young airmass, Sun below -18 deg) and astroplan decides (sec z)
    ours = (airmass(alt) <= limit) & (sky.sun_alt_deg <= -18.0)
    observer = Observer(location=PARANAL.location)
    targets = SkyCoord(ra=reference.ra_deg * u.deg, dec=reference.dec_deg * u.deg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.ones(limit.size, dtype=bool)
        for value in np.unique(np.round(limit, 1)):
            pick = np.round(limit, 1) == value
            limit[pick] = value  # astroplan takes one limit per constraint
            theirs[pick] = AirmassConstraint(max=value)(
                observer, targets[pick], reference.times[pick], grid_times_targets=False
            )
        ours = (airmass(alt) <= limit) & (sky.sun_alt_deg <= -18.0)
        theirs &= AtNightConstraint.twilight_astronomical()(
            observer, targets, reference.times, grid_times_targets=False
        )
    # then they differ only within 0.1 deg of the limit altitude (sec z vs Kasten & Young:
    # 0.09 deg at airmass 3) or within 0.01 deg of the -18 deg Sun
    near_airmass = np.abs(alt - altitude_for_airmass(limit)) <= 0.1
    near_airmass |= np.abs(alt - np.degrees(np.arcsin(1.0 / limit))) <= 0.01
    near_sun = np.abs(sky.sun_alt_deg + 18.0) <= 0.01
    disagree = ours != theirs
    assert ours.sum() > 100
    assert not np.any(disagree & ~near_airmass & ~near_sun)


def test_period_of_3000_targets_runs_in_about_a_second():
    # given
    ra, dec = _random_targets(3000, seed=2)
    nightly_visibility(PARANAL, ra[:1], dec[:1], START, START, 2.0)  # warm the IERS table
    # when
    start = time.perf_counter()
    vis = nightly_visibility(PARANAL, ra, dec, START, END, max_airmass=np.full(3000, 1.8))
    elapsed = time.perf_counter() - start
    # then
    assert vis.hours.shape == vis.min_airmass.shape == (3000, 183)
    assert len(vis.dates) == vis.dark_hours.size == vis.moon_fli.size == 183
    assert np.all(vis.hours <= vis.dark_hours[None, :] + 1e-9)
    assert np.all((vis.moon_up_dark_hours >= 0) & (vis.moon_up_dark_hours <= vis.dark_hours))
    assert elapsed < 4.0  # ~0.7 s alone on this machine; shared CPUs in CI


def test_best_date_and_unobservable_targets():
    # given Sgr A* (observable in the austral winter) and Polaris (never from Paranal)
    vis = nightly_visibility(PARANAL, [266.42, 37.95], [-29.01, 89.26], START, END, 1.5)
    # then
    best = vis.best_date(0)
    assert best is not None and datetime.date(2027, 5, 15) <= best <= datetime.date(2027, 7, 15)
    assert vis.best_date(1) is None
    assert np.all(vis.hours[1] == 0.0) and np.all(np.isinf(vis.min_airmass[1]))
    assert vis.min_airmass[0].min() < 1.01


def test_visibility_plot_is_a_png_with_unicode_labels():
    vis = nightly_visibility(PARANAL, [83.82, 201.37], [-5.39, -43.02], START, END, 1.5)
    png = visibility_plot_png(vis, ["M42 Orion", "Cen A – Müller’s field"], "118.C-0042(A)")
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 300_000
