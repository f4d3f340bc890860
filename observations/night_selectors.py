"""Reads of the night: what follows from the execution records.

A Group's score and a TimeLink's windows are never stored: they are computed from the OBs'
statuses and the executions, so they cannot disagree with the records. Each function costs a
constant number of queries whatever the number of containers asked for (the ranking adapter,
``scheduling/night``, asks for all of a telescope's containers at once).

A *completing* execution is one graded A, B or D (its OB became ``C``, completed); one graded
C (its OB must be repeated, ``M``) or aborted does not count: a time link waits for the
previous OB's repeat.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from django.db.models import Max, QuerySet

from observations import status as st
from observations.models import Execution, ObservationBlock, OBStatus, WeatherReading

#: A time-link OB whose previous OB has no completing execution yet.
NOT_YET: Literal["not yet"] = "not yet"
#: ``(earliest, latest)`` UTC (``latest`` None: no latest delay), ``None`` for a time link's
#: first OB (the link does not constrain it), or :data:`NOT_YET`.
TimelinkWindow = tuple[dt.datetime, dt.datetime | None] | None | Literal["not yet"]

#: Grades that complete an OB (``C``), from the status table.
COMPLETING_GRADES = frozenset(g for g, a in st.GRADE_ACTIONS.items() if a == st.Action.COMPLETE)


def group_scores(container_ids: Iterable[int]) -> dict[int, float]:
    """Each Group's score, 0..1: the contributions of its completed (``C``) OBs over the
    contributions of all its OBs (0 for a group without OBs or contributions). One query."""
    ids = list(container_ids)
    done: dict[int, float] = defaultdict(float)
    total: dict[int, float] = defaultdict(float)
    rows = ObservationBlock.objects.filter(container_id__in=ids).values_list(
        "container_id", "status", "contribution"
    )
    for container_id, status, contribution in rows:
        total[container_id] += contribution
        if status == OBStatus.COMPLETED:
            done[container_id] += contribution
    return {pk: (done[pk] / total[pk] if total[pk] > 0 else 0.0) for pk in ids}


def completing_ends(ob_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """The end of each OB's latest completing execution (OBs without one are left out)."""
    rows = (
        Execution.objects.filter(
            ob_id__in=list(ob_ids), grade__in=COMPLETING_GRADES, ended_at__isnull=False
        )
        .values("ob_id")
        .annotate(end=Max("ended_at"))
        .values_list("ob_id", "end")
    )
    return dict(rows)


def timelink_windows(container_ids: Iterable[int]) -> dict[int, TimelinkWindow]:
    """The execution window of every OB of the given TimeLinks, by OB id: from the end of the
    previous OB's latest completing execution plus this OB's earliest delay to the same plus
    its latest delay; ``None`` for a link's first OB; :data:`NOT_YET` while the previous OB
    has no completing execution. Two queries."""
    members = ObservationBlock.objects.filter(container_id__in=list(container_ids)).order_by(
        "container_id", "position", "pk"
    )
    rows = list(members.values_list("pk", "container_id", "min_delay_s", "max_delay_s"))
    ends = completing_ends(pk for pk, *_ in rows)
    windows: dict[int, TimelinkWindow] = {}
    previous: tuple[int, int] | None = None  # (container, OB) of the previous row
    for pk, container_id, min_delay_s, max_delay_s in rows:
        if previous is None or previous[0] != container_id:
            windows[pk] = None
        elif (end := ends.get(previous[1])) is None:
            windows[pk] = NOT_YET
        else:
            latest = None if max_delay_s is None else end + dt.timedelta(seconds=max_delay_s)
            windows[pk] = (end + dt.timedelta(seconds=min_delay_s), latest)
        previous = (container_id, pk)
    return windows


def ob_executions(ob_id: int, night: dt.date | None = None) -> QuerySet[Execution]:
    """An OB's executions, oldest first, with their visit (conditions, operator) and ledger
    entries; ``night``: only those of that night (the local evening date). The caller decides
    who may read the OB. One query."""
    found = Execution.objects.filter(ob_id=ob_id).select_related(
        "visit", "visit__operator", "charge", "refund"
    )
    if night is not None:
        found = found.filter(visit__night=night)
    return found.order_by("visit__started_at", "visit_id", "position")


def latest_weather(
    telescope_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> WeatherReading | None:
    """The telescope's latest weather reading (at or before ``until``, not before ``since``)."""
    found = WeatherReading.objects.filter(telescope_id=telescope_id)
    if since is not None:
        found = found.filter(at__gte=since)
    if until is not None:
        found = found.filter(at__lte=until)
    return found.order_by("-at", "-pk").first()
