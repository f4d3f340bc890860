"""Archive pages: the search with its results table, a file's page with its header, the
single-file download, the basket, download requests (progress, streamed zip, download script)
and the PI's data delegates.

Searching and reading metadata is open to everyone (headers are public as at ESO, see
``archive.access``); downloads are decided when the bytes are asked for: a proprietary file
sends anonymous visitors to the login page and is a 403 for anyone else not entitled to it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from archive import access, delegates, delivery, downloads, selectors
from archive.forms import DelegateForm, SearchForm
from archive.models import DataDelegate, DownloadStatus
from dataflow.accounts.services import token_for
from dataflow.errors import DomainError
from dataflow.permissions import is_investigator, is_staff_member, signed_in
from proposals.forms import add_domain_errors
from proposals.models import Proposal
from proposals.rules import posted_id

PAGE_SIZE = 50


def search(request: HttpRequest) -> HttpResponse:
    """The search form and, once asked, a page of results (nearest first for a cone)."""
    form = SearchForm(request.GET or None, instruments=selectors.instrument_names())
    page = position = None
    readable: set[int] = set()
    if form.is_bound and form.is_valid():
        query = form.query()
        try:
            position = selectors.search_position(query)
            files = selectors.search_files(request.user, query)
        except DomainError as error:
            add_domain_errors(form, error)
        else:
            page = Paginator(files, PAGE_SIZE).get_page(request.GET.get("page"))
            readable = selectors.readable_ids(request.user, [f.pk for f in page])
    return render(
        request,
        "archive/search.html",
        {
            "form": form,
            "page": page,
            "position": position,
            "readable": readable,
            "basket": selectors.basket_ids(request.user),
            "today": access.today(),
        },
    )


def file_detail(request: HttpRequest, file_id: int) -> HttpResponse:
    """A file's metadata and its primary header as FITS cards."""
    archive_file = selectors.file_for_user(request.user, file_id)
    return render(
        request,
        "archive/file.html",
        {
            "file": archive_file,
            "may_download": access.may_download(request.user, archive_file),
            "in_basket": archive_file.pk in selectors.basket_ids(request.user),
            "header_cards": selectors.header_cards(archive_file.header_text),
        },
    )


def file_download(request: HttpRequest, file_id: int) -> HttpResponseBase:
    """The file's bytes, streamed from archive storage, if ``request.user`` may have them now."""
    archive_file = selectors.file_for_user(request.user, file_id)
    if not access.may_download(request.user, archive_file):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied(
            f"{archive_file.dp_id} is proprietary until {archive_file.release_date:%Y-%m-%d}."
        )
    path = downloads.file_path(archive_file)
    if not path.is_file():
        raise Http404("The file is missing from archive storage; staff have been told.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=archive_file.arcfile,
        content_type="application/fits",
    )


# --- basket -----------------------------------------------------------------------------------


def _posted_ids(request: HttpRequest) -> list[int]:
    return [pk for raw in request.POST.getlist("files") if (pk := posted_id(raw)) is not None]


@login_required
def basket(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    files = list(selectors.basket_files(user))
    readable = selectors.readable_ids(user, [f.pk for f in files])
    return render(
        request,
        "archive/basket.html",
        {"files": files, "readable": readable, "total_bytes": sum(f.size_bytes for f in files)},
    )


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the page the form was on (a local path only), else ``default``."""
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(default)


@login_required
@require_POST
def basket_add(request: HttpRequest) -> HttpResponse:
    try:
        added = downloads.basket_add(user=signed_in(request.user), file_ids=_posted_ids(request))
    except DomainError as error:
        messages.error(request, " ".join(error.all_messages()))
    else:
        messages.success(request, f"{added} file{'s' if added != 1 else ''} added to the basket.")
    return _back(request, "archive:basket")


@login_required
@require_POST
def basket_remove(request: HttpRequest) -> HttpResponse:
    removed = downloads.basket_remove(user=signed_in(request.user), file_ids=_posted_ids(request))
    messages.success(request, f"{removed} file{'s' if removed != 1 else ''} removed.")
    return _back(request, "archive:basket")


# --- download requests ------------------------------------------------------------------------


@login_required
def requests(request: HttpRequest) -> HttpResponse:
    """The user's past requests (GET) or a new one from the basket or the files posted."""
    user = signed_in(request.user)
    if request.method == "POST":
        try:
            created = downloads.download_request_create(
                user=user,
                file_ids=_posted_ids(request),
                from_basket=request.POST.get("from_basket") == "1",
            )
        except DomainError as error:
            messages.error(request, " ".join(error.all_messages()))
            return redirect("archive:basket")
        return redirect("archive:request", download_id=created.pk)
    return render(request, "archive/requests.html", {"requests": selectors.user_requests(user)})


@login_required
def request_detail(request: HttpRequest, download_id: int) -> HttpResponse:
    found = selectors.request_for_user(signed_in(request.user), download_id)
    return render(
        request,
        "archive/request.html",
        {"req": found, "files": found.files.order_by("dp_id"), "ready": DownloadStatus.READY},
    )


@login_required
def request_zip(request: HttpRequest, download_id: int) -> HttpResponseBase:
    """The request's files as a zip written while it is sent. Access is decided again now: a
    file no longer the user's to read (a delegate removed) is left out and named in README."""
    user = signed_in(request.user)
    found = selectors.request_for_user(user, download_id)
    if found.status != DownloadStatus.READY:
        raise Http404("The request is not ready yet.")
    files = list(found.files.order_by("dp_id"))
    readable = selectors.readable_ids(user, [f.pk for f in files])
    entries = []
    left_out = []
    for archive_file in files:
        path = downloads.file_path(archive_file)
        if archive_file.pk in readable and path.is_file():
            entries.append((archive_file.arcfile, path))
        else:
            left_out.append(archive_file.dp_id)
    notes = (
        "Left out (no longer yours to download, or missing from storage):\n"
        + "\n".join(left_out)
        + "\n"
        if left_out
        else ""
    )
    response = StreamingHttpResponse(
        delivery.zip_stream(entries, notes), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="archive-request-{found.pk}.zip"'
    return response


@login_required
def request_script(request: HttpRequest, download_id: int) -> HttpResponse:
    """A shell script fetching the request's files through the API with the user's token."""
    user = signed_in(request.user)
    found = selectors.request_for_user(user, download_id)
    if found.status != DownloadStatus.READY:
        raise Http404("The request is not ready yet.")
    script = delivery.download_script(
        files=found.files.order_by("dp_id"),
        base_url=request.build_absolute_uri("/"),
        token=token_for(user=user).key,
    )
    response = HttpResponse(script, content_type="text/x-shellscript; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="archive-request-{found.pk}.sh"'
    response["Cache-Control"] = "no-store"  # it holds the token
    return response


# --- delegates --------------------------------------------------------------------------------


def _delegates_page(
    request: HttpRequest, forms: dict[int, DelegateForm] | None = None
) -> HttpResponse:
    proposals = [
        (
            proposal,
            selectors.delegates_of(proposal),
            (forms or {}).get(proposal.pk) or DelegateForm(),
        )
        for proposal in selectors.delegated_proposals(request.user)
    ]
    return render(request, "archive/delegates.html", {"proposals": proposals})


@login_required
def delegates_page(request: HttpRequest) -> HttpResponse:
    """The PI's programmes and who else reads their proprietary data."""
    return _delegates_page(request)


def _visible_proposal(request: HttpRequest, proposal_id: int) -> Proposal:
    """The proposal if the user is on it or staff (404 otherwise, never saying it exists)."""
    proposal = get_object_or_404(Proposal, pk=proposal_id)
    if not (is_investigator(request.user, proposal) or is_staff_member(request.user)):
        raise Http404("No such programme.")
    return proposal


@login_required
@require_POST
def delegate_add(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = _visible_proposal(request, proposal_id)
    user = signed_in(request.user)
    if not access.may_name_delegates(user, proposal.pi_id):
        raise PermissionDenied("Only the PI names the delegates of a programme's data.")
    form = DelegateForm(request.POST)
    if form.is_valid():
        try:
            row = delegates.delegate_add(
                proposal_id=proposal.pk, user_identifier=form.cleaned_data["user"], actor=user
            )
        except DomainError as error:
            add_domain_errors(form, error)
        else:
            messages.success(request, f"{row.user.username} now reads {proposal}'s data.")
            return redirect("archive:delegates")
    return _delegates_page(request, {proposal.pk: form})


@login_required
@require_POST
def delegate_remove(request: HttpRequest, delegate_id: int) -> HttpResponse:
    row = get_object_or_404(DataDelegate.objects.select_related("proposal"), pk=delegate_id)
    _visible_proposal(request, row.proposal_id)
    user = signed_in(request.user)
    if not access.may_name_delegates(user, row.proposal.pi_id):
        raise PermissionDenied("Only the PI removes the delegates of a programme's data.")
    delegates.delegate_remove(delegate_id=row.pk, actor=user)
    messages.success(request, "Delegate removed: their access ended now.")
    return redirect("archive:delegates")
