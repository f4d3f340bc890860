"""Struct-of-arrays view of the candidates, built once and reused across rankings.

``CandidateArrays.build(candidates)`` turns a sequence of ``Candidate`` into numpy arrays
(one entry per OB, times as MJD UTC floats, windows padded with NaN);
``CandidateArrays.from_columns(...)`` does the same from columns an adapter already holds
(query values), without ``Candidate`` objects. The arrays split into
*static* fields (never changed by ranking) and a small *state* (``active``, the group scores,
the time-link windows) that the night simulator updates between rankings on its own copy
(``copy_state``), so repeated ranking never rebuilds the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace

import numpy as np

from scheduling.engine.ranking.model import RANK_CLASSES, Candidate, Transparency

_NAN = float("nan")


def _mjd(t: object) -> float:
    if t is None:
        return _NAN
    return float(t.utc.mjd)  # type: ignore[attr-defined]


def _pad(rows: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(r) for r in rows), default=0)
    start = np.full((len(rows), max(width, 1)), np.nan)
    end = np.full((len(rows), max(width, 1)), np.nan)
    for i, r in enumerate(rows):
        for j, (a, b) in enumerate(r):
            start[i, j] = a
            end[i, j] = b
    if width == 0:
        return start[:, :0], end[:, :0]
    return start, end


@dataclass
class CandidateArrays:
    """Candidates as parallel arrays, shape ``(N,)`` unless stated.

    Static fields
    -------------
    ids : ndarray of object (str)
    ra_deg, dec_deg, pm_ra_mas_yr, pm_dec_mas_yr, epoch_jyear : float
    execution_s : float
        Execution time, seconds.
    max_airmass, min_moon_distance_deg, max_fli, max_seeing_arcsec : float
    min_transparency : int8 (``Transparency`` values)
    twilight_offset_min : float, NaN = no twilight constraint
    abs_start_mjd, abs_end_mjd : (N, Wa) float, NaN padded; ``has_abs`` : bool
    lst_start_h, lst_end_h : (N, Wl) float, NaN padded; ``has_lst`` : bool
    user_priority : float; rank_class : int8 (0 = A, 1 = B, 2 = C); grade : float
    group : int (index into ``group_ids``, -1 = none); contribution : float
    link : int (index into ``link_ids``, -1 = none); link_order : int
    link_min_delay_s, link_max_delay_s : float
    concat : int (index into ``concat_ids``, -1 = none); concat_order : int
    concat_offset_s : float
        Start of the OB within its concatenation (sum of the previous members' times).
    concat_total_s : float
        Execution time of the whole concatenation (``execution_s`` when not concatenated).
    concat_head : bool
        The first member of its concatenation (True when not concatenated).

    State
    -----
    active : bool
        Still a candidate (the simulator clears it once executed or failed).
    group_score : (G,) float
        Current score per group.
    link_earliest_mjd, link_latest_mjd : float
        Time-link window of each OB's start, NaN = none.
    """

    ids: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    pm_ra_mas_yr: np.ndarray
    pm_dec_mas_yr: np.ndarray
    epoch_jyear: np.ndarray
    execution_s: np.ndarray
    max_airmass: np.ndarray
    min_moon_distance_deg: np.ndarray
    max_fli: np.ndarray
    max_seeing_arcsec: np.ndarray
    min_transparency: np.ndarray
    twilight_offset_min: np.ndarray
    abs_start_mjd: np.ndarray
    abs_end_mjd: np.ndarray
    has_abs: np.ndarray
    lst_start_h: np.ndarray
    lst_end_h: np.ndarray
    has_lst: np.ndarray
    user_priority: np.ndarray
    rank_class: np.ndarray
    grade: np.ndarray
    group: np.ndarray
    contribution: np.ndarray
    group_ids: tuple[str, ...]
    link: np.ndarray
    link_order: np.ndarray
    link_min_delay_s: np.ndarray
    link_max_delay_s: np.ndarray
    link_ids: tuple[str, ...]
    concat: np.ndarray
    concat_order: np.ndarray
    concat_offset_s: np.ndarray
    concat_total_s: np.ndarray
    concat_head: np.ndarray
    concat_ids: tuple[str, ...]
    # state
    active: np.ndarray
    group_score: np.ndarray
    link_earliest_mjd: np.ndarray
    link_latest_mjd: np.ndarray
    #: derived per-night data (apparent places), shared by ``copy_state`` copies
    cache: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, candidates: Sequence[Candidate]) -> CandidateArrays:
        """Validate the candidates and lay them out as arrays.

        Raises
        ------
        ValueError
            Duplicate ids, non-positive execution time, unknown rank class, a concatenation
            with duplicate orders.
        """
        n = len(candidates)
        ids = np.array([c.id for c in candidates], dtype=object)
        if len(set(ids.tolist())) != n:
            seen: set[str] = set()
            dup = next(i for i in ids.tolist() if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise ValueError(f"duplicate candidate id {dup!r}")
        f = np.zeros
        arr = {
            name: f(n)
            for name in (
                "ra",
                "dec",
                "pmra",
                "pmdec",
                "epoch",
                "exe",
                "am",
                "md",
                "fli",
                "see",
                "twi",
                "prio",
                "grade",
                "contrib",
                "mind",
                "maxd",
                "earl",
                "late",
            )
        }
        transp = np.zeros(n, dtype=np.int8)
        rclass = np.zeros(n, dtype=np.int8)
        groups: dict[str, int] = {}
        group_score_in: dict[int, float] = {}
        links: dict[str, int] = {}
        concats: dict[str, int] = {}
        group = np.full(n, -1, dtype=np.int64)
        link = np.full(n, -1, dtype=np.int64)
        link_order = np.zeros(n, dtype=np.int64)
        concat = np.full(n, -1, dtype=np.int64)
        concat_order = np.zeros(n, dtype=np.int64)
        abs_rows: list[list[tuple[float, float]]] = []
        lst_rows: list[list[tuple[float, float]]] = []
        for i, c in enumerate(candidates):
            k = c.constraints
            if not c.execution_time_s > 0:
                raise ValueError(f"{c.id}: execution_time_s must be > 0")
            if c.rank_class not in RANK_CLASSES:
                raise ValueError(f"{c.id}: rank class must be one of {RANK_CLASSES}")
            if not -90.0 <= c.dec_deg <= 90.0:
                raise ValueError(f"{c.id}: dec_deg out of range")
            arr["ra"][i] = c.ra_deg
            arr["dec"][i] = c.dec_deg
            arr["pmra"][i] = c.pm_ra_mas_yr
            arr["pmdec"][i] = c.pm_dec_mas_yr
            arr["epoch"][i] = c.epoch_jyear
            arr["exe"][i] = c.execution_time_s
            arr["am"][i] = k.max_airmass
            arr["md"][i] = k.min_moon_distance_deg
            arr["fli"][i] = k.max_fli
            arr["see"][i] = k.max_seeing_arcsec
            arr["twi"][i] = _NAN if k.twilight_offset_min is None else k.twilight_offset_min
            transp[i] = int(Transparency.parse(k.min_transparency))
            arr["prio"][i] = c.user_priority
            arr["grade"][i] = c.grade
            rclass[i] = RANK_CLASSES.index(c.rank_class)
            if c.group is not None:
                g = groups.setdefault(c.group.group_id, len(groups))
                group[i] = g
                arr["contrib"][i] = c.group.contribution
                group_score_in[g] = max(group_score_in.get(g, 0.0), c.group.group_score)
            tl = c.time_link
            if tl is not None:
                link[i] = links.setdefault(tl.link_id, len(links))
                link_order[i] = tl.order
                arr["mind"][i] = tl.min_delay_s
                arr["maxd"][i] = tl.max_delay_s
                arr["earl"][i] = _mjd(tl.earliest)
                arr["late"][i] = _mjd(tl.latest)
            else:
                arr["earl"][i] = arr["late"][i] = _NAN
                arr["maxd"][i] = np.inf
            if c.concatenation is not None:
                concat[i] = concats.setdefault(c.concatenation.concatenation_id, len(concats))
                concat_order[i] = c.concatenation.order
            rows = []
            for a, b in c.absolute_windows:
                ma, mb = _mjd(a), _mjd(b)
                if not mb > ma:
                    raise ValueError(f"{c.id}: absolute window ends before it starts")
                rows.append((ma, mb))
            abs_rows.append(rows)
            for a, b in c.lst_windows:
                if not (0.0 <= a <= 24.0 and 0.0 <= b <= 24.0):
                    raise ValueError(f"{c.id}: LST window hours must be within 0..24")
            lst_rows.append([(float(a), float(b)) for a, b in c.lst_windows])
        abs_start, abs_end = _pad(abs_rows)
        lst_start, lst_end = _pad(lst_rows)
        gscore = np.zeros(len(groups))
        for g, s in group_score_in.items():
            gscore[g] = s
        return cls.from_columns(
            ids=ids,
            ra_deg=arr["ra"],
            dec_deg=arr["dec"],
            pm_ra_mas_yr=arr["pmra"],
            pm_dec_mas_yr=arr["pmdec"],
            epoch_jyear=arr["epoch"],
            execution_s=arr["exe"],
            max_airmass=arr["am"],
            min_moon_distance_deg=arr["md"],
            max_fli=arr["fli"],
            max_seeing_arcsec=arr["see"],
            min_transparency=transp,
            twilight_offset_min=arr["twi"],
            abs_start_mjd=abs_start,
            abs_end_mjd=abs_end,
            lst_start_h=lst_start,
            lst_end_h=lst_end,
            user_priority=arr["prio"],
            rank_class=rclass,
            grade=arr["grade"],
            group=group,
            contribution=arr["contrib"],
            group_ids=tuple(groups),
            group_score=gscore,
            link=link,
            link_order=link_order,
            link_min_delay_s=arr["mind"],
            link_max_delay_s=arr["maxd"],
            link_ids=tuple(links),
            link_earliest_mjd=arr["earl"],
            link_latest_mjd=arr["late"],
            concat=concat,
            concat_order=concat_order,
            concat_ids=tuple(concats),
        )

    @classmethod
    def from_columns(
        cls,
        *,
        ids: np.ndarray,
        ra_deg: np.ndarray,
        dec_deg: np.ndarray,
        pm_ra_mas_yr: np.ndarray,
        pm_dec_mas_yr: np.ndarray,
        epoch_jyear: np.ndarray,
        execution_s: np.ndarray,
        max_airmass: np.ndarray,
        min_moon_distance_deg: np.ndarray,
        max_fli: np.ndarray,
        max_seeing_arcsec: np.ndarray,
        min_transparency: np.ndarray,
        twilight_offset_min: np.ndarray,
        abs_start_mjd: np.ndarray,
        abs_end_mjd: np.ndarray,
        lst_start_h: np.ndarray,
        lst_end_h: np.ndarray,
        user_priority: np.ndarray,
        rank_class: np.ndarray,
        grade: np.ndarray,
        group: np.ndarray,
        contribution: np.ndarray,
        group_ids: tuple[str, ...],
        group_score: np.ndarray,
        link: np.ndarray,
        link_order: np.ndarray,
        link_min_delay_s: np.ndarray,
        link_max_delay_s: np.ndarray,
        link_ids: tuple[str, ...],
        link_earliest_mjd: np.ndarray,
        link_latest_mjd: np.ndarray,
        concat: np.ndarray,
        concat_order: np.ndarray,
        concat_ids: tuple[str, ...],
    ) -> CandidateArrays:
        """Lay out candidates given as columns (the class docstring's fields and units).

        For adapters that hold the candidates as columns already (e.g. query values): no
        ``Candidate`` objects. The derived fields (``has_abs``, ``has_lst``, the concatenation
        layout) are computed here, RA is reduced to 0..360, every candidate starts
        ``active``. Windows are ``(N, W)`` NaN-padded, a row's windows first. ``build`` ends
        here too, so both paths give equal arrays for equal candidates.

        Raises
        ------
        ValueError
            The columns disagree in length, or the same errors as ``build``.
        """
        n = int(np.shape(ids)[0])
        ids = np.asarray(ids, dtype=object)
        f8 = {
            "ra_deg": ra_deg,
            "dec_deg": dec_deg,
            "pm_ra_mas_yr": pm_ra_mas_yr,
            "pm_dec_mas_yr": pm_dec_mas_yr,
            "epoch_jyear": epoch_jyear,
            "execution_s": execution_s,
            "max_airmass": max_airmass,
            "min_moon_distance_deg": min_moon_distance_deg,
            "max_fli": max_fli,
            "max_seeing_arcsec": max_seeing_arcsec,
            "twilight_offset_min": twilight_offset_min,
            "user_priority": user_priority,
            "grade": grade,
            "contribution": contribution,
            "link_min_delay_s": link_min_delay_s,
            "link_max_delay_s": link_max_delay_s,
            "link_earliest_mjd": link_earliest_mjd,
            "link_latest_mjd": link_latest_mjd,
        }
        col = {k: np.asarray(v, dtype=np.float64) for k, v in f8.items()}
        i8 = {
            "group": group,
            "link": link,
            "link_order": link_order,
            "concat": concat,
            "concat_order": concat_order,
        }
        col.update({k: np.asarray(v, dtype=np.int64) for k, v in i8.items()})
        col["min_transparency"] = np.asarray(min_transparency, dtype=np.int8)
        col["rank_class"] = np.asarray(rank_class, dtype=np.int8)
        windows = {
            "abs_start_mjd": abs_start_mjd,
            "abs_end_mjd": abs_end_mjd,
            "lst_start_h": lst_start_h,
            "lst_end_h": lst_end_h,
        }
        win = {k: np.asarray(v, dtype=np.float64) for k, v in windows.items()}
        for name, v in win.items():
            if v.ndim != 2 or v.shape[0] != n:
                raise ValueError(f"{name}: shape {v.shape}, expected ({n}, W)")
        for name, v in col.items():
            if v.shape != (n,):
                raise ValueError(f"{name}: shape {v.shape}, expected ({n},)")
        for a, b in (("abs_start_mjd", "abs_end_mjd"), ("lst_start_h", "lst_end_h")):
            if win[a].shape != win[b].shape:
                raise ValueError(f"{a} and {b} differ in shape")
        gscore = np.asarray(group_score, dtype=np.float64)
        for name, v, table in (
            ("group", col["group"], group_ids),
            ("link", col["link"], link_ids),
            ("concat", col["concat"], concat_ids),
        ):
            if v.size and not (v.min() >= -1 and v.max() < len(table)):
                raise ValueError(f"{name}: index outside its ids")
        if gscore.shape != (len(group_ids),):
            raise ValueError("group_score: one score per group id")

        def first(bad: np.ndarray) -> str:
            return str(ids[int(np.flatnonzero(bad)[0])])

        if len(set(ids.tolist())) != n:
            seen: set[str] = set()
            dup = next(i for i in ids.tolist() if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise ValueError(f"duplicate candidate id {dup!r}")
        bad = ~(col["execution_s"] > 0)
        if bad.any():
            raise ValueError(f"{first(bad)}: execution_time_s must be > 0")
        bad = (col["rank_class"] < 0) | (col["rank_class"] >= len(RANK_CLASSES))
        if bad.any():
            raise ValueError(f"{first(bad)}: rank class must be one of {RANK_CLASSES}")
        bad = ~((col["dec_deg"] >= -90.0) & (col["dec_deg"] <= 90.0))
        if bad.any():
            raise ValueError(f"{first(bad)}: dec_deg out of range")
        with np.errstate(invalid="ignore"):
            bad = _any_per_row(
                ~(win["abs_end_mjd"] > win["abs_start_mjd"]) & ~np.isnan(win["abs_start_mjd"])
            )
            if bad.any():
                raise ValueError(f"{first(bad)}: absolute window ends before it starts")
            ls, le = win["lst_start_h"], win["lst_end_h"]
            bad = _any_per_row(
                ((ls < 0.0) | (ls > 24.0) | (le < 0.0) | (le > 24.0)) & ~np.isnan(ls)
            )
            if bad.any():
                raise ValueError(f"{first(bad)}: LST window hours must be within 0..24")
        offset, total, head = _concatenation_layout(
            col["concat"], col["concat_order"], col["execution_s"], ids
        )
        return cls(
            ids=ids,
            ra_deg=np.mod(col["ra_deg"], 360.0),
            dec_deg=col["dec_deg"],
            pm_ra_mas_yr=col["pm_ra_mas_yr"],
            pm_dec_mas_yr=col["pm_dec_mas_yr"],
            epoch_jyear=col["epoch_jyear"],
            execution_s=col["execution_s"],
            max_airmass=col["max_airmass"],
            min_moon_distance_deg=col["min_moon_distance_deg"],
            max_fli=col["max_fli"],
            max_seeing_arcsec=col["max_seeing_arcsec"],
            min_transparency=col["min_transparency"],
            twilight_offset_min=col["twilight_offset_min"],
            abs_start_mjd=win["abs_start_mjd"],
            abs_end_mjd=win["abs_end_mjd"],
            has_abs=_any_per_row(~np.isnan(win["abs_start_mjd"])),
            lst_start_h=win["lst_start_h"],
            lst_end_h=win["lst_end_h"],
            has_lst=_any_per_row(~np.isnan(win["lst_start_h"])),
            user_priority=col["user_priority"],
            rank_class=col["rank_class"],
            grade=col["grade"],
            group=col["group"],
            contribution=col["contribution"],
            group_ids=tuple(group_ids),
            link=col["link"],
            link_order=col["link_order"],
            link_min_delay_s=col["link_min_delay_s"],
            link_max_delay_s=col["link_max_delay_s"],
            link_ids=tuple(link_ids),
            concat=col["concat"],
            concat_order=col["concat_order"],
            concat_offset_s=offset,
            concat_total_s=total,
            concat_head=head,
            concat_ids=tuple(concat_ids),
            active=np.ones(n, dtype=bool),
            group_score=gscore.copy(),
            link_earliest_mjd=col["link_earliest_mjd"],
            link_latest_mjd=col["link_latest_mjd"],
        )

    def subset(self, rows: np.ndarray) -> CandidateArrays:
        """The candidates ``rows`` (indices, in that order) with their current state.

        The group, time-link and concatenation tables (and ``group_score``) are kept whole,
        so indices into them stay valid. Derived per-candidate data in ``cache`` (an array,
        or a dataclass of arrays, with one entry per candidate, such as the night's apparent
        places) is sliced along; anything else in it is dropped. Keep every member of a
        concatenation together: a missing member makes the others unobservable.
        """
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self)
        per_row = {
            f.name: getattr(self, f.name)[rows]
            for f in fields(self)
            if f.name not in ("group_score", "cache")
            and isinstance(getattr(self, f.name), np.ndarray)
        }
        cache: dict[object, object] = {}
        for key, value in self.cache.items():
            sliced = _rows_of(value, rows, n)
            if sliced is not None:
                cache[key] = sliced
        return replace(self, **per_row, group_score=self.group_score.copy(), cache=cache)

    def copy_state(self) -> CandidateArrays:
        """A view sharing the static arrays with private copies of the mutable state."""
        return replace(
            self,
            active=self.active.copy(),
            group_score=self.group_score.copy(),
            link_earliest_mjd=self.link_earliest_mjd.copy(),
            link_latest_mjd=self.link_latest_mjd.copy(),
        )

    def concatenation_members(self, concat_index: int) -> np.ndarray:
        """Indices of a concatenation's members in execution order."""
        idx = np.flatnonzero(self.concat == concat_index)
        return idx[np.argsort(self.concat_order[idx], kind="stable")]


def _rows_of(value: object, rows: np.ndarray, n: int) -> object | None:
    """``value[rows]`` for an (N, ...) array or a dataclass of them; None for anything else."""
    if isinstance(value, np.ndarray):
        return value[rows] if value.ndim and value.shape[0] == n else None
    if is_dataclass(value) and not isinstance(value, type):
        parts = {f.name: getattr(value, f.name) for f in fields(value)}
        if parts and all(
            isinstance(v, np.ndarray) and v.ndim and v.shape[0] == n for v in parts.values()
        ):
            return replace(value, **{k: v[rows] for k, v in parts.items()})
    return None


def _any_per_row(m: np.ndarray) -> np.ndarray:
    """Row-wise ``any`` of an (N, W) mask, W may be 0 (then all False)."""
    return np.asarray(m.any(axis=1), dtype=bool)


def _concatenation_layout(
    concat: np.ndarray, order: np.ndarray, exe: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offset = np.zeros(concat.shape[0])
    total = exe.copy()
    head = np.ones(concat.shape[0], dtype=bool)
    members = np.flatnonzero(concat >= 0)
    if members.size == 0:
        return offset, total, head
    by = members[np.lexsort((order[members], concat[members]))]
    start = 0
    while start < by.size:
        c = concat[by[start]]
        stop = start
        while stop < by.size and concat[by[stop]] == c:
            stop += 1
        block = by[start:stop]
        if np.unique(order[block]).size != block.size:
            raise ValueError(f"concatenation of {ids[block[0]]!r}: duplicate orders")
        offs = np.concatenate(([0.0], np.cumsum(exe[block])[:-1]))
        offset[block] = offs
        total[block] = exe[block].sum()
        head[block] = False
        head[block[0]] = True
        start = stop
    return offset, total, head
