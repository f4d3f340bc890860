"""Visitors' pages: a VM run's team files its travel request; staff read the weekly arrival
list of upcoming visitors (page and CSV).

Thin: the team page looks the run up through ``selectors.team_run`` (404 unless on the team,
403 for staff who are not), the write is ``travel.travel_request_save`` whose errors go back
onto the form.
"""

import csv
import datetime as dt
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError
from dataflow.permissions import ensure_staff, signed_in
from proposals.forms import add_domain_errors
from scheduling import selectors, travel
from scheduling.forms import TravelForm
from scheduling.models import TravelRequest

CSV_HEADER = [
    "week",
    "arrival",
    "departure",
    "travellers",
    "run",
    "pi",
    "telescope",
    "instrument",
    "lodging",
    "flights",
    "status",
    "update_reason",
]


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@login_required
def travel_page(request: HttpRequest, run_id: int) -> HttpResponse:
    """GET: the run's nights and its travel request (a form while it can travel). POST: save."""
    run = selectors.team_run(request.user, run_id)
    existing = selectors.travel_of_run(run.pk)
    refusal = travel.travel_refusal(run)
    if request.method == "POST":
        form = TravelForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                travel.travel_request_save(
                    run_id=run.pk,
                    actor=signed_in(request.user),
                    expected_version=data.pop("version"),
                    **data,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(
                    request, "Travel request saved: the travel office will confirm it."
                )
                return redirect("schedule:travel", run_id=run.pk)
    elif existing is not None:
        form = TravelForm(
            initial={
                "travellers": "\n".join(existing.travellers),
                "arrival": existing.arrival,
                "departure": existing.departure,
                "flights": existing.flights,
                "lodging": existing.lodging,
                "notes": existing.notes,
                "version": existing.version,
            }
        )
    else:
        form = TravelForm()
    context = {
        "run": run,
        "proposal": run.proposal,
        "nights": list(selectors.nights_of_run(run)),
        "existing": existing,
        "refusal": refusal,
        "form": form,
    }
    return render(request, "scheduling/travel.html", context)


@login_required
def arrivals(request: HttpRequest) -> HttpResponse:
    """Staff: upcoming visitors (arriving today or later), grouped by ISO week of arrival."""
    ensure_staff(request.user, "read the arrival list")
    rows = list(selectors.upcoming_arrivals(timezone.localdate()))
    weeks = [
        (week, list(group)) for week, group in groupby(rows, key=lambda r: iso_week(r.arrival))
    ]
    return render(request, "scheduling/arrivals.html", {"weeks": weeks, "count": len(rows)})


def csv_row(request: TravelRequest) -> list[str]:
    run = request.run
    pi = run.proposal.pi
    return [
        iso_week(request.arrival),
        request.arrival.isoformat(),
        request.departure.isoformat(),
        "; ".join(request.travellers),
        str(run),
        pi.get_full_name() or pi.username,
        run.telescope.name,
        run.instrument.name,
        "yes" if request.lodging else "no",
        request.flights,
        request.status,
        request.update_reason,
    ]


@login_required
def arrivals_csv(request: HttpRequest) -> HttpResponse:
    """Staff: the arrival list as CSV, one row per travel request."""
    ensure_staff(request.user, "read the arrival list")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="arrivals.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in selectors.upcoming_arrivals(timezone.localdate()):
        writer.writerow(csv_row(row))
    return response


@login_required
@require_POST
def travel_confirm(request: HttpRequest, request_id: int) -> HttpResponse:
    """Staff confirm a travel request from the arrival list."""
    ensure_staff(request.user, "read the arrival list")
    filed = get_object_or_404(TravelRequest, pk=request_id)
    try:
        travel.travel_request_confirm(request_id=filed.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Travel of {filed.run} confirmed.")
    return redirect("schedule:arrivals")
