"""Writes of the long-term schedule: start and cancel a solve job, and the job's body (solve,
record progress, check, store a schedule version).

A job is ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled``; a queued job can
be cancelled at once. The database allows one queued or running job per period
(``one_active_job_per_period``), so two solves of a period never write over each other.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.permissions import is_staff_member
from proposals.models import Mode, ObservingRun, Period
from scheduling import adapter
from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Problem, ProblemError, ScheduleConflict
from scheduling.engine.longterm.solution import Progress, Solution, statistics
from scheduling.models import (
    JobProgress,
    JobStatus,
    LeftOut,
    Placement,
    RunNight,
    ScheduleEvent,
    ScheduleJob,
    ScheduleVersion,
    SMReservation,
    Solver,
)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
MAX_TIME_LIMIT_S = 3600
PROGRESS_EVERY_S = 0.5
"""At most one progress row per this many seconds (CP-SAT reports every improvement, which
can be hundreds a second early in a search); the last report is always stored. While the
engine reports nothing new (a search can go quiet for minutes), its last report is repeated
at this pace with the time moved on: a heartbeat, so that a long solve visibly progresses."""
HEARTBEAT_ROWS = 240
"""Heartbeats of a job are spaced so that its time limit holds at most about this many (the
job page fetches every row each second: an hour's solve beats every 15 s)."""


def job_start(*, period_id: int, actor: User, solver: str, time_limit_s: int) -> ScheduleJob:
    """Queue a solve of the period's long-term schedule (staff only).

    Refused with 409 while another job of the period is queued or running, and with 400
    naming the runs when the period's input is inconsistent (a pin on a technical night, a
    link that cannot hold), before any job exists. The task is queued on commit.
    """
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff schedule a period.")
    if solver not in Solver.values:
        raise InvalidInput("Unknown solver.", {"solver": [f"One of {', '.join(Solver.values)}."]})
    if not 1 <= time_limit_s <= MAX_TIME_LIMIT_S:
        raise InvalidInput(
            "Time limit out of range.",
            {"time_limit_s": [f"Between 1 and {MAX_TIME_LIMIT_S} seconds."]},
        )
    period = Period.objects.get(pk=period_id)
    _refuse_if_active(period_id)  # cheap, and before the problem is built
    try:
        pp = adapter.problem_for_period(period)
    except (ProblemError, ScheduleConflict) as exc:
        raise InvalidInput(f"The period cannot be scheduled: {exc}", {"runs": [str(exc)]}) from exc
    problems = adapter.check_period_problem(pp)
    if problems:
        raise InvalidInput(
            "The period's schedule input is inconsistent: " + "; ".join(problems),
            {"runs": list(problems)},
        )
    with transaction.atomic():
        try:
            with transaction.atomic():  # the constraint backs the check above (a race)
                job = ScheduleJob.objects.create(
                    period=period, solver=solver, time_limit_s=time_limit_s, created_by=actor
                )
        except IntegrityError:
            raise _active_error() from None
        transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from scheduling.tasks import solve_schedule

    solve_schedule.delay(job_id)


def _active_error() -> TransitionNotAllowed:
    return TransitionNotAllowed(
        "A schedule job of this period is already queued or running: wait for it or cancel it."
    )


def _refuse_if_active(period_id: int) -> None:
    if ScheduleJob.objects.filter(period_id=period_id, status__in=ACTIVE).exists():
        raise _active_error()


@transaction.atomic
def job_cancel(*, job_id: int, actor: User) -> ScheduleJob:
    """Cancel a job: a queued one at once; a running one stops at its next progress report
    (the engine cannot interrupt a search: the solve runs to its time limit and its result is
    discarded, but the job is marked cancelled as soon as the task notices)."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff cancel a schedule job.")
    job = ScheduleJob.objects.select_for_update().get(pk=job_id)
    if job.status in FINISHED:
        raise TransitionNotAllowed(f"The job is already {job.status}.")
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.status == JobStatus.QUEUED:
        job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
        fields += ["status", "finished_at"]
    job.save(update_fields=fields)
    return job


# ---------------------------------------------------------------------------------------------
# The job's body (called by the Celery task)
# ---------------------------------------------------------------------------------------------


def job_run(*, job_id: int) -> ScheduleJob:
    """Run a queued job: build the problem, solve with progress rows, check, store a version.

    Idempotent: a job that is not queued (running elsewhere, finished, cancelled) is left
    alone. Not one transaction: progress rows must commit while the solve runs so that the
    page sees them; the version is stored in one transaction at the end.
    """
    with transaction.atomic():
        job = ScheduleJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.QUEUED:
            return job
        job.status, job.started_at = JobStatus.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
    try:
        pp = adapter.problem_for_period(job.period)
        solution = _solve_with_progress(job, pp.problem)
        if solution is None:
            return _finish(job.pk, JobStatus.CANCELLED)
        errors = check_solution(pp.problem, solution)
        if errors:
            return _finish(
                job.pk, JobStatus.FAILED, "The schedule failed its check: " + "; ".join(errors)
            )
        return _store(job.pk, pp.problem, pp.runs, solution)
    except Exception as exc:  # noqa: BLE001  any failure is the job's, shown on its page
        return _finish(job.pk, JobStatus.FAILED, _describe(exc))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ScheduleConflict):
        return "Pins and links cannot all be honoured: " + "; ".join(exc.conflicts)
    return f"{type(exc).__name__}: {exc}"


def _finish(job_id: int, status: JobStatus, error: str = "") -> ScheduleJob:
    with transaction.atomic():
        job = ScheduleJob.objects.select_for_update().get(pk=job_id)
        if job.status in FINISHED:
            return job
        job.status, job.error, job.finished_at = status, error[:10_000], timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
    return job


def _cancel_requested(job_id: int) -> bool:
    return bool(
        ScheduleJob.objects.filter(pk=job_id).values_list("cancel_requested", flat=True).first()
    )


def _solve_with_progress(job: ScheduleJob, problem: Problem) -> Solution | None:
    """The solve in a thread; this thread writes its progress rows (each committed alone, with
    heartbeats while the engine is quiet) and watches for cancellation. ``None``: cancelled
    (the solve's result is discarded).

    The engine calls ``progress`` from CP-SAT's own threads, where a database write would open
    another connection (and, under a test's transaction, block on its lock): the callback only
    hands the report over, and the job's thread writes it.
    """
    reports: queue.Queue[Progress] = queue.Queue()
    result: dict[str, Any] = {}

    def solve() -> None:
        try:
            result["solution"] = _solver(job)(problem, reports.put)
        except BaseException as exc:  # noqa: BLE001  re-raised in the job's thread
            result["error"] = exc

    thread = threading.Thread(target=solve, name=f"schedule-job-{job.pk}", daemon=True)
    thread.start()
    heartbeat_s = max(PROGRESS_EVERY_S, job.time_limit_s / HEARTBEAT_ROWS)
    last_write = float("-inf")
    pending: Progress | None = None  # the newest report, not written yet
    latest: tuple[Progress, float] | None = None  # the newest report and when it arrived
    while thread.is_alive() or not reports.empty():
        try:
            pending = reports.get(timeout=PROGRESS_EVERY_S)
            while not reports.empty():  # keep only the newest report
                pending = reports.get_nowait()
            latest = (pending, time.monotonic())
        except queue.Empty:
            pass
        if _cancel_requested(job.pk):
            _finish(job.pk, JobStatus.CANCELLED)  # the page sees it now; the solve runs out
            thread.join()
            return None
        now = time.monotonic()
        if pending is not None and now - last_write >= PROGRESS_EVERY_S:
            _record(job.pk, pending)
            pending, last_write = None, now
        elif pending is None and latest is not None and now - last_write >= heartbeat_s:
            # Nothing new: the last report again, at the engine's time (its own clock plus the
            # time since the report arrived never runs ahead of it, so rows stay in order).
            report, arrived = latest
            _record(job.pk, replace(report, elapsed_s=report.elapsed_s + now - arrived))
            last_write = now
    thread.join()
    if pending is not None:  # the last report (the solve's final one) is always stored
        _record(job.pk, pending)
    if _cancel_requested(job.pk):
        return None
    if "error" in result:
        raise result["error"]
    solution: Solution = result["solution"]
    return solution


def _solver(job: ScheduleJob) -> Callable[[Problem, Callable[[Progress], None]], Solution]:
    if job.solver == Solver.GREEDY:
        return lambda problem, progress: solve_greedy(problem, progress=progress)
    limit = float(job.time_limit_s)
    return lambda problem, progress: solve_cpsat(problem, time_limit_s=limit, progress=progress)


def _record(job_id: int, p: Progress) -> None:
    JobProgress.objects.create(
        job_id=job_id,
        elapsed_s=round(p.elapsed_s, 3),
        objective=p.objective,
        bound=p.bound,
        gap=p.gap,
    )


# ---------------------------------------------------------------------------------------------
# Storing a version
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def _store(
    job_id: int, problem: Problem, runs: dict[str, ObservingRun], solution: Solution
) -> ScheduleJob:
    job = ScheduleJob.objects.select_for_update().get(pk=job_id)
    if job.status != JobStatus.RUNNING or job.cancel_requested:
        return _finish(job_id, JobStatus.CANCELLED) if job.status == JobStatus.RUNNING else job
    stats = statistics(problem, solution)
    info = solution.info
    last = ScheduleVersion.objects.filter(period_id=job.period_id).aggregate(n=Max("number"))["n"]
    version = ScheduleVersion.objects.create(
        period_id=job.period_id,
        job=job,
        number=(last or 0) + 1,
        solver=job.solver,
        status=info.status.lower(),
        objective=float(info.objective),
        bound=None if info.bound is None else float(info.bound),
        statistics=statistics_json(stats, solution),
    )
    Placement.objects.bulk_create(placements(version, problem, runs, solution))
    LeftOut.objects.bulk_create(
        LeftOut(version=version, run=runs[x.run], reason=x.reason[:500]) for x in stats.left_out
    )
    job.status, job.finished_at = JobStatus.DONE, timezone.now()
    job.save(update_fields=["status", "finished_at"])
    return job


def statistics_json(stats: Any, solution: Solution) -> dict[str, Any]:
    """The engine's statistics as JSON: requested vs scheduled hours per rank class and RA
    bin, telescope pressure, runs left out, and how the solve went."""

    def row(r: Any) -> dict[str, float]:
        return {
            "vm_requested": r.vm_requested,
            "vm_scheduled": r.vm_scheduled,
            "sm_requested": r.sm_requested,
            "sm_scheduled": r.sm_scheduled,
            "requested": r.requested,
            "scheduled": r.scheduled,
        }

    info = solution.info
    return _finite(
        {
            "by_class": {c: row(r) for c, r in stats.by_class.items()},
            "by_ra_bin": [row(r) for r in stats.by_ra_bin],
            "pressure": [
                {**asdict(p), "vm_pressure": p.vm_pressure, "sm_pressure": p.sm_pressure}
                for p in stats.pressure
            ],
            "score": asdict(stats.score),
            "left_out": {
                "vm": sum(1 for x in stats.left_out if x.mode == "VM"),
                "sm_short": sum(1 for x in stats.left_out if x.mode == "SM"),
            },
            # The SM part of the solution as the engine returned it: a stored version can be
            # rebuilt exactly (placements spread it per night) and checked again.
            "sm_served": dict(solution.sm_served),
            "reservations": [asdict(r) for r in solution.reservations],
            # SM hours the solver's block model promised, and those a queue can deliver
            # night by night (the placements); what the end-of-solve pass added
            "sm_model_hours": solution.info.sm_model_hours,
            "sm_deliverable_hours": stats.sm_deliverable_hours,
            "improvement": solution.info.improvement,
            "solve": {
                "solver": info.solver,
                "status": info.status,
                "objective": info.objective,
                "bound": info.bound,
                "gap": info.gap,
                "wall_s": round(info.wall_s, 3),
                "winner": info.winner,
                "greedy_objective": info.greedy_objective,
            },
        }
    )


def _finite(value: Any) -> Any:
    """JSON has no infinity nor NaN (a pressure over no available night): None instead."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def placements(
    version: ScheduleVersion,
    problem: Problem,
    runs: dict[str, ObservingRun],
    solution: Solution,
) -> list[Placement]:
    """A VM run: a row per night it uses, with its halves and the hours of those halves. An SM
    run: a row per night the engine's night-by-night delivery serves it, with those hours."""
    out: list[Placement] = []
    dark = problem.dark_hours
    for rid, start in sorted(solution.vm_starts.items()):
        run = problem.run(rid)
        halves: dict[int, set[int]] = {}
        for s in range(start, start + run.slots):
            halves.setdefault(s // 2, set()).add(s % 2)
        for night, hs in sorted(halves.items()):
            out.append(
                Placement(
                    version=version,
                    run=runs[rid],
                    date=problem.dates[night],
                    hours=round(float(dark[night]) / 2 * len(hs), 3),
                    first_half=0 in hs,
                    second_half=1 in hs,
                )
            )
    for rid, per_night in sorted(solution.sm_nights.items()):
        for night, hours in sorted(per_night.items()):
            if hours > 0:
                out.append(
                    Placement(
                        version=version, run=runs[rid], date=problem.dates[night], hours=hours
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Accepting a version, and the demo's synchronous greedy version
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def version_accept(*, version_id: int, actor: User) -> ScheduleVersion:
    """Accept a stored version as the period's schedule (staff only).

    Under the lock of all the period's versions: the version becomes the accepted one (the
    previous acceptance is cleared), every VM night and SM reservation of the period's runs is
    replaced by the version's placements (VM -> ``RunNight`` with its halves, SM ->
    ``SMReservation``), and an event row says who did it. Travel requests that no longer cover
    their run's new nights are marked as needing an update (``travel.recheck_travel``). 409 if
    it is already accepted.
    """
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff accept a schedule.")
    period_id = ScheduleVersion.objects.values_list("period_id", flat=True).get(pk=version_id)
    versions = {
        v.pk: v for v in ScheduleVersion.objects.select_for_update().filter(period_id=period_id)
    }
    version = versions.get(version_id)
    if version is None:  # moved to another period between the two reads (never, in practice)
        raise TransitionNotAllowed("The version no longer belongs to its period.")
    if version.accepted_at is not None:
        raise TransitionNotAllowed(f"Version {version.number} is already the accepted schedule.")
    previous = [v for v in versions.values() if v.accepted_at is not None]
    ScheduleVersion.objects.filter(pk__in=[v.pk for v in previous]).update(
        accepted_at=None, accepted_by=None
    )
    version.accepted_at, version.accepted_by = timezone.now(), actor
    version.save(update_fields=["accepted_at", "accepted_by"])

    RunNight.objects.filter(run__proposal__period_id=period_id).delete()
    SMReservation.objects.filter(run__proposal__period_id=period_id).delete()
    rows = list(version.placements.select_related("run").order_by("date", "run_id"))
    nights = [
        RunNight(
            run=p.run,
            date=p.date,
            first_half=p.first_half,
            second_half=p.second_half,
            version=version,
        )
        for p in rows
        if p.run.mode == Mode.VM
    ]
    reservations = [
        SMReservation(run=p.run, date=p.date, hours=p.hours, version=version)
        for p in rows
        if p.run.mode != Mode.VM
    ]
    RunNight.objects.bulk_create(nights)
    SMReservation.objects.bulk_create(reservations)
    note = f"{len(nights)} VM nights, {len(reservations)} SM reservations"
    if previous:
        note += "; replaces version " + ", ".join(str(v.number) for v in previous)
    ScheduleEvent.objects.create(
        period_id=period_id, version=version, actor=actor, action="accepted", note=note
    )
    from scheduling.travel import recheck_travel

    recheck_travel(period_id=period_id, actor=actor)
    return version


def version_from_greedy(*, period_id: int, actor: User) -> ScheduleVersion:
    """Solve the period with the greedy solver now, in this process (the demo's fast path), and
    store the result as a version through the job's own code path. 409 while another job of
    the period is active; 400 with the job's error if the solve failed."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff schedule a period.")
    try:
        with transaction.atomic():
            job = ScheduleJob.objects.create(
                period_id=period_id, solver=Solver.GREEDY, time_limit_s=60, created_by=actor
            )
    except IntegrityError:
        raise _active_error() from None
    job = job_run(job_id=job.pk)
    if job.status != JobStatus.DONE:
        raise InvalidInput(f"The greedy solve {job.status}: {job.error}", {"job": [job.error]})
    return ScheduleVersion.objects.get(job=job)
