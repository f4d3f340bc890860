"""Reviewer-assignment benchmark: greedy baseline vs CP-SAT on seeded synthetic panels.

    python -m benchmarks.review_assignment             # 1,000 proposals, 120 reviewers, 12 panels
    python -m benchmarks.review_assignment --quick     # 3 panels, 250 proposals
    python -m benchmarks.review_assignment --seed 7 --workers 1

The period: four categories (cosmology; galaxies; ISM, star formation and planets; stars),
three panels each, 10 reviewers per panel, proposals split unevenly between panels, 3
reviewers each (1 primary). Keywords come from a small vocabulary per category with a few
popular ones; reviewers declare 3-6 of them, proposals 1-4. Conflicts are realistic: a
reviewer conflicts with a proposal whose PI or co-investigators share their institute (80
institutes, a few large ones; a team spans 1-3 of them) and with proposals they are on
themselves: about 7-9 % of the pairs.

Each panel is solved on its own (as the services do), in the same run, by the greedy
baseline, by ``solve_assignment`` (its default min-cost flow) and, as a cross-check, by the
same model in CP-SAT (``method="cpsat"``, which must return the same pairs). The targets are
checked on the whole period: every panel feasible with 0 conflicts (the independent
checker), loads within +-1 of each panel's mean, and the total time of the 12
``solve_assignment`` calls <= 10 s. The expertise match (sum over pairs of shared keywords)
of each and the ratio optimiser / greedy are printed; ``dev`` is the largest |load - mean| in
the panel, ``viol`` the checker's violations of greedy (loads or primaries off balance).
Timings are wall-clock on a shared machine: other processes make them noisy.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from proposals.review.optimiser.checker import check_assignment
from proposals.review.optimiser.greedy import greedy_assignment
from proposals.review.optimiser.problem import (
    AssignmentProblem,
    AssignmentResult,
    Paper,
    Reviewer,
)
from proposals.review.optimiser.solve import solve_assignment

CATEGORIES: dict[str, tuple[str, ...]] = {
    "cosmology": (
        "galaxy-clusters",
        "gravitational-lensing",
        "high-redshift",
        "quasars",
        "reionisation",
        "intergalactic-medium",
        "large-scale-structure",
        "gamma-ray-bursts",
        "dark-matter",
        "cosmic-distance-scale",
        "supernovae-cosmology",
        "lyman-alpha",
    ),
    "galaxies": (
        "agn",
        "galaxy-evolution",
        "star-forming-galaxies",
        "galaxy-dynamics",
        "dwarf-galaxies",
        "stellar-populations",
        "black-holes",
        "galactic-centre",
        "magellanic-clouds",
        "galaxy-mergers",
        "ifu-kinematics",
        "circumgalactic-medium",
    ),
    "ism-planets": (
        "star-formation",
        "protoplanetary-disks",
        "exoplanets",
        "radial-velocities",
        "transits",
        "brown-dwarfs",
        "molecular-clouds",
        "hii-regions",
        "astrochemistry",
        "debris-disks",
        "solar-system",
        "direct-imaging",
    ),
    "stars": (
        "massive-stars",
        "binaries",
        "asteroseismology",
        "white-dwarfs",
        "supernovae",
        "stellar-abundances",
        "globular-clusters",
        "variable-stars",
        "neutron-stars",
        "planetary-nebulae",
        "stellar-winds",
        "open-clusters",
    ),
}
N_INSTITUTES = 80


@dataclass(frozen=True)
class Panel:
    name: str
    problem: AssignmentProblem


def synthetic_period(
    *, n_papers: int, n_panels: int, per_panel: int, needs: int, seed: int
) -> list[Panel]:
    """Seeded panels of a period: papers, reviewers with institutes, conflicts, keywords."""
    rng = np.random.default_rng(seed)
    institute_p = 1.0 / np.arange(1, N_INSTITUTES + 1) ** 0.8  # a few large institutes
    institute_p /= institute_p.sum()
    shares = rng.dirichlet(np.full(n_panels, 12.0))  # uneven panels, none tiny
    sizes = rng.multinomial(n_papers, shares)
    categories = list(CATEGORIES)
    panels = []
    for k in range(n_panels):
        vocab = CATEGORIES[categories[k % len(categories)]]
        popular = rng.permutation(len(vocab))  # this panel's favourite topics first
        kw_p = np.empty(len(vocab))
        kw_p[popular] = 1.0 / np.arange(1, len(vocab) + 1) ** 0.7
        kw_p /= kw_p.sum()

        rid0, pid0 = 1000 * (k + 1), 100_000 * (k + 1)
        reviewers = tuple(
            Reviewer(
                id=rid0 + j, expertise=_keywords(rng, vocab, 3, 6, (kw_p + 1 / len(vocab)) / 2)
            )
            for j in range(per_panel)
        )
        home = {r.id: int(rng.choice(N_INSTITUTES, p=institute_p)) for r in reviewers}
        papers, conflicts = [], set()
        for i in range(int(sizes[k])):
            paper = Paper(id=pid0 + i, keywords=_keywords(rng, vocab, 1, 4, kw_p), needs=needs)
            papers.append(paper)
            team = set(rng.choice(N_INSTITUTES, int(rng.integers(1, 4)), p=institute_p))
            conflicts |= {(paper.id, r.id) for r in reviewers if home[r.id] in team}
        # Reviewers are astronomers too: some are on proposals of their own panel.
        for r in reviewers:
            for i in rng.choice(len(papers), int(rng.integers(0, 3)), replace=False):
                conflicts.add((papers[i].id, r.id))
        problem = AssignmentProblem(
            papers=tuple(papers), reviewers=reviewers, conflicts=frozenset(conflicts)
        )
        panels.append(
            Panel(f"{categories[k % len(categories)]}-{k // len(categories) + 1}", problem)
        )
    return panels


def _keywords(
    rng: np.random.Generator, vocab: tuple[str, ...], lo: int, hi: int, p: np.ndarray
) -> frozenset[str]:
    n = int(rng.integers(lo, hi + 1))
    return frozenset(vocab[i] for i in rng.choice(len(vocab), n, replace=False, p=p))


def max_deviation(problem: AssignmentProblem, result: AssignmentResult) -> float:
    """The largest |load - mean| over the panel's reviewers."""
    mean = Fraction(sum(result.loads.values()), len(problem.reviewers))
    return float(max(abs(load - mean) for load in result.loads.values()))


def conflicts_assigned(problem: AssignmentProblem, result: AssignmentResult) -> int:
    return sum((pid, rid) in problem.conflicts for pid, rid, _ in result.pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.review_assignment")
    parser.add_argument("--quick", action="store_true", help="3 panels, 250 proposals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers")
    parser.add_argument("--target-s", type=float, default=10.0, help="total time target, s")
    parser.add_argument("--no-cpsat", action="store_true", help="skip the CP-SAT cross-check")
    args = parser.parse_args(argv)
    n_papers, n_panels = (250, 3) if args.quick else (1000, 12)
    per_panel, needs = 10, 3
    print(
        f"reviewer assignment benchmark: {n_papers} proposals, {n_panels * per_panel} reviewers "
        f"in {n_panels} panels, {needs} reviewers each (1 primary), seed {args.seed}; "
        f"optimiser: min-cost flow (method='flow'), cross-checked by the same model in CP-SAT "
        f"(method='cpsat', num_workers={args.workers}); {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (shared machine: timings are noisy)"
    )
    t0 = time.perf_counter()
    panels = synthetic_period(
        n_papers=n_papers, n_panels=n_panels, per_panel=per_panel, needs=needs, seed=args.seed
    )
    print(f"generated in {time.perf_counter() - t0:.2f} s")
    print(
        f"  {'panel':<15} {'papers':>6} {'confl':>6} | {'greedy':>6} {'dev':>5} {'viol':>4} | "
        f"{'flow':>6} {'dev':>5} {'s':>5} {'status':<8} {'wid':>3} checker | "
        f"{'CP-SAT':>6} {'s':>5} {'status':<8} same pairs"
    )
    score = {"greedy": 0, "flow": 0, "cpsat": 0}
    seconds = {"greedy": 0.0, "flow": 0.0, "cpsat": 0.0}
    all_valid, balanced, greedy_balanced, same = True, True, True, True
    uncovered, greedy_errors = 0, []
    for panel in panels:
        problem = panel.problem
        pairs = len(problem.papers) * len(problem.reviewers)
        greedy = greedy_assignment(problem)
        flow = solve_assignment(problem, seed=args.seed)
        g_err, f_err = check_assignment(problem, greedy), check_assignment(problem, flow)
        g_dev, f_dev = max_deviation(problem, greedy), max_deviation(problem, flow)
        all_valid &= not f_err and flow.status != "infeasible"
        all_valid &= conflicts_assigned(problem, flow) == 0
        balanced &= f_dev <= 1
        greedy_balanced &= g_dev <= 1
        greedy_errors += g_err
        uncovered += len(flow.uncovered)
        for name, result in (("greedy", greedy), ("flow", flow)):
            score[name] += result.expertise_score
            seconds[name] += result.seconds
        row = (
            f"  {panel.name:<15} {len(problem.papers):>6} "
            f"{100 * len(problem.conflicts) / pairs:>5.1f}% | "
            f"{greedy.expertise_score:>6} {g_dev:>5.2f} {len(g_err):>4} | "
            f"{flow.expertise_score:>6} {f_dev:>5.2f} {flow.seconds:>5.2f} {flow.status:<8} "
            f"{flow.widened:>3} {'valid' if not f_err else len(f_err):>7} |"
        )
        if not args.no_cpsat:
            cp = solve_assignment(
                problem,
                time_limit_s=args.target_s,
                seed=args.seed,
                workers=args.workers,
                method="cpsat",
            )
            score["cpsat"] += cp.expertise_score
            seconds["cpsat"] += cp.seconds
            same &= cp.pairs == flow.pairs
            row += (
                f" {cp.expertise_score:>6} {cp.seconds:>5.2f} {cp.status:<8} "
                f"{'yes' if cp.pairs == flow.pairs else 'NO'}"
            )
        print(row)
        for note in flow.notes:
            print(f"      note: {note}")
        for error in f_err[:3]:
            print(f"      checker: {error}")
    n_conflicts = sum(len(p.problem.conflicts) for p in panels)
    n_pairs = sum(len(p.problem.papers) * len(p.problem.reviewers) for p in panels)
    ratio = score["flow"] / score["greedy"] if score["greedy"] else float("nan")
    print(
        f"conflicts: {n_conflicts} of {n_pairs} pairs ({100 * n_conflicts / n_pairs:.1f} %); "
        f"uncovered proposals: {uncovered}"
    )
    print(
        f"expertise match  greedy {score['greedy']} ({seconds['greedy']:.2f} s)   "
        f"flow {score['flow']} ({seconds['flow']:.2f} s)"
        + ("" if args.no_cpsat else f"   CP-SAT {score['cpsat']} ({seconds['cpsat']:.2f} s)")
    )
    print(
        "greedy: loads within +-1 of the mean in every panel: "
        f"{'yes' if greedy_balanced else 'NO'}; checker violations {len(greedy_errors)}"
        + (f", e.g. {greedy_errors[0]}" if greedy_errors else "")
    )
    checks = [
        ("every panel feasible, checker valid, 0 conflicts", all_valid, ""),
        ("loads within +-1 of the mean in every panel", balanced, ""),
        (
            f"total solve time <= {args.target_s:.0f} s",
            seconds["flow"] <= args.target_s,
            f"{seconds['flow']:.2f} s (12 solve_assignment calls)"
            if n_panels == 12
            else f"{seconds['flow']:.2f} s",
        ),
    ]
    if not args.no_cpsat:
        checks.append(
            (
                "CP-SAT cross-check: same pairs as the flow in every panel",
                same,
                f"CP-SAT total {seconds['cpsat']:.2f} s",
            )
        )
    for name, ok, value in checks:
        print(f"  {'MET ' if ok else 'MISS'} {name}{': ' + value if value else ''}")
    print(f"  ratio optimiser / greedy expertise match: {ratio:.3f}")
    return 0


def _verdict(errors: list[str]) -> str:
    return "valid" if not errors else f"{len(errors)} violations, e.g. {errors[0]}"


if __name__ == "__main__":
    raise SystemExit(main())
