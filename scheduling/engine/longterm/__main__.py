"""Command line: solve a seeded synthetic period and print or draw it.

python -m scheduling.engine.longterm calendar --seed 1 --out cal.png
python -m scheduling.engine.longterm solve --runs 300 --telescopes 4 --nights 183
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from dataflow.astro.site import PARANAL
from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.solution import Progress, format_statistics, statistics
from scheduling.engine.longterm.synthetic import SyntheticSpec, synthetic_problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduling.engine.longterm")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("calendar", "solve"):
        p = sub.add_parser(name)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--runs", type=int, default=300)
        p.add_argument("--telescopes", type=int, default=4)
        p.add_argument("--nights", type=int, default=183)
        p.add_argument("--start", type=date.fromisoformat, default=date(2026, 4, 1))
        p.add_argument("--load", type=float, default=0.7, help="VM load; <= 0: natural mix")
        p.add_argument("--solver", choices=("cpsat", "greedy"), default="cpsat")
        p.add_argument("--time-limit", type=float, default=30.0)
        p.add_argument("--workers", type=int, default=2)
        if name == "calendar":
            p.add_argument("--out", default="longterm_calendar.png")
    args = parser.parse_args(argv)
    spec = SyntheticSpec(
        n_runs=args.runs,
        n_telescopes=args.telescopes,
        n_nights=args.nights,
        start=args.start,
        vm_load=args.load if args.load > 0 else None,
        seed=args.seed,
    )
    problem = synthetic_problem(spec, site=PARANAL)
    if args.solver == "greedy":
        solution = solve_greedy(problem)
    else:

        def show(p: Progress) -> None:
            print(
                f"\r  {p.elapsed_s:6.1f} s  objective {p.objective:.6g}  bound {p.bound:.6g}"
                f"  gap {100 * p.gap:.4f} %",
                end="",
                file=sys.stderr,
            )

        solution = solve_cpsat(
            problem,
            time_limit_s=args.time_limit,
            num_workers=args.workers,
            random_seed=args.seed,
            progress=show,
        )
        print(file=sys.stderr)
    errors = check_solution(problem, solution)
    info = solution.info
    print(
        f"{info.solver}: {info.status}, objective {info.objective}, bound {info.bound}, "
        f"winner {info.winner}, {info.wall_s:.1f} s; checker: "
        + ("OK" if not errors else f"{len(errors)} violations: {errors[:3]}")
    )
    if args.command == "solve":
        print(format_statistics(problem, statistics(problem, solution)))
    else:
        from scheduling.engine.longterm.plot import render_calendar

        print(f"calendar written to {render_calendar(problem, solution, args.out)}")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
