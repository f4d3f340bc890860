"""The observability decision matches astroplan on random OBs, except near a limit.

Tolerances (cases closer than this to a limit are not compared, and there must be few):
airmass 0.02 (we use Kasten & Young, astroplan uses sec z: they differ by < 0.003 below
airmass 2 and ~0.012 at 2.5), Sun altitude 0.05 deg, Moon separation 0.05 deg, FLI 0.005 and
Moon altitude 0.1 deg for the "Moon down" exemption of the illumination constraint.
"""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from astroplan import (
    AirmassConstraint,
    AtNightConstraint,
    MoonIlluminationConstraint,
    MoonSeparationConstraint,
    Observer,
)
from astropy.coordinates import AltAz, SkyCoord, get_body
from astropy.time import Time

from dataflow.astro.site import PARANAL
from scheduling.engine.ranking import filters as F
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import rank
from scheduling.engine.ranking.model import (
    Candidate,
    Conditions,
    ConstraintSet,
    RankingOptions,
)

pytestmark = pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyWarning")

N_TIMES, PER_TIME = 8, 50


def _column(result: np.ndarray) -> np.ndarray:
    """astroplan returns (N, 1) or, for target-independent constraints, (1,)."""
    arr = np.asarray(result)
    if arr.ndim == 2:
        return arr[:, 0]
    return np.broadcast_to(arr.reshape(-1)[0], (PER_TIME,))


def test_observability_matches_astroplan(rng: np.random.Generator) -> None:
    observer = Observer(location=PARANAL.location)
    # given random instants over a year (day and night) and random OBs
    times = Time(61000.0 + np.sort(rng.uniform(0.0, 365.0, N_TIMES)), format="mjd", scale="utc")
    compared = skipped = 0
    mismatches: list[str] = []
    for t in times:
        ra = rng.uniform(0.0, 360.0, PER_TIME)
        dec = np.degrees(np.arcsin(rng.uniform(-1.0, np.sin(np.radians(40.0)), PER_TIME)))
        am = rng.choice([1.3, 1.5, 1.8, 2.0, 2.5], PER_TIME)
        md = rng.uniform(5.0, 90.0, PER_TIME)
        fli = rng.uniform(0.1, 1.0, PER_TIME)
        sun_lim = float(rng.choice([-18.0, -12.0, -6.0, 0.0]))
        cands = [
            Candidate(
                id=str(i),
                ra_deg=float(ra[i]),
                dec_deg=float(dec[i]),
                execution_time_s=600.0,
                constraints=ConstraintSet(
                    max_airmass=float(am[i]),
                    min_moon_distance_deg=float(md[i]),
                    max_fli=float(fli[i]),
                ),
            )
            for i in range(PER_TIME)
        ]
        arrays = CandidateArrays.build(cands)
        common = RankingOptions(
            sun_max_elevation_deg=sun_lim,
            zenith_avoidance_deg=0.0,
            wind_restriction=False,
            fits_from_now=False,
        )
        cond = Conditions(seeing_arcsec=1.0)
        # when our engine decides (Moon separation always checked; FLI only with the Moon up,
        # as astroplan does)
        ours_sep = rank(
            arrays,
            site=PARANAL,
            time=t,
            conditions=cond,
            options=replace(common, moon_elevation_limit_deg=-90.0),
        )
        ours = rank(
            arrays,
            site=PARANAL,
            time=t,
            conditions=cond,
            options=replace(common, moon_elevation_limit_deg=0.0),
        )
        assert np.array_equal(ours.evaluation.idx, np.arange(PER_TIME))
        mask_sep, mask = ours_sep.evaluation.mask, ours.evaluation.mask
        # and astroplan decides
        targets = SkyCoord(ra * u.deg, dec * u.deg)
        tt = Time([t])
        ap = {
            "airmass": np.array(
                [
                    AirmassConstraint(max=float(a))(observer, targets[i], times=tt)[0]
                    for i, a in enumerate(am)
                ]
            ),
            "sun": _column(
                AtNightConstraint(max_solar_altitude=sun_lim * u.deg)(observer, targets, times=tt)
            ),
            "sep": np.array(
                [
                    MoonSeparationConstraint(min=float(m) * u.deg)(observer, targets[i], times=tt)[
                        0
                    ]
                    for i, m in enumerate(md)
                ]
            ),
            "fli": np.array(
                [
                    MoonIlluminationConstraint(max=float(f))(observer, targets[i], times=tt)[0]
                    for i, f in enumerate(fli)
                ]
            ),
        }
        # near-limit quantities, from astropy directly
        frame = AltAz(obstime=t, location=PARANAL.location)
        secz = targets.transform_to(frame).secz.value
        sun_alt = get_body("sun", t, location=PARANAL.location).transform_to(frame).alt.deg
        moon = get_body("moon", t, location=PARANAL.location)
        moon_alt = moon.transform_to(frame).alt.deg
        sep = moon.separation(targets).deg
        illum = float(observer.moon_illumination(t))
        near = (
            (np.abs(secz - am) < 0.02)
            | (abs(sun_alt - sun_lim) < 0.05)
            | (np.abs(sep - md) < 0.05)
            | ((abs(illum - fli) < 0.005) | (abs(moon_alt) < 0.1))
        )
        for i in range(PER_TIME):
            if near[i]:
                skipped += 1
                continue
            compared += 1
            mine = {
                "airmass": not mask[i] & F.AIRMASS,
                "sun": not mask[i] & F.SUN,
                "sep": not mask_sep[i] & F.MOON_DISTANCE,
                "fli": not mask[i] & F.FLI,
            }
            for key, value in mine.items():
                if bool(value) != bool(ap[key][i]):
                    mismatches.append(f"{t.isot} OB{i} {key}: ours {value} astroplan {ap[key][i]}")
    # then they agree everywhere away from the limits, and few cases were near a limit
    assert mismatches == []
    assert compared >= 0.9 * N_TIMES * PER_TIME, (compared, skipped)
