from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from proposals.selectors import proposals_visible_to


@login_required
def my_proposals(request: HttpRequest) -> HttpResponse:
    proposals = proposals_visible_to(request.user)
    return render(request, "proposals/mine.html", {"proposals": proposals})


@login_required
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    raise NotImplementedError
