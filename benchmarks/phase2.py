"""Phase 2 benchmark: the execution time of an OB (target <= 5 ms), verifying a 100-OB
container (<= 1 s) and the tree of a 2,000-OB run, page and API (<= 300 ms on PostgreSQL,
constant queries; ``benchmarks/phase2_db.py``).

    python -m benchmarks.phase2              # all; 5,000 repetitions of the execution time
    python -m benchmarks.phase2 --quick      # 500 repetitions, 5 of the database timings
    python -m benchmarks.phase2 --no-db      # the execution time only (no database)

The database part uses ``DATABASE_URL`` (default: the local PostgreSQL) and creates and drops
its own database.

The OB: HAWK-I's acquisition then 19 science and calibration templates cycled from the
instrument fixture (``observations/fixtures/instruments.json``, read as JSON: no database),
each with a few values changed from the defaults. Timed per call, median and 99th percentile:

* ``execution_time``: ``observations.exectime.execution_time`` on values that already hold
  the defaults;
* ``effective + execution_time``: what the services do per OB once the rows are loaded,
  merging each template's values with its signature's defaults first (the target's measure);
* baseline: a plain ``sum`` of the same per-template seconds, precomputed, in the same run.

The ratio to the baseline shows the cost of the breakdown (lines, labels, defensive value
reading) over bare arithmetic. Timings are wall-clock on a shared machine: other processes
make them noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from observations.exectime import Breakdown, Overheads, TemplateInput, execution_time
from observations.parameters import effective

FIXTURE = Path(__file__).resolve().parents[1] / "observations/fixtures/instruments.json"
INSTRUMENT = 8  # HAWK-I in the paranal fixture
# Values an astronomer would set, where the template has the parameter.
CHANGES = {"DET.DIT": 15.0, "DET.NDIT": 4, "SEQ.NJITT": 12, "SEQ.NEXPO": 3}


def twenty_template_ob(
    n_templates: int,
) -> tuple[Overheads, list[tuple[list[dict[str, Any]], str, dict[str, Any], dict[str, Any]]]]:
    """The overheads and (definitions, type, exposure, values) of an OB of HAWK-I."""
    records = json.loads(FIXTURE.read_text())
    fields = [r["fields"] for r in records if r["fields"]["instrument"] == INSTRUMENT]
    overhead = next(f for f in fields if "preset_s" in f)
    overheads = Overheads(
        overhead["preset_s"],
        overhead["acquisition_s"],
        overhead["template_s"],
        overhead["readout_s"],
    )
    signatures = [f for f in fields if "parameters" in f]
    acquisition = next(s for s in signatures if s["type"] == "acquisition")
    others = [s for s in signatures if s["type"] != "acquisition"]
    chosen = [acquisition] + [others[i % len(others)] for i in range(n_templates - 1)]
    ob = []
    for signature in chosen:
        names = {d["name"] for d in signature["parameters"]}
        values = {k: v for k, v in CHANGES.items() if k in names}
        ob.append((signature["parameters"], signature["type"], signature["exposure"], values))
    return overheads, ob


def timed_ms(fn: Callable[[], object], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phase2")
    parser.add_argument("--quick", action="store_true", help="500 repetitions")
    parser.add_argument("--reps", type=int, default=5000)
    parser.add_argument("--templates", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=5.0, help="execution time target")
    parser.add_argument("--no-db", action="store_true", help="skip the database timings")
    parser.add_argument("--db-reps", type=int, default=20)
    args = parser.parse_args(argv)
    reps = 500 if args.quick else args.reps
    overheads, ob = twenty_template_ob(args.templates)
    print(
        f"phase 2 benchmark: execution time of a {len(ob)}-template HAWK-I OB, {reps} "
        f"repetitions; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
        "(shared machine: timings are noisy)"
    )
    resolved: list[TemplateInput] = [
        (kind, exposure, effective(definitions, values))
        for definitions, kind, exposure, values in ob
    ]

    def core() -> Breakdown:
        return execution_time(overheads, resolved)

    def full() -> Breakdown:
        return execution_time(
            overheads,
            [
                (kind, exposure, effective(definitions, values))
                for definitions, kind, exposure, values in ob
            ],
        )

    breakdown = full()
    per_line = [line.seconds for line in breakdown.lines]

    def baseline() -> float:
        return sum(per_line)

    assert abs(baseline() - breakdown.execution_s) < 1e-6
    print(
        f"  the OB: {breakdown.n_exposures} exposures, exposure {breakdown.exposure_s:.0f} s, "
        f"execution {breakdown.execution_s:.0f} s, {len(breakdown.lines)} breakdown lines"
    )
    results = {}
    print(f"  {'':<30} {'median ms':>10} {'p99 ms':>9} {'max ms':>9}")
    for name, fn in (
        ("baseline (sum of the lines)", baseline),
        ("execution_time", core),
        ("effective + execution_time", full),
    ):
        fn()  # warm up
        times = sorted(timed_ms(fn, reps))
        median, p99 = statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]
        results[name] = (median, p99)
        print(f"  {name:<30} {median:>10.4f} {p99:>9.4f} {times[-1]:>9.4f}")
    median, p99 = results["effective + execution_time"]
    ok = p99 <= args.target_ms
    verdicts = [ok]
    print(
        f"  {'MET ' if ok else 'MISS'} execution time of a {len(ob)}-template OB <= "
        f"{args.target_ms:g} ms: median {median:.3f} ms, p99 {p99:.3f} ms (effective + "
        "execution_time)"
    )
    base = results["baseline (sum of the lines)"][0]
    print(
        f"  ratio execution_time / baseline: {results['execution_time'][0] / base:.0f}x; "
        f"effective + execution_time / baseline: {median / base:.0f}x (medians)"
    )
    if not args.no_db:
        from benchmarks import phase2_db

        verdicts += phase2_db.run(5 if args.quick else args.db_reps, phase2_db.Targets())
    print(f"phase 2: {sum(verdicts)} of {len(verdicts)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
