"""A telescope's candidate OBs for one night, straight from query values into numpy.

``build_arrays(telescope_id, night)`` returns the ranking engine's ``CandidateArrays`` and a
``CandidateIndex`` (array row -> OB, container, run, for the console) from eight queries,
whatever the number of OBs; no ``Candidate`` and no model instance is created.

Who is a candidate
------------------
* OBs in status ``+`` (accepted), ``M`` (must repeat) or ``A`` (aborted) of the telescope's
  runs whose ``RunDecision`` is approved;
* whose run has time left: its ledger balance (the sum of its ``LedgerEntry.seconds``:
  allocations, minus charges, plus refunds) is > 0 s. The OBs of a run at or below 0 s are left
  out, and the run is named in ``CandidateIndex.exhausted_runs`` (a positive balance smaller
  than an OB's execution time still lets the OB run: its charge may overdraw the run);
* with coordinates and an execution time > 0 (accepted OBs have both; one without is left out
  and named in ``CandidateIndex.skipped``).

Rows are in OB id order; engine ids are the OB ids as strings, group / time-link /
concatenation ids the container ids as strings.

Mapping (OB field -> engine column)
-----------------------------------
* ``ra_deg``, ``dec_deg``, ``epoch`` (Julian year) as they are; ``pm_ra``/``pm_dec`` arcsec/yr
  x 1000 -> mas/yr (p2's RA proper motion is taken as mu_alpha* = mu_alpha cos(dec));
* ``execution_time_s``; constraint set: ``max_airmass``, ``seeing_arcsec`` (max seeing),
  ``sky_transparency`` (Photometric / Clear / Thin / Variable -> the engine's
  ``Transparency``), ``max_fli``, ``min_moon_distance_deg``, ``twilight_min`` (minutes after
  the end of astronomical twilight, p2's ``twilight``; 0, p2's default, is "in the
  astronomical night"); water vapour is not an engine constraint;
* absolute windows (UTC) -> MJD. Only windows that can matter for the night are kept: those
  overlapping local mean noon of ``night`` .. two days later (a ranking of the night looks at
  most ~1.5 days ahead). An OB whose windows all lie outside that span keeps one window, the
  day before the span, so the engine still says "outside its absolute time windows";
* sidereal windows, minutes -> hours; ``user_priority``;
* the run's rank class (the decision's; a visitor-mode run has none and ranks as A, a night
  given is a night kept) and grade (the proposal's ranking grade: the chair's panel grade,
  else the normalised mean of its reviews, else ``UNGRADED`` = 3.0, as in
  ``scheduling.adapter``).

Containers, from the records (``observations.night_selectors``, the night's own reads)
-------------------------------------------------------------------------------------
* Group: its score is the contributions of its OBs in status ``C`` over the contributions of
  all its OBs; an OB's engine contribution is its own over that total (so that executing it
  adds its share, as the simulator does).
* Time-link: members in container order (position, id) get orders 0, 1, ...; a later
  member's window is the end of the previous member's latest *completing* execution (graded
  A, B or D) + its ``min_delay_s`` .. + ``max_delay_s`` (no maximum: open-ended); the first
  member has no window; a member whose predecessor has no completing execution has none
  either and the engine calls it pending (not observable).
* Concatenation: members in container order get orders 0, 1, ...

Times are converted exactly from integer microseconds, as astropy does (integer day +
fraction): equal to ``Time(datetime).mjd`` to within the float resolution of an MJD (~1 us).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Sum

from dataflow.astro.nights import local_noon_jd
from dataflow.astro.site import Site as AstroSite
from dataflow.observatory.models import Telescope
from observations.models import (
    AbsoluteWindow,
    ItemType,
    ObservationBlock,
    OBStatus,
    SiderealWindow,
    SkyTransparency,
)
from observations.night_selectors import group_scores, timelink_windows
from proposals.models import Mode, ObservingRun, Period
from proposals.review.models import LedgerEntry, PanelGrade
from proposals.review.selectors import merged_ranking
from scheduling.adapter import UNGRADED
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.model import RANK_CLASSES, Transparency

#: The statuses in which an OB can be executed tonight (ESO: accepted, must repeat, aborted).
CANDIDATE_STATUSES: tuple[str, ...] = (OBStatus.ACCEPTED, OBStatus.MUST_REPEAT, OBStatus.ABORTED)
#: p2's sky transparency names -> the engine's ``Transparency``.
TRANSPARENCY: dict[str, Transparency] = {
    SkyTransparency.PHOTOMETRIC: Transparency.PHOTOMETRIC,
    SkyTransparency.CLEAR: Transparency.CLEAR,
    SkyTransparency.THIN: Transparency.THIN_CIRRUS,
    SkyTransparency.VARIABLE: Transparency.VARIABLE,
}
#: Absolute windows kept: those overlapping [local noon of the night, + WINDOW_SPAN_D days).
WINDOW_SPAN_D = 2.0
_MJD_UNIX_EPOCH = 40587  # MJD of 1970-01-01
_US_PER_DAY = 86_400_000_000
_OB_COLUMNS = (
    "pk",
    "name",
    "container_id",
    "run_id",
    "ra_deg",
    "dec_deg",
    "pm_ra",
    "pm_dec",
    "epoch",
    "execution_time_s",
    "max_airmass",
    "seeing_arcsec",
    "sky_transparency",
    "max_fli",
    "min_moon_distance_deg",
    "twilight_min",
    "user_priority",
    "has_windows",
    "container__item_type",
    "container__name",
)


@dataclass(frozen=True)
class RunInfo:
    """What the console shows of a run: ``label`` like ``130.C-0001(A)``."""

    label: str
    rank_class: str
    grade: float
    balance_s: int


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    item_type: str  # observations.models.ItemType


@dataclass(frozen=True)
class CandidateIndex:
    """Array row -> OB id, name, container and run; and what was left out, and why.

    ``ob_ids``, ``container_ids``, ``run_ids``: (N,) int64 aligned with the arrays' rows;
    ``listing``: the rows by rank class, grade, user priority and OB id (how the console
    lists OBs it does not rank), sorted once per build.
    """

    night: dt.date
    ob_ids: np.ndarray
    names: tuple[str, ...]
    container_ids: np.ndarray
    run_ids: np.ndarray
    containers: dict[int, ContainerInfo]
    runs: dict[int, RunInfo]
    exhausted_runs: tuple[int, ...] = ()  # approved runs with no time left (balance <= 0 s)
    skipped: tuple[tuple[int, str], ...] = ()  # (OB id, why) accepted OBs left out
    #: rows by rank class, grade, user priority and OB id: the order of the filtered lists
    listing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.ob_ids.shape[0])

    @cached_property
    def row_of(self) -> dict[int, int]:
        """OB id -> array row."""
        return {int(ob): i for i, ob in enumerate(self.ob_ids.tolist())}


def night_span_mjd(site: AstroSite, night: dt.date) -> tuple[float, float]:
    """[local mean noon of ``night``, + ``WINDOW_SPAN_D``) as UTC MJD: the absolute windows
    that can matter to a ranking of that night."""
    noon = float(local_noon_jd(site, [night])[0]) - 2400000.5
    return noon, noon + WINDOW_SPAN_D


def datetimes_to_mjd(values: Sequence[dt.datetime | None]) -> np.ndarray:
    """UTC MJD of aware datetimes (None -> NaN): integer day + fraction from microseconds."""
    out = np.full(len(values), np.nan)
    known = [i for i, v in enumerate(values) if v is not None]
    if not known:
        return out
    naive = [
        v.astimezone(dt.UTC).replace(tzinfo=None) for v in values if v is not None
    ]  # numpy's datetime64 takes naive UTC
    us = np.array(naive, dtype="datetime64[us]").astype(np.int64)
    day = us // _US_PER_DAY
    out[known] = (day + _MJD_UNIX_EPOCH).astype(np.float64) + (us - day * _US_PER_DAY) / float(
        _US_PER_DAY
    )
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a build of 100,000 OBs allocates millions of
    short-lived tuples, lists and floats (no cycles: reference counting frees them), and the
    collector's passes over them would cost a third of the build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_arrays(telescope_id: int, night: dt.date) -> tuple[CandidateArrays, CandidateIndex]:
    """The engine's arrays of the telescope's candidate OBs for ``night`` (see the module
    docstring), and the row index for the console."""
    with _collector_paused():
        if connection.vendor != "postgresql":
            return _build_arrays(telescope_id, night)
        with transaction.atomic():
            # PostgreSQL's JIT compiles the big reads (their cost estimate passes
            # jit_above_cost at ~50,000 OBs) for longer than they then run (0.25 s of 0.37 s
            # at 100,000 OBs); SET LOCAL ends with this transaction
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
            return _build_arrays(telescope_id, night)


def _build_arrays(telescope_id: int, night: dt.date) -> tuple[CandidateArrays, CandidateIndex]:
    site = Telescope.objects.select_related("site").get(pk=telescope_id).site.as_astro()
    runs = _runs(telescope_id)
    funded = sorted(r for r, info in runs.items() if info.balance_s > 0)
    exhausted = tuple(sorted(r for r, info in runs.items() if info.balance_s <= 0))
    candidates = ObservationBlock.objects.filter(run_id__in=funded, status__in=CANDIDATE_STATUSES)
    rows = list(
        candidates.annotate(
            has_windows=Exists(AbsoluteWindow.objects.filter(ob=OuterRef("pk"))),
        )
        .order_by("pk")
        .values_list(*_OB_COLUMNS)
    )
    pk, ra, dec, exe = (
        _OB_COLUMNS.index(c) for c in ("pk", "ra_deg", "dec_deg", "execution_time_s")
    )
    skipped = tuple(
        (int(r[pk]), "no coordinates" if r[ra] is None or r[dec] is None else "no execution time")
        for r in rows
        if r[ra] is None or r[dec] is None or not (r[exe] or 0) > 0
    )
    if skipped:
        left_out = {ob for ob, _ in skipped}
        rows = [r for r in rows if r[pk] not in left_out]
    n = len(rows)
    columns = list(zip(*rows, strict=True)) or [() for _ in _OB_COLUMNS]
    col: dict[str, list[Any]] = {
        name: list(values) for name, values in zip(_OB_COLUMNS, columns, strict=True)
    }
    ob_ids = np.array(col["pk"], dtype=np.int64)
    container_ids = np.array(col["container_id"], dtype=np.int64)
    run_ids = np.array(col["run_id"], dtype=np.int64)
    containers: dict[int, ContainerInfo] = {}
    for c, kind, name in zip(
        col["container_id"], col["container__item_type"], col["container__name"], strict=True
    ):
        if c not in containers:
            containers[c] = ContainerInfo(name=name, item_type=kind)

    def floats(name: str) -> np.ndarray:
        return np.array(col[name], dtype=np.float64).reshape(n)

    run_class = {r: RANK_CLASSES.index(info.rank_class) for r, info in runs.items()}
    run_grade = {r: info.grade for r, info in runs.items()}
    lo, hi = night_span_mjd(site, night)
    abs_start, abs_end = _absolute_windows(candidates, ob_ids, np.array(col["has_windows"]), lo, hi)
    lst_start, lst_end = _sidereal_windows(candidates, ob_ids)
    members = _memberships(funded, ob_ids, container_ids)
    ids = np.array([str(i) for i in col["pk"]], dtype=object)
    arrays = CandidateArrays.from_columns(
        ids=ids,
        ra_deg=floats("ra_deg"),
        dec_deg=floats("dec_deg"),
        pm_ra_mas_yr=floats("pm_ra") * 1000.0,
        pm_dec_mas_yr=floats("pm_dec") * 1000.0,
        epoch_jyear=floats("epoch"),
        execution_s=floats("execution_time_s"),
        max_airmass=floats("max_airmass"),
        min_moon_distance_deg=floats("min_moon_distance_deg"),
        max_fli=floats("max_fli"),
        max_seeing_arcsec=floats("seeing_arcsec"),
        min_transparency=np.array(
            [int(TRANSPARENCY[t]) for t in col["sky_transparency"]], dtype=np.int8
        ),
        twilight_offset_min=floats("twilight_min"),
        abs_start_mjd=abs_start,
        abs_end_mjd=abs_end,
        lst_start_h=lst_start,
        lst_end_h=lst_end,
        user_priority=floats("user_priority"),
        rank_class=np.array([run_class[r] for r in col["run_id"]], dtype=np.int8),
        grade=np.array([run_grade[r] for r in col["run_id"]], dtype=np.float64),
        **members,
    )
    index = CandidateIndex(
        night=night,
        ob_ids=ob_ids,
        names=tuple(col["name"]),
        container_ids=container_ids,
        run_ids=run_ids,
        containers=containers,
        runs=runs,
        exhausted_runs=exhausted,
        skipped=skipped,
        listing=np.lexsort((np.arange(n), arrays.user_priority, arrays.grade, arrays.rank_class)),
    )
    return arrays, index


# ----------------------------------------------------------------------------------------------
# Runs: rank class, grade, remaining allocation (3 queries; more only for ungraded proposals)
# ----------------------------------------------------------------------------------------------


def _runs(telescope_id: int) -> dict[int, RunInfo]:
    """The telescope's approved runs with their rank class, grade and ledger balance."""
    rows = list(
        ObservingRun.objects.filter(telescope_id=telescope_id, decision__approved=True)
        .order_by("pk")
        .values_list(
            "pk",
            "letter",
            "mode",
            "decision__rank_class",
            "proposal_id",
            "proposal__programme_id",
            "proposal__period_id",
        )
    )
    balance = dict(
        LedgerEntry.objects.filter(run_id__in=[r[0] for r in rows])
        .order_by()
        .values("run_id")
        .annotate(total=Sum("seconds"))
        .values_list("run_id", "total")
    )
    grades = _grades({r[4]: r[6] for r in rows})
    return {
        pk: RunInfo(
            label=f"{programme or f'#{proposal}'}({letter})",
            rank_class="A" if mode == Mode.VM else _rank_class(rank_class),
            grade=grades.get(proposal, UNGRADED),
            balance_s=int(balance.get(pk) or 0),
        )
        for pk, letter, mode, rank_class, proposal, programme, _ in rows
    }


def _rank_class(value: str) -> str:
    return value if value in RANK_CLASSES else "C"


def _grades(period_of: dict[int, int]) -> dict[int, float]:
    """Proposal -> ranking grade: the chair's, else the normalised mean of the period's merged
    ranking (only computed for periods with proposals lacking a chair's grade)."""
    grades = {
        p: float(g)
        for p, g in PanelGrade.objects.filter(proposal_id__in=list(period_of)).values_list(
            "proposal_id", "grade"
        )
    }
    missing = {period_of[p] for p in period_of if p not in grades}
    for period in Period.objects.filter(pk__in=missing).order_by("pk"):
        for row in merged_ranking(period):
            pk = row.proposal.pk
            if pk in period_of and pk not in grades and row.grade is not None:
                grades[pk] = float(row.grade)
    return grades


# ----------------------------------------------------------------------------------------------
# Windows (2 queries)
# ----------------------------------------------------------------------------------------------


def _pad_rows(
    ob_ids: np.ndarray, owner: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N, W) NaN-padded windows from rows sorted by owner (then start)."""
    n = ob_ids.shape[0]
    if owner.size == 0:
        return np.full((n, 0), np.nan), np.full((n, 0), np.nan)
    row = np.searchsorted(ob_ids, owner)
    first = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    rank = np.arange(row.size) - np.repeat(first, np.diff(np.r_[first, row.size]))
    width = int(rank.max()) + 1
    s = np.full((n, width), np.nan)
    e = np.full((n, width), np.nan)
    s[row, rank] = start
    e[row, rank] = end
    return s, e


def _absolute_windows(
    candidates: Any, ob_ids: np.ndarray, has_windows: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    span_lo = _mjd_to_datetime(lo)
    span_hi = _mjd_to_datetime(hi)
    kept = set(ob_ids.tolist())  # not the skipped OBs
    rows = [
        r
        for r in AbsoluteWindow.objects.filter(
            ob__in=candidates.values("pk"), end__gt=span_lo, start__lt=span_hi
        )
        .order_by("ob_id", "start", "pk")
        .values_list("ob_id", "start", "end")
        if r[0] in kept
    ]
    owner = np.array([r[0] for r in rows], dtype=np.int64)
    start = datetimes_to_mjd([r[1] for r in rows])
    end = datetimes_to_mjd([r[2] for r in rows])
    # an OB whose windows are all outside the span keeps one, the day before it: still
    # "outside its absolute time windows" for the engine
    outside = np.setdiff1d(ob_ids[has_windows.astype(bool).reshape(-1)], owner)
    if outside.size:
        owner = np.concatenate([owner, outside])
        start = np.concatenate([start, np.full(outside.size, lo - 1.0)])
        end = np.concatenate([end, np.full(outside.size, lo - 0.5)])
        order = np.lexsort((start, owner))
        owner, start, end = owner[order], start[order], end[order]
    return _pad_rows(ob_ids, owner, start, end)


def _sidereal_windows(candidates: Any, ob_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kept = set(ob_ids.tolist())  # not the skipped OBs
    rows = [
        r
        for r in SiderealWindow.objects.filter(ob__in=candidates.values("pk"))
        .order_by("ob_id", "start_min", "pk")
        .values_list("ob_id", "start_min", "end_min")
        if r[0] in kept
    ]
    owner = np.array([r[0] for r in rows], dtype=np.int64)
    start = np.array([r[1] for r in rows], dtype=np.float64) / 60.0
    end = np.array([r[2] for r in rows], dtype=np.float64) / 60.0
    return _pad_rows(ob_ids, owner, start, end)


def _mjd_to_datetime(mjd: float) -> dt.datetime:
    return dt.datetime(1858, 11, 17, tzinfo=dt.UTC) + dt.timedelta(days=mjd)


# ----------------------------------------------------------------------------------------------
# Groups, time-links, concatenations (2 queries)
# ----------------------------------------------------------------------------------------------


def _memberships(
    funded: Iterable[int], ob_ids: np.ndarray, container_ids: np.ndarray
) -> dict[str, Any]:
    """The engine's container columns for the rows (``ob_ids``, ascending): orders and
    contributions from every member of the funded runs' scheduling containers, group scores
    and time-link windows from the records (``observations.night_selectors``). Tables
    (group, link, concatenation ids) are numbered in order of their first row, as
    ``CandidateArrays.build`` does."""
    funded = list(funded)
    members = list(
        ObservationBlock.objects.filter(
            run_id__in=funded,
            container__item_type__in=[ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION],
        )
        .order_by("container_id", "position", "pk")
        .values_list(
            "pk",
            "container_id",
            "container__item_type",
            "contribution",
            "min_delay_s",
            "max_delay_s",
        )
    )
    n = ob_ids.shape[0]
    out: dict[str, Any] = {
        "group": np.full(n, -1, dtype=np.int64),
        "contribution": np.zeros(n),
        "group_ids": (),
        "group_score": np.zeros(0),
        "link": np.full(n, -1, dtype=np.int64),
        "link_order": np.zeros(n, dtype=np.int64),
        "link_min_delay_s": np.zeros(n),
        "link_max_delay_s": np.full(n, np.inf),
        "link_ids": (),
        "link_earliest_mjd": np.full(n, np.nan),
        "link_latest_mjd": np.full(n, np.nan),
        "concat": np.full(n, -1, dtype=np.int64),
        "concat_order": np.zeros(n, dtype=np.int64),
        "concat_ids": (),
    }
    if not members or n == 0:
        return out
    pk, box, kind, share, min_d, max_d = (list(c) for c in zip(*members, strict=True))
    pk_a = np.array(pk, dtype=np.int64)
    box_a = np.array(box, dtype=np.int64)
    share_a = np.array(share, dtype=np.float64)
    # members are sorted by container: order = place within the container's run of rows
    first = np.r_[0, np.flatnonzero(np.diff(box_a)) + 1]
    sizes = np.diff(np.r_[first, box_a.size])
    order = np.arange(box_a.size) - np.repeat(first, sizes)
    which = np.repeat(np.arange(first.size), sizes)  # container number of each member
    kind_of = np.array([kind[f] for f in first.tolist()], dtype=object)
    # rows of the members that are candidates
    at = np.minimum(np.searchsorted(ob_ids, pk_a), n - 1)
    is_row = ob_ids[at] == pk_a
    row = at[is_row]
    cbox, corder, cwhich = box_a[is_row], order[is_row], which[is_row]

    def tables(item_type: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(member mask among the candidate members, their table index, table ids) with
        tables numbered by first row."""
        mine = kind_of[cwhich] == item_type
        boxes = np.unique(cbox[mine])
        first_row = np.full(boxes.size, n)
        np.minimum.at(first_row, np.searchsorted(boxes, cbox[mine]), row[mine])
        numbered = boxes[np.argsort(first_row, kind="stable")]
        rank = np.empty(boxes.size, dtype=np.int64)
        rank[np.searchsorted(boxes, numbered)] = np.arange(boxes.size)
        return mine, rank[np.searchsorted(boxes, cbox[mine])], tuple(str(b) for b in numbered)

    # groups: the score from the records (night_selectors); an OB's share of the group's
    # total contribution, so that executing it adds its share to the score
    mine, index, ids = tables(ItemType.GROUP)
    scores = group_scores(int(b) for b in ids)
    total = np.bincount(which, weights=share_a, minlength=first.size)[cwhich[mine]]
    safe = np.where(total > 0, total, 1.0)
    out["group"][row[mine]] = index
    out["contribution"][row[mine]] = np.where(total > 0, share_a[is_row][mine] / safe, 0.0)
    out["group_ids"] = ids
    out["group_score"] = np.array([scores.get(int(b), 0.0) for b in ids], dtype=np.float64)
    # time-links: each OB's window from its predecessor's completing execution
    mine, index, ids = tables(ItemType.TIMELINK)
    lrow = row[mine]
    out["link"][lrow] = index
    out["link_order"][lrow] = corder[mine]
    out["link_min_delay_s"][lrow] = np.array(min_d, dtype=np.float64)[is_row][mine]
    out["link_max_delay_s"][lrow] = np.array(
        [np.inf if m is None else m for m in max_d], dtype=np.float64
    )[is_row][mine]
    windows = timelink_windows(int(b) for b in ids)
    opened: list[tuple[int, tuple[dt.datetime, dt.datetime | None]]] = []
    for i, ob in zip(lrow.tolist(), ob_ids[lrow].tolist(), strict=True):
        window = windows.get(ob)
        if isinstance(window, tuple):  # None: a link's first OB; "not yet": pending
            opened.append((i, window))
    if opened:
        rows_open = np.array([i for i, _ in opened], dtype=np.int64)
        out["link_earliest_mjd"][rows_open] = datetimes_to_mjd([w[0] for _, w in opened])
        out["link_latest_mjd"][rows_open] = datetimes_to_mjd([w[1] for _, w in opened])
    out["link_ids"] = ids
    # concatenations: the order within the container
    mine, index, ids = tables(ItemType.CONCATENATION)
    out["concat"][row[mine]] = index
    out["concat_order"][row[mine]] = corder[mine]
    out["concat_ids"] = ids
    return out
