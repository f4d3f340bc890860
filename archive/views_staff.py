"""Archive staff pages: the data transfer monitor (seed 001) and the quarantine."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from archive import plots, selectors_monitor, services
from archive.models import QuarantinedFile
from dataflow.errors import DomainError
from dataflow.permissions import ensure_staff, signed_in


class MonitorFilter(forms.Form):
    night = forms.DateField(required=False)
    instrument = forms.CharField(required=False, max_length=32)
    days = forms.IntegerField(required=False, min_value=1, max_value=3660, initial=30)


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    reingest = forms.BooleanField(required=False, label="Ingest it again")


@login_required
@require_GET
def monitor(request: HttpRequest) -> HttpResponse:
    """Files in flight and ingested per night and instrument, with totals and a plot."""
    ensure_staff(request.user, "watch the data transfers")
    form = MonitorFilter(request.GET or None)
    night: datetime.date | None = None
    instrument, days = "", 30
    if form.is_valid():
        night = form.cleaned_data["night"]
        instrument = form.cleaned_data["instrument"] or ""
        days = form.cleaned_data["days"] or 30
    data = selectors_monitor.monitor(
        night=night, instrument=instrument, days=None if night else days
    )
    return render(
        request,
        "archive/staff/monitor.html",
        {
            "form": form,
            "m": data,
            "plot_svg": plots.transfers_svg(data.rows),
            "days": days,
            "quarantine_waiting": selectors_monitor.quarantine_waiting(),
        },
    )


@login_required
@require_GET
def quarantine(request: HttpRequest) -> HttpResponse:
    """Files ingestion refused, with their reasons; staff resolve them."""
    ensure_staff(request.user, "handle the quarantine")
    show_all = request.GET.get("show") == "all"
    files = list(selectors_monitor.quarantine(show_resolved=show_all)[:500])
    return render(
        request,
        "archive/staff/quarantine.html",
        {"files": files, "show_all": show_all, "form": ResolveForm()},
    )


@login_required
@require_POST
def quarantine_resolve(request: HttpRequest, quarantined_id: int) -> HttpResponse:
    ensure_staff(request.user, "handle the quarantine")
    if not QuarantinedFile.objects.filter(pk=quarantined_id).exists():
        raise Http404("No such quarantined file.")
    form = ResolveForm(request.POST)
    back = HttpResponseRedirect(reverse("archive_staff:quarantine"))
    if not form.is_valid():
        messages.error(request, "; ".join(str(m) for ms in form.errors.values() for m in ms))
        return back
    try:
        resolved = services.quarantine_resolve(
            quarantined_id=quarantined_id,
            actor=signed_in(request.user),
            resolution=form.cleaned_data["resolution"],
            reingest=form.cleaned_data["reingest"],
        )
    except DomainError as error:
        messages.error(request, " ".join(error.all_messages()[:2]))
        return back
    messages.success(request, f"{resolved.file_name}: {resolved.resolution}")
    return back
