"""Staff pages of the long-term schedule: a period's jobs and versions (start a solve, see
the input's issues first), its pins and links (add, remove), a job with its live progress, a
version's calendar (nights × telescopes; "Pin here" on a placed VM run), accepting it, and the
comparison of two versions.

Thin, like the review's staff pages: staff only (403 for anyone else, the login page for
anonymous visitors), every write is one service whose errors go back onto the page.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError
from dataflow.observatory.models import Site, Telescope
from dataflow.permissions import ensure_staff, signed_in
from proposals.forms import add_domain_errors
from proposals.models import Mode, ObservingRun, Period
from proposals.review.models import RunDecision
from proposals.rules import posted_id
from scheduling import adapter, pins, selectors, services
from scheduling.engine.longterm.problem import ProblemError, ScheduleConflict
from scheduling.forms import JobStartForm, LinkForm, PinForm
from scheduling.models import (
    CalendarNight,
    JobStatus,
    Placement,
    RunLink,
    RunPin,
    ScheduleJob,
    ScheduleVersion,
)

# --- period -----------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The latest period with approved runs (else the latest period)."""
    ensure_staff(request.user, "schedule the periods")
    approved = RunDecision.objects.filter(approved=True).values("run__proposal__period")
    period = (
        Period.objects.filter(pk__in=approved).order_by("-number").first()
        or Period.objects.order_by("-number").first()
    )
    if period is None:
        raise Http404("No period is defined yet.")
    return redirect("schedule:period", number=period.number)


def input_issues(period: Period) -> list[str]:
    """What :func:`adapter.check_period_problem` finds (each naming its runs), or why the
    period cannot become a problem at all."""
    try:
        pp = adapter.problem_for_period(period)
    except (ProblemError, ScheduleConflict) as exc:
        return [f"The period cannot be scheduled: {exc}"]
    return adapter.check_period_problem(pp)


@dataclass(frozen=True)
class LinkRow:
    link: RunLink
    text: str  # in the engine's words, as the issues name it


def _period_page(
    request: HttpRequest,
    period: Period,
    form: JobStartForm | None = None,
    pin_form: PinForm | None = None,
    link_form: LinkForm | None = None,
) -> HttpResponse:
    runs = pins.pinnable_runs(period.pk)
    context = {
        "period": period,
        "form": form or JobStartForm(),
        "pin_form": pin_form or PinForm(runs=runs),
        "link_form": link_form or LinkForm(runs=runs),
        "pins": pins.period_pins(period.pk),
        "links": [LinkRow(row, pins.describe_link(row)) for row in pins.period_links(period.pk)],
        "issues": input_issues(period),
        "jobs": selectors.period_jobs(period.pk).select_related("version"),
        "versions": selectors.period_versions(period.pk).select_related("accepted_by"),
        "periods": Period.objects.order_by("-number"),
    }
    return render(request, "scheduling/period.html", context)


@login_required
def period(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    return _period_page(request, get_object_or_404(Period, number=number))


@login_required
@require_POST
def job_start(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(Period, number=number)
    form = JobStartForm(request.POST)
    if form.is_valid():
        try:
            job = services.job_start(
                period_id=found.pk,
                actor=signed_in(request.user),
                solver=form.cleaned_data["solver"],
                time_limit_s=form.cleaned_data["time_limit_s"],
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            return redirect("schedule:job", job_id=job.pk)
    return _period_page(request, found, form)


# --- pins and links ---------------------------------------------------------------------------


@login_required
@require_POST
def pin_add(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(Period, number=number)
    form = PinForm(request.POST, runs=pins.pinnable_runs(found.pk))
    if form.is_valid():
        try:
            pin = pins.pin_set(
                period_id=found.pk,
                run_id=form.cleaned_data["run"].pk,
                start=form.cleaned_data["start"],
                second_half=form.cleaned_data["second_half"],
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"{pin.run} pinned on {_pin_place(pin)}: re-solve to apply.")
            return redirect(f"{reverse('schedule:period', args=[found.number])}#pins")
    return _period_page(request, found, pin_form=form)


def _pin_place(pin: RunPin) -> str:
    return f"{pin.start.isoformat()}{' (second half)' if pin.second_half else ''}"


@login_required
@require_POST
def pin_remove(request: HttpRequest, pin_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(RunPin.objects.select_related("run__proposal__period"), pk=pin_id)
    try:
        pins.pin_remove(pin_id=found.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Pin of {found.run} removed.")
    period = found.run.proposal.period
    return redirect(f"{reverse('schedule:period', args=[period.number])}#pins")


@login_required
@require_POST
def pin_here(request: HttpRequest, version_id: int) -> HttpResponse:
    """Pin a VM run where this version placed it (its first night and half)."""
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(ScheduleVersion, pk=version_id)
    run_id = posted_id(request.POST.get("run", ""))
    first = (
        found.placements.filter(run_id=run_id, run__mode=Mode.VM)
        .select_related("run__proposal")
        .order_by("date")
        .first()
        if run_id is not None
        else None
    )
    if first is None:
        messages.error(request, f"That run has no visitor-mode night in v{found.number}.")
    else:
        try:
            pin = pins.pin_set(
                period_id=found.period_id,
                run_id=first.run_id,
                start=first.date,
                second_half=not first.first_half,
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{pin.run} pinned on {_pin_place(pin)}.")
    return redirect("schedule:version", version_id=found.pk)


@login_required
@require_POST
def link_add(request: HttpRequest, number: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(Period, number=number)
    form = LinkForm(request.POST, runs=pins.pinnable_runs(found.pk))
    if form.is_valid():
        data = form.cleaned_data
        try:
            link = pins.link_add(
                period_id=found.pk,
                first_id=data["first"].pk,
                second_id=data["second"].pk,
                kind=data["kind"],
                min_days=data["min_days"],
                max_days=data["max_days"],
                ordered=data["ordered"],
                actor=signed_in(request.user),
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Added: {pins.describe_link(link)}.")
            return redirect(f"{reverse('schedule:period', args=[found.number])}#links")
    return _period_page(request, found, link_form=form)


@login_required
@require_POST
def link_remove(request: HttpRequest, link_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(
        RunLink.objects.select_related("first__proposal__period", "second__proposal"), pk=link_id
    )
    text = pins.describe_link(found)
    try:
        pins.link_remove(link_id=found.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed: {text}.")
    period = found.first.proposal.period
    return redirect(f"{reverse('schedule:period', args=[period.number])}#links")


# --- job --------------------------------------------------------------------------------------


@login_required
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = selectors.job_with_progress(job_id)
    if found is None:
        raise Http404("No such job.")
    rows = list(found.progress.all())
    last = rows[-1] if rows else None
    active = found.status in services.ACTIVE
    context = {
        "job": found,
        "period": found.period,
        "version": getattr(found, "version", None),
        "active": active,
        "last": last,
        "elapsed": f"{_elapsed(found, last.elapsed_s if last else None):.1f}",
        "gap_pct": None if last is None or last.gap is None else f"{100 * last.gap:.2f}",
    }
    return render(request, "scheduling/job.html", context)


def _elapsed(job: ScheduleJob, reported: float | None) -> float:
    """Seconds for the progress bar: full once the job is done; else the solve's time."""
    if job.status == JobStatus.DONE:
        return float(job.time_limit_s)
    if job.started_at is None:
        return 0.0
    end = job.finished_at or dt.datetime.now(tz=dt.UTC)
    wall = (end - job.started_at).total_seconds()
    return min(float(job.time_limit_s), max(wall, reported or 0.0))


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(ScheduleJob, pk=job_id)
    try:
        services.job_cancel(job_id=found.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job {found.pk} cancelled.")
    return redirect("schedule:job", job_id=found.pk)


# --- version: the calendar ---------------------------------------------------------------------


@dataclass(frozen=True)
class VMBlock:
    """A VM run on one night of a version."""

    name: str
    half: str  # "" or "1st half" / "2nd half"
    run_id: int
    start: bool  # the run's first night in this version ("Pin here" is offered there)
    pinned: bool  # pinned on exactly this start
    pinned_elsewhere: str = ""  # where its pin is, when not here (on its first night only)


@dataclass
class Cell:
    """One telescope on one night of a version."""

    closed: str = ""  # "technical" / "closed" (CalendarNight.kind), else ""
    note: str = ""
    vm: list[VMBlock] = field(default_factory=list)
    sm: list[tuple[str, float]] = field(default_factory=list)  # (run name, hours)

    @property
    def sm_hours(self) -> float:
        return sum(h for _, h in self.sm)

    @property
    def sm_title(self) -> str:
        return "; ".join(f"{name}: {hours:.1f} h" for name, hours in self.sm)


@dataclass(frozen=True)
class Night:
    date: dt.date
    moon_fli: float | None
    cells: list[Cell]


def _half(p: Placement) -> str:
    if p.first_half and p.second_half:
        return ""
    return "1st half" if p.first_half else "2nd half"


def calendar(version: ScheduleVersion) -> tuple[list[Telescope], list[Night]]:
    """The period's nights × telescopes: VM runs by name, SM hours per night, technical and
    closed nights, the moon's illuminated fraction per night."""
    period = version.period
    dates = [
        period.start + dt.timedelta(days=i) for i in range((period.end - period.start).days + 1)
    ]
    placements = list(version.placements.all())
    starts: dict[int, Placement] = {}
    for p in sorted(placements, key=lambda p: p.date):
        starts.setdefault(p.run_id, p)
    pinned = {
        pin.run_id: (pin.start, pin.second_half)
        for pin in RunPin.objects.filter(run_id__in=list(starts))
    }
    telescopes = list(Telescope.objects.select_related("site").order_by("name"))
    column = {t.pk: i for i, t in enumerate(telescopes)}
    grid = {d: [Cell() for _ in telescopes] for d in dates}
    for night in CalendarNight.objects.filter(date__range=(period.start, period.end)):
        if night.date in grid and night.telescope_id in column:
            cell = grid[night.date][column[night.telescope_id]]
            cell.closed, cell.note = night.kind, night.note
    for p in placements:
        if p.date not in grid or p.run.telescope_id not in column:
            continue
        cell = grid[p.date][column[p.run.telescope_id]]
        if p.run.mode == Mode.VM:
            start = starts[p.run_id] is p
            pin = pinned.get(p.run_id)
            here = pin == (p.date, not p.first_half)
            elsewhere = ""
            if start and pin is not None and not here:
                elsewhere = pin[0].isoformat() + (" (second half)" if pin[1] else "")
            cell.vm.append(
                VMBlock(str(p.run), _half(p), p.run_id, start, start and here, elsewhere)
            )
        else:
            cell.sm.append((str(p.run), p.hours))
    site = _site(placements, telescopes)
    fli = moon_fli(site, period.start, period.end) if site is not None else ()
    return telescopes, [
        Night(d, fli[i] if i < len(fli) else None, grid[d]) for i, d in enumerate(dates)
    ]


def _site(placements: list[Placement], telescopes: list[Telescope]) -> Site | None:
    """The site of most placed runs (as the adapter's primary site), else the first one."""
    counts: dict[int, int] = defaultdict(int)
    sites = {t.site_id: t.site for t in telescopes}
    for p in placements:
        counts[p.run.telescope.site_id] += 1
    if counts:
        return sites.get(max(counts, key=lambda s: (counts[s], -s)))
    return telescopes[0].site if telescopes else None


def moon_fli(site: Site, start: dt.date, end: dt.date) -> tuple[float, ...]:
    return _moon_fli(site.pk, site.name, site.latitude_deg, site.longitude_deg, start, end)


@functools.lru_cache(maxsize=16)
def _moon_fli(
    pk: int, name: str, lat: float, lon: float, start: dt.date, end: dt.date
) -> tuple[float, ...]:
    """The moon's illuminated fraction per night (the engine's sky, no targets); cached per
    site and period, since a page shows the same period again and again."""
    from scheduling.engine.longterm.sky import sky_arrays

    site = Site.objects.get(pk=pk)
    empty = np.zeros(0)
    sky = sky_arrays(site.as_astro(), empty, empty, start, end, empty)
    return tuple(round(float(x), 2) for x in sky.moon_fli)


@dataclass(frozen=True)
class StatRow:
    label: str
    requested: float
    scheduled: float
    vm_requested: float
    vm_scheduled: float
    sm_requested: float
    sm_scheduled: float

    @property
    def fraction(self) -> float | None:
        return self.scheduled / self.requested if self.requested else None


def _stat_row(label: str, row: dict[str, Any]) -> StatRow:
    def num(key: str) -> float:
        value = row.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    return StatRow(
        label,
        num("requested"),
        num("scheduled"),
        num("vm_requested"),
        num("vm_scheduled"),
        num("sm_requested"),
        num("sm_scheduled"),
    )


def by_class(version: ScheduleVersion) -> list[StatRow]:
    rows = (version.statistics or {}).get("by_class") or {}
    return [_stat_row(c, rows[c]) for c in sorted(rows)]


def by_ra_bin(version: ScheduleVersion) -> list[StatRow]:
    rows = (version.statistics or {}).get("by_ra_bin") or []
    n = len(rows)
    return [
        _stat_row(f"{24 * i // n:02d}–{24 * (i + 1) // n:02d} h", row) for i, row in enumerate(rows)
    ]


@login_required
def version(request: HttpRequest, version_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = selectors.version_detail(version_id)
    if found is None:
        raise Http404("No such schedule version.")
    telescopes, nights = calendar(found)
    context = {
        "version": found,
        "period": found.period,
        "telescopes": telescopes,
        "nights": nights,
        "left_out": list(found.left_out.all()),
        "by_class": by_class(found),
        "by_ra_bin": by_ra_bin(found),
        "solve": (found.statistics or {}).get("solve") or {},
        "others": selectors.period_versions(found.period_id).exclude(pk=found.pk),
    }
    return render(request, "scheduling/version.html", context)


@login_required
@require_POST
def version_accept(request: HttpRequest, version_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    found = get_object_or_404(ScheduleVersion, pk=version_id)
    try:
        services.version_accept(version_id=found.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Schedule v{found.number} of {found.period} accepted.")
    return redirect("schedule:version", version_id=found.pk)


# --- compare ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved:
    run: str
    telescope: str
    before: list[dt.date]
    after: list[dt.date]


@dataclass(frozen=True)
class Only:
    run: str
    mode: str
    reason: str  # why the other version left it out ("" when it is simply not there)


def _runs_of(version: ScheduleVersion) -> tuple[dict[int, ObservingRun], dict[int, list[dt.date]]]:
    runs: dict[int, ObservingRun] = {}
    nights: dict[int, list[dt.date]] = defaultdict(list)
    for p in version.placements.all():
        runs[p.run_id] = p.run
        nights[p.run_id].append(p.date)
    return runs, {k: sorted(v) for k, v in nights.items()}


def differences(a: ScheduleVersion, b: ScheduleVersion) -> dict[str, Any]:
    """VM runs whose nights differ, and runs scheduled in one version but not the other."""
    runs_a, nights_a = _runs_of(a)
    runs_b, nights_b = _runs_of(b)
    left_a = {x.run_id: x.reason for x in a.left_out.all()}
    left_b = {x.run_id: x.reason for x in b.left_out.all()}
    moved = [
        Moved(str(run), run.telescope.name, nights_a[pk], nights_b[pk])
        for pk, run in runs_a.items()
        if pk in runs_b and run.mode == Mode.VM and nights_a[pk] != nights_b[pk]
    ]
    only_a = [
        Only(str(r), r.mode, left_b.get(pk, "")) for pk, r in runs_a.items() if pk not in runs_b
    ]
    only_b = [
        Only(str(r), r.mode, left_a.get(pk, "")) for pk, r in runs_b.items() if pk not in runs_a
    ]
    return {
        "moved": sorted(moved, key=lambda m: m.run),
        "only_a": sorted(only_a, key=lambda o: o.run),
        "only_b": sorted(only_b, key=lambda o: o.run),
    }


@login_required
def compare(request: HttpRequest, version_id: int, other_id: int) -> HttpResponse:
    ensure_staff(request.user, "schedule the periods")
    a, b = selectors.version_detail(version_id), selectors.version_detail(other_id)
    if a is None or b is None:
        raise Http404("No such schedule version.")
    classes_a = {r.label: r for r in by_class(a)}
    classes_b = {r.label: r for r in by_class(b)}
    classes = [(c, classes_a.get(c), classes_b.get(c)) for c in sorted({*classes_a, *classes_b})]
    context = {"a": a, "b": b, "classes": classes, **differences(a, b)}
    return render(request, "scheduling/compare.html", context)
