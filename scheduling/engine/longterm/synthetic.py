"""Seeded synthetic periods for tests, benchmarks and the calendar demo.

The runs come from the shared demo distributions (:mod:`dataflow.demo.distributions`): grades
around 2.6 with a spread, rank classes A/B/C (correlated with the grade), about a third VM
runs of 1-5 (or half) nights, moon half dark / a quarter grey / a quarter bright, targets
isotropic plus a Galactic-plane population (so RA 16-19 h is oversubscribed, as in real
calls), airmass limits 1.2-2.5. The sky (night lengths, moon, visibility) comes from the sky
model through :func:`scheduling.engine.longterm.sky.sky_arrays`.

Telescopes carry three instruments; two share a focus and alternate in blocks of two to six
weeks (an instrument change costs one technical night); about 10 % of nights are technical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from dataflow.astro.site import PARANAL, Site
from dataflow.demo import distributions as dist
from scheduling.engine.longterm.problem import Link, Problem, Run, Telescope
from scheduling.engine.longterm.sky import SkyArrays, sky_arrays

UT_INSTRUMENTS = {
    "UT1": ("FORS2", "KMOS", "NACO"),
    "UT2": ("UVES", "FLAMES", "X-SHOOTER"),
    "UT3": ("SPHERE", "VISIR", "CRIRES"),
    "UT4": ("MUSE", "HAWK-I", "ERIS"),
}


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and mix of a synthetic period.

    ``vm_load``: requested VM nights / nights not technical, over all telescopes; VM runs are
    drawn until it is reached (the rest SM). ``None`` keeps the distributions' VM fraction
    (about a third of runs). ``link_fraction`` of VM runs get a link to another run.
    """

    n_runs: int = 300
    n_telescopes: int = 4
    n_nights: int = 183
    start: date = date(2026, 4, 1)
    vm_load: float | None = 0.7
    technical_fraction: float = 0.10
    preferred_fraction: float = 0.2
    impossible_fraction: float = 0.15
    link_fraction: float = 0.03
    ra_bins: int = 12
    seed: int = 1
    sky_step_minutes: float = 20.0
    extra: dict[str, object] = field(default_factory=dict)


SkyFunction = Callable[..., SkyArrays]


def telescopes_for(
    rng: np.random.Generator, spec: SyntheticSpec
) -> tuple[list[str], dict[str, tuple[str, ...]], list[Telescope]]:
    names = [f"UT{i + 1}" if i < 4 else f"T{i + 1}" for i in range(spec.n_telescopes)]
    insts: dict[str, tuple[str, ...]] = {
        n: UT_INSTRUMENTS.get(n, (f"{n}-A", f"{n}-B", f"{n}-C")) for n in names
    }
    d = spec.n_nights
    dates = [spec.start + timedelta(days=i) for i in range(d)]
    out = []
    for n in names:
        a, b, c = insts[n]
        tech = np.zeros(d, dtype=bool)
        mounted_b = np.zeros(d, dtype=bool)
        i, on_b = 0, bool(rng.integers(2))
        while i < d:
            length = int(rng.integers(14, 43))
            mounted_b[i : i + length] = on_b
            if i > 0:
                tech[i] = True  # the instrument change night
            i += length
            on_b = not on_b
        # maintenance blocks and scattered technical nights up to the requested fraction
        while tech.mean() < spec.technical_fraction:
            if rng.random() < 0.3:
                j = int(rng.integers(0, d))
                tech[j : j + int(rng.integers(2, 5))] = True
            else:
                tech[int(rng.integers(0, d))] = True
        mounted = {a: np.ones(d, dtype=bool), b: mounted_b, c: ~mounted_b}
        out.append(
            Telescope(
                name=n,
                mounted=mounted,
                technical=frozenset(dates[k] for k in np.flatnonzero(tech)),
            )
        )
    return names, insts, out


def synthetic_problem(
    spec: SyntheticSpec, site: Site = PARANAL, sky: SkyFunction = sky_arrays
) -> Problem:
    """A seeded synthetic :class:`~.problem.Problem` (``sky`` is injectable for tests)."""
    rng = np.random.default_rng(spec.seed)
    d = spec.n_nights
    names, insts, telescopes = telescopes_for(rng, spec)
    available = sum(d - len(t.technical) for t in telescopes)
    pool = dist.runs(rng, 4 * spec.n_runs + 50)
    if spec.vm_load is None:
        draws = pool[: spec.n_runs]
    else:
        vm_pool = [r for r in pool if r.mode == "VM"]
        sm_pool = [r for r in pool if r.mode == "SM"]
        draws, nights = [], 0.0
        while vm_pool and nights < spec.vm_load * available and len(draws) < spec.n_runs:
            r = vm_pool.pop()
            draws.append(r)
            nights += r.nights
        draws += sm_pool[: spec.n_runs - len(draws)]
        order = rng.permutation(len(draws))
        draws = [draws[i] for i in order]
    n = len(draws)
    grades = dist.grades(rng, n)
    noisy = grades + rng.normal(0.0, 0.4, n)
    cuts = np.quantile(noisy, np.cumsum(dist.RANK_CLASS_WEIGHTS)[:-1])
    classes = [dist.RANK_CLASSES[int(np.searchsorted(cuts, g))] for g in noisy]
    tel_of = rng.integers(0, len(names), n)
    inst_of = [insts[names[t]][int(rng.choice(3, p=[0.4, 0.3, 0.3]))] for t in tel_of]

    end = spec.start + timedelta(days=d - 1)
    ra0, dec0 = _primary_targets(rng, spec, site, sky, draws, end)
    # companions within a few degrees of the primary
    ras, decs, airmasses, owner = [], [], [], []
    for i, r in enumerate(draws):
        k = int(r.n_targets)
        ras += list((ra0[i] + np.r_[0.0, rng.normal(0, 12.0, k - 1)]) % 360.0)
        decs += list(np.clip(dec0[i] + np.r_[0.0, rng.normal(0, 5.0, k - 1)], -89.0, 30.0))
        airmasses += [r.max_airmass] * k
        owner += [i] * k
    arrays = sky(
        site,
        np.array(ras),
        np.array(decs),
        spec.start,
        end,
        np.array(airmasses),
        step_minutes=spec.sky_step_minutes,
    )
    owner_arr = np.array(owner)
    dates = arrays.dates
    runs = []
    for i, r in enumerate(draws):
        targets = np.flatnonzero(owner_arr == i)
        hours = arrays.run_hours(targets)
        tra = np.radians(np.array(ras)[targets])
        ra_mean = float(np.degrees(np.arctan2(np.sin(tra).mean(), np.cos(tra).mean())) % 360.0)
        preferred: frozenset[date] = frozenset()
        impossible: frozenset[date] = frozenset()
        if r.mode == "VM":
            if rng.random() < spec.preferred_fraction:
                j = int(rng.integers(0, d))
                preferred = frozenset(dates[j : j + int(rng.integers(5, 15))])
            if rng.random() < spec.impossible_fraction:
                j = int(rng.integers(0, d))
                impossible = frozenset(dates[j : j + int(rng.integers(3, 12))])
        runs.append(
            Run(
                id=f"{i:04d}{r.mode[0]}",
                telescope=names[tel_of[i]],
                instrument=inst_of[i],
                mode="VM" if r.mode == "VM" else "SM",
                rank_class=classes[i],  # type: ignore[arg-type]
                grade=float(grades[i]),
                visible_hours=hours,
                ra_deg=ra_mean,
                max_fli=r.max_fli,
                nights=r.nights,
                hours=r.hours,
                preferred=preferred,
                impossible=impossible,
            )
        )
    links = _links(rng, runs, spec.link_fraction)
    return Problem(
        dates=dates,
        dark_hours=arrays.dark_hours,
        moon_fli=arrays.moon_fli,
        telescopes=tuple(telescopes),
        runs=tuple(runs),
        links=tuple(links),
        ra_bins=spec.ra_bins,
    )


def _primary_targets(
    rng: np.random.Generator,
    spec: SyntheticSpec,
    site: Site,
    sky: SkyFunction,
    draws: list[dist.RunDraw],
    end: date,
    candidates: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """One primary target per run from the shared distribution, redrawn (up to
    ``candidates`` times) until it passes a Phase 1 style check: observable at the run's
    airmass for at least half the night on ``max(5, 3 x nights)`` nights (VM), or for three
    times the requested hours over the period (SM). Proposers ask for what the period can
    give, so the seasons' RA pressure shows without swamping the problem with dead runs."""
    n = len(draws)
    ra, dec = dist.target_coordinates(rng, n * candidates)
    airmass = np.repeat([r.max_airmass for r in draws], candidates)
    arrays = sky(site, ra, dec, spec.start, end, airmass, step_minutes=spec.sky_step_minutes)
    hours = arrays.target_hours.reshape(n, candidates, -1)
    good_nights = (hours >= 0.5 * arrays.dark_hours).sum(axis=2)
    total = hours.sum(axis=2)
    need_nights = np.array([max(5.0, 3 * r.nights) for r in draws])
    need_hours = np.array([3 * r.hours for r in draws])
    vm = np.array([r.mode == "VM" for r in draws])
    ok = np.where(vm[:, None], good_nights >= need_nights[:, None], total >= need_hours[:, None])
    pick = np.where(ok.any(axis=1), np.argmax(ok, axis=1), 0)
    idx = np.arange(n) * candidates + pick
    return ra[idx], dec[idx]


def _links(rng: np.random.Generator, runs: list[Run], fraction: float) -> list[Link]:
    """A few follow-up pairs (second run 20-60 nights after the first) and simultaneous
    pairs on two telescopes, among VM runs not linked yet."""
    vm = [r for r in runs if r.mode == "VM"]
    n_pairs = int(round(fraction * len(vm) / 2))
    order = list(rng.permutation(len(vm)))
    used: set[str] = set()
    out: list[Link] = []
    while order and len(out) < n_pairs:
        a = vm[order.pop()]
        if a.id in used:
            continue
        simultaneous = rng.random() < 0.3
        match = None
        for j in order:
            b = vm[j]
            if b.id in used:
                continue
            if simultaneous and b.telescope != a.telescope and b.nights == a.nights:
                match = b
                break
            if not simultaneous and b.telescope == a.telescope:
                match = b
                break
        if match is None:
            continue
        used |= {a.id, match.id}
        if simultaneous:
            out.append(Link(a.id, match.id, "same_nights"))
        else:
            out.append(Link(a.id, match.id, "apart", min_days=20, max_days=60))
    return out
