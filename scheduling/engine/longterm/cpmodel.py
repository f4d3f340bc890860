"""CP-SAT model of one long-term scheduling problem (used by :mod:`.cpsat`).

Variables
---------
* ``x[r, s]``: VM run ``r`` starts at half-night slot ``s``, one boolean per *feasible* start
  (moon, instrument, visibility, technical / closed and impossible nights are filtered out
  beforehand by :mod:`.feasibility`); ``sum_s x[r, s] <= 1``.
* Half-night runs that no pin or same-nights link ties to a given half get one boolean per
  night instead (``sum occ[2d], occ[2d+1] + half-night runs <= 2``): which half they take
  matters to nobody, and the choice only multiplied equivalent solutions.
* ``occ[t, s]``: telescope ``t`` has a VM run on slot ``s``: the sum of the starts covering
  ``s``, at most one (no two runs on one telescope half-night). A redundant ``NoOverlap`` of
  optional intervals per telescope strengthens propagation.
* ``y[g, k]``: SM hours (tenths) reserved in block ``k`` for SM group ``g`` (telescope,
  instrument, moon limit, RA bin), bounded by the group's window (its widest member's visible
  share) of the block's SM half-nights, ``rate_g,k * (2 x available nights - VM slots)``; all
  groups of a block together by the block's SM half-nights.
* ``sm[r]``: hours (tenths) served to SM run ``r``: its group's reservations shared by its
  members, each also within its own visible share of the SM half-nights of its blocks.

Objective: maximise ``sum value_r x[r, s] + bonus_r(s) x[r, s] + sum weight_r sm[r]`` (see
:mod:`.feasibility` for the integer weights: A before B before C, then grade). The SM part is
the solver's estimate by blocks; the schedule's SM hours are then delivered night by night
(:mod:`.smflow`).

:func:`solve_part` solves one (sub)problem, hinted with a given solution (the greedy one).
Staff pins fix the start of a run; links add equalities or bounded start differences with
both-or-neither presence. When pins and links cannot all hold, a second solve with one
assumption literal per pin and link extracts a conflicting subset and
:class:`~.problem.ScheduleConflict` names it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from scheduling.engine.longterm.feasibility import (
    HOUR_UNITS,
    SMBlock,
    SMGroup,
    feasible_starts,
    pin_slot,
    preferred_bonus,
    run_weight,
    sm_plan,
    units,
    vm_options,
    vm_value,
)
from scheduling.engine.longterm.problem import Problem, ScheduleConflict
from scheduling.engine.longterm.solution import (
    Solution,
)


@dataclass
class _Model:
    model: cp_model.CpModel
    x: dict[str, dict[int, cp_model.IntVar]]
    presence: dict[str, cp_model.IntVar]
    occ: dict[str, dict[int, cp_model.IntVar]]
    y: dict[tuple[tuple[str, str, float, int], int], cp_model.IntVar]
    sm: dict[str, cp_model.IntVar]
    groups: list[SMGroup]
    blocks: list[SMBlock]
    assumptions: dict[int, str] = field(default_factory=dict)  # literal index -> description
    starts_var: dict[str, cp_model.IntVar] = field(default_factory=dict)
    night_level: set[str] = field(default_factory=set)  # half-night runs placed per night


@dataclass(frozen=True)
class Part:
    """What CP-SAT made of one (sub)problem: its VM starts (None if it found no schedule in
    time), the SM hours its block model promised, its status, objective and proven bound."""

    vm_starts: dict[str, int] | None
    sm_hours: float
    status: str
    objective: int | None
    bound: int | None
    wall_s: float
    size: dict[str, int]


def solve_part(
    problem: Problem,
    hint: Solution | None,
    reporter: Reporter,
    *,
    time_limit_s: float,
    num_workers: int,
    random_seed: int,
    subsolvers: tuple[str, ...] = (),
    log: bool = False,
    parameters: Mapping[str, object] | None = None,
    start_values: Mapping[str, Mapping[int, int]] | None = None,
    offset: int = 0,
) -> Part:
    """Solve ``problem`` with CP-SAT, hinted with ``hint`` (the greedy schedule). Raises
    ScheduleConflict, naming pins and links, if they cannot all hold."""
    t0 = time.perf_counter()
    options = vm_options(problem)
    starts = {rid: (o.starts, o.bonus) for rid, o in options.items()}
    for rid, values in (start_values or {}).items():
        st, bonus = starts[rid]
        keep = np.isin(st, list(values))
        extra = np.array([values[s] for s in st[keep].tolist()], dtype=np.int64)
        starts[rid] = (st[keep], bonus[keep] + extra)
    m = _build(
        problem, starts, with_assumptions=False, exact=set(start_values or ()), offset=offset
    )
    if hint is not None:
        _hint(problem, m, hint)
    solver = cp_model.CpSolver()
    build_s = time.perf_counter() - t0
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_s - build_s)
    solver.parameters.num_workers = num_workers
    solver.parameters.random_seed = random_seed
    solver.parameters.log_search_progress = log
    solver.parameters.subsolvers.extend(subsolvers)
    for name, value in (parameters or {}).items():
        setattr(solver.parameters, name, value)
    solver.best_bound_callback = reporter.on_bound
    status = solver.Solve(m.model, reporter)
    size = {
        "vm_start_booleans": sum(len(v) for v in m.x.values()),
        "sm_reservation_vars": len(m.y),
        "variables": len(m.model.Proto().variables),
        "constraints": len(m.model.Proto().constraints),
        "build_ms": int(build_s * 1000),
    }
    if status == cp_model.INFEASIBLE:
        raise ScheduleConflict(_diagnose(problem))
    bound = int(round(solver.BestObjectiveBound())) if status != cp_model.UNKNOWN else None
    wall = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Part(None, 0.0, solver.StatusName(status), None, bound, wall, size)
    vm_starts, sm_hours = _decode(problem, m, solver)
    objective = int(round(solver.ObjectiveValue()))
    return Part(vm_starts, sm_hours, solver.StatusName(status), objective, bound, wall, size)


class Reporter(cp_model.CpSolverSolutionCallback):
    """Collects one CP-SAT search's best objective and bound and hands them to ``emit``
    (called from CP-SAT's threads; ``None`` for a quiet search)."""

    def __init__(
        self,
        emit: Callable[[float, float], None] | None,
        initial_objective: float,
        initial_bound: float,
    ) -> None:
        super().__init__()
        self._emit = emit
        self._lock = threading.Lock()
        self.objective = float(initial_objective)
        self.bound = float(initial_bound)

    def on_solution_callback(self) -> None:
        with self._lock:
            self.objective = max(self.objective, self.ObjectiveValue())
            self.bound = min(self.bound, self.BestObjectiveBound())
            if self._emit is not None:
                self._emit(self.objective, self.bound)

    def on_bound(self, bound: float) -> None:
        with self._lock:
            self.bound = min(self.bound, bound)
            if self._emit is not None:
                self._emit(self.objective, self.bound)


def _build(
    problem: Problem,
    starts: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    with_assumptions: bool,
    exact: set[str] | None = None,
    offset: int = 0,
) -> _Model:
    model = cp_model.CpModel()
    d = problem.n_nights
    x: dict[str, dict[int, cp_model.IntVar]] = {}
    presence: dict[str, cp_model.IntVar] = {}
    cover: dict[str, list[list[cp_model.IntVar]]] = {
        t.name: [[] for _ in range(2 * d)] for t in problem.telescopes
    }
    objective: list[tuple[cp_model.IntVar, int]] = []
    intervals: dict[str, list[cp_model.IntervalVar]] = {t.name: [] for t in problem.telescopes}
    mdl = _Model(model, x, presence, {}, {}, {}, [], [])
    # Half-night runs that no pin or same-nights link ties to a given half are placed per
    # night: which half they take does not matter to anyone else, and choosing it in the
    # model multiplied equivalent solutions (measured: proofs several times slower).
    exact = (
        (exact or set())
        | {pin.run for pin in problem.pins}
        | {
            r
            for link in problem.links
            if link.kind == "same_nights"
            for r in (link.first, link.second)
        }
    )
    half_cover: dict[str, dict[int, list[cp_model.IntVar]]] = {
        t.name: {} for t in problem.telescopes
    }
    for rid, (st, bonus) in starts.items():
        run = problem.run(rid)
        value = vm_value(problem, run)
        x[rid] = {}
        if run.slots == 1 and rid not in exact:
            mdl.night_level.add(rid)
            per_night: dict[int, int] = {}
            for s, b in zip(st.tolist(), bonus.tolist(), strict=True):
                per_night[s // 2] = max(per_night.get(s // 2, 0), b)
            for night, b in sorted(per_night.items()):
                v = model.new_bool_var(f"h[{rid},{night}]")
                x[rid][2 * night] = v
                objective.append((v, value + b))
                half_cover[run.telescope].setdefault(night, []).append(v)
        else:
            for s, b in zip(st.tolist(), bonus.tolist(), strict=True):
                v = model.new_bool_var(f"x[{rid},{s}]")
                x[rid][s] = v
                objective.append((v, value + b))
                for slot in range(s, s + run.slots):
                    cover[run.telescope][slot].append(v)
        p = model.new_bool_var(f"p[{rid}]")
        presence[rid] = p
        model.add(sum(x[rid].values()) == p)
        if not x[rid]:
            model.add(p == 0)
        if rid in mdl.night_level:
            continue
        if len(st) == 1:
            intervals[run.telescope].append(
                model.new_optional_fixed_size_interval_var(int(st[0]), run.slots, p, f"iv[{rid}]")
            )
        elif len(st) > 1:
            sv = model.new_int_var_from_domain(
                cp_model.Domain.from_values(st.tolist()), f"start[{rid}]"
            )
            model.add(sv == sum(s * v for s, v in x[rid].items())).only_enforce_if(p)
            mdl.starts_var[rid] = sv
            intervals[run.telescope].append(
                model.new_optional_fixed_size_interval_var(sv, run.slots, p, f"iv[{rid}]")
            )
    for ivs in intervals.values():
        if len(ivs) > 1:
            model.add_no_overlap(ivs)
    occ: dict[str, dict[int, cp_model.IntVar]] = {}
    for tel, slots in cover.items():
        occ[tel] = {}
        for s, vs in enumerate(slots):
            if len(vs) == 1:
                occ[tel][s] = vs[0]
            elif len(vs) > 1:
                o = model.new_bool_var(f"occ[{tel},{s}]")
                model.add(sum(vs) == o)
                occ[tel][s] = o
    for tel, nights in half_cover.items():
        for night, hs in nights.items():
            both = [occ[tel][s] for s in (2 * night, 2 * night + 1) if s in occ[tel]]
            model.add(sum(both) + sum(hs) <= 2)
    mdl.occ = occ

    def enforce(ct: cp_model.Constraint, lit: cp_model.IntVar | None) -> None:
        if lit is not None:
            ct.only_enforce_if(lit)

    def literal(description: str) -> cp_model.IntVar | None:
        if not with_assumptions:
            return None
        lit = model.new_bool_var(description)
        mdl.assumptions[lit.index] = description
        return lit

    for pin in problem.pins:
        pinned = pin_slot(problem, pin.run)
        lit = literal(pin.describe())
        pin_var = x[pin.run].get(pinned) if pinned is not None else None
        if pin_var is None:
            enforce(model.add(presence[pin.run] == 2), lit)  # impossible pin
        else:
            enforce(model.add(pin_var == 1), lit)
    for link in problem.links:
        lit = literal(link.describe())
        p1, p2 = presence[link.first], presence[link.second]
        enforce(model.add(p1 == p2), lit)
        x1, x2 = x[link.first], x[link.second]
        if link.kind == "same_nights":
            for s in set(x1) | set(x2):
                a, b = x1.get(s), x2.get(s)
                if a is not None and b is not None:
                    enforce(model.add(a == b), lit)
                elif a is not None:
                    enforce(model.add(a == 0), lit)
                elif b is not None:
                    enforce(model.add(b == 0), lit)
        else:
            n1 = sum((s // 2) * v for s, v in x1.items())
            n2 = sum((s // 2) * v for s, v in x2.items())
            diff = model.new_int_var(-d, d, f"diff[{link.first},{link.second}]")
            model.add(diff == n2 - n1)
            target = diff
            if not link.ordered:
                target = model.new_int_var(0, d, f"absdiff[{link.first},{link.second}]")
                model.add_abs_equality(target, diff)
            lits = [p1] + ([lit] if lit is not None else [])
            if link.min_days is not None:
                model.add(target >= link.min_days).only_enforce_if(lits)
            if link.max_days is not None:
                model.add(target <= link.max_days).only_enforce_if(lits)

    # SM reservations: per block, free half-nights f_k = 2 x available nights - VM slots
    plan = sm_plan(problem)
    mdl.groups, mdl.blocks = plan.groups, plan.blocks
    free_k: dict[int, cp_model.IntVar | int] = {}
    for k, b in enumerate(plan.blocks):
        unavailable = problem.unavailable(b.telescope)
        avail = int((~unavailable[b.first : b.last + 1]).sum())
        terms = [
            occ[b.telescope][s] for s in range(2 * b.first, 2 * b.last + 2) if s in occ[b.telescope]
        ] + [
            v
            for night in range(b.first, b.last + 1)
            for v in half_cover[b.telescope].get(night, [])
        ]
        if not terms:
            free_k[k] = 2 * avail
        else:
            f = model.new_int_var(0, 2 * avail, f"free[{k}]")
            model.add(f == 2 * avail - sum(terms))
            free_k[k] = f
    block_terms: dict[int, list[cp_model.IntVar]] = {}
    for g in plan.groups:
        members = [problem.run(r) for r in g.members]
        demand = sum(units(r.hours) for r in members)
        ys = []
        for k in plan.blocks_of.get(g.key[0], []):
            rate = plan.group_rate.get((g.key, k), 0)
            b = plan.blocks[k]
            upper = rate * 2 * (b.last - b.first + 1)
            if upper == 0:
                continue
            y = model.new_int_var(0, min(upper, demand), f"y[{g.key},{k}]")
            model.add(y <= rate * free_k[k])
            mdl.y[(g.key, k)] = y
            ys.append(y)
            block_terms.setdefault(k, []).append(y)
        served = []
        for r in members:
            v = model.new_int_var(0, units(r.hours), f"sm[{r.id}]")
            mdl.sm[r.id] = v
            served.append(v)
            objective.append((v, run_weight(r)))
            # the run's own visible share of the SM half-nights it can use
            own = [
                (plan.run_rate[(r.id, k)], free_k[k])
                for k in plan.blocks_of.get(g.key[0], [])
                if (r.id, k) in plan.run_rate
            ]
            model.add(v <= sum(rate * f for rate, f in own))
        if ys:
            model.add(sum(served) <= sum(ys))
        else:
            for v in served:
                model.add(v == 0)
    for k, ys in block_terms.items():
        model.add(sum(ys) <= plan.total_rate[k] * free_k[k])
    model.maximize(sum(c * v for v, c in objective) + offset)
    if with_assumptions:
        model.add_assumptions([model.get_bool_var_from_proto_index(i) for i in mdl.assumptions])
    return mdl


def _hint(problem: Problem, m: _Model, greedy: Solution) -> None:
    model = m.model
    for rid, xs in m.x.items():
        s0 = greedy.vm_starts.get(rid)
        if s0 is not None and rid in m.night_level:
            s0 = 2 * (s0 // 2)
        for s, v in xs.items():
            model.add_hint(v, s == s0)
        model.add_hint(m.presence[rid], s0 is not None)
        if rid in m.starts_var and s0 is not None:
            model.add_hint(m.starts_var[rid], s0)
    busy: dict[str, set[int]] = {t.name: set() for t in problem.telescopes}
    for rid, s0 in greedy.vm_starts.items():
        if rid in m.night_level:
            continue
        run = problem.run(rid)
        busy[run.telescope].update(range(s0, s0 + run.slots))
    hinted = {id(v) for xs in m.x.values() for v in xs.values()}
    for tel, occs in m.occ.items():
        for s, o in occs.items():
            if id(o) not in hinted:
                model.add_hint(o, s in busy[tel])
    block_index = {(b.telescope, b.first, b.last): k for k, b in enumerate(m.blocks)}
    got: dict[tuple[tuple[str, str, float, int], int | None], int] = {}
    for r in greedy.reservations:
        k = block_index.get((r.telescope, r.first, r.last))
        key = ((r.telescope, r.instrument, float(r.max_fli), r.ra_bin), k)
        got[key] = got.get(key, 0) + units(r.hours)
    for key, y in m.y.items():
        model.add_hint(y, got.get(key, 0))
    for rid, v in m.sm.items():
        model.add_hint(v, units(greedy.sm_served.get(rid, 0.0)))


def _decode(problem: Problem, m: _Model, solver: cp_model.CpSolver) -> tuple[dict[str, int], float]:
    """VM starts (half-night runs placed per night get the free half) and the SM hours the
    block model served."""
    chosen = {rid: s for rid, xs in m.x.items() for s, v in xs.items() if solver.boolean_value(v)}
    vm_starts = {rid: s for rid, s in chosen.items() if rid not in m.night_level}
    taken: set[tuple[str, int]] = set()
    for rid, s in vm_starts.items():
        run = problem.run(rid)
        taken.update((run.telescope, slot) for slot in range(s, s + run.slots))
    for rid in sorted(set(chosen) & m.night_level):
        tel, s = problem.run(rid).telescope, chosen[rid]
        slot = s if (tel, s) not in taken else s + 1
        taken.add((tel, slot))
        vm_starts[rid] = slot
    sm_hours = sum(solver.value(v) for v in m.sm.values()) / HOUR_UNITS
    return vm_starts, sm_hours


def _diagnose(problem: Problem) -> list[str]:
    """Name a subset of pins and links that cannot hold together."""
    starts = {}
    for run in problem.runs:
        if run.mode == "VM":
            st = feasible_starts(problem, run)
            starts[run.id] = (st, preferred_bonus(problem, run, st))
    m = _build(problem, starts, with_assumptions=True)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30.0
    status = solver.Solve(m.model)
    if status != cp_model.INFEASIBLE:
        return ["the pins and links are jointly infeasible (no smaller conflict found)"]
    core = [m.assumptions[i] for i in solver.SufficientAssumptionsForInfeasibility()]
    if not core:
        return ["the pins and links are jointly infeasible"]
    return [f"conflict between: {', '.join(sorted(core))}"]
