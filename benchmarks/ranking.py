"""Benchmark of the ranking engine against astroplan, in the same run.

Run: ``.venv/bin/python -m benchmarks.ranking`` (add ``--quick`` for a smoke run).

For 1,000, 10,000 and 100,000 synthetic candidates (``dataflow.demo.distributions`` through
``scheduling.engine.ranking.synthetic``) it prints the median time of

* ``rank``: one ranking at a new instant each repetition, *including* the Sun/Moon/LST for
  that instant and its "fits from now" horizon (``sky_samples`` every 5 min), with a prebuilt
  ``CandidateArrays`` (its build time and the once-per-night apparent-place preparation are
  printed separately);
* ``rank (analytic sky)``: the same with the low-precision closed-form Sun/Moon;
* ``rank (at start)``: "at start only", the like-for-like of astroplan's single instant;
* ``astroplan``: ``is_observable`` with the equivalent constraints (Airmass, AtNight,
  MoonSeparation, MoonIllumination) at the same instant for the same targets. For the
  comparison every candidate gets the same constraint set, since astroplan constraints take
  one limit. On 100,000 astroplan is timed on a 10,000 subset and scaled linearly (printed);
* a whole simulated night over 10,000 candidates.

Then it prints the ratios and the targets (10k <= 20 ms, 100k <= 100 ms, >= 100x astroplan,
a night over 10k <= 5 s). Timings on a shared machine are noisy: medians of several runs.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import astropy.units as u
import numpy as np
from astropy.time import Time

from dataflow.astro.site import PARANAL
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import prepare_geometry, rank
from scheduling.engine.ranking.model import Conditions, RankingOptions, Transparency
from scheduling.engine.ranking.simulate import SimulationResult, simulate_night
from scheduling.engine.ranking.synthetic import synthetic_candidates

NIGHT_DATE = datetime.date(2026, 3, 10)
INSTANT = Time("2026-03-11T04:00:00", scale="utc")
CONDITIONS = Conditions(seeing_arcsec=0.8, transparency=Transparency.CLEAR, wind_speed_ms=6.0)
UNIFORM = dict(max_airmass=2.0, min_moon_distance_deg=30.0, max_fli=0.7, sun_max=-18.0)


def median_ms(fn: Callable[[int], object], reps: int) -> float:
    times = []
    for k in range(reps):
        t0 = time.perf_counter()
        fn(k)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def uniform_arrays(arrays: CandidateArrays) -> CandidateArrays:
    """The same targets with astroplan's single constraint set (and nothing else)."""
    n = len(arrays)
    return replace(
        arrays,
        max_airmass=np.full(n, UNIFORM["max_airmass"]),
        min_moon_distance_deg=np.full(n, UNIFORM["min_moon_distance_deg"]),
        max_fli=np.full(n, UNIFORM["max_fli"]),
        max_seeing_arcsec=np.full(n, np.inf),
        min_transparency=np.zeros(n, dtype=np.int8),
        twilight_offset_min=np.full(n, np.nan),
        has_abs=np.zeros(n, dtype=bool),
        has_lst=np.zeros(n, dtype=bool),
        link=np.full(n, -1),
        concat=np.full(n, -1),
        concat_offset_s=np.zeros(n),
        concat_total_s=arrays.execution_s.copy(),
        cache={},
    )


def astroplan_ms(
    arrays: CandidateArrays, reps: int, window_s: float | None = None
) -> tuple[float, np.ndarray]:
    """Median ms of astroplan on ``arrays``' targets: ``is_observable`` at one instant, or with
    ``window_s`` ``is_always_observable`` over [t, t + window] on a 5-minute grid (the
    equivalent of "fits from now" for one common execution time)."""
    from astroplan import (
        AirmassConstraint,
        AtNightConstraint,
        MoonIlluminationConstraint,
        MoonSeparationConstraint,
        Observer,
        is_always_observable,
        is_observable,
    )
    from astropy.coordinates import SkyCoord

    observer = Observer(location=PARANAL.location)
    constraints = [
        AirmassConstraint(max=UNIFORM["max_airmass"]),
        AtNightConstraint(max_solar_altitude=UNIFORM["sun_max"] * u.deg),
        MoonSeparationConstraint(min=UNIFORM["min_moon_distance_deg"] * u.deg),
        MoonIlluminationConstraint(max=UNIFORM["max_fli"]),
    ]
    targets = SkyCoord(arrays.ra_deg * u.deg, arrays.dec_deg * u.deg)
    out: list[np.ndarray] = []

    def run(k: int) -> None:
        t = INSTANT + k * 37 * u.s
        if window_s is None:
            out.append(np.asarray(is_observable(constraints, observer, targets, times=Time([t]))))
        else:
            out.append(
                np.asarray(
                    is_always_observable(
                        constraints,
                        observer,
                        targets,
                        time_range=Time([t, t + window_s * u.s]),
                        time_grid_resolution=5 * u.min,
                    )
                )
            )

    return median_ms(run, reps), out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    reps = 5 if args.quick else 15
    rng = np.random.default_rng(20260310)
    opts = RankingOptions(moon_elevation_limit_deg=0.0)
    at_start = replace(opts, fits_from_now=False)
    print(f"ranking benchmark at {INSTANT.isot} UTC, Paranal; medians in ms")
    warm = CandidateArrays.build(synthetic_candidates(np.random.default_rng(0), 50, INSTANT))
    rank(warm, site=PARANAL, time=INSTANT, conditions=CONDITIONS)  # load ERFA/IERS once
    rows = []
    arrays_by_n: dict[int, CandidateArrays] = {}
    for n in sizes:
        t0 = time.perf_counter()
        cands = synthetic_candidates(rng, n, INSTANT)
        arrays = CandidateArrays.build(cands)
        build_ms = (time.perf_counter() - t0) * 1e3
        arrays_by_n[n] = arrays
        t0 = time.perf_counter()
        prepare_geometry(arrays, PARANAL, float(INSTANT.utc.mjd))
        prep_ms = (time.perf_counter() - t0) * 1e3
        r = reps if n <= 10_000 else max(5, reps // 2)

        def ranked(k: int, a: CandidateArrays = arrays, **kw: object) -> object:
            return rank(a, site=PARANAL, time=INSTANT + k * 37 * u.s, conditions=CONDITIONS, **kw)  # type: ignore[arg-type]

        rank(arrays, site=PARANAL, time=INSTANT, conditions=CONDITIONS)  # warm-up
        full = median_ms(lambda k: ranked(k, options=opts), r)
        uni = uniform_arrays(arrays)
        analytic = median_ms(lambda k: ranked(k, options=opts, sky_method="analytic"), r)
        prepare_geometry(uni, PARANAL, float(INSTANT.utc.mjd))
        start_only = median_ms(
            lambda k: rank(
                uni,  # noqa: B023  (called before the loop variable changes)
                site=PARANAL,
                time=INSTANT + k * 37 * u.s,
                conditions=CONDITIONS,
                options=at_start,
            ),
            r,
        )
        res = rank(arrays, site=PARANAL, time=INSTANT, conditions=CONDITIONS, options=opts)
        t0 = time.perf_counter()
        _ = res.top(20)
        top_ms = (time.perf_counter() - t0) * 1e3
        sub = (
            uni
            if n <= 10_000
            else replace(uniform_arrays(arrays_by_n.get(10_000, arrays)), cache={})
        )
        ap_reps = 3 if n <= 10_000 else 1
        ap, ap_mask = astroplan_ms(sub, ap_reps)
        window = float(np.median(arrays.execution_s))
        ap_fit, _ = astroplan_ms(sub, ap_reps, window_s=window)
        scale = n / len(sub)
        ap_scaled = ap * scale
        ap_fit_scaled = ap_fit * scale
        # agreement on the uniform set, at start (same instant as astroplan's first run)
        mine = rank(
            sub,
            site=PARANAL,
            time=INSTANT,
            conditions=Conditions(seeing_arcsec=1.0),
            options=replace(at_start, zenith_avoidance_deg=0.0, wind_restriction=False),
        )
        ok = np.zeros(len(sub), dtype=bool)
        ok[mine.order] = True
        agree = float(np.mean(ok == ap_mask.astype(bool)))
        rows.append(
            (
                n,
                build_ms,
                prep_ms,
                full,
                analytic,
                start_only,
                top_ms,
                ap_scaled,
                scale,
                agree,
                len(res.order),
                ap_fit_scaled,
            )
        )
        print(
            f"N={n:>7,}: build arrays {build_ms:8.1f} | per-night prep {prep_ms:7.1f} | "
            f"rank {full:7.2f} | analytic sky {analytic:7.2f} | at start {start_only:7.2f} | "
            f"top-20 objects {top_ms:5.2f} | astroplan {ap_scaled:9.1f}"
            + (f" (timed on {len(sub):,}, x{scale:.0f})" if scale != 1 else "")
            + f" | observable {len(res.order):,} | agreement with astroplan {agree:.4f}"
            + f"\n{'':12}astroplan is_always_observable over a {window / 60:.0f}-min execution "
            f"(5-min grid): {ap_fit_scaled:9.1f}"
        )
    # filtered list with reasons and observable_from for 10k (lazy, on demand)
    a10 = arrays_by_n[10_000]
    res = rank(a10, site=PARANAL, time=INSTANT, conditions=CONDITIONS, options=opts)
    t0 = time.perf_counter()
    filtered = res.filtered
    filt_ms = (time.perf_counter() - t0) * 1e3
    print(
        f"10k: building {len(filtered):,} FilteredOB with reasons and observable_from "
        f"(on demand): {filt_ms:.0f} ms"
    )
    night_reps = 1 if args.quick else 3
    sims: list[SimulationResult] = []

    def night(_: int) -> None:
        sims.append(
            simulate_night(a10, site=PARANAL, date=NIGHT_DATE, weather=CONDITIONS, options=opts)
        )

    night_ms = median_ms(night, night_reps)
    sim = sims[0]
    print(
        f"simulated night {NIGHT_DATE} over 10,000 candidates: {night_ms / 1e3:.2f} s "
        f"({sim.rankings} rankings, {len(sim.executed)} executed)"
    )
    print("\nratios and targets")
    for n, _b, _p, full, analytic, start_only, _t, ap, _s, _a, _o, ap_fit in rows:
        print(
            f"N={n:>7,}: one instant: astroplan is_observable / rank at start = "
            f"{ap / start_only:5.0f}x | over the execution: astroplan is_always_observable / "
            f"rank fits-from-now = {ap_fit / full:5.0f}x (analytic sky: {ap_fit / analytic:5.0f}x)"
        )
    by_n = {r[0]: r for r in rows}
    checks = [("10k rank <= 20 ms", by_n[10_000][3] <= 20.0, f"{by_n[10_000][3]:.2f} ms")]
    for n in (10_000, 100_000):
        if n not in by_n:
            continue
        row = by_n[n]
        if n == 100_000:
            checks.append(("100k rank <= 100 ms", row[3] <= 100.0, f"{row[3]:.2f} ms"))
        one, fit = row[7] / row[5], row[11] / row[3]
        checks.append(
            (f">= 100x astroplan at {n // 1000}k, one instant", one >= 100, f"{one:.0f}x")
        )
        checks.append(
            (f">= 100x astroplan at {n // 1000}k, over the execution", fit >= 100, f"{fit:.0f}x")
        )
    checks.append(("night over 10k <= 5 s", night_ms <= 5000.0, f"{night_ms / 1e3:.2f} s"))
    for name, ok_, value in checks:
        print(f"  {'MET ' if ok_ else 'MISS'} {name}: {value}")


if __name__ == "__main__":
    main()
