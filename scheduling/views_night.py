"""The night operators' pages: the telescopes with their running visit, and a console per
telescope (ESO's ranking panel, seed 001): the latest conditions and a form to record new ones,
the time, the panel's options and the algorithm, the ranked OBs with their justification and
the filtered ones with why not and when they become observable, the running visit with
Complete and Abort, a Start button on each ranked OB.

The ranking is a GET form, so a ranking is a URL and the page works without JavaScript;
``static/js/night-console.js`` re-ranks on every change by fetching the ranking fragment
(``night:ranking``) and swapping it in. Writes are one service each (``observations.night``);
after one the page comes back with the same ranking query (the forms carry it as ``back``).
A refused write shows the console again with the refusal (200), nothing written.

Night operators and staff only (403 for anyone else, the login page for anonymous visitors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dataflow.errors import DomainError, InvalidInput
from dataflow.observatory.models import Telescope
from dataflow.permissions import ensure_operator, is_staff_member, signed_in
from observations import night
from observations.night_selectors import latest_weather
from proposals.forms import add_domain_errors
from scheduling import console
from scheduling.forms_night import AbortForm, CompleteForm, RankForm, StartForm, WeatherForm
from scheduling.night.ranking import NightRanking, RankedRow

WHAT = "run the night"
#: A reading older than this before the ranking's time is flagged on the console.
STALE_S = 3600


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Every telescope with the visit running on it and a link to its console."""
    ensure_operator(request.user, WHAT)
    return render(request, "night/home.html", {"rows": console.telescope_rows()})


def _telescope(request: HttpRequest, telescope: int) -> Telescope:
    """The telescope of the URL, once the user may run the night (403 before any lookup)."""
    ensure_operator(request.user, WHAT)
    return get_object_or_404(Telescope.objects.select_related("site"), pk=telescope)


# --- the ranking ------------------------------------------------------------------------------


class Ranked:
    """The console's ranking: the form, the request it made and its result (None when the
    form is refused: ``errors`` says why)."""

    def __init__(self, form: RankForm, telescope: Telescope) -> None:
        self.form = form
        self.request: console.RankRequest | None = None
        self.result: NightRanking | None = None
        if form.is_valid():
            try:
                self.request = console.rank_request(telescope.pk, form.cleaned_data)
            except InvalidInput as exc:
                add_domain_errors(form, exc)
            else:
                self.result = console.ranking(telescope.pk, self.request)

    @property
    def errors(self) -> list[str]:
        """Every refusal, field by field ("Seeing (arcsec): Give a number.")."""
        out = []
        for name, messages_ in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            out += [f"{label}: {m}" if label else str(m) for m in messages_]
        return out

    @property
    def stale(self) -> bool:
        """The reading that gave the conditions is over an hour older than the time ranked."""
        req = self.request
        if req is None or req.reading is None:
            return False
        return (req.at - req.reading.at).total_seconds() > STALE_S


def _rank(params: QueryDict, telescope: Telescope) -> Ranked:
    return Ranked(RankForm(RankForm.data_from(params)), telescope)


@dataclass(frozen=True)
class ShownRow:
    """A ranked OB as the console lists it: its rank, its score to four decimals (the
    page's scripts and tests compare it) and its justification, labelled."""

    rank: int
    row: RankedRow
    score: str
    components: list[tuple[str, float]]


def _shown(result: NightRanking | None) -> list[ShownRow]:
    if result is None:
        return []
    labels = console.COMPONENT_LABELS
    return [
        ShownRow(
            rank,
            row,
            f"{row.score:.4f}",
            [(labels.get(name, name), points) for name, points in row.components.items()],
        )
        for rank, row in enumerate(result.ranked, start=1)
    ]


def _ranking_context(request: HttpRequest, telescope: Telescope, ranked: Ranked) -> dict[str, Any]:
    result = ranked.result
    return {
        "telescope": telescope,
        "ranked": ranked,
        "result": result,
        "ranked_rows": _shown(result),
        "back": ranked.form.query(),
        "staff": is_staff_member(request.user),
    }


@login_required
@require_GET
def ranking(request: HttpRequest, telescope: int) -> HttpResponse:
    """The ranking alone (the HTML the console's script swaps in): 400 with the refusals when
    the request is refused."""
    found = _telescope(request, telescope)
    ranked = _rank(request.GET, found)
    status = 200 if ranked.result is not None else 400
    context = _ranking_context(request, found, ranked)
    return render(request, "night/_ranking.html", context, status=status)


# --- the console ------------------------------------------------------------------------------


def _console(
    request: HttpRequest,
    telescope: Telescope,
    params: QueryDict,
    *,
    weather_form: WeatherForm | None = None,
    complete_form: CompleteForm | None = None,
    abort_form: AbortForm | None = None,
) -> HttpResponse:
    now = timezone.now()
    reading = latest_weather(telescope.pk, until=now)
    visit = console.running_visit(telescope.pk)
    ranked = _rank(params, telescope)
    for name in RankForm.CONDITIONS:  # blank inputs: the reading's value, as a hint
        value = getattr(reading, name, None) if reading is not None else None
        if value not in (None, ""):
            shown = value if isinstance(value, str) else f"{value:g}"
            ranked.form.fields[name].widget.attrs["placeholder"] = f"{shown} (latest)"
    if visit is not None:
        complete_form = complete_form or CompleteForm(initial={"visit": visit.pk}, visit=visit)
        abort_form = abort_form or AbortForm(initial={"visit": visit.pk})
    initial = {f: getattr(reading, f) for f in night.CONDITION_FIELDS} if reading else {}
    context = {
        **_ranking_context(request, telescope, ranked),
        "now": now,
        "night": night.night_of(telescope.site.longitude_deg, now),
        "reading": reading,
        "weather_form": weather_form or WeatherForm(initial=initial),
        "visit": visit,
        "complete_form": complete_form,
        "abort_form": abort_form,
    }
    return render(request, "night/console.html", context)


@login_required
@require_GET
def console_page(request: HttpRequest, telescope: int) -> HttpResponse:
    """The console of a telescope (the ranking of the query's time, conditions and options)."""
    return _console(request, _telescope(request, telescope), request.GET)


def _back(request: HttpRequest, drop: tuple[str, ...] = ()) -> QueryDict:
    """The ranking query the posting page showed (``back``), as a query and nothing else."""
    params = QueryDict(request.POST.get("back", ""), mutable=True)
    for name in drop:
        params.pop(name, None)
    return params


def _to_console(telescope: Telescope, params: QueryDict, anchor: str) -> HttpResponse:
    url = reverse("night:console", args=[telescope.pk])
    query = params.urlencode()
    return redirect(f"{url}{'?' + query if query else ''}#{anchor}")


def _refusal(exc: DomainError) -> str:
    """The service's message with its field messages (each once)."""
    parts = [exc.message]
    for field_messages in exc.errors.values():
        parts += [m for m in field_messages if m not in parts and m != exc.message]
    return " ".join(parts)


# --- writes -----------------------------------------------------------------------------------


@login_required
@require_POST
def weather(request: HttpRequest, telescope: int) -> HttpResponse:
    """Record the conditions typed in (a weather reading, now)."""
    found = _telescope(request, telescope)
    form = WeatherForm(request.POST)
    if form.is_valid():
        data = night.ConditionsData(
            **{k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        )
        try:
            reading = night.weather_post(
                telescope_id=found.pk, data=data, actor=signed_in(request.user)
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Conditions recorded at {reading.at:%H:%M} UTC.")
            # The ranking follows the new reading: drop the conditions typed into the panel.
            return _to_console(found, _back(request, RankForm.CONDITIONS), "conditions")
    return _console(request, found, _back(request), weather_form=form)


@login_required
@require_POST
def start(request: HttpRequest, telescope: int) -> HttpResponse:
    """Start a ranked OB (with the rest of its concatenation) now."""
    found = _telescope(request, telescope)
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an OB to start from the ranked list.")
        return _console(request, found, _back(request))
    try:
        visit = night.visit_start(
            telescope_id=found.pk,
            ob_id=form.cleaned_data["ob_id"],
            actor=signed_in(request.user),
        )
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return _console(request, found, _back(request))
    names = ", ".join(f"'{e.ob.name}'" for e in visit.executions.select_related("ob"))
    messages.success(request, f"Started {names} at {visit.started_at:%H:%M} UTC.")
    return _to_console(found, _back(request), "visit")


def _visit_write(
    request: HttpRequest, telescope: int, form_class: type[CompleteForm] | type[AbortForm]
) -> tuple[Telescope, CompleteForm | AbortForm, HttpResponse | None]:
    """The telescope and the bound form; a response already when nothing can be done."""
    found = _telescope(request, telescope)
    visit = console.running_visit(found.pk)
    if form_class is CompleteForm:
        form: CompleteForm | AbortForm = CompleteForm(request.POST, visit=visit)
    else:
        form = AbortForm(request.POST)
    if visit is None:
        messages.error(request, f"No visit is running on {found.name} (it may have just ended).")
        return found, form, _console(request, found, _back(request))
    valid = form.is_valid()
    if "visit" in form.errors or form.cleaned_data.get("visit") != visit.pk:
        messages.error(
            request,
            f"The visit shown has ended; visit {visit.pk} runs now: check it and try again.",
        )
        return found, form, _console(request, found, _back(request))
    if not valid:
        if isinstance(form, CompleteForm):
            return found, form, _console(request, found, _back(request), complete_form=form)
        return found, form, _console(request, found, _back(request), abort_form=form)
    return found, form, None


@login_required
@require_POST
def complete(request: HttpRequest, telescope: int) -> HttpResponse:
    """Complete the running visit with a QC grade (per OB for a concatenation) and comment."""
    found, form, done = _visit_write(request, telescope, CompleteForm)
    if done is not None:
        return done
    assert isinstance(form, CompleteForm)
    data = form.cleaned_data
    try:
        visit = night.visit_complete(
            visit_id=data["visit"],
            grade=data["grade"] or None,
            grades=form.grades() or None,
            comment=data["comment"],
            actor=signed_in(request.user),
        )
    except DomainError as exc:
        add_domain_errors(form, exc, {"grades": "grade"})
        return _console(request, found, _back(request), complete_form=form)
    graded = ", ".join(f"'{e.ob.name}' {e.grade}" for e in visit.executions.select_related("ob"))
    messages.success(request, f"Visit {visit.pk} completed: {graded}.")
    return _to_console(found, _back(request), "ranking")


@login_required
@require_POST
def abort(request: HttpRequest, telescope: int) -> HttpResponse:
    """Abort the running visit, saying why."""
    found, form, done = _visit_write(request, telescope, AbortForm)
    if done is not None:
        return done
    assert isinstance(form, AbortForm)
    try:
        visit = night.visit_abort(
            visit_id=form.cleaned_data["visit"],
            reason=form.cleaned_data["reason"],
            actor=signed_in(request.user),
        )
    except DomainError as exc:
        add_domain_errors(form, exc)
        return _console(request, found, _back(request), abort_form=form)
    messages.success(request, f"Visit {visit.pk} aborted.")
    return _to_console(found, _back(request), "ranking")
