"""What each run may do, computed once from the problem's arrays, shared by both solvers.

* VM: the feasible start slots of every run (moon, mounted instrument, target visibility,
  technical / closed and impossible nights), with the reasons when there are none.
* SM: runs grouped by (telescope, instrument, max FLI, RA bin) and the period cut, per
  telescope, into *blocks* of consecutive nights with the same moon class and the same mounted
  instruments. SM capacity is shared per block: see :func:`sm_blocks`.
* Objective weights, as integers (CP-SAT needs integers), in tenths of an hour:
  ``weight = CLASS_WEIGHT[class] * grade_weight(grade)``.
  ``grade_weight`` runs from 50 (grade 1.0) to 10 (grade 5.0); class weights A 2500, B 50,
  C 1 make one hour of any A run worth at least ten hours of any B run (and B over C alike),
  so a VM run of a higher class always wins over a single lower-class run it conflicts with
  (VM runs are 0.5 to 5 nights, a factor 10). Strict lexicographic weights would overflow
  64-bit integers at a thousand runs and make the optimality gap meaningless.
* Preferred dates: one extra unit per preferred half-night a VM run covers, a tie-breaker far
  below the worth of any run (>= 500 units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduling.engine.longterm.problem import Link, Problem, Run

HOUR_UNITS = 10
"""Solver time unit: tenths of an hour."""
CLASS_WEIGHT = {"A": 2500, "B": 50, "C": 1}
PREFERRED_BONUS = 1


def grade_weight(grade: float) -> int:
    """Integer weight of a grade: 50 for 1.0 (best) down to 10 for 5.0 (worst)."""
    return int(min(50, max(10, round(10 * (6.0 - grade)))))


def run_weight(run: Run) -> int:
    """Objective weight of one tenth of an hour of ``run``."""
    return CLASS_WEIGHT[run.rank_class] * grade_weight(run.grade)


def vm_hours(problem: Problem, run: Run) -> float:
    """Worth of a VM run in hours: nights x the period's mean night (not its actual nights,
    so that the objective does not push every run into the long winter nights)."""
    return run.nights * problem.nominal_night_hours


def vm_value(problem: Problem, run: Run) -> int:
    return run_weight(run) * int(round(vm_hours(problem, run) * HOUR_UNITS))


def units(hours: float) -> int:
    return int(round(hours * HOUR_UNITS))


# --------------------------------------------------------------------------------------- VM


def night_conditions(problem: Problem, run: Run) -> dict[str, np.ndarray]:
    """bool[D] per condition a night must meet for ``run`` (visibility for a whole night)."""
    d = problem.n_nights
    impossible = np.zeros(d, dtype=bool)
    impossible[problem.indices(run.impossible)] = True
    tel = problem.telescope(run.telescope)
    return {
        "not technical or closed": ~problem.unavailable(run.telescope),
        f"{run.instrument} mounted": np.asarray(tel.mounted[run.instrument], dtype=bool),
        f"moon FLI <= {run.max_fli:.2f}": problem.moon_fli <= run.max_fli + 1e-9,
        "not an impossible date": ~impossible,
        "targets visible": run.visible_hours
        >= run.min_visible_fraction * problem.dark_hours - 1e-9,
    }


def _half_ok(problem: Problem, run: Run, base: np.ndarray) -> np.ndarray:
    return base & (run.visible_hours >= run.min_visible_fraction * problem.dark_hours / 2 - 1e-9)


def _window_all(ok: np.ndarray, length: int) -> np.ndarray:
    """w[i] = ok[i:i+length].all() for every i where the window fits (len(ok)-length+1)."""
    if length == 0:
        return np.ones(len(ok) + 1, dtype=bool)
    c = np.concatenate([[0], np.cumsum(~ok)])
    w: np.ndarray = (c[length:] - c[:-length]) == 0
    return w


def feasible_starts(problem: Problem, run: Run) -> np.ndarray:
    """Sorted start slots (``2 * night + half``) at which VM ``run`` fits entirely."""
    cond = night_conditions(problem, run)
    vis_key = "targets visible"
    base = np.logical_and.reduce([v for k, v in cond.items() if k != vis_key])
    full = base & cond[vis_key]
    half = _half_ok(problem, run, base)
    d = problem.n_nights
    length = run.slots
    k, odd = divmod(length, 2)
    starts: list[np.ndarray] = []
    if not odd:
        w = _window_all(full, k)  # nights i..i+k-1 whole
        starts.append(2 * np.flatnonzero(w))
    else:
        # even start: k whole nights then the first half of the next night
        if k + 1 <= d:
            w = _window_all(full, k)[: d - k] & half[k:]
            starts.append(2 * np.flatnonzero(w))
            # odd start: second half of night i, then k whole nights
            w2 = half[: d - k] & _window_all(full, k)[1 : d - k + 1]
            starts.append(2 * np.flatnonzero(w2) + 1)
        elif k == 0:
            pass
    if not starts:
        return np.zeros(0, dtype=int)
    return np.sort(np.concatenate(starts)).astype(int)


def covered_nights(start: int, length: int) -> list[tuple[int, int]]:
    """(night, halves used) for a run of ``length`` slots starting at slot ``start``."""
    out: dict[int, int] = {}
    for s in range(start, start + length):
        out[s // 2] = out.get(s // 2, 0) + 1
    return sorted(out.items())


def start_problems(problem: Problem, run: Run, start: int) -> list[str]:
    """Why VM ``run`` cannot start at slot ``start`` (empty if it can)."""
    d = problem.n_nights
    if run.slots % 2 == 0 and start % 2:
        return [f"{run.id} takes whole nights and cannot start on a second half"]
    if start + run.slots > 2 * d:
        return [f"{run.id} ({run.nights:g} nights) runs past the end of the period"]
    cond = night_conditions(problem, run)
    out: list[str] = []
    for night, halves in covered_nights(start, run.slots):
        day = problem.dates[night].isoformat()
        for name, ok in cond.items():
            if name == "targets visible":
                need = run.min_visible_fraction * problem.dark_hours[night] * halves / 2
                if run.visible_hours[night] < need - 1e-9:
                    out.append(
                        f"targets of {run.id} visible {run.visible_hours[night]:.1f} h "
                        f"< {need:.1f} h needed on {day}"
                    )
            elif not ok[night]:
                if name.startswith("moon"):
                    out.append(
                        f"moon FLI {problem.moon_fli[night]:.2f} > {run.max_fli:.2f} "
                        f"allowed for {run.id} on {day}"
                    )
                elif name == "not technical or closed":
                    out.append(f"{day} is a technical or closed night on {run.telescope}")
                elif name == "not an impossible date":
                    out.append(f"{day} is an impossible date of {run.id}")
                else:
                    out.append(f"{run.instrument} is not mounted on {run.telescope} on {day}")
    return out


def no_start_reason(problem: Problem, run: Run) -> str:
    """Human summary of why a VM run has no feasible start at all."""
    cond = night_conditions(problem, run)
    d = problem.n_nights
    parts = [f"{name} on {int(ok.sum())}/{d} nights" for name, ok in cond.items()]
    all_ok = np.logical_and.reduce(list(cond.values()))
    return (
        f"no {run.nights:g}-night window fits ({'; '.join(parts)}; "
        f"all together on {int(all_ok.sum())} nights)"
    )


def preferred_bonus(problem: Problem, run: Run, starts: np.ndarray) -> np.ndarray:
    """Bonus units per start: preferred half-nights covered."""
    pref = np.zeros(2 * problem.n_nights + 1, dtype=int)
    idx = problem.indices(run.preferred)
    if len(idx) == 0 or len(starts) == 0:
        return np.zeros(len(starts), dtype=int)
    pref_slot = np.zeros(2 * problem.n_nights, dtype=int)
    pref_slot[2 * idx] = 1
    pref_slot[2 * idx + 1] = 1
    pref[1:] = np.cumsum(pref_slot)
    bonus: np.ndarray = PREFERRED_BONUS * (pref[starts + run.slots] - pref[starts])
    return bonus


def pin_slot(problem: Problem, run_id: str) -> int | None:
    for pin in problem.pins:
        if pin.run == run_id:
            return 2 * problem.night_index(pin.start) + int(pin.second_half)
    return None


@dataclass(frozen=True, eq=False)
class VMOption:
    """The placements open to one VM run."""

    run: Run
    starts: np.ndarray  # feasible start slots (only the pinned one if pinned and feasible)
    bonus: np.ndarray  # preferred-date bonus per start
    value: int  # objective worth when scheduled
    pinned: int | None  # pinned start slot


def vm_options(problem: Problem) -> dict[str, VMOption]:
    out: dict[str, VMOption] = {}
    for run in problem.runs:
        if run.mode != "VM":
            continue
        starts = feasible_starts(problem, run)
        pinned = pin_slot(problem, run.id)
        if pinned is not None and pinned in set(starts.tolist()):
            starts = np.array([pinned], dtype=int)
        out[run.id] = VMOption(
            run=run,
            starts=starts,
            bonus=preferred_bonus(problem, run, starts),
            value=vm_value(problem, run),
            pinned=pinned,
        )
    return out


def check_pins(problem: Problem, options: dict[str, VMOption]) -> list[str]:
    """Conflicts visible without search: infeasible pins, overlapping pins, pinned links."""
    conflicts: list[str] = []
    occupied: dict[tuple[str, int], str] = {}
    pins = {p.run: p for p in problem.pins}
    for pin in problem.pins:
        run = problem.run(pin.run)
        slot = 2 * problem.night_index(pin.start) + int(pin.second_half)
        why = start_problems(problem, run, slot)
        if why:
            conflicts.append(f"{pin.describe()} is impossible: " + "; ".join(why[:3]))
            continue
        for s in range(slot, slot + run.slots):
            key = (run.telescope, s)
            if key in occupied:
                other = pins[occupied[key]]
                conflicts.append(
                    f"{pin.describe()} overlaps {other.describe()} on {run.telescope} "
                    f"({problem.dates[s // 2].isoformat()})"
                )
                break
            occupied[key] = run.id
    for link in problem.links:
        if link.first in pins and link.second in pins:
            s1 = options[link.first].pinned
            s2 = options[link.second].pinned
            assert s1 is not None and s2 is not None
            if not link_satisfied(link, s1, s2):
                conflicts.append(
                    f"{pins[link.first].describe()} and {pins[link.second].describe()} "
                    f"break {link.describe()}"
                )
    return conflicts


def link_satisfied(link: Link, s1: int, s2: int) -> bool:
    """Whether start slots ``s1`` (first) and ``s2`` (second) honour ``link``."""
    if link.kind == "same_nights":
        return s1 == s2
    diff = s2 // 2 - s1 // 2
    if not link.ordered:
        diff = abs(diff)
    if link.min_days is not None and diff < link.min_days:
        return False
    return not (link.max_days is not None and diff > link.max_days)


# --------------------------------------------------------------------------------------- SM


@dataclass(frozen=True, eq=False)
class SMGroup:
    """SM runs that share telescope, instrument, moon limit and RA bin: they compete for the
    same SM hours. ``share[d]`` is the group's usable hours per SM half-night on night ``d``
    (the visible fraction of the half-night; 0 where moon, instrument or availability fail)."""

    key: tuple[str, str, float, int]  # telescope, instrument, max_fli, ra_bin
    members: tuple[str, ...]  # run ids, best first
    share: np.ndarray  # float[D] hours per SM half-night


@dataclass(frozen=True)
class SMBlock:
    """Consecutive nights ``first..last`` of one telescope with the same moon class (relative to
    the moon limits of its SM runs) and the same mounted instruments."""

    telescope: str
    first: int
    last: int


def half_night_units(problem: Problem) -> np.ndarray:
    """int[D]: tenths of an hour in one half of each night."""
    return np.round(problem.dark_hours * HOUR_UNITS / 2).astype(int)


def run_share(problem: Problem, run: Run) -> np.ndarray:
    """float[D]: hours of one SM half-night that ``run`` itself could use (its visible fraction
    of the night; 0 where its moon limit, its instrument or the telescope's calendar fail)."""
    tel = problem.telescope(run.telescope)
    ok = (
        (problem.moon_fli <= run.max_fli + 1e-9)
        & np.asarray(tel.mounted[run.instrument], dtype=bool)
        & ~problem.unavailable(run.telescope)
    )
    frac = np.clip(run.visible_hours / np.maximum(problem.dark_hours, 1e-9), 0.0, 1.0)
    share: np.ndarray = np.where(ok, frac * problem.dark_hours / 2, 0.0)
    return share


def group_fraction(problem: Problem, runs: list[Run]) -> np.ndarray:
    """float[D]: fraction of the night during which some target of the group is visible.

    Targets of one RA bin rise and set together, so their windows overlap: the group's window
    is taken as its widest member's, and the members share it (each within its own window,
    see :func:`run_share`)."""
    dark = np.maximum(problem.dark_hours, 1e-9)
    frac = np.array([np.clip(r.visible_hours / dark, 0.0, 1.0) for r in runs])
    widest: np.ndarray = frac.max(axis=0)
    return widest


def sm_groups(problem: Problem) -> list[SMGroup]:
    by_key: dict[tuple[str, str, float, int], list[Run]] = {}
    for r in problem.runs:
        if r.mode == "SM":
            key = (r.telescope, r.instrument, float(r.max_fli), problem.ra_bin(r.ra_deg))
            by_key.setdefault(key, []).append(r)
    out = []
    for key in sorted(by_key):
        runs = sorted(by_key[key], key=lambda r: (-run_weight(r), r.id))
        tel = problem.telescope(key[0])
        ok = (
            (problem.moon_fli <= key[2] + 1e-9)
            & np.asarray(tel.mounted[key[1]], dtype=bool)
            & ~problem.unavailable(key[0])
        )
        share = np.where(ok, group_fraction(problem, runs) * problem.dark_hours / 2, 0.0)
        out.append(SMGroup(key=key, members=tuple(r.id for r in runs), share=share))
    return out


def block_rate(problem: Problem, block: SMBlock, per_half_hours: np.ndarray) -> int:
    """Tenths of an hour per free SM half-night of ``block``: the mean of ``per_half_hours``
    over the block's nights that are neither technical nor closed.

    SM capacity is counted per block, not per night: a block holds ``rate x free half-nights``,
    whichever of its nights VM leaves free. Nights of a block share the moon class and the
    instruments; night length and RA visibility change little within one (days). The hours a
    schedule counts are then delivered night by night (:mod:`.smflow`): a few tenths more or
    less than the block model's. (The block's best night instead of the mean would make the
    model a strict relaxation of the delivery, but measured on the 300-run benchmark period
    its many equal-valued SM plans kept CP-SAT from proving a two-telescope part in 50 s,
    against 26 s with the mean.)"""
    nights = slice(block.first, block.last + 1)
    avail = ~problem.unavailable(block.telescope)[nights]
    if not avail.any():
        return 0
    return int(round(float(per_half_hours[nights][avail].mean()) * HOUR_UNITS))


@dataclass(frozen=True, eq=False)
class SMPlan:
    """Everything the solvers need for SM: groups, blocks and per-block rates.

    ``run_rate`` caps each run by its *own* visibility, so that a group's pooled hours never
    serve a member on nights it cannot use (a never-visible run gets nothing)."""

    groups: list[SMGroup]
    blocks: list[SMBlock]
    total_rate: list[int]  # per block: tenths of an hour per free half-night
    group_rate: dict[tuple[tuple[str, str, float, int], int], int]  # (group key, block) -> rate
    blocks_of: dict[str, list[int]]
    run_rate: dict[tuple[str, int], int]  # (SM run id, block) -> rate, only where > 0


def sm_plan(problem: Problem, max_block_nights: int = 0) -> SMPlan:
    groups = sm_groups(problem)
    blocks = sm_blocks(problem, max_block_nights)
    blocks_of: dict[str, list[int]] = {}
    for k, b in enumerate(blocks):
        blocks_of.setdefault(b.telescope, []).append(k)
    total = [block_rate(problem, b, problem.dark_hours / 2) for b in blocks]
    rates = {}
    for g in groups:
        for k in blocks_of.get(g.key[0], []):
            r = block_rate(problem, blocks[k], g.share)
            if r > 0:
                rates[(g.key, k)] = r
    run_rates = {}
    for run in problem.runs:
        if run.mode != "SM":
            continue
        share = run_share(problem, run)
        for k in blocks_of.get(run.telescope, []):
            r = block_rate(problem, blocks[k], share)
            if r > 0:
                run_rates[(run.id, k)] = r
    return SMPlan(groups, blocks, total, rates, blocks_of, run_rates)


def sm_blocks(problem: Problem, max_nights: int = 0) -> list[SMBlock]:
    """Cut each telescope's period where the moon class or the mounted instruments change.

    Within a block the SM plan is aggregated: groups take hours up to their summed per-night
    capacity, and all groups together up to the block's SM hours. This is exact for the moon
    and instrument (uniform in a block) and a relaxation only for how the hours of different
    RA groups share individual nights. ``max_nights > 0`` caps a block's length.
    """
    out: list[SMBlock] = []
    for tel in problem.telescopes:
        sm = [r for r in problem.runs if r.mode == "SM" and r.telescope == tel.name]
        if not sm:
            continue
        thresholds = sorted({float(r.max_fli) for r in sm})
        instruments = sorted({r.instrument for r in sm})
        sig = np.stack(
            [problem.moon_fli <= t + 1e-9 for t in thresholds]
            + [np.asarray(tel.mounted[i], dtype=bool) for i in instruments]
        )
        first = 0
        for d in range(1, problem.n_nights + 1):
            cut = (
                d == problem.n_nights
                or not np.array_equal(sig[:, d], sig[:, d - 1])
                or (max_nights > 0 and d - first >= max_nights)
            )
            if cut:
                out.append(SMBlock(tel.name, first, d - 1))
                first = d
    return out
