"""Shared helpers for the ranking engine tests (no database)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from astropy.time import Time

from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from scheduling.engine.ranking.engine import RankingResult, rank
from scheduling.engine.ranking.model import (
    Candidate,
    Conditions,
    ConstraintSet,
    RankingOptions,
    Transparency,
)

#: Moon well below the horizon, Sun below -18 deg (checked by ``test_fixture_times``).
DARK = Time("2025-11-21T03:00:00", scale="utc")
#: Moon at ~56 deg altitude, FLI ~0.69, Sun below -18 deg.
MOONLIT = Time("2025-11-30T01:30:00", scale="utc")
#: Daytime at Paranal.
DAY = Time("2025-11-21T16:00:00", scale="utc")

GOOD = Conditions(seeing_arcsec=0.6, transparency=Transparency.PHOTOMETRIC)
LAX = ConstraintSet(max_airmass=3.0, min_moon_distance_deg=0.0, max_fli=1.0)


def lst_deg(t: Time) -> float:
    return float(sky_samples(PARANAL, t).lst_deg[0])


def ob(id: str, ra: float, dec: float = -24.6, **kw: Any) -> Candidate:
    """A candidate with lax constraints unless overridden."""
    kw.setdefault("constraints", LAX)
    kw.setdefault("execution_time_s", 1800.0)
    return Candidate(id=id, ra_deg=ra % 360.0, dec_deg=dec, **kw)


def transit(t: Time, id: str = "T", dec: float = -40.0, **kw: Any) -> Candidate:
    """A target on the meridian at ``t`` (an hour east for 'fits from now' symmetry)."""
    return ob(id, lst_deg(t) + 7.5, dec, **kw)


def do_rank(cands: list[Candidate], t: Time, cond: Conditions = GOOD, **opts: Any) -> RankingResult:
    return rank(cands, site=PARANAL, time=t, conditions=cond, options=RankingOptions(**opts))


def codes(result: RankingResult, id: str) -> set[str]:
    for f in result.filtered:
        if f.id == id:
            return {r.code for r in f.reasons}
    return set()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)
