"""Synthetic candidate OBs from the shared demo distributions (tests, benchmarks, demos).

``synthetic_candidates(rng, n, start)`` draws ``n`` OBs: positions from
``dataflow.demo.distributions.target_coordinates``, constraint sets and grades from its runs
and grades, rank classes with ``RANK_CLASS_WEIGHTS``, execution times of 10 min .. 2 h, about
15 % of the OBs in groups, a few time-links (windows relative to ``start``) and
concatenations, and a few absolute / LST windows.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from astropy.time import Time

from dataflow.demo import distributions as dist
from scheduling.engine.ranking.model import (
    Candidate,
    ConcatenationMembership,
    ConstraintSet,
    GroupMembership,
    TimeLinkMembership,
    Transparency,
)


class _CommonFields(TypedDict):
    """``Candidate`` fields shared by every OB of one draw (container members alike)."""

    constraints: ConstraintSet
    user_priority: int
    rank_class: str
    grade: float


class _Windows(TypedDict, total=False):
    """Optional observing windows of a plain OB."""

    lst_windows: tuple[tuple[float, float], ...]
    absolute_windows: tuple[tuple[Time, Time], ...]


def synthetic_candidates(
    rng: np.random.Generator, n: int, start: Time, *, containers: bool = True
) -> list[Candidate]:
    """Draw ``n`` candidates for a night starting around ``start`` (UTC)."""
    ra, dec = dist.target_coordinates(rng, n)
    n_runs = max(1, n // 8)
    runs = dist.runs(rng, n_runs)
    run_grade = dist.grades(rng, n_runs)
    run_class = dist.choice(rng, dist.RANK_CLASSES, dist.RANK_CLASS_WEIGHTS, n_runs)
    run_of = rng.integers(0, n_runs, n)
    exe = np.round(np.clip(rng.lognormal(np.log(2400.0), 0.6, n), 600.0, 7200.0))
    prio = rng.integers(1, 11, n)
    pm = rng.normal(0.0, 20.0, (n, 2)) * (rng.random((n, 1)) < 0.2)
    moon_dist = rng.choice([0.0, 10.0, 30.0, 45.0], size=n, p=[0.1, 0.2, 0.5, 0.2])
    twilight = rng.random(n) < 0.05
    s0 = float(start.utc.mjd)
    kind = rng.random(n) if containers else np.ones(n)
    out: list[Candidate] = []
    i = 0
    while i < n:
        r = runs[run_of[i]]
        cons = ConstraintSet(
            max_airmass=r.max_airmass,
            min_moon_distance_deg=float(moon_dist[i]),
            max_fli=r.max_fli,
            max_seeing_arcsec=r.seeing_arcsec,
            min_transparency=Transparency.parse(r.transparency),
            twilight_offset_min=float(rng.choice([-30.0, 0.0, 30.0])) if twilight[i] else None,
        )
        common = _CommonFields(
            constraints=cons,
            user_priority=int(prio[i]),
            rank_class=run_class[run_of[i]],
            grade=float(run_grade[run_of[i]]),
        )
        k = kind[i]
        if k < 0.12:  # a group of 2..5 OBs around one field
            size = min(int(rng.integers(2, 6)), n - i)
            gid = f"G{i}"
            score = float(rng.choice([0.0, 0.0, 0.25, 0.5]))
            for j in range(size):
                out.append(
                    Candidate(
                        id=f"OB{i + j}",
                        ra_deg=float(ra[i]) + 0.1 * j,
                        dec_deg=float(dec[i]),
                        execution_time_s=float(exe[i + j]),
                        group=GroupMembership(gid, contribution=1.0 / size, group_score=score),
                        **common,
                    )
                )
            i += size
        elif k < 0.15 and i + 1 < n:  # a time-link pair: the first runs tonight
            lid = f"L{i}"
            out.append(
                Candidate(
                    id=f"OB{i}",
                    ra_deg=float(ra[i]),
                    dec_deg=float(dec[i]),
                    execution_time_s=float(exe[i]),
                    time_link=TimeLinkMembership(lid, 0, min_delay_s=0.0, max_delay_s=0.0),
                    **common,
                )
            )
            opened = rng.random() < 0.5
            out.append(
                Candidate(
                    id=f"OB{i + 1}",
                    ra_deg=float(ra[i]),
                    dec_deg=float(dec[i]),
                    execution_time_s=float(exe[i + 1]),
                    time_link=TimeLinkMembership(
                        lid,
                        1,
                        earliest=Time(s0 - 1.0, format="mjd") if opened else None,
                        latest=Time(s0 + float(rng.uniform(0.1, 1.0)), format="mjd")
                        if opened
                        else None,
                        min_delay_s=3600.0,
                        max_delay_s=3 * 86400.0,
                    ),
                    **common,
                )
            )
            i += 2
        elif k < 0.17 and i + 1 < n:  # a concatenation of two
            cid = f"C{i}"
            for j in range(2):
                out.append(
                    Candidate(
                        id=f"OB{i + j}",
                        ra_deg=float(ra[i]),
                        dec_deg=float(dec[i]),
                        execution_time_s=float(min(exe[i + j], 2400.0)),
                        concatenation=ConcatenationMembership(cid, j),
                        **common,
                    )
                )
            i += 2
        else:
            extra: _Windows = {}
            if k > 0.97:
                a = float(rng.uniform(0.0, 24.0))
                extra["lst_windows"] = ((a, (a + float(rng.uniform(2.0, 8.0))) % 24.0),)
            elif k > 0.95:
                a = s0 + float(rng.uniform(-0.1, 0.4))
                extra["absolute_windows"] = (
                    (Time(a, format="mjd"), Time(a + float(rng.uniform(0.05, 0.3)), format="mjd")),
                )
            out.append(
                Candidate(
                    id=f"OB{i}",
                    ra_deg=float(ra[i]),
                    dec_deg=float(dec[i]),
                    execution_time_s=float(exe[i]),
                    pm_ra_mas_yr=float(pm[i, 0]),
                    pm_dec_mas_yr=float(pm[i, 1]),
                    **common,
                    **extra,
                )
            )
            i += 1
    return out
