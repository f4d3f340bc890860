"""Staff pages of the Phase 2 review: the queue of submitted OBs grouped by run (filters on
period, telescope and instrument), one OB in full with Accept, Send back (with a message) and
the service-mode short-OB waiver, and accepting the submitted OBs of a container at once.

Thin, like the other staff pages: staff only (403 for anyone else, the login page for
anonymous visitors; an OB of a run whose Phase 2 is not open is a 404), every write one service
called with the version the page showed as ``expected_version``. A refused write (a stale
page, an OB no longer awaiting review, a send-back without a message) shows the OB page again
with the service's words next to the form that asked, and changes nothing.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError
from dataflow.observatory.models import Instrument, Telescope
from dataflow.permissions import ensure_staff, signed_in
from observations import selectors_review as sel
from observations import services
from observations.models import Container, ObservationBlock
from proposals.models import Period

WHAT = "review Phase 2 OBs"
PAGE_SIZE = 50
RELOAD = "This form was not sent from the current page: reload the page and try again."


class QueueFilterForm(forms.Form):
    """The queue's GET filters; an invalid value filters nothing and is shown."""

    period = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    telescope = forms.ChoiceField(required=False)
    instrument = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        periods = Period.objects.order_by("-number").values_list("number", flat=True)
        telescopes = Telescope.objects.order_by("name").values_list("name", flat=True)
        instruments = Instrument.objects.order_by("name").values_list("name", flat=True)
        self._offer("period", [("", "any period"), *((n, f"P{n}") for n in periods)])
        self._offer("telescope", [("", "any telescope"), *((n, n) for n in telescopes)])
        # One instrument name may be mounted on several telescopes: offered once.
        names = dict.fromkeys(instruments)
        self._offer("instrument", [("", "any instrument"), *((n, n) for n in names)])

    def _offer(self, name: str, choices: list[tuple[Any, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def queue_filter(self) -> sel.QueueFilter:
        if not self.is_bound or not self.is_valid():
            return sel.QueueFilter()
        data = self.cleaned_data
        return sel.QueueFilter(
            period=data["period"],
            telescope=data["telescope"] or None,
            instrument=data["instrument"] or None,
        )


class VersionForm(forms.Form):
    """The version of the OB (or container) the page showed: the service's expected version."""

    version = forms.IntegerField(
        min_value=1, error_messages={"required": RELOAD, "invalid": RELOAD, "min_value": RELOAD}
    )


class SendBackForm(VersionForm):
    # Not required here: "say what to repair" is the service's rule, and its words.
    message = forms.CharField(required=False, max_length=5000, strip=True)


class WaiverForm(VersionForm):
    waived = forms.TypedChoiceField(
        choices=[("yes", "waive"), ("no", "restore")], coerce=lambda value: value == "yes"
    )


def _staff(request: HttpRequest) -> User:
    ensure_staff(request.user, WHAT)
    return signed_in(request.user)


def _queue_url() -> str:
    return reverse("phase2:review_queue")


def _back(request: HttpRequest, default: str) -> str:
    """Where a form asked to go back to (the queue with its filters and page), if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _form_messages(form: forms.Form) -> list[str]:
    return list(dict.fromkeys(str(m) for messages_ in form.errors.values() for m in messages_))


def _domain_messages(exc: DomainError) -> list[str]:
    return [exc.message, *(m for ms in exc.errors.values() for m in ms)]


# --- the queue ---------------------------------------------------------------------------------


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    _staff(request)
    form = QueueFilterForm(request.GET or None)
    obs = sel.pending_obs(request.user, form.queue_filter())
    page = Paginator(obs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "groups": sel.queue_groups(list(page.object_list)),
        "here": request.get_full_path(),
    }
    return render(request, "observations/review/queue.html", context)


# --- one OB ------------------------------------------------------------------------------------


def _ob_page(
    request: HttpRequest,
    ob_id: int,
    *,
    errors: dict[str, list[str]] | None = None,
    message: str = "",
) -> HttpResponse:
    """The OB for review; ``errors`` per form (accept, send_back, waiver, container) and the
    send-back message typed, when a write was refused."""
    actor = _staff(request)
    try:
        review = sel.review_ob(request.user, ob_id)
    except ObservationBlock.DoesNotExist as exc:
        raise Http404("No such OB in an open run.") from exc
    context = {
        "review": review,
        "ob": review.ob,
        "run": review.ob.run,
        "verification": services.ob_verify(ob_id=ob_id, actor=actor),
        "errors": errors or {},
        "message": message,
        "next": _back(request, _queue_url()),
    }
    return render(request, "observations/review/ob.html", context)


@login_required
def ob_review(request: HttpRequest, ob_id: int) -> HttpResponse:
    return _ob_page(request, ob_id)


def _refused(request: HttpRequest, ob_id: int, form: str, problems: list[str]) -> HttpResponse:
    return _ob_page(
        request, ob_id, errors={form: problems}, message=request.POST.get("message", "")
    )


@login_required
@require_POST
def ob_accept(request: HttpRequest, ob_id: int) -> HttpResponse:
    actor = _staff(request)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return _refused(request, ob_id, "accept", _form_messages(form))
    try:
        ob = services.ob_accept(
            ob_id=ob_id, actor=actor, expected_version=form.cleaned_data["version"]
        )
    except ObservationBlock.DoesNotExist as exc:
        raise Http404("No such OB.") from exc
    except DomainError as exc:
        return _refused(request, ob_id, "accept", _domain_messages(exc))
    messages.success(request, f"OB {ob.pk} '{ob.name}' accepted: it is ready to execute.")
    return redirect(_back(request, _queue_url()))


@login_required
@require_POST
def ob_send_back(request: HttpRequest, ob_id: int) -> HttpResponse:
    actor = _staff(request)
    form = SendBackForm(request.POST)
    if not form.is_valid():
        return _refused(request, ob_id, "send_back", _form_messages(form))
    try:
        ob = services.ob_send_back(
            ob_id=ob_id,
            message=form.cleaned_data["message"],
            actor=actor,
            expected_version=form.cleaned_data["version"],
        )
    except ObservationBlock.DoesNotExist as exc:
        raise Http404("No such OB.") from exc
    except DomainError as exc:
        return _refused(request, ob_id, "send_back", _domain_messages(exc))
    messages.success(
        request, f"OB {ob.pk} '{ob.name}' sent back: its investigators see your message."
    )
    return redirect(_back(request, _queue_url()))


@login_required
@require_POST
def ob_waiver(request: HttpRequest, ob_id: int) -> HttpResponse:
    actor = _staff(request)
    form = WaiverForm(request.POST)
    if not form.is_valid():
        return _refused(request, ob_id, "waiver", _form_messages(form))
    waived = form.cleaned_data["waived"]
    try:
        ob = services.ob_set_short_waiver(
            ob_id=ob_id,
            waived=waived,
            actor=actor,
            expected_version=form.cleaned_data["version"],
        )
    except ObservationBlock.DoesNotExist as exc:
        raise Http404("No such OB.") from exc
    except DomainError as exc:
        return _refused(request, ob_id, "waiver", _domain_messages(exc))
    done = "waived" if waived else "restored"
    messages.success(request, f"The one-hour minimum of OB {ob.pk} '{ob.name}' is {done}.")
    page = reverse("phase2:review_ob", kwargs={"ob_id": ob.pk})
    back = _back(request, "")
    return redirect(f"{page}?{urlencode({'next': back})}" if back else page)


# --- a container's submitted OBs at once ---------------------------------------------------------


@login_required
@require_POST
def container_accept(request: HttpRequest, container_id: int) -> HttpResponse:
    """Accept every submitted OB under a container; back to the page that asked (the queue or
    an OB's page) with what happened as a message."""
    actor = _staff(request)
    back = _back(request, _queue_url())
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(_form_messages(form)))
        return redirect(back)
    try:
        accepted = services.container_accept(
            container_id=container_id, actor=actor, expected_version=form.cleaned_data["version"]
        )
    except Container.DoesNotExist as exc:
        raise Http404("No such container.") from exc
    except DomainError as exc:
        messages.error(request, " ".join(_domain_messages(exc)))
        return redirect(back)
    names = ", ".join(f"{ob.pk} '{ob.name}'" for ob in accepted)
    messages.success(request, f"{len(accepted)} OB{pluralize(len(accepted))} accepted: {names}.")
    return redirect(back)
