"""Which OB should this telescope execute now: the ranking engine on the cached arrays.

``rank_for(telescope_id, at, conditions, options, scorer="default")`` -> ``NightRanking``:

1. one query: the telescope's site and the fingerprint of its candidates (``cache.probe``);
2. the night is the local (mean solar) evening date of ``at`` at the site
   (``dataflow.astro.nights``' convention: from local noon to the next local noon);
3. the arrays of that telescope and night from the process cache, rebuilt only when the
   fingerprint changed (``build_ms`` is then the rebuild, else 0);
4. ``scheduling.engine.ranking.engine.rank`` at ``at`` with the night's sky track.

The answer holds the best ``limit`` ranked OBs (score, per-component justification, the
concatenation executed with them) and ``filtered_limit`` of the filtered ones with every
reason and ``observable_from`` (the first 10-minute step tonight from which the OB passes
every filter if the conditions stay as they are).

What is evaluated
-----------------
The engine is asked only about the OBs whose fate is not known beforehand. Found in closed
form and left inactive for it (they count as filtered):

* OBs below their airmass limit (with the operator's tolerance) at ``at``: the engine would
  filter them now for airmass (a slot's lowest altitude is at most its start's). Among them,
  ``never_tonight`` stay below it until the end of the night at the operator's Sun limit
  (the highest altitude over the rest of the night is the culmination if the target transits
  in it, else the higher end): no start tonight either (at a southern site at midnight,
  about half of all OBs).
* ``needs_better_weather``: the seeing or the transparency now is worse than the OB needs
  (the engine's own comparisons, when the operator checks them); no start tonight either
  (the conditions are assumed to persist).

Concatenation members are always evaluated (all or nothing). Both rules are tested against
the engine run on every OB (``tests/scheduling/test_night_arrays.py``): the ranking is the
same, and every OB set aside is filtered by the engine for that reason.

The filtered OBs shown are those that may still be observed tonight first (below their limit
now but rising, or filtered by the engine for another reason), then ``needs_better_weather``,
then ``never_tonight``, each ordered by what would matter most: rank class, then grade, then
user priority, then OB id. Their reasons and ``observable_from`` come from ranking them again
alone (with the rest of their concatenations): for 10,000 filtered OBs ``observable_from``
would cost ~20 times the ranking itself.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.time import Time

from dataflow.astro.site import Site as AstroSite
from scheduling.engine.ranking import filters as F
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import (
    RankingResult,
    night_bounds,
    prepare_geometry,
    rank,
    reasons_for,
)
from scheduling.engine.ranking.model import Conditions, RankingOptions, Reason
from scheduling.engine.ranking.skytrack import SkyTrack
from scheduling.night.cache import CACHE, NightCache, probe
from scheduling.night.candidates import CandidateIndex

_MJD_ZERO = dt.datetime(1858, 11, 17, tzinfo=dt.UTC)


@dataclass(frozen=True)
class RankedRow:
    """An observable OB: ``score`` is the sum of ``components`` (the rank justification);
    ``concatenation`` lists the OB ids executed back to back with it (itself included)."""

    ob_id: int
    name: str
    container_id: int
    container: str
    container_type: str  # Folder, Group, TimeLink or Concatenation
    run_id: int
    run: str  # e.g. "130.C-0001(A)"
    score: float
    components: dict[str, float]
    concatenation: tuple[int, ...] = ()


@dataclass(frozen=True)
class FilteredRow:
    """A non-observable OB, every reason, and when it becomes observable tonight (UTC)."""

    ob_id: int
    name: str
    container_id: int
    container: str
    container_type: str
    run_id: int
    run: str
    reasons: tuple[Reason, ...]
    observable_from: dt.datetime | None = None


@dataclass(frozen=True)
class NightRanking:
    """One ranking of a telescope's candidates at ``at`` (UTC) in the night of ``night``.

    ``ranked``: the best ``limit`` observable OBs in rank order, of ``ranked_total``;
    ``filtered``: ``filtered_limit`` of the ``filtered_total`` others (see the module
    docstring for which), of which ``never_tonight`` stay below their airmass limit until the
    end of the night and ``needs_better_weather`` need better seeing or transparency;
    ``exhausted_runs``: labels of approved runs left out with no time left;
    ``skipped``: (OB id, why) accepted OBs the engine cannot take. Timings, milliseconds:
    ``probe_ms`` the fingerprint query, ``build_ms`` the arrays' rebuild (0 on a cache hit),
    ``rank_ms`` the ranking and the rows.
    """

    telescope_id: int
    night: dt.date
    at: dt.datetime
    scorer: str
    ranked: list[RankedRow]
    filtered: list[FilteredRow]
    ranked_total: int
    filtered_total: int
    never_tonight: int = 0
    needs_better_weather: int = 0
    exhausted_runs: tuple[str, ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    cache_hit: bool = False
    probe_ms: float = 0.0
    build_ms: float = 0.0
    rank_ms: float = 0.0


def evening_date(site: AstroSite, at: dt.datetime) -> dt.date:
    """The local (mean solar) evening date of the night containing ``at`` (aware)."""
    local_mean = at.astimezone(dt.UTC) + dt.timedelta(hours=site.longitude_deg / 15.0)
    return (local_mean - dt.timedelta(hours=12)).date()


def rank_for(
    telescope_id: int,
    at: dt.datetime,
    conditions: Conditions,
    options: RankingOptions,
    scorer: str = "default",
    *,
    limit: int | None = 50,
    filtered_limit: int | None = 50,
    observable_from: bool = True,
    cache: NightCache = CACHE,
) -> NightRanking:
    """Rank the telescope's candidate OBs at ``at`` (see the module docstring).

    ``limit`` / ``filtered_limit``: rows returned (None: all); ``observable_from``: compute
    it for the filtered rows returned. Raises ``Telescope.DoesNotExist``, and ``ValueError``
    for a naive ``at`` or an unknown scorer.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be an aware datetime")
    at = at.astimezone(dt.UTC)
    state = probe(telescope_id)
    night = evening_date(state.site, at)
    with cache.checkout(telescope_id, night, state) as out:
        t0 = time.perf_counter()
        arrays, index = out.entry.arrays, out.entry.index
        sky = cache.sky(state.site, night)
        when = Time(at.replace(tzinfo=None), scale="utc")
        low, never = airmass_outlook(arrays, state.site, when, options, sky)
        weather = needs_better_weather(arrays, conditions, options) & ~never
        aside = low | weather
        view = arrays.copy_state()  # shares the static arrays and the night's geometry
        view.active[aside] = False
        result = rank(
            view,
            site=state.site,
            time=when,
            conditions=conditions,
            options=options,
            scorer=scorer,
            sky=sky,
        )
        ranked = _ranked_rows(result, index, limit)
        shown = _filtered_to_show(
            index,
            [
                np.union1d(result.filtered_idx, np.flatnonzero(low & ~never & ~weather)),
                np.flatnonzero(weather),
                np.flatnonzero(never),
            ],
            filtered_limit,
        )
        filtered = _filtered_rows(
            arrays,
            index,
            shown,
            site=state.site,
            when=when,
            conditions=conditions,
            options=options,
            scorer=scorer,
            sky=sky,
            observable_from=observable_from,
        )
        rank_ms = (time.perf_counter() - t0) * 1e3
    return NightRanking(
        telescope_id=telescope_id,
        night=night,
        at=at,
        scorer=scorer,
        ranked=ranked,
        filtered=filtered,
        ranked_total=int(result.order.size),
        filtered_total=int(result.filtered_idx.size + np.count_nonzero(aside)),
        never_tonight=int(np.count_nonzero(never)),
        needs_better_weather=int(np.count_nonzero(weather)),
        exhausted_runs=tuple(index.runs[r].label for r in index.exhausted_runs),
        skipped=index.skipped,
        cache_hit=out.hit,
        probe_ms=state.ms,
        build_ms=out.build_ms,
        rank_ms=rank_ms,
    )


#: Margin below the airmass-limit altitude for ``airmass_outlook``, degrees: an OB within it
#: of its limit is left to the engine (whose altitudes come from the same formula).
AIRMASS_MARGIN_DEG = 0.05


def airmass_outlook(
    arrays: CandidateArrays,
    site: AstroSite,
    when: Time,
    options: RankingOptions,
    sky: SkyTrack,
) -> tuple[np.ndarray, np.ndarray]:
    """Active rows below their airmass limit (+ tolerance) at ``when`` and, among them, those
    staying below it until the end of the night at the operator's Sun limit (bool masks,
    shape (N,)); concatenation members are never included (their slots are offset).

    The first are filtered for airmass by the engine now (a slot's lowest altitude is at most
    its start's); the second find no start tonight either. The highest altitude over the rest
    of the night is the culmination if the target transits in it, else the higher end (a
    target's altitude has one maximum per sidereal day).
    """
    t0 = float(when.utc.mjd)
    end = night_bounds(site, t0, options.sun_max_elevation_deg).sun_limit_end
    geo = prepare_geometry(arrays, site, t0)
    lst0 = float(np.interp(t0, sky.mjd, sky.lst_deg))
    h0 = np.mod(lst0 - geo.ra_tod + 180.0, 360.0) - 180.0
    h1 = h0 + max(end - t0, 0.0) * F.SIDEREAL_DEG_PER_DAY
    transits = ((h0 <= 0.0) & (h1 >= 0.0)) | (h1 >= 360.0)
    # sin(altitude) = sin(lat) sin(dec) + cos(lat) cos(dec) cos(h) grows with cos(h): the
    # higher end is the larger cos(h), the culmination cos(h) = 1
    lat = np.radians(site.latitude_deg)
    cos_now = np.cos(np.radians(h0))
    cos_best = np.where(transits, 1.0, np.maximum(cos_now, np.cos(np.radians(h1))))
    base, scale = np.sin(lat) * geo.sin_dec_tod, np.cos(lat) * geo.cos_dec_tod
    limit = F.airmass_limit_altitude(arrays, options.airmass_tolerance_pct)
    sin_limit = np.sin(np.radians(limit - AIRMASS_MARGIN_DEG))
    eligible = (arrays.concat < 0) & arrays.active
    low = (base + scale * cos_now < sin_limit) & eligible
    never = (base + scale * cos_best < sin_limit) & eligible
    return np.asarray(low, dtype=bool), np.asarray(never, dtype=bool)


def needs_better_weather(
    arrays: CandidateArrays, conditions: Conditions, options: RankingOptions
) -> np.ndarray:
    """Active rows whose seeing or transparency constraint the conditions fail (the engine's
    comparisons, if the operator checks them), never concatenated; bool, shape (N,)."""
    worse = np.zeros(len(arrays), dtype=bool)
    if options.check_seeing:
        worse |= conditions.seeing_arcsec > arrays.max_seeing_arcsec
    if options.check_transparency:
        worse |= int(conditions.transparency) < arrays.min_transparency
    return worse & (arrays.concat < 0) & arrays.active


def _describe(index: CandidateIndex, row: int) -> dict[str, Any]:
    """The row's OB, container and run, as ``RankedRow`` / ``FilteredRow`` fields."""
    container = int(index.container_ids[row])
    run = int(index.run_ids[row])
    info = index.containers[container]
    return {
        "ob_id": int(index.ob_ids[row]),
        "name": index.names[row],
        "container_id": container,
        "container": info.name,
        "container_type": info.item_type,
        "run_id": run,
        "run": index.runs[run].label,
    }


def _ranked_rows(
    result: RankingResult, index: CandidateIndex, limit: int | None
) -> list[RankedRow]:
    a = result.arrays
    k = result.order.size if limit is None else min(limit, result.order.size)
    rows = []
    for j in range(k):
        i = int(result.order[j])
        concat: tuple[int, ...] = ()
        if a.concat[i] >= 0:
            members = a.concatenation_members(int(a.concat[i]))
            concat = tuple(int(x) for x in index.ob_ids[members])
        rows.append(
            RankedRow(
                **_describe(index, i),
                score=float(result.scores[j]),
                components={name: float(v[j]) for name, v in result.components.items()},
                concatenation=concat,
            )
        )
    return rows


def _filtered_to_show(
    index: CandidateIndex, groups: list[np.ndarray], limit: int | None
) -> np.ndarray:
    """Rows of the filtered OBs to show, ``limit`` of them: the groups in turn, each in the
    index's listing order (rank class, grade, user priority, OB id)."""
    out: list[np.ndarray] = []
    left = limit
    for rows in groups:
        if left is not None and left <= 0:
            break
        member = np.zeros(index.listing.size, dtype=bool)
        member[rows] = True
        ordered = index.listing[member[index.listing]]
        out.append(ordered if left is None else ordered[:left])
        if left is not None:
            left -= out[-1].size
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def _filtered_rows(
    arrays: CandidateArrays,
    index: CandidateIndex,
    rows: np.ndarray,
    *,
    site: AstroSite,
    when: Time,
    conditions: Conditions,
    options: RankingOptions,
    scorer: str,
    sky: SkyTrack,
    observable_from: bool,
) -> list[FilteredRow]:
    """The filtered ``rows`` with every reason and (if asked) ``observable_from``: the engine
    on those OBs alone, with the rest of their concatenations (which they need)."""
    if rows.size == 0:
        return []
    with_partners = rows
    concats = np.unique(arrays.concat[rows][arrays.concat[rows] >= 0])
    if concats.size:
        with_partners = np.union1d(rows, np.flatnonzero(np.isin(arrays.concat, concats)))
    sub = arrays.subset(with_partners)
    again = rank(
        sub,
        site=site,
        time=when,
        conditions=conditions,
        options=options,
        scorer=scorer,
        sky=sky,
    )
    ev = again.evaluation
    position = {int(with_partners[i]): k for k, i in enumerate(again.filtered_idx.tolist())}
    opens = again.observable_from_mjd if observable_from else None
    out = []
    for row in rows.tolist():
        k = position[row]
        mjd = float(opens[k]) if opens is not None else float("nan")
        out.append(
            FilteredRow(
                **_describe(index, row),
                reasons=tuple(
                    reasons_for(sub, ev, int(np.searchsorted(ev.idx, again.filtered_idx[k])))
                ),
                observable_from=None if np.isnan(mjd) else _datetime(mjd),
            )
        )
    return out


def _datetime(mjd: float) -> dt.datetime:
    """UTC datetime of an MJD, to the microsecond."""
    return _MJD_ZERO + dt.timedelta(microseconds=round(mjd * 86_400_000_000))
