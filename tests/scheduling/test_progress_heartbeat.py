"""A running job's progress rows keep coming while the search is quiet (heartbeats), in time
order, ending with the solve's final report.

Tested on the job's solve loop (``services._solve_with_progress``) with a real CP-SAT search
of a synthetic period of the engine (100 runs on two telescopes over 90 nights: the search
reports within a second and runs to its time limit). A quiet engine cannot be ordered from a
real search, so the first test passes the loop only the engine's first report (the search
itself runs in full); the second takes the whole stream. The job's other steps (the period's
problem, the check, the stored version) and a real worker are covered by
tests/scheduling/test_jobs.py and tests/integration/test_schedule_worker.py.
"""

import time
from collections.abc import Callable

import pytest

from scheduling import services
from scheduling.engine.longterm.problem import Problem
from scheduling.engine.longterm.solution import Progress, Solution
from scheduling.engine.longterm.synthetic import SyntheticSpec, synthetic_problem
from scheduling.models import JobProgress, JobStatus, ScheduleJob
from tests.factories import PeriodFactory

TIME_LIMIT_S = 4
EVERY = services.PROGRESS_EVERY_S


@pytest.fixture(scope="module")
def problem() -> Problem:
    return synthetic_problem(SyntheticSpec(n_runs=100, n_telescopes=2, n_nights=90))


@pytest.fixture
def job(db: None) -> ScheduleJob:
    return ScheduleJob.objects.create(
        period=PeriodFactory.create(),
        solver="cpsat",
        time_limit_s=TIME_LIMIT_S,
        status=JobStatus.RUNNING,
    )


def rows_of(job: ScheduleJob) -> list[JobProgress]:
    return list(JobProgress.objects.filter(job=job).order_by("id"))  # in the order written


def test_a_quiet_search_still_writes_a_row_about_every_half_second(
    job: ScheduleJob, problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the engine's first report is the last the job hears of (a search that finds its
    # schedule at once, then works on the bound without a word)
    solve_cpsat = services.solve_cpsat

    def first_report_only(
        problem: Problem, *, time_limit_s: float, progress: Callable[[Progress], None]
    ) -> Solution:
        heard: list[Progress] = []

        def forward(p: Progress) -> None:
            if not heard:
                heard.append(p)
                progress(p)

        return solve_cpsat(problem, time_limit_s=time_limit_s, progress=forward)

    monkeypatch.setattr(services, "solve_cpsat", first_report_only)
    # when
    started = time.monotonic()
    solution = services._solve_with_progress(job, problem)
    wall = time.monotonic() - started
    # then: a row every half second or so until the solve ends, each repeating that report
    assert solution is not None
    rows = rows_of(job)
    first = rows[0]
    assert all(
        (r.objective, r.bound, r.gap) == (first.objective, first.bound, first.gap) for r in rows
    )
    steps = [b.elapsed_s - a.elapsed_s for a, b in zip(rows, rows[1:], strict=False)]
    assert steps, "no heartbeat"
    assert all(EVERY - 0.01 <= s < 3 * EVERY for s in steps), steps
    assert rows[-1].elapsed_s > wall - 3 * EVERY


def test_a_searchs_rows_are_in_time_order_and_end_with_its_final_report(
    job: ScheduleJob, problem: Problem
) -> None:
    # when
    solution = services._solve_with_progress(job, problem)
    # then: written in the order of their times, never far apart, the last one the solve's
    assert solution is not None
    rows = rows_of(job)
    elapsed = [r.elapsed_s for r in rows]
    assert elapsed == sorted(elapsed)
    steps = [b - a for a, b in zip(elapsed, elapsed[1:], strict=False)]
    assert max(steps) < 3 * EVERY, steps
    last = rows[-1]
    assert last.objective == solution.info.objective
    assert last.elapsed_s == pytest.approx(solution.info.wall_s, abs=2e-3)
