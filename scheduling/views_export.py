"""The accepted schedule out of the platform: a proposal's nights as iCalendar for its team,
and a period's nights as CSV for staff."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from dataflow.permissions import is_staff_member, may_manage_review
from proposals.models import Period, Proposal
from proposals.selectors import proposal_detail
from scheduling import ical, selectors

CSV_HEADER = [
    "date",
    "telescope",
    "instrument",
    "run",
    "programme_id",
    "pi",
    "first_half",
    "second_half",
    "version",
]


@login_required
def nights_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """The proposal's accepted VM nights as an iCalendar file (404 unless PI, Co-I or staff)."""
    try:
        proposal = proposal_detail(user=request.user, pk=pk)
    except Proposal.DoesNotExist:
        raise Http404("No such proposal.") from None
    body = ical.proposal_calendar(proposal, selectors.team_nights(proposal))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    name = proposal.programme_id or f"proposal-{proposal.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name}-nights.ics"'
    return response


@login_required
def period_nights_csv(request: HttpRequest, number: int) -> HttpResponse:
    """Staff: every accepted VM night of the period, one row per run and night."""
    if not (may_manage_review(request.user) or is_staff_member(request.user)):
        raise PermissionDenied("Only observatory staff export the schedule.")
    period = get_object_or_404(Period, number=number)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="P{period.number}-nights.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for night in selectors.period_nights(period.pk).select_related("version"):
        run = night.run
        writer.writerow(
            [
                night.date.isoformat(),
                run.telescope.name,
                run.instrument.name,
                str(run),
                run.proposal.programme_id,
                run.proposal.pi.get_full_name() or run.proposal.pi.username,
                "yes" if night.first_half else "no",
                "yes" if night.second_half else "no",
                night.version.number,
            ]
        )
    return response
