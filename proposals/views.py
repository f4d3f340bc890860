"""Phase 1 pages. Thin: permission check (visibility through the selectors, so another
astronomer's proposal is a 404), one form, one service or selector, render. The services
enforce the rules (who may edit, frozen after submission, deadline) and their errors go back
onto the forms next to their fields."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError
from dataflow.permissions import (
    investigator_q,
    is_staff_member,
    may_change_proposal_status,
    may_create_proposal,
    may_edit_proposal,
    signed_in,
)
from proposals import services
from proposals.forms import (
    MOON_CONVENTION,
    MOON_PRESETS,
    CoInvestigatorForm,
    FigureForm,
    PeriodFilterForm,
    ProposalCreateForm,
    ProposalForm,
    RunForm,
    SubmitForm,
    TargetForm,
    add_domain_errors,
)
from proposals.models import CoInvestigator, ObservingRun, Period, Proposal, ProposalStatus
from proposals.selectors import open_periods, proposal_detail, proposals_visible_to
from proposals.verification import verify_proposal
from proposals.visibility import run_visibility_png

FROZEN_MESSAGE = "Submitted proposals are frozen: this one can no longer be edited."


def _visible(request: HttpRequest, pk: int) -> Proposal:
    """The proposal if the user may see it; 404 otherwise (never reveal that it exists)."""
    try:
        return proposal_detail(user=request.user, pk=pk)
    except Proposal.DoesNotExist as exc:
        raise Http404("No such proposal.") from exc


def _ensure_investigator(request: HttpRequest, proposal: Proposal) -> None:
    """Writes are for the PI and co-investigators: anyone else who can see the proposal (staff)
    gets 403 before the form is read (the service would refuse it too)."""
    if not may_edit_proposal(request.user, proposal):
        raise PermissionDenied("Only the PI and co-investigators may edit this proposal.")


def _edit_url(proposal: Proposal, anchor: str = "") -> str:
    url = reverse("proposals:edit", args=[proposal.pk])
    return f"{url}#{anchor}" if anchor else url


# --- lists ------------------------------------------------------------------------------


@login_required
def my_proposals(request: HttpRequest) -> HttpResponse:
    user = request.user
    proposals = (
        proposals_visible_to(user)
        .filter(investigator_q(user))
        .distinct()
        .prefetch_related(
            Prefetch("runs", ObservingRun.objects.select_related("telescope", "instrument"))
        )
    )
    return render(
        request, "proposals/mine.html", {"proposals": proposals, "open_periods": open_periods()}
    )


@login_required
def period_list(request: HttpRequest, number: int | None = None) -> HttpResponse:
    if not is_staff_member(request.user):
        raise PermissionDenied("Only observatory staff see all proposals of a period.")
    if number is None:
        period = open_periods().order_by("-number").first() or Period.objects.first()
        if period is None:
            raise Http404("No period is defined yet.")
        return redirect("proposals:period_list", number=period.number)
    period = get_object_or_404(Period, number=number)
    form = PeriodFilterForm(request.GET or None)
    proposals = form.filter(
        proposals_visible_to(request.user)
        .filter(period=period)
        .prefetch_related(
            Prefetch("runs", ObservingRun.objects.select_related("telescope", "instrument"))
        )
        .order_by("programme_id", "pk")
    )
    return render(
        request,
        "proposals/period_list.html",
        {"period": period, "periods": Period.objects.all(), "form": form, "proposals": proposals},
    )


# --- create and edit ----------------------------------------------------------------------


@login_required
def create(request: HttpRequest) -> HttpResponse:
    if not may_create_proposal(request.user):
        raise PermissionDenied("Only astronomers can open proposals.")
    periods = open_periods()
    if request.method == "POST":
        form = ProposalCreateForm(request.POST, periods=periods)
        if form.is_valid():
            try:
                proposal = services.proposal_create(
                    pi=signed_in(request.user),
                    period=form.cleaned_data["period"],
                    **{name: form.cleaned_data[name] for name in form.TEXT_FIELDS},
                    keywords=form.cleaned_data["keywords"].split(","),
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Draft created: add targets and observing runs below.")
                return redirect(_edit_url(proposal))
    else:
        chosen = periods.filter(number=request.GET.get("period") or 0).first()
        form = ProposalCreateForm(periods=periods, initial={"period": chosen or periods.first()})
    return render(request, "proposals/create.html", {"form": form, "periods": periods})


def _edit_page(request: HttpRequest, proposal: Proposal, **overrides: Any) -> HttpResponse:
    """The edit page with blank inline forms, except those passed (bound, with errors)."""
    context: dict[str, Any] = {
        "proposal": proposal,
        "editable": proposal.is_editable and may_edit_proposal(request.user, proposal),
        "frozen_message": FROZEN_MESSAGE,
        "moon_convention": MOON_CONVENTION,
        "moon_presets": {key: fli for key, (_, fli) in MOON_PRESETS.items()},
        "proposal_form": ProposalForm.for_proposal(proposal),
        "target_form": TargetForm(),
        "run_form": RunForm(proposal=proposal),
        "coi_form": CoInvestigatorForm(),
        "figure_form": FigureForm(),
        "editing_target": None,
        "editing_run": None,
    }
    context.update(overrides)
    return render(request, "proposals/edit.html", context)


def _write(
    request: HttpRequest,
    proposal: Proposal,
    form: BaseForm,
    *,
    form_name: str,
    write: Callable[[], object],
    anchor: str,
    success: str,
    aliases: dict[str, str] | None = None,
    **context: Any,
) -> HttpResponse:
    """Call one service with a valid form; on a domain error show the form with its errors."""
    _ensure_investigator(request, proposal)
    if form.is_valid():
        try:
            write()
        except DomainError as exc:
            add_domain_errors(form, exc, aliases)
        else:
            messages.success(request, success)
            return redirect(_edit_url(proposal, anchor))
    return _edit_page(request, proposal, **{form_name: form}, **context)


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    if request.method != "POST":
        return _edit_page(request, proposal)
    form = ProposalForm(request.POST)
    return _write(
        request,
        proposal,
        form,
        form_name="proposal_form",
        anchor="proposal",
        success="Proposal saved.",
        write=lambda: services.proposal_update(
            proposal_id=proposal.pk,
            actor=signed_in(request.user),
            expected_version=form.cleaned_data["version"],
            data=form.command(),
        ),
    )


@login_required
@require_POST
def target_add(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    form = TargetForm(request.POST)
    return _write(
        request,
        proposal,
        form,
        form_name="target_form",
        anchor="targets",
        success="Target added.",
        aliases=TargetForm.ERROR_ALIASES,
        write=lambda: services.target_create(
            proposal_id=proposal.pk, actor=signed_in(request.user), data=form.command()
        ),
    )


@login_required
def target_edit(request: HttpRequest, pk: int, target_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    target = get_object_or_404(proposal.targets.all(), pk=target_id)
    if request.method != "POST":
        return _edit_page(
            request, proposal, target_form=TargetForm.for_target(target), editing_target=target
        )
    form = TargetForm(request.POST)
    return _write(
        request,
        proposal,
        form,
        form_name="target_form",
        anchor="targets",
        success=f"Target {target.name} saved.",
        aliases=TargetForm.ERROR_ALIASES,
        editing_target=target,
        write=lambda: services.target_update(
            target_id=target.pk, actor=signed_in(request.user), data=form.command()
        ),
    )


def _delete(
    request: HttpRequest,
    proposal: Proposal,
    *,
    write: Callable[[], object],
    anchor: str,
    success: str,
) -> HttpResponse:
    _ensure_investigator(request, proposal)
    try:
        write()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(_edit_url(proposal, anchor))


@login_required
@require_POST
def target_delete(request: HttpRequest, pk: int, target_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    target = get_object_or_404(proposal.targets.all(), pk=target_id)
    return _delete(
        request,
        proposal,
        anchor="targets",
        success=f"Target {target.name} removed.",
        write=lambda: services.target_delete(target_id=target.pk, actor=signed_in(request.user)),
    )


@login_required
@require_POST
def run_add(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    form = RunForm(request.POST, proposal=proposal)
    return _write(
        request,
        proposal,
        form,
        form_name="run_form",
        anchor="runs",
        success="Observing run added.",
        aliases=RunForm.ERROR_ALIASES,
        write=lambda: services.run_create(
            proposal_id=proposal.pk, actor=signed_in(request.user), data=form.command()
        ),
    )


@login_required
def run_edit(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    run = get_object_or_404(proposal.runs.all(), pk=run_id)
    if request.method != "POST":
        return _edit_page(
            request, proposal, run_form=RunForm.for_run(run, proposal), editing_run=run
        )
    form = RunForm(request.POST, proposal=proposal)
    return _write(
        request,
        proposal,
        form,
        form_name="run_form",
        anchor="runs",
        success=f"Run {run.letter} saved.",
        aliases=RunForm.ERROR_ALIASES,
        editing_run=run,
        write=lambda: services.run_update(
            run_id=run.pk, actor=signed_in(request.user), data=form.command()
        ),
    )


@login_required
@require_POST
def run_delete(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    run = get_object_or_404(proposal.runs.all(), pk=run_id)
    return _delete(
        request,
        proposal,
        anchor="runs",
        success=f"Run {run.letter} removed.",
        write=lambda: services.run_delete(run_id=run.pk, actor=signed_in(request.user)),
    )


@login_required
@require_POST
def coi_add(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    form = CoInvestigatorForm(request.POST)
    return _write(
        request,
        proposal,
        form,
        form_name="coi_form",
        anchor="investigators",
        success="Co-investigator added.",
        write=lambda: services.coi_add(
            proposal_id=proposal.pk, actor=signed_in(request.user), email=form.cleaned_data["email"]
        ),
    )


@login_required
@require_POST
def coi_remove(request: HttpRequest, pk: int, coi_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    coi = get_object_or_404(proposal.coinvestigators.all(), pk=coi_id)
    return _delete(
        request,
        proposal,
        anchor="investigators",
        success=f"{coi.email} removed.",
        write=lambda: services.coi_remove(coi_id=coi.pk, actor=signed_in(request.user)),
    )


@login_required
@require_POST
def figure_add(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    form = FigureForm(request.POST, request.FILES)
    return _write(
        request,
        proposal,
        form,
        form_name="figure_form",
        anchor="figures",
        success="Figure added.",
        write=lambda: services.figure_add(
            proposal_id=proposal.pk,
            actor=signed_in(request.user),
            file=form.cleaned_data["image"],
            size=form.cleaned_data["image"].size,
            caption=form.cleaned_data["caption"],
        ),
    )


@login_required
@require_POST
def figure_delete(request: HttpRequest, pk: int, figure_id: int) -> HttpResponse:
    proposal = _visible(request, pk)
    figure = get_object_or_404(proposal.figures.all(), pk=figure_id)
    return _delete(
        request,
        proposal,
        anchor="figures",
        success="Figure removed.",
        write=lambda: services.figure_delete(figure_id=figure.pk, actor=signed_in(request.user)),
    )


@login_required
def figure_image(request: HttpRequest, pk: int, figure_id: int) -> FileResponse:
    """Serve a figure to those who may see the proposal (media files are not public)."""
    proposal = _visible(request, pk)
    figure = get_object_or_404(proposal.figures.all(), pk=figure_id)
    return FileResponse(figure.image.open("rb"), content_type=f"image/{figure.image_format}")


# --- read-only pages, PDF ---------------------------------------------------------------


def _detail_page(
    request: HttpRequest, proposal: Proposal, submit_form: SubmitForm | None = None
) -> HttpResponse:
    is_pi = may_change_proposal_status(request.user, proposal)
    return render(
        request,
        "proposals/detail.html",
        {
            "proposal": proposal,
            "is_pi": is_pi,
            "editable": proposal.is_editable and may_edit_proposal(request.user, proposal),
            "frozen_message": FROZEN_MESSAGE,
            "moon_convention": MOON_CONVENTION,
            "submit_form": submit_form or SubmitForm(),
            "can_submit": is_pi and proposal.status == ProposalStatus.DRAFT,
            "can_withdraw": is_pi and proposal.status == ProposalStatus.SUBMITTED,
        },
    )


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _visible(request, pk))


@login_required
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    report = verify_proposal(proposal)
    return render(
        request,
        "proposals/verify.html",
        {
            "proposal": proposal,
            "report": report,
            "editable": proposal.is_editable,
            "runs": proposal.runs.prefetch_related("targets"),
        },
    )


@login_required
def run_visibility(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    """PNG: the run's targets, hours below the airmass limit per night of the period."""
    proposal = _visible(request, pk)
    run = get_object_or_404(
        proposal.runs.select_related("telescope__site", "proposal__period"), pk=run_id
    )
    png = run_visibility_png(run)
    if png is None:
        raise Http404("The run has no target.")
    return HttpResponse(png, content_type="image/png")


@login_required
def pdf(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The proposal as PDF, inline: the stored final PDF once submitted, else rendered now."""
    proposal = _visible(request, pk)
    filename = f"{proposal.programme_id or f'proposal-{proposal.pk}'}.pdf"
    if proposal.final_pdf and proposal.status != ProposalStatus.DRAFT:
        return FileResponse(
            proposal.final_pdf.open("rb"), content_type="application/pdf", filename=filename
        )
    from proposals.pdf import render_proposal_pdf

    response = HttpResponse(render_proposal_pdf(proposal.pk), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- state changes ------------------------------------------------------------------------


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    if not may_change_proposal_status(request.user, proposal):
        raise PermissionDenied("Only the PI can submit the proposal.")
    form = SubmitForm(request.POST)
    if form.is_valid():
        try:
            submitted = services.proposal_submit(
                proposal_id=proposal.pk, actor=signed_in(request.user)
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Submitted as {submitted.programme_id}.")
            return redirect("proposals:detail", pk=proposal.pk)
    return _detail_page(request, proposal, submit_form=form)


@login_required
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible(request, pk)
    if not may_change_proposal_status(request.user, proposal):
        raise PermissionDenied("Only the PI can withdraw the proposal.")
    try:
        services.proposal_withdraw(proposal_id=proposal.pk, actor=signed_in(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Proposal withdrawn.")
    return redirect("proposals:detail", pk=proposal.pk)


@login_required
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    coi = get_object_or_404(
        CoInvestigator.objects.select_related("proposal__pi", "proposal__period"),
        invitation_token=token,
    )
    error = ""
    if request.method == "POST":
        try:
            services.coi_accept(token=str(token), user=signed_in(request.user))
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, f"You are now a co-investigator of '{coi.proposal.title}'.")
            return redirect("proposals:detail", pk=coi.proposal_id)
    return render(request, "proposals/accept_invitation.html", {"coi": coi, "error": error})
