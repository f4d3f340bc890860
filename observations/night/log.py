"""The night log: weather readings, lines of time lost or comments, expired time links, and
the night's closing."""

from __future__ import annotations

import datetime as dt
import functools

from django.contrib.auth.models import User
from django.db import transaction

from dataflow.errors import InvalidInput
from dataflow.observatory.models import Telescope
from observations import night_selectors as sel
from observations import status as st
from observations import tasks
from observations.models import (
    Container,
    ItemType,
    NightNote,
    ObservationBlock,
    Visit,
    VisitState,
    WeatherReading,
)
from observations.night.base import (
    MAX_LOST_S,
    WEATHER_SOURCES,
    ConditionsData,
    _bump_containers,
    _busy,
    _conditions,
    _ensure_operator,
    _lock_runs,
    _lock_telescope,
    _text,
    _transition,
    _unknown,
    _when,
    night_of,
)

# --------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------


@transaction.atomic
def weather_post(
    *,
    telescope_id: int,
    data: ConditionsData,
    actor: User,
    source: str = "operator",
    at: dt.datetime | None = None,
) -> WeatherReading:
    """Record the conditions at a telescope (typed in by an operator or posted by a station)."""
    _ensure_operator(actor, "post the weather")
    when = _when(at)
    values = _conditions(data)
    if source not in WEATHER_SOURCES:
        raise InvalidInput("Invalid source.", {"source": [f"Use {' or '.join(WEATHER_SOURCES)}."]})
    if all(v in (None, "") for v in values.values()):
        raise InvalidInput(
            "Nothing measured.",
            {"conditions": ["Give at least one of seeing, transparency, wind or water vapour."]},
        )
    telescope = Telescope.objects.filter(pk=telescope_id).first()
    if telescope is None:
        raise _unknown("telescope_id", f"telescope {telescope_id}")
    return WeatherReading.objects.create(
        telescope=telescope, at=when, source=source, author=actor, **values
    )


# --------------------------------------------------------------------------------------------
# Time links
# --------------------------------------------------------------------------------------------


@transaction.atomic
def timelinks_expire(
    *, now: dt.datetime, telescope_id: int | None = None, actor: User | None = None
) -> list[ObservationBlock]:
    """Fail (``F``) each time-link OB awaiting execution whose window closed before ``now``
    without it being completed, and those after an OB of its link that failed (the link
    cannot go on); ``actor`` None: the system (a periodic task)."""
    if actor is not None:
        _ensure_operator(actor, "expire time links")
    when = _when(now, "now")
    waiting = st.sources(st.Action.FAIL)
    links = Container.objects.filter(item_type=ItemType.TIMELINK, obs__status__in=waiting)
    if telescope_id is not None:
        links = links.filter(run__telescope_id=telescope_id)
    pairs = set(links.values_list("pk", "run_id"))
    if not pairs:
        return []
    runs = _lock_runs(run_id for _, run_id in pairs)
    ids = sorted(pk for pk, _ in pairs)
    members = list(
        ObservationBlock.objects.select_for_update(of=("self",))
        .select_related("container")
        .filter(container_id__in=ids)
        .order_by("container_id", "position", "pk")
    )
    windows = sel.timelink_windows(ids)  # under the runs' locks: no execution lands meanwhile
    failed: list[ObservationBlock] = []
    previous: ObservationBlock | None = None
    for ob in members:
        if previous is not None and previous.container_id != ob.container_id:
            previous = None
        window = windows.get(ob.pk)
        if ob.status in waiting:
            message = ""
            if previous is not None and previous.status == st.FAILED:
                message = f"the previous OB of the time link (OB {previous.pk}) failed"
            elif isinstance(window, tuple) and window[1] is not None and window[1] < when:
                message = f"its time-link window closed at {window[1]:%Y-%m-%d %H:%M:%S} UTC"
            if message:
                _transition(ob, runs[ob.run_id], st.Action.FAIL, actor, when, message)
                failed.append(ob)
        previous = ob
    _bump_containers(failed)
    return failed


# --------------------------------------------------------------------------------------------
# The night log
# --------------------------------------------------------------------------------------------


@transaction.atomic
def night_note_add(
    *,
    telescope_id: int,
    kind: str,
    actor: User,
    lost_s: int = 0,
    text: str = "",
    night: dt.date | None = None,
    at: dt.datetime | None = None,
) -> NightNote:
    """Write a line of a telescope's night log: time lost to weather or a technical fault
    (``lost_s`` > 0), or a comment (``text``); ``night`` defaults to the night of ``at``."""
    _ensure_operator(actor, "write the night log")
    when = _when(at)
    body = _text(text)
    errors: dict[str, list[str]] = {}
    if kind not in NightNote.Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(NightNote.Kind.values)}."]
    if isinstance(lost_s, bool) or not isinstance(lost_s, int) or not 0 <= lost_s <= MAX_LOST_S:
        errors["lost_s"] = [f"Give whole seconds from 0 to {MAX_LOST_S}."]
    elif kind == NightNote.Kind.COMMENT and lost_s:
        errors["lost_s"] = ["A comment loses no time: log the loss as weather or technical."]
    elif kind in (NightNote.Kind.WEATHER, NightNote.Kind.TECHNICAL) and not lost_s:
        errors["lost_s"] = ["Say how many seconds were lost."]
    if kind == NightNote.Kind.COMMENT and not body:
        errors["text"] = ["Write the comment."]
    if night is not None and (not isinstance(night, dt.date) or isinstance(night, dt.datetime)):
        errors["night"] = ["Give the night's evening date."]
    telescope = Telescope.objects.select_related("site").filter(pk=telescope_id).first()
    if telescope is None:
        errors["telescope_id"] = [f"No telescope {telescope_id}."]
    if errors or telescope is None:
        raise InvalidInput("Invalid night-log line.", errors)
    return NightNote.objects.create(
        telescope=telescope,
        night=night or night_of(telescope.site.longitude_deg, when),
        kind=kind,
        lost_s=lost_s,
        text=body,
        author=actor,
        at=when,
    )


# --------------------------------------------------------------------------------------------
# Closing a night (issue 12's raw data: the night's calibrations)
# --------------------------------------------------------------------------------------------

NIGHT_CLOSED = "night closed"  # the log's comment that records the closing


@transaction.atomic
def night_close(
    *, telescope_id: int, night: dt.date, actor: User, at: dt.datetime | None = None
) -> NightNote:
    """Close a telescope's night: a "night closed" comment in its log (written ``at``, default
    now), and the night's calibration frames queued (on commit; idempotent, so closing again
    only re-queues them). Refused while a visit of that night runs."""
    _ensure_operator(actor, "close the night")
    if not isinstance(night, dt.date) or isinstance(night, dt.datetime):
        raise InvalidInput("Invalid night.", {"night": ["Give the night's evening date."]})
    telescope = _lock_telescope(telescope_id)  # no visit starts or ends meanwhile
    running = Visit.objects.filter(telescope=telescope, night=night, state=VisitState.RUNNING)
    if running.exists():
        raise _busy(telescope)
    note = night_note_add(
        telescope_id=telescope.pk,
        kind=NightNote.Kind.COMMENT,
        actor=actor,
        text=NIGHT_CLOSED,
        night=night,
        at=at,
    )
    queue = functools.partial(tasks.write_calibrations.delay, telescope.pk, night.isoformat())
    transaction.on_commit(queue)
    return note
