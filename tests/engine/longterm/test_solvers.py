"""Both solvers on seeded synthetic periods (with a stand-in sky: no astropy needed)."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.decompose import split
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Link
from scheduling.engine.longterm.sky import SkyArrays
from scheduling.engine.longterm.solution import Progress, format_statistics, statistics
from scheduling.engine.longterm.synthetic import SyntheticSpec, synthetic_problem


def toy_sky(site, ra, dec, start: date, end: date, max_airmass, step_minutes=20) -> SkyArrays:
    """A crude sky: 29.5-day moon, nights of 8-11 h, targets up 6 h a night around the
    date their RA transits at midnight (opposition), falling off over three months."""
    n = (end - start).days + 1
    d = np.arange(n)
    dark = 9.5 + 1.5 * np.cos(2 * np.pi * (d + start.timetuple().tm_yday - 172) / 365.25)
    fli = 0.5 * (1 - np.cos(2 * np.pi * d / 29.53))
    midnight_ra = (np.arange(n) + start.timetuple().tm_yday - 80) * 360 / 365.25 + 180
    delta = (np.asarray(ra)[:, None] - midnight_ra[None, :] + 180) % 360 - 180
    hours = np.clip(8.0 * np.cos(np.radians(delta)), 0, None) * (np.asarray(dec)[:, None] < 20)
    dates = tuple(start + timedelta(days=int(i)) for i in d)
    return SkyArrays(dates, dark, fli, np.minimum(hours, dark))


@pytest.mark.parametrize("seed", [1, 2])
def test_cpsat_is_valid_and_never_worse_than_greedy(seed):
    # given a small seeded period with links
    spec = SyntheticSpec(
        n_runs=40, n_telescopes=2, n_nights=30, vm_load=0.9, seed=seed, link_fraction=0.2
    )
    p = synthetic_problem(spec, sky=toy_sky)
    # when
    g = solve_greedy(p)
    c = solve_cpsat(p, time_limit_s=10, random_seed=seed)
    # then
    assert check_solution(p, g) == []
    assert check_solution(p, c) == []
    assert c.info.objective >= g.info.objective
    assert c.info.greedy_objective == g.info.objective
    assert c.info.bound is not None and c.info.bound >= c.info.objective


def test_synthetic_period_has_the_requested_mix():
    p = synthetic_problem(
        SyntheticSpec(n_runs=200, n_telescopes=4, n_nights=60, seed=3, vm_load=0.7), sky=toy_sky
    )
    vm = [r for r in p.runs if r.mode == "VM"]
    assert len(p.runs) == 200 and len(p.telescopes) == 4
    available = sum(60 - len(t.technical) for t in p.telescopes)
    assert sum(r.nights for r in vm) == pytest.approx(0.7 * available, rel=0.1)
    tech = np.mean([len(t.technical) / 60 for t in p.telescopes])
    assert 0.08 <= tech <= 0.2
    assert {r.rank_class for r in p.runs} == {"A", "B", "C"}
    assert 2.0 < np.mean([r.grade for r in p.runs]) < 3.2
    same = synthetic_problem(
        SyntheticSpec(n_runs=200, n_telescopes=4, n_nights=60, seed=3, vm_load=0.7), sky=toy_sky
    )
    assert [r.id for r in same.runs] == [r.id for r in p.runs]
    assert [r.grade for r in same.runs] == [r.grade for r in p.runs]


def test_progress_reports_objective_bound_and_elapsed_time():
    p = synthetic_problem(
        SyntheticSpec(n_runs=30, n_telescopes=2, n_nights=20, seed=4), sky=toy_sky
    )
    events: list[Progress] = []
    s = solve_cpsat(p, time_limit_s=10, progress=events.append)
    assert events
    last = events[-1]
    assert last.bound >= last.objective > 0
    assert all(e.elapsed_s >= 0 for e in events)
    assert s.info.status == "OPTIMAL"
    assert s.info.bound is not None
    assert s.info.cpsat_objective == s.info.bound  # the block model, proven
    assert last.objective == s.info.objective  # the delivered schedule
    assert last.bound == max(s.info.bound, s.info.objective)


def test_progress_of_a_linked_period_stays_within_the_final_figures():
    # given two telescopes tied by a same-nights link (one model)
    spec = SyntheticSpec(
        n_runs=40, n_telescopes=2, n_nights=30, vm_load=0.9, seed=1, link_fraction=0.2
    )
    p = synthetic_problem(spec, sky=toy_sky)
    assert any(
        x.kind == "same_nights" and p.run(x.first).telescope != p.run(x.second).telescope
        for x in p.links
    )
    events: list[Progress] = []
    # when
    s = solve_cpsat(p, time_limit_s=10, random_seed=1, progress=events.append)
    # then: the block model's objective never passes its bound, and the last report is the
    # delivered schedule, within a tenth of a percent of the model
    assert s.info.status == "OPTIMAL"
    bound, model = s.info.bound, s.info.cpsat_objective
    assert bound is not None and model == bound
    assert all(e.objective <= e.bound for e in events)
    assert all(e.bound >= model for e in events)
    assert events[-1].objective == s.info.objective
    assert s.info.objective == pytest.approx(model, rel=1e-3)


def test_independent_telescopes_are_solved_as_separate_parts():
    p = synthetic_problem(
        SyntheticSpec(n_runs=30, n_telescopes=3, n_nights=20, seed=5, link_fraction=0.0),
        sky=toy_sky,
    )
    parts = split(p)
    assert len(parts) == 3
    assert sum(len(q.runs) for q in parts) == len(p.runs)


def test_one_telescope_parts_and_a_linked_model_are_each_proven_and_merged():
    # given three telescopes, two of them tied by an apart link (one model of two telescopes
    # solved after the one-telescope part)
    p = synthetic_problem(
        SyntheticSpec(n_runs=45, n_telescopes=3, n_nights=30, seed=8, link_fraction=0.0),
        sky=toy_sky,
    )
    first = next(r for r in p.runs if r.mode == "VM" and r.telescope == "UT1")
    second = next(r for r in p.runs if r.mode == "VM" and r.telescope == "UT2")
    p = replace(p, links=(Link(first.id, second.id, "apart", min_days=0, max_days=10),))
    events: list[Progress] = []
    # when
    s = solve_cpsat(p, time_limit_s=20, progress=events.append)
    # then: both parts proven, the bound is their sum, the schedule honours everything
    parts = {x["telescopes"]: x for x in s.info.parts}
    assert set(parts) == {"UT1,UT2", "UT3"}
    assert {x["status"] for x in parts.values()} == {"OPTIMAL"}
    assert s.info.status == "OPTIMAL"
    bounds = [x["bound"] for x in parts.values()]
    assert None not in bounds
    assert s.info.bound == sum(b for b in bounds if b is not None) == s.info.cpsat_objective
    assert check_solution(p, s) == []
    assert s.info.objective >= solve_greedy(p).info.objective
    assert events[-1].bound == max(s.info.bound, s.info.objective)


def test_statistics_account_for_every_requested_hour_and_explain_left_out_runs():
    p = synthetic_problem(
        SyntheticSpec(n_runs=60, n_telescopes=2, n_nights=30, seed=6, vm_load=1.3), sky=toy_sky
    )
    s = solve_cpsat(p, time_limit_s=10)
    stats = statistics(p, s)
    requested = sum(row.requested for row in stats.by_class.values())
    assert requested == pytest.approx(sum(row.requested for row in stats.by_ra_bin))
    scheduled = sum(row.scheduled for row in stats.by_class.values())
    assert scheduled == pytest.approx(stats.score.hours)
    left_vm = {x.run for x in stats.left_out if x.mode == "VM"}
    assert left_vm == {r.id for r in p.runs if r.mode == "VM"} - set(s.vm_starts)
    assert all(x.reason for x in stats.left_out)
    text = format_statistics(p, stats)
    assert "class A" in text and "RA bin" in text


def test_calendar_renders_a_png(tmp_path):
    from scheduling.engine.longterm.plot import render_calendar

    p = synthetic_problem(
        SyntheticSpec(n_runs=30, n_telescopes=2, n_nights=40, seed=7), sky=toy_sky
    )
    s = solve_greedy(p)
    out = render_calendar(p, s, tmp_path / "cal.png", nights_per_panel=20)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
