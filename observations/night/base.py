"""What every write of the night shares: its inputs (conditions, times), nights and
seconds, the locks it takes and the events it writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus

from django.contrib.auth.models import User
from django.utils import timezone

from dataflow.errors import DomainError, InvalidInput, NotAllowed
from dataflow.observatory.models import Telescope
from dataflow.permissions import may_operate
from observations import status as st
from observations.models import (
    SCHEDULING_CONTAINERS,
    Container,
    Execution,
    ObservationBlock,
    Phase2Event,
    SkyTransparency,
    Visit,
    VisitState,
)
from proposals.models import ObservingRun

EVENT_KIND = "night"  # Phase2Event.kind of every night status change and refund
WEATHER_SOURCES = ("operator", "station")
MAX_LOST_S = 86_400  # a night-log line loses at most a day


class TelescopeBusy(DomainError):
    """Another visit runs on the telescope: one OB (or concatenation) at a time."""

    status_code = HTTPStatus.CONFLICT


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConditionsData:
    """Sky and weather as measured: seeing (arcsec, 0-10), transparency (p2's names:
    Photometric, Clear, Thin, Variable), wind speed (m/s, 0-80) and the direction it blows
    from (degrees, 0-360, N=0 E=90), precipitable water vapour (mm, 0-50). ``None``/"":
    not measured."""

    seeing_arcsec: float | None = None
    transparency: str = ""
    wind_speed_ms: float | None = None
    wind_direction_deg: float | None = None
    water_vapour_mm: float | None = None


# field -> (low, high, unit, low excluded)
_RANGES: Mapping[str, tuple[float, float, str, bool]] = {
    "seeing_arcsec": (0.0, 10.0, "arcsec", True),
    "wind_speed_ms": (0.0, 80.0, "m/s", False),
    "wind_direction_deg": (0.0, 360.0, "degrees", False),
    "water_vapour_mm": (0.0, 50.0, "mm", False),
}
CONDITION_FIELDS = (*_RANGES, "transparency")


def _conditions(data: ConditionsData) -> dict[str, float | str | None]:
    """The measured values as model fields; ``InvalidInput`` naming each bad field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, float | str | None] = {}
    for name, (low, high, unit, open_low) in _RANGES.items():
        value = getattr(data, name)
        if value is None:
            values[name] = None
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            errors[name] = ["Give a number."]
            continue
        if (value <= low if open_low else value < low) or value > high:
            lower = f"more than {low:g}" if open_low else f"at least {low:g}"
            errors[name] = [f"Must be {lower} and at most {high:g} {unit}."]
            continue
        values[name] = float(value)
    transparency = data.transparency
    if transparency is None or transparency == "":
        values["transparency"] = ""
    elif transparency not in SkyTransparency.values:
        errors["transparency"] = [f"Choose one of {', '.join(SkyTransparency.values)}."]
    else:
        values["transparency"] = transparency
    if errors:
        raise InvalidInput("Invalid conditions.", errors)
    return values


EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def _when(at: dt.datetime | None, field: str = "at") -> dt.datetime:
    if at is None:
        return timezone.now()
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise InvalidInput("Invalid time.", {field: ["Give a time with its time zone (UTC)."]})
    if not EARLIEST <= at <= LATEST:  # night dates and FITS times need a real epoch
        raise InvalidInput("Invalid time.", {field: ["Give a time between 1990 and 2099."]})
    return at


def _unknown(field: str, what: str) -> InvalidInput:
    return InvalidInput(f"No {what}.", {field: [f"No {what}."]})


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------------------------
# Nights, seconds
# --------------------------------------------------------------------------------------------


def night_of(longitude_deg: float, at: dt.datetime) -> dt.date:
    """The night ``at`` belongs to: the local evening date at a site of ``longitude_deg``
    (east positive), local mean solar time as in ``dataflow.astro.nights`` (a night runs from
    local mean noon to the next local mean noon)."""
    local = at.astimezone(dt.UTC) + dt.timedelta(hours=longitude_deg / 15.0)
    return (local - dt.timedelta(hours=12)).date()


def night_begins(longitude_deg: float, night: dt.date) -> dt.datetime:
    """Local mean noon of ``night``'s evening date, UTC: when that night begins."""
    noon = dt.datetime.combine(night, dt.time(12), tzinfo=dt.UTC)
    return noon - dt.timedelta(hours=longitude_deg / 15.0)


def charge_seconds(execution_time_s: float) -> int:
    """Execution time in whole seconds, rounded half up (exactly, on the float's value)."""
    if not math.isfinite(execution_time_s) or execution_time_s <= 0:
        return 0
    return int(Decimal(execution_time_s).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def elapsed_seconds(start: dt.datetime, end: dt.datetime) -> int:
    """Whole seconds from ``start`` to ``end``, rounded half up (integer microseconds)."""
    micro = (end - start) // dt.timedelta(microseconds=1)
    return max(0, (micro + 500_000) // 1_000_000)


def split_abort_charge(elapsed_s: int, execution_s: Sequence[int]) -> list[int]:
    """An aborted visit's charge per OB, in their order: ``elapsed_s`` capped at the sum of
    the OBs' execution times, each OB taking at most its own before the next gets any."""
    left = min(max(elapsed_s, 0), sum(execution_s))
    shares = []
    for own in execution_s:
        share = min(left, own)
        shares.append(share)
        left -= share
    return shares


# --------------------------------------------------------------------------------------------
# Locks, events
# --------------------------------------------------------------------------------------------


def _ensure_operator(actor: User, what: str) -> None:
    if not may_operate(actor):
        raise NotAllowed(f"Only night operators and staff {what}.")


def _lock_telescope(telescope_id: int, field: str = "telescope_id") -> Telescope:
    telescope = (
        Telescope.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(pk=telescope_id)
        .first()
    )
    if telescope is None:
        raise _unknown(field, f"telescope {telescope_id}")
    return telescope


def _lock_runs(run_ids: Iterable[int]) -> dict[int, ObservingRun]:
    """Lock runs in id order (every writer of a run's Phase 2 locks its row first)."""
    ids = sorted(set(run_ids))
    locked = ObservingRun.objects.select_for_update(of=("self",)).select_related("proposal")
    return {run.pk: run for run in locked.filter(pk__in=ids).order_by("pk")}


def _lock_obs(ob_ids: Iterable[int]) -> dict[int, ObservationBlock]:
    locked = ObservationBlock.objects.select_for_update(of=("self",)).select_related("container")
    return {ob.pk: ob for ob in locked.filter(pk__in=sorted(set(ob_ids))).order_by("pk")}


def _transition(
    ob: ObservationBlock,
    run: ObservingRun,
    action: st.Action,
    actor: User | None,
    at: dt.datetime,
    message: str,
    *extra: str,
) -> None:
    """Move ``ob`` by the status table, bump its version, write the event (``extra``: more
    fields already set on ``ob`` to save)."""
    old = ob.status
    ob.status = st.next_status(old, action)
    ob.version += 1
    ob.save(update_fields=["status", "version", *extra])
    Phase2Event.objects.create(
        run=run,
        ob=ob,
        actor=actor,
        kind=EVENT_KIND,
        from_status=old,
        to_status=ob.status,
        message=message,
        at=at,
    )


def _bump_containers(obs: Iterable[ObservationBlock]) -> None:
    """A scheduling container's status derives from its OBs': one new version each."""
    ids = {ob.container_id for ob in obs if ob.container.item_type in SCHEDULING_CONTAINERS}
    for container in Container.objects.select_for_update().filter(pk__in=sorted(ids)):
        container.version += 1
        container.save(update_fields=["version"])


def _has_running_visit(telescope_id: int) -> bool:
    return Visit.objects.filter(telescope_id=telescope_id, state=VisitState.RUNNING).exists()


def _busy(telescope: Telescope) -> TelescopeBusy:
    """The refusal naming what runs on ``telescope`` now."""
    running = (
        Visit.objects.filter(telescope=telescope, state=VisitState.RUNNING)
        .select_related("operator")
        .first()
    )
    if running is None:  # it ended meanwhile; the caller may try again
        what = "another visit"
    else:
        obs = list(
            Execution.objects.filter(visit=running)
            .order_by("position")
            .values_list("ob_id", "ob__name")
        )
        named = ", ".join(f"OB {pk} '{name}'" for pk, name in obs)
        who = f" by {running.operator.username}" if running.operator else ""
        what = f"visit {running.pk} ({named}), started {running.started_at:%Y-%m-%d %H:%M} UTC{who}"
    message = f"{telescope.name} is busy with {what}: complete or abort it first."
    return TelescopeBusy(message, {"telescope_id": [message]})
