"""Candidate arrays kept per telescope and night, checked against the database on every use.

A ranking request asks ``probe(telescope_id)`` (ONE query: the telescope's site and a
fingerprint of everything the arrays are built from) and then ``CACHE.checkout(telescope_id,
night, probe)``, which hands out the cached arrays when the fingerprint is unchanged and
rebuilds them (``candidates.build_arrays``) when it is not. So a ranking costs the ranking
and one aggregate query, not the rebuild, and never sees arrays older than the request.

Why a fingerprint and not signals
---------------------------------
The arrays live in each process (every web worker, the API, Celery workers). A ``post_save``
signal fires only in the process that saved, and only for saves through the ORM's
``save()`` (not ``QuerySet.update``, raw SQL, another process or a migration): one worker
would drop its arrays while the others kept ranking on stale ones. Our domain flow has no
signals anyway (``STYLE.md``). The fingerprint is read from the database by every request,
so every process sees every write, whoever made it, at the price of one aggregate query.

What the fingerprint covers (aggregates over the telescope's rows)
------------------------------------------------------------------
* OBs of the telescope's runs in a candidate status (``+ M A``): count, sum of ids, sum of
  versions. Every write to an OB bumps its ``version`` (p2's ETag, status changes and window
  edits included) and versions only grow, so any edit changes the sum; ids only grow, so an
  OB entering or leaving the candidates (accepted, started, regraded, deleted) changes the
  count or the id sum. Only candidates are read: the query costs the candidates, not the
  completed OBs of old runs, which pile up.
* Containers of the telescope's runs: count, sum of ids, sum of versions. The other members
  of a group or time-link matter too (a completed OB counts towards its group's score and
  opens its successor's window): a scheduling container's version is bumped when one of its
  OBs changes status or is added (``observations.services``), and their executions are below.
* Executions of the telescope's visits: count, largest id, how many ended, graded, aborted
  (a new execution, and its completion, which opens the next time-link window).
* Ledger entries of those runs: count, largest id, sum of seconds (remaining allocation).
* Run decisions: count, approved count, latest decision time (rank class, approval).
Not covered: proposal grades (final before Phase 2 starts). A write to an OB outside the
candidate statuses matters only through its group (its share moves the group's score), and
``ob_update`` bumps the group's version when a share changes. The site is read by the same
query.

The build reads after the fingerprint, each query in autocommit: a write between the two
makes the arrays newer than their fingerprint, so the next request rebuilds once more;
arrays older than their fingerprint cannot happen.

Threads: a lock per (telescope, night) is held while building and while ranking (the engine
caches per-night data on the arrays), so two requests never build the same arrays twice; other
telescopes and nights are not blocked. At most ``max_entries`` (telescope, night) pairs are
kept, least recently used first out.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.time import Time
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum, Value

from dataflow.astro.site import Site as AstroSite
from dataflow.observatory.models import Telescope
from observations.models import Container, Execution, ObservationBlock
from proposals.review.models import LedgerEntry, RunDecision
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.skytrack import SkyTrack
from scheduling.night.candidates import CANDIDATE_STATUSES, CandidateIndex, build_arrays

Fingerprint = tuple[Any, ...]
#: Sun/Moon/LST samples of a night's sky track, days (the engine's own step).
SKY_STEP_D = 5.0 / 1440.0


@dataclass(frozen=True)
class Probe:
    """The telescope's site and the fingerprint of its candidate data, from one query."""

    telescope_id: int
    site: AstroSite
    fingerprint: Fingerprint
    ms: float  # time the query took


def _aggregate_sql(qs: QuerySet[Any], **aggregates: Any) -> tuple[str, tuple[Any, ...]]:
    """SQL of one row of ``aggregates`` over ``qs`` (no GROUP BY: a constant groups nothing)."""
    one_row = qs.order_by().annotate(_k=Value(1)).values("_k").annotate(**aggregates)
    sql, params = one_row.values_list(*aggregates).query.sql_with_params()
    return sql, tuple(params)


@functools.lru_cache(maxsize=64)
def _probe_sql(telescope_id: int, vendor: str) -> tuple[str, tuple[Any, ...]]:
    """The probe's SQL and parameters, compiled once per telescope (compiling the six
    querysets costs more than running them on a small telescope)."""
    on_telescope = Q(run__telescope_id=telescope_id)
    candidate = Q(status__in=CANDIDATE_STATUSES)
    parts = [
        (
            Telescope.objects.filter(pk=telescope_id)
            .order_by()
            .values_list(
                "site__name",
                "site__latitude_deg",
                "site__longitude_deg",
                "site__height_m",
                "site__timezone",
            )
        ).query.sql_with_params(),
        _aggregate_sql(
            ObservationBlock.objects.filter(on_telescope & candidate),
            candidates=Count("pk"),
            candidate_ids=Sum("pk"),
            candidate_versions=Sum("version"),
        ),
        _aggregate_sql(
            Container.objects.filter(on_telescope),
            containers=Count("pk"),
            container_ids=Sum("pk"),
            container_versions=Sum("version"),
        ),
        _aggregate_sql(
            Execution.objects.filter(visit__telescope_id=telescope_id),
            executions=Count("pk"),
            last_execution=Max("pk"),
            ended=Count("ended_at"),
            graded=Count("pk", filter=~Q(grade="")),
            aborted=Count("pk", filter=Q(aborted=True)),
        ),
        _aggregate_sql(
            LedgerEntry.objects.filter(on_telescope),
            entries=Count("pk"),
            last_entry=Max("pk"),
            seconds=Sum("seconds"),
        ),
        _aggregate_sql(
            RunDecision.objects.filter(on_telescope),
            decisions=Count("pk"),
            approved=Count("pk", filter=Q(approved=True)),
            decided=Max("decided_at"),
        ),
    ]
    sql = "SELECT * FROM " + " CROSS JOIN ".join(
        f"({part}) AS p{i}" for i, (part, _) in enumerate(parts)
    )
    return sql, tuple(p for _, params in parts for p in params)


def probe(telescope_id: int) -> Probe:
    """The site and fingerprint of ``telescope_id`` (one query); ``Telescope.DoesNotExist``."""
    sql, params = _probe_sql(telescope_id, connection.vendor)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    ms = (time.perf_counter() - t0) * 1e3
    if row is None:
        raise Telescope.DoesNotExist(f"no telescope {telescope_id}")
    name, lat, lon, height, tz = row[:5]
    site = AstroSite(name=name, latitude_deg=lat, longitude_deg=lon, height_m=height, timezone=tz)
    return Probe(telescope_id=telescope_id, site=site, fingerprint=tuple(row), ms=ms)


@dataclass(frozen=True)
class NightEntry:
    """The arrays of one telescope and night and the fingerprint they were built at."""

    telescope_id: int
    night: dt.date
    fingerprint: Fingerprint
    arrays: CandidateArrays
    index: CandidateIndex
    built_ms: float


def night_sky(site: AstroSite, night: dt.date) -> SkyTrack:
    """Sun, Moon and LST every 5 min from local mean noon of ``night`` to two days later:
    covers any instant of the night and the engine's look-ahead from it (~8 ms)."""
    noon = (night - dt.date(1858, 11, 17)).days + 0.5 - site.longitude_deg / 360.0
    n = int(round(2.0 / SKY_STEP_D)) + 1
    return SkyTrack.exact(site, Time(noon + np.linspace(0.0, 2.0, n), format="mjd", scale="utc"))


@dataclass(frozen=True)
class Checkout:
    entry: NightEntry
    hit: bool  # the arrays were already there with this fingerprint
    build_ms: float  # 0.0 on a hit


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    entry: NightEntry | None = None


class NightCache:
    """Per-process arrays per (telescope, night); see the module docstring."""

    def __init__(self, max_entries: int = 8) -> None:
        self.max_entries = max_entries
        self._slots: OrderedDict[tuple[int, dt.date], _Slot] = OrderedDict()
        self._skies: OrderedDict[tuple[AstroSite, dt.date], SkyTrack] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # how many times arrays were built (for tests and benchmarks)

    def sky(self, site: AstroSite, night: dt.date) -> SkyTrack:
        """The night's sky track (``night_sky``), kept per site and night: it depends on no
        database row, so a rebuild of the arrays keeps it."""
        key = (site, night)
        with self._lock:
            track = self._skies.get(key)
        if track is None:
            track = night_sky(site, night)  # outside the lock: two threads may both build it
            with self._lock:
                self._skies[key] = track
                while len(self._skies) > self.max_entries:
                    self._skies.popitem(last=False)
        return track

    def _slot(self, key: tuple[int, dt.date]) -> _Slot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                while len(self._slots) > self.max_entries:
                    self._slots.popitem(last=False)
            self._slots.move_to_end(key)
            return slot

    @contextmanager
    def checkout(self, telescope_id: int, night: dt.date, probe: Probe) -> Iterator[Checkout]:
        """The arrays for ``(telescope_id, night)`` as of ``probe``, rebuilt if its fingerprint
        differs; the caller holds the pair's lock inside the ``with`` block."""
        slot = self._slot((telescope_id, night))
        with slot.lock:
            entry = slot.entry
            if entry is not None and entry.fingerprint == probe.fingerprint:
                yield Checkout(entry=entry, hit=True, build_ms=0.0)
                return
            t0 = time.perf_counter()
            arrays, index = build_arrays(telescope_id, night)
            built_ms = (time.perf_counter() - t0) * 1e3
            self.builds += 1
            fresh = NightEntry(
                telescope_id=telescope_id,
                night=night,
                fingerprint=probe.fingerprint,
                arrays=arrays,
                index=index,
                built_ms=built_ms,
            )
            slot.entry = fresh
            yield Checkout(entry=fresh, hit=False, build_ms=built_ms)

    def forget(self) -> None:
        """Drop every (telescope, night)'s arrays (the sky tracks stay)."""
        with self._lock:
            self._slots.clear()


#: The process's cache.
CACHE = NightCache()
