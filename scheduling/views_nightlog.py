"""The night log of a telescope (operators and staff): the page with its forms (a line of the
log: time lost or a comment; closing the night, which queues its calibrations; staff: a refund
of an execution's charge), its CSV and its PDF.

Thin: the role check (403 for others; anonymous users go to the login page), the log from
``scheduling.nightlog.night_log`` (404 for an unknown telescope), each form one service call of
``observations.night`` whose refusals go back onto the form (the page re-rendered, nothing
written). Times are UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dataflow.errors import DomainError
from dataflow.observatory.models import Telescope
from dataflow.permissions import ensure_operator, ensure_staff, is_staff_member, signed_in
from observations import night as night_services
from observations.models import NightNote
from proposals.forms import add_domain_errors
from scheduling.nightlog import ConditionsRow, NightLog, hms, night_log

TONIGHT = "tonight"  # in place of the date: the night under way at the telescope
CSV_HEADER = [
    "line",
    "start_utc",
    "end_utc",
    "ob_id",
    "ob",
    "run",
    "grade",
    "outcome",
    "seeing_arcsec",
    "transparency",
    "wind_speed_ms",
    "wind_direction_deg",
    "water_vapour_mm",
    "who",
    "comment",
    "charged_s",
    "refunded_s",
    "lost_s",
]


class NoteForm(forms.Form):
    """A line of the night log (``observations.night.night_note_add`` checks it)."""

    kind = forms.ChoiceField(choices=NightNote.Kind.choices, label="Line")
    lost_s = forms.IntegerField(
        required=False,
        min_value=0,
        label="Time lost (s)",
        help_text="Whole seconds lost to the weather or the fault (none for a comment).",
    )
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Comment"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "note-%s")
        super().__init__(*args, **kwargs)


class RefundForm(forms.Form):
    """Staff give back an execution's charge (``observations.night.execution_refund``)."""

    execution_id = forms.IntegerField(widget=forms.HiddenInput)
    seconds = forms.IntegerField(
        required=False, min_value=1, label="Seconds", help_text="Empty: the whole charge."
    )
    reason = forms.CharField(label="Why (the observatory at fault)")


def _night(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404("No such night: give YYYY-MM-DD.") from None


def _log(telescope: int, night: dt.date) -> NightLog:
    try:
        return night_log(telescope, night)
    except Telescope.DoesNotExist:
        raise Http404("No such telescope.") from None


def _log_url(log: NightLog, anchor: str = "") -> str:
    url = reverse("nightlog:log", kwargs={"telescope": log.telescope_id, "night": log.night})
    return f"{url}#{anchor}" if anchor else url


def _totals(log: NightLog) -> dict[str, str]:
    """The totals as h:mm:ss."""
    t = log.totals
    return {
        "executed": hms(t.executed_s),
        "charged": hms(t.charged_s),
        "refunded": hms(t.refunded_s),
        "net_charged": hms(t.net_charged_s),
        "lost_weather": hms(t.lost_weather_s),
        "lost_technical": hms(t.lost_technical_s),
        "lost": hms(t.lost_s),
    }


def _page(
    request: HttpRequest,
    log: NightLog,
    *,
    note_form: NoteForm | None = None,
    refund_form: RefundForm | None = None,
) -> HttpResponse:
    # The execution whose refund form comes back with its errors (else they show below).
    refund_for = None
    if refund_form is not None and refund_form.is_bound:
        refund_form.is_valid()  # cleaned (once): the execution named, whatever else failed
        chosen = refund_form.cleaned_data.get("execution_id")
        if any(e.execution_id == chosen and e.refundable for e in log.executions):
            refund_for = chosen
    day = dt.timedelta(days=1)
    context = {
        "log": log,
        "totals": _totals(log),
        "note_form": note_form or NoteForm(),
        "refund_form": refund_form,
        "refund_for": refund_for,
        "may_refund": is_staff_member(request.user),
        "previous": log.night - day,
        "next": log.night + day,
    }
    return render(request, "nightlog/log.html", context)


@login_required
@require_GET
def log_page(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """The night's executions, weather, notes and totals; ``?night=``: go to another night;
    ``tonight`` in the path: the night under way at the telescope."""
    ensure_operator(request.user, "read the night log")
    if night == TONIGHT:
        found = Telescope.objects.select_related("site").filter(pk=telescope).first()
        if found is None:
            raise Http404("No such telescope.")
        now = night_services.night_of(found.site.longitude_deg, timezone.now())
        return redirect("nightlog:log", telescope=found.pk, night=now)
    log = _log(telescope, _night(night))
    other = request.GET.get("night", "")
    if other:
        try:
            wanted = dt.date.fromisoformat(other)
        except ValueError:
            messages.error(request, f"'{other[:20]}' is not a date: give YYYY-MM-DD.")
        else:
            return redirect("nightlog:log", telescope=log.telescope_id, night=wanted)
    return _page(request, log)


@login_required
@require_POST
def note_add(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """Add a line to the log: time lost to the weather or a technical fault, or a comment."""
    ensure_operator(request.user, "write the night log")
    log = _log(telescope, _night(night))
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            night_services.night_note_add(
                telescope_id=log.telescope_id,
                kind=form.cleaned_data["kind"],
                actor=signed_in(request.user),
                lost_s=form.cleaned_data["lost_s"] or 0,
                text=form.cleaned_data["text"],
                night=log.night,
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Line added to the night log.")
            return redirect(_log_url(log, "notes"))
    return _page(request, log, note_form=form)


@login_required
@require_POST
def refund(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """Staff: refund an execution of this night (the whole charge, or some seconds of it)."""
    ensure_operator(request.user, "read the night log")
    ensure_staff(request.user, "refund time")
    log = _log(telescope, _night(night))
    form = RefundForm(request.POST)
    if form.is_valid():
        execution_id = form.cleaned_data["execution_id"]
        if execution_id not in {e.execution_id for e in log.executions}:
            form.add_error("execution_id", "Not an execution of this night's log.")
        else:
            try:
                entry = night_services.execution_refund(
                    execution_id=execution_id,
                    reason=form.cleaned_data["reason"],
                    actor=signed_in(request.user),
                    seconds=form.cleaned_data["seconds"],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(
                    request, f"Refunded {entry.seconds} s of execution {execution_id}."
                )
                return redirect(_log_url(log, f"execution-{execution_id}"))
    return _page(request, log, refund_form=form)


@login_required
@require_POST
def close(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """Close the night: a "night closed" line in the log, its calibration frames queued."""
    ensure_operator(request.user, "close the night")
    log = _log(telescope, _night(night))
    try:
        night_services.night_close(
            telescope_id=log.telescope_id, night=log.night, actor=signed_in(request.user)
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Night closed: its calibration frames are being written.")
    return redirect(_log_url(log, "notes"))


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _conditions(c: ConditionsRow) -> dict[str, str]:
    return {
        "seeing_arcsec": _number(c.seeing_arcsec, 2),
        "transparency": c.transparency,
        "wind_speed_ms": _number(c.wind_speed_ms, 1),
        "wind_direction_deg": _number(c.wind_direction_deg, 0),
        "water_vapour_mm": _number(c.water_vapour_mm, 1),
    }


def csv_rows(log: NightLog) -> list[list[Any]]:
    """The log's CSV lines under ``CSV_HEADER``: executions, weather readings and notes in
    time order (a reading before what starts with it; ``line`` says which), then one
    ``total`` line (seconds)."""
    lines: list[tuple[dt.datetime, int, dict[str, Any]]] = []
    for e in log.executions:
        row = {
            "line": "execution",
            "start_utc": e.start.isoformat(),
            "end_utc": e.end.isoformat() if e.end else "",
            "ob_id": e.ob_id,
            "ob": e.ob_name,
            "run": e.run,
            "grade": e.grade,
            "outcome": e.outcome,
            **_conditions(e.conditions),
            "who": e.operator,
            "comment": "; ".join(t for t in (e.reason, e.comment) if t),
            "charged_s": e.charged_s,
            "refunded_s": e.refunded_s,
        }
        lines.append((e.start, 1, row))
    for w in log.weather:
        row = {
            "line": "weather",
            "start_utc": w.at.isoformat(),
            **_conditions(w.conditions),
            "who": w.author,
            "comment": w.source,
        }
        lines.append((w.at, 0, row))
    for n in log.notes:
        row = {
            "line": n.kind,
            "start_utc": n.at.isoformat(),
            "who": n.author,
            "comment": n.text,
            "lost_s": n.lost_s,
        }
        lines.append((n.at, 2, row))
    t = log.totals
    total = {
        "line": "total",
        "start_utc": log.begins.isoformat(),
        "end_utc": log.ends.isoformat(),
        "comment": f"{t.executions} executions, {t.executed_s} s executed",
        "charged_s": t.charged_s,
        "refunded_s": t.refunded_s,
        "lost_s": t.lost_s,
    }
    ordered = [row for _, _, row in sorted(lines, key=lambda line: (line[0], line[1]))]
    return [[row.get(h, "") for h in CSV_HEADER] for row in [*ordered, total]]


@login_required
@require_GET
def log_csv(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """The log as CSV (see :func:`csv_rows`)."""
    ensure_operator(request.user, "read the night log")
    log = _log(telescope, _night(night))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{log.telescope}-{log.night.isoformat()}-night-log.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(log))
    return response


def night_log_pdf(log: NightLog) -> bytes:
    """The log as a PDF: a plain context rendered by a template into WeasyPrint bytes."""
    from weasyprint import HTML

    context = {
        "log": log,
        "totals": _totals(log),
        "rendered_at": timezone.now(),
    }
    return HTML(string=render_to_string("nightlog/pdf.html", context)).write_pdf()  # type: ignore[no-any-return]


@login_required
@require_GET
def log_pdf(request: HttpRequest, telescope: int, night: str) -> HttpResponse:
    """The log as a PDF (the night report)."""
    ensure_operator(request.user, "read the night log")
    log = _log(telescope, _night(night))
    response = HttpResponse(night_log_pdf(log), content_type="application/pdf")
    name = f"{log.telescope}-{log.night.isoformat()}-night-log.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
