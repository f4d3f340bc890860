"""The OB editor: its fields (name, target, constraint set, its place in a Group or TimeLink),
copying a Phase 1 target, templates with forms generated from their signatures, absolute and
sidereal windows, finding charts, the execution-time breakdown, the visibility plots, and
verify / submit / revise.

Thin like the tree's pages: the OB through ``selectors.visible_ob`` (404), writes for the
run's investigators (403 for staff and other readers), each form one service call with the
version the page showed; a refusal re-renders the page with the messages next to the fields
and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from PIL import Image

from dataflow.errors import DomainError
from observations import access, night_selectors, ob_parts, selectors, services
from observations import status as st
from observations import windows as win
from observations.forms import (
    GONE_MESSAGE,
    AbsoluteWindowFormSet,
    ChartForm,
    ChartRemoveForm,
    CopyTargetForm,
    NightForm,
    OBForm,
    SiderealWindowFormSet,
    TemplateAddForm,
    TemplateRefForm,
    TemplateValuesForm,
    VersionForm,
    put_errors,
    put_window_errors,
    window_pairs,
)
from observations.models import (
    Container,
    FindingChart,
    ObservationBlock,
    Template,
    TemplateSignature,
)
from observations.views.common import (
    STATUS_CLASS,
    actor,
    charts,
    container_path,
    ensure_writer,
    hms,
    last_send_back,
    ob_events,
    templates_and_timing,
    visible_ob,
)
from proposals.models import Mode
from proposals.rules import posted_id

THUMBNAIL_PX = 240


def _ob_url(ob: ObservationBlock, anchor: str = "") -> str:
    url = reverse("phase2:ob", kwargs={"ob_id": ob.pk})
    return f"{url}#{anchor}" if anchor else url


def _visibility_urls(ob: ObservationBlock, night: dt.date) -> dict[str, str | None]:
    """The two plots' URLs (``None`` while their views are not installed)."""
    urls: dict[str, str | None] = {}
    try:
        night_url = reverse("phase2:ob_visibility_night", kwargs={"ob_id": ob.pk})
        urls["night"] = f"{night_url}?date={night:%Y-%m-%d}"
    except NoReverseMatch:
        urls["night"] = None
    try:
        urls["period"] = reverse("phase2:ob_visibility_period", kwargs={"ob_id": ob.pk})
    except NoReverseMatch:
        urls["period"] = None
    return urls


def _default_night(ob: ObservationBlock) -> dt.date:
    """Tonight during the run's period, else the period's first night."""
    period = ob.run.proposal.period
    today = timezone.now().date()
    return today if period.start <= today <= period.end else period.start


def _disable(form: BaseForm) -> None:
    for field in form.fields.values():
        field.disabled = True


def _window_formsets(
    ob: ObservationBlock,
) -> tuple[Any, Any]:
    absolute = AbsoluteWindowFormSet(
        prefix="abs",
        initial=[
            {"start": win.format_utc(w.start), "end": win.format_utc(w.end)}
            for w in ob.absolute.all()
        ],
    )
    sidereal = SiderealWindowFormSet(
        prefix="lst",
        initial=[
            {"start": win.format_lst(w.start_min), "end": win.format_lst(w.end_min)}
            for w in ob.sidereal.all()
        ],
    )
    return absolute, sidereal


def _ob_page(request: HttpRequest, ob: ObservationBlock, **overrides: Any) -> HttpResponse:
    """The editor with fresh forms, except those passed (bound, with their errors)."""
    run = ob.run
    container = Container.objects.only("id", "item_type", "name", "parent_id").get(
        pk=ob.container_id
    )
    may_write = access.may_write(request.user, run)
    editable = may_write and st.editable(ob.status, service_mode=run.mode == Mode.SM)
    windows_editable = may_write and st.absolute_windows_editable(ob.status)
    templates, timing = templates_and_timing(ob, run)
    signatures = TemplateSignature.objects.filter(
        instrument_id=run.instrument_id, ip_version=ob.ip_version
    ).values_list("name", "type")
    template_forms = [
        TemplateValuesForm.for_template(t, position, ob.version)
        for position, t in enumerate(templates, start=1)
    ]
    bound = overrides.pop("template_form", None)
    if isinstance(bound, TemplateValuesForm):
        template_forms = [
            bound if f.template.id == bound.template.id else f for f in template_forms
        ]
    absolute, sidereal = _window_formsets(ob)
    night_form = NightForm(request.GET or None)
    night = night_form.night(_default_night(ob))
    context: dict[str, Any] = {
        "ob": ob,
        "run": run,
        "container": container,
        "path": container_path(run.pk, container.pk),
        "status_class": STATUS_CLASS.get(ob.status, ""),
        "status_label": st.LABELS.get(ob.status, ob.status),
        "may_write": may_write,
        "editable": editable,
        "windows_editable": windows_editable,
        "can_submit": may_write and (ob.status, st.Action.SUBMIT) in st.TRANSITIONS,
        "can_revise": may_write and (ob.status, st.Action.REVISE) in st.TRANSITIONS,
        "send_back": last_send_back(ob) if ob.status == st.REPAIR else None,
        "ob_form": OBForm.for_ob(ob, container.item_type),
        "copy_form": CopyTargetForm(initial={"version": ob.version}, targets=run.targets.all()),
        "templates": template_forms,
        "add_template_form": TemplateAddForm(
            initial={"version": ob.version}, signatures=signatures
        ),
        "version": ob.version,
        "absolute_formset": absolute,
        "sidereal_formset": sidereal,
        "absolute_form": VersionForm(initial={"version": ob.version}, prefix="abs-v"),
        "sidereal_form": VersionForm(initial={"version": ob.version}, prefix="lst-v"),
        "chart_form": ChartForm(initial={"version": ob.version}),
        "chart_remove_form": None,
        "template_action_form": None,
        "charts": charts(ob),
        "timing": timing,
        "execution_total": hms(timing.breakdown.execution_s),
        "lines": [(line, hms(line.seconds)) for line in timing.breakdown.lines],
        "night_form": NightForm(initial={"date": night}),
        "night": night,
        "visibility": _visibility_urls(ob, night),
        "status_form": VersionForm(initial={"version": ob.version}, prefix="status"),
        "verification": None,
        "events": ob_events(ob),
        "executions": list(night_selectors.ob_executions(ob.pk)),
    }
    context.update(overrides)
    if not editable:
        for form in (context["ob_form"], context["copy_form"], context["add_template_form"]):
            _disable(form)
        for form in context["templates"]:
            _disable(form)
    if not editable or not may_write:
        for form in context["sidereal_formset"].forms:
            _disable(form)
    if not windows_editable:
        for form in context["absolute_formset"].forms:
            _disable(form)
    return render(request, "observations/ob.html", context)


@login_required
def ob_detail(request: HttpRequest, ob_id: int) -> HttpResponse:
    """GET: the editor. POST: save the OB's own fields (name, target, constraints, ...)."""
    ob = visible_ob(request, ob_id)
    if request.method != "POST":
        return _ob_page(request, ob)
    ensure_writer(request, ob.run)
    container_type = Container.objects.values_list("item_type", flat=True).get(pk=ob.container_id)
    form = OBForm(request.POST, container_type=container_type)
    if form.is_valid():
        try:
            services.ob_update(
                ob_id=ob.pk,
                data=form.command(),
                actor=actor(request),
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            put_errors(form, exc, OBForm.ERROR_ALIASES)
        else:
            messages.success(request, "OB saved.")
            return redirect(_ob_url(ob))
    return _ob_page(request, ob, ob_form=form)


def _write(
    request: HttpRequest,
    ob: ObservationBlock,
    form: BaseForm,
    *,
    name: str,
    write: Any,
    success: str,
    anchor: str,
    aliases: dict[str, str] | None = None,
) -> HttpResponse:
    """One service call with a valid form; the page with the form's errors otherwise."""
    if form.is_valid():
        try:
            write()
        except DomainError as exc:
            put_errors(form, exc, aliases)
        except ObjectDoesNotExist:
            form.add_error(None, GONE_MESSAGE)
        else:
            messages.success(request, success)
            return redirect(_ob_url(ob, anchor))
    return _ob_page(request, ob, **{name: form})


@login_required
@require_POST
def copy_target(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = CopyTargetForm(request.POST, targets=ob.run.targets.all())
    return _write(
        request,
        ob,
        form,
        name="copy_form",
        anchor="ob-target",
        success="Target copied from Phase 1.",
        write=lambda: services.ob_copy_target_from_phase1(
            ob_id=ob.pk,
            target_id=form.cleaned_data["target_id"],
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        ),
    )


# --- verify, submit, revise ---------------------------------------------------------------


@login_required
def ob_verify(request: HttpRequest, ob_id: int) -> HttpResponse:
    """The OB's verification (nothing changes)."""
    ob = visible_ob(request, ob_id)
    report = services.ob_verify(ob_id=ob.pk, actor=actor(request))
    return _ob_page(request, ob, verification=report)


@login_required
@require_POST
def ob_submit(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = VersionForm(request.POST, prefix="status")
    verification = None
    if form.is_valid():
        try:
            _, report = services.ob_submit(
                ob_id=ob.pk, actor=actor(request), expected_version=form.cleaned_data["version"]
            )
        except DomainError as exc:
            if "verification" in exc.errors:
                form.add_error(None, f"Not submitted: {exc.message} Change what the list says.")
                verification = services.ob_verify(ob_id=ob.pk, actor=actor(request))
            else:
                put_errors(form, exc)
        else:
            messages.success(
                request, "OB submitted for review: it is now defined ('D') and frozen."
            )
            for warning in report.warnings:
                messages.warning(request, f"Warning: {warning}")
            return redirect(_ob_url(ob))
    return _ob_page(request, ob, status_form=form, verification=verification)


@login_required
@require_POST
def ob_revise(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = VersionForm(request.POST, prefix="status")
    return _write(
        request,
        ob,
        form,
        name="status_form",
        anchor="",
        success=(
            "OB taken back for editing: it is partially defined ('P') again and leaves the "
            "review queue; submit it again when it is ready."
        ),
        write=lambda: services.ob_revise(
            ob_id=ob.pk, actor=actor(request), expected_version=form.cleaned_data["version"]
        ),
    )


# --- templates ----------------------------------------------------------------------------


@login_required
@require_POST
def template_add(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    signatures = TemplateSignature.objects.filter(
        instrument_id=ob.run.instrument_id, ip_version=ob.ip_version
    ).values_list("name", "type")
    form = TemplateAddForm(request.POST, signatures=signatures)
    return _write(
        request,
        ob,
        form,
        name="add_template_form",
        anchor="templates",
        aliases={"template_name": "signature_name"},
        success=f"Template {request.POST.get('signature_name', '')} added with its defaults.",
        write=lambda: services.template_add(
            ob_id=ob.pk,
            signature_name=form.cleaned_data["signature_name"],
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        ),
    )


def _template_of(ob: ObservationBlock, raw: str) -> tuple[selectors.TemplateView, int] | None:
    """The OB's template with the posted id, and its 1-based position."""
    templates, _ = templates_and_timing(ob, ob.run)
    pk = posted_id(raw)
    for position, template in enumerate(templates, start=1):
        if template.id == pk:
            return template, position
    return None


@login_required
@require_POST
def template_save(request: HttpRequest, ob_id: int) -> HttpResponse:
    """Set a template's parameter values (the form generated from its signature)."""
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    found = _template_of(ob, request.POST.get("template_id", ""))
    if found is None:
        gone = TemplateRefForm(request.POST)
        gone.is_valid()
        gone.add_error(None, GONE_MESSAGE)
        return _ob_page(request, ob, template_action_form=gone)
    template, position = found
    form = TemplateValuesForm(request.POST, template=template, position=position)
    if form.is_valid():
        try:
            services.template_set_values(
                template_id=template.id,
                ob_id=ob.pk,
                values=form.values(),
                actor=actor(request),
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            put_errors(form, exc)
        except ObjectDoesNotExist:
            form.add_error(None, GONE_MESSAGE)
        else:
            messages.success(request, f"Template {position} ({template.name}) saved.")
            return redirect(_ob_url(ob, f"template-{position}"))
    return _ob_page(request, ob, template_form=form)


@login_required
@require_POST
def template_delete(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = TemplateRefForm(request.POST)

    def remove() -> None:
        pk = form.cleaned_data["template_id"]
        if not Template.objects.filter(pk=pk, ob=ob).exists():  # a template of this OB only
            raise Template.DoesNotExist(f"No template {pk} in OB {ob.pk}.")
        services.template_delete(
            template_id=pk,
            ob_id=ob.pk,
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        )

    return _write(
        request,
        ob,
        form,
        name="template_action_form",
        anchor="templates",
        success="Template removed.",
        write=remove,
    )


@login_required
@require_POST
def template_move(request: HttpRequest, ob_id: int) -> HttpResponse:
    """Move a template one place up or down."""
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = TemplateRefForm(request.POST)
    order = list(ob.templates.values_list("pk", flat=True))

    def move() -> None:
        pk = form.cleaned_data["template_id"]
        if pk not in order:
            raise ObjectDoesNotExist(f"template {pk}")
        i = order.index(pk)
        j = i - 1 if form.cleaned_data["direction"] != "down" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
        services.template_reorder(
            ob_id=ob.pk,
            template_ids=order,
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        )

    return _write(
        request,
        ob,
        form,
        name="template_action_form",
        anchor="templates",
        success="Templates reordered.",
        write=move,
    )


# --- windows ------------------------------------------------------------------------------


def _windows(request: HttpRequest, ob_id: int, *, sidereal: bool) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    prefix = "lst" if sidereal else "abs"
    formset_class = SiderealWindowFormSet if sidereal else AbsoluteWindowFormSet
    formset = formset_class(request.POST, prefix=prefix)
    version_form = VersionForm(request.POST, prefix=f"{prefix}-v")
    name = "sidereal" if sidereal else "absolute"
    if formset.is_valid() and version_form.is_valid():
        pairs, where = window_pairs(formset)
        try:
            if sidereal:
                ob_parts.sidereal_windows_set(
                    ob_id=ob.pk,
                    windows=pairs,
                    actor=actor(request),
                    expected_version=version_form.cleaned_data["version"],
                )
            else:
                ob_parts.absolute_windows_set(
                    ob_id=ob.pk,
                    windows=pairs,
                    actor=actor(request),
                    expected_version=version_form.cleaned_data["version"],
                )
        except DomainError as exc:
            put_window_errors(formset, where, exc, version_form)
        else:
            shown = "Sidereal (LST)" if sidereal else "Absolute (UTC)"
            messages.success(request, f"{shown} time windows saved ({len(pairs)}).")
            return redirect(_ob_url(ob, "windows"))
    return _ob_page(request, ob, **{f"{name}_formset": formset, f"{name}_form": version_form})


@login_required
@require_POST
def absolute_windows(request: HttpRequest, ob_id: int) -> HttpResponse:
    return _windows(request, ob_id, sidereal=False)


@login_required
@require_POST
def sidereal_windows(request: HttpRequest, ob_id: int) -> HttpResponse:
    return _windows(request, ob_id, sidereal=True)


# --- finding charts -----------------------------------------------------------------------


@login_required
@require_POST
def chart_add(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = ChartForm(request.POST, request.FILES)

    def add() -> None:
        upload = form.cleaned_data["image"]
        ob_parts.chart_add(
            ob_id=ob.pk,
            name=upload.name or "finding_chart.jpg",
            content=upload.read(),
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        )

    return _write(
        request,
        ob,
        form,
        name="chart_form",
        anchor="charts",
        aliases={"content": "image"},
        success="Finding chart added.",
        write=add,
    )


@login_required
@require_POST
def chart_remove(request: HttpRequest, ob_id: int) -> HttpResponse:
    ob = visible_ob(request, ob_id)
    ensure_writer(request, ob.run)
    form = ChartRemoveForm(request.POST)

    def remove() -> None:
        pk = form.cleaned_data["chart_id"]
        if not FindingChart.objects.filter(pk=pk, ob=ob).exists():
            raise FindingChart.DoesNotExist(f"No finding chart {pk} on OB {ob.pk}.")
        ob_parts.chart_remove(
            chart_id=pk,
            ob_id=ob.pk,
            actor=actor(request),
            expected_version=form.cleaned_data["version"],
        )

    return _write(
        request,
        ob,
        form,
        name="chart_remove_form",
        anchor="charts",
        success="Finding chart removed.",
        write=remove,
    )


@login_required
def chart_image(request: HttpRequest, ob_id: int, chart_index: int) -> HttpResponse:
    """The OB's finding chart number ``chart_index`` (1-based, as p2 numbers them) for those
    who may read the OB; ``?thumb=1``: a small JPEG."""
    ob = visible_ob(request, ob_id)
    chart = (
        FindingChart.objects.filter(ob=ob).order_by("pk")[chart_index - 1 : chart_index].first()
        if chart_index >= 1
        else None
    )
    if chart is None:
        raise Http404("No such finding chart.")
    content = bytes(chart.content)
    if request.GET.get("thumb"):
        content = _thumbnail(content)
    response = HttpResponse(content, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{chart.name}"'
    # By index: after a removal the same URL names another chart, so browsers ask again.
    response["Cache-Control"] = "private, no-cache"
    return response


def _thumbnail(content: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
            return out.getvalue()
    except Exception:  # a chart Pillow cannot shrink is shown as stored
        return content
