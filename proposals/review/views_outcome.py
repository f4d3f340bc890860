"""The outcome letter as a page and as a PDF, for the proposal's PI, its accepted
co-investigators and staff (visibility through ``proposal_detail``: 404 for anyone else), once
the proposal is approved or rejected (404 before: there is no letter yet)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from proposals.models import Proposal
from proposals.review.outcome import (
    DECIDED,
    outcome_filename,
    outcome_for,
    outcome_pdf_bytes,
)
from proposals.selectors import proposal_detail


def _decided(request: HttpRequest, pk: int) -> Proposal:
    try:
        proposal = proposal_detail(user=request.user, pk=pk)
    except Proposal.DoesNotExist as exc:
        raise Http404("No such proposal.") from exc
    if proposal.status not in DECIDED:
        raise Http404("The proposal has no outcome yet.")
    return proposal


@login_required
def outcome(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _decided(request, pk)
    return render(
        request,
        "proposals/outcome.html",
        {"proposal": proposal, "outcome": outcome_for(proposal), "crumb": "Outcome"},
    )


@login_required
def outcome_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _decided(request, pk)
    letter = outcome_for(proposal)
    response = HttpResponse(outcome_pdf_bytes(letter), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{outcome_filename(letter)}"'
    return response
