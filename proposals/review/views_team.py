"""The proposal team's part in distributed peer review: the PI names who reviews for it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError, InvalidInput
from dataflow.permissions import signed_in
from proposals.models import Proposal
from proposals.review.services import review_delegate_set
from proposals.rules import posted_id
from proposals.selectors import proposal_detail


@login_required
@require_POST
def review_delegate(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        proposal = proposal_detail(user=request.user, pk=pk)
    except Proposal.DoesNotExist as exc:
        raise Http404("No such proposal.") from exc
    user_id = posted_id(request.POST.get("user", ""))
    try:
        if user_id is None:
            raise InvalidInput("Choose who reviews for the team.")
        delegate = review_delegate_set(
            proposal_id=proposal.pk, user_id=user_id, actor=signed_in(request.user)
        )
    except DomainError as exc:
        messages.error(request, " ".join(exc.all_messages()))
    else:
        who = delegate.user.get_full_name() if delegate else "the PI"
        messages.success(request, f"Distributed reviews of the team: {who}.")
    return redirect("proposals:detail", pk=proposal.pk)
