"""Visitors: a VM run's team files its travel to the site once the accepted long-term schedule
gives the run nights (ESO's Visiting Astronomer Travel office: who travels, arrival and
departure, flights, a room at the site); staff read the weekly arrival list.

Who may file: the PI or any accepted co-investigator (``dataflow.permissions.is_investigator``).
There is no separate "travel delegate": a co-investigator who accepted the invitation is trusted
with the team's travel, as with editing the proposal.

When an accepted schedule changes a run's nights (``services.version_accept``), its request is
checked again with the filing rule (:func:`recheck_travel`): one that no longer covers them is
marked ``needs_update`` until the team files dates that fit. Every write bumps the request's
``version``, the API's ETag (If-Match on PUT).
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from dataflow.errors import InvalidInput, NotAllowed, StaleVersion, TransitionNotAllowed
from dataflow.permissions import is_investigator, is_staff_member
from proposals.models import Mode, ObservingRun
from proposals.review.models import RunDecision
from scheduling.models import RunNight, ScheduleEvent, TravelRequest, TravelStatus

MAX_TRAVELLERS = 5
MAX_NAME = 100


def run_nights_window(run: ObservingRun) -> tuple[dt.date, dt.date] | None:
    """The run's first and last accepted night (local dates they begin), or None."""
    dates = list(RunNight.objects.filter(run=run).order_by("date").values_list("date", flat=True))
    return (dates[0], dates[-1]) if dates else None


def travel_refusal(run: ObservingRun) -> str | None:
    """Why the run cannot have a travel request (yet), or None when it can."""
    if run.mode != Mode.VM:
        return "Only visitor-mode runs travel to the site."
    approved = RunDecision.objects.filter(run=run, approved=True).exists()
    if not approved:
        return "The run is not approved."
    if not RunNight.objects.filter(run=run).exists():
        return "The run has no nights in an accepted schedule yet."
    return None


def date_errors(
    window: tuple[dt.date, dt.date], arrival: dt.date, departure: dt.date
) -> dict[str, list[str]]:
    """The filing rule: arrive on or before the first night, leave after the last one."""
    first, last = window
    errors: dict[str, list[str]] = {}
    if arrival > first:
        errors["arrival"] = [f"Arrive on or before the first night ({first.isoformat()})."]
    if departure <= last:
        errors["departure"] = [f"Leave after the last night ({last.isoformat()})."]
    return errors


def _clean_travellers(travellers: list[str]) -> tuple[list[str], list[str]]:
    names = [name.strip() for name in travellers]
    errors = []
    if not names:
        errors.append("Name at least one traveller.")
    if len(names) > MAX_TRAVELLERS:
        errors.append(f"At most {MAX_TRAVELLERS} travellers per run.")
    if any(not name for name in names):
        errors.append("Every traveller needs a name.")
    if any(len(name) > MAX_NAME for name in names):
        errors.append(f"Names of at most {MAX_NAME} characters.")
    return names, errors


@transaction.atomic
def travel_request_save(
    *,
    run_id: int,
    actor: User,
    travellers: list[str],
    arrival: dt.date,
    departure: dt.date,
    flights: str = "",
    lodging: bool = True,
    notes: str = "",
    expected_version: int | None = None,
) -> TravelRequest:
    """File or update (one per run) the travel request of an approved VM run with nights.

    The PI or an accepted co-investigator only (403). 409 if the run cannot travel (SM, not
    approved, no accepted nights). 400 with field messages: arrive on or before the first
    night, leave after the last one, one to five named travellers. 412 when
    ``expected_version`` (the API's If-Match) is not the request's version, or names a request
    not filed yet. Updating a confirmed request, or one that needs an update, puts it back to
    ``submitted`` (the travel office must look again). Event row.
    """
    # The run's lock serialises two first saves of one run (the one-to-one backs it).
    run = ObservingRun.objects.select_for_update().select_related("proposal").get(pk=run_id)
    if not is_investigator(actor, run.proposal):
        raise NotAllowed("Only the PI or a co-investigator files the team's travel.")
    refusal = travel_refusal(run)
    if refusal is not None:
        raise TransitionNotAllowed(refusal)
    request = TravelRequest.objects.select_for_update().filter(run=run).first()
    _check_version(run, request, expected_version)
    window = run_nights_window(run)
    assert window is not None  # travel_refusal checked the nights
    names, traveller_errors = _clean_travellers(travellers)
    errors: dict[str, list[str]] = {}
    if traveller_errors:
        errors["travellers"] = traveller_errors
    errors.update(date_errors(window, arrival, departure))
    if errors:
        raise InvalidInput("The travel request does not fit the run's nights.", errors)

    now = timezone.now()
    created = request is None
    if request is None:
        request = TravelRequest(run=run, created_at=now, version=0)
    request.submitted_by = actor
    request.travellers = names
    request.arrival, request.departure = arrival, departure
    request.flights, request.lodging, request.notes = flights, lodging, notes
    request.status, request.update_reason = TravelStatus.SUBMITTED, ""
    request.version += 1
    request.updated_at = now
    request.save()
    ScheduleEvent.objects.create(
        period_id=run.proposal.period_id,
        actor=actor,
        action="travel request",
        note=(
            f"{run}: {'filed' if created else 'updated'}, {len(names)} traveller(s), "
            f"{arrival.isoformat()} to {departure.isoformat()}"
        ),
    )
    return request


def _check_version(
    run: ObservingRun, request: TravelRequest | None, expected_version: int | None
) -> None:
    """If-Match: refuse a write based on a stale copy (None: the client did not ask)."""
    if expected_version is None:
        return
    if request is None:
        raise StaleVersion(f"No travel request of {run} is filed yet: file it without If-Match.")
    if request.version != expected_version:
        raise StaleVersion(
            f"The travel request of {run} was changed since you loaded it (now version "
            f"{request.version}): reload it and save again."
        )


@transaction.atomic
def travel_request_confirm(*, request_id: int, actor: User) -> TravelRequest:
    """Staff (the travel office) confirm a request: the room and transport are arranged.
    409 if it is confirmed already; an event row."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff confirm travel requests.")
    request = (
        TravelRequest.objects.select_for_update().select_related("run__proposal").get(pk=request_id)
    )
    if request.status == TravelStatus.CONFIRMED:
        raise TransitionNotAllowed("This travel request is confirmed already.")
    if request.status == TravelStatus.NEEDS_UPDATE:
        raise TransitionNotAllowed(
            f"The travel of {request.run} no longer fits its nights ({request.update_reason}): "
            "the team must update it first."
        )
    request.status = TravelStatus.CONFIRMED
    request.version += 1
    request.updated_at = timezone.now()
    request.save(update_fields=["status", "version", "updated_at"])
    ScheduleEvent.objects.create(
        period_id=request.run.proposal.period_id,
        actor=actor,
        action="travel confirmed",
        note=f"{request.run}: {request.arrival.isoformat()} to {request.departure.isoformat()}",
    )
    return request


@transaction.atomic
def recheck_travel(*, period_id: int, actor: User | None) -> list[TravelRequest]:
    """Check every travel request of the period's runs against the run's accepted nights now
    (the filing rule), after an accepted schedule replaced them; returns those that changed.

    A request that no longer covers its run's nights, or whose run has none left, is marked
    ``needs_update`` with the reason; one marked earlier that fits again goes back to
    ``submitted`` (the travel office looks again). An event row for each. Runs in the caller's
    transaction when there is one (``version_accept``), under the lock of the requests.
    """
    requests = list(
        TravelRequest.objects.select_for_update()
        .filter(run__proposal__period_id=period_id)
        .select_related("run__proposal")
        .order_by("pk")
    )
    nights: dict[int, list[dt.date]] = {}
    for run_id, date in RunNight.objects.filter(
        run_id__in=[r.run_id for r in requests]
    ).values_list("run_id", "date"):
        nights.setdefault(run_id, []).append(date)
    changed: list[TravelRequest] = []
    for request in requests:
        dates = sorted(nights.get(request.run_id, []))
        reason = _misfit(request, (dates[0], dates[-1]) if dates else None)
        if reason:
            if request.status == TravelStatus.NEEDS_UPDATE and request.update_reason == reason:
                continue
            request.status, request.update_reason = TravelStatus.NEEDS_UPDATE, reason
            action = "travel needs update"
        elif request.status == TravelStatus.NEEDS_UPDATE:
            request.status, request.update_reason = TravelStatus.SUBMITTED, ""
            action, reason = "travel fits again", "the accepted nights fit its dates again"
        else:
            continue
        request.version += 1
        request.updated_at = timezone.now()
        request.save(update_fields=["status", "update_reason", "version", "updated_at"])
        ScheduleEvent.objects.create(
            period_id=period_id, actor=actor, action=action, note=f"{request.run}: {reason}"
        )
        changed.append(request)
    return changed


def _misfit(request: TravelRequest, window: tuple[dt.date, dt.date] | None) -> str:
    """Why ``request`` no longer fits the run's nights ``window`` ("" when it does)."""
    if window is None:
        return "the run has no nights in the accepted schedule any more"
    if not date_errors(window, request.arrival, request.departure):
        return ""
    first, last = window
    return (
        f"the nights are now {first.isoformat()} to {last.isoformat()}; arrival "
        f"{request.arrival.isoformat()} and departure {request.departure.isoformat()} "
        "no longer cover them"
    )
