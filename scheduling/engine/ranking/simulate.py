"""A night simulator: rank, execute the top OB, advance time, repeat.

``simulate_night(candidates, *, site, date, weather, options=None, scorer=None)`` runs the
night starting on the local evening of ``date`` (``dataflow.astro.nights.night_boundaries``)
from sunset to sunrise. At each step it ranks the remaining OBs under the weather of that
moment (``weather``: one ``Conditions`` or a time-ordered sequence of ``(Time, Conditions)``,
a step function) and executes the top one, or its whole concatenation back to back, advancing
the time by the execution times; executing an OB adds its contribution to its group's score
and opens the next time-link OB's window (end + min delay .. end + max delay). When nothing is
observable it waits ``idle_step_s`` and ranks again.

The Sun/Moon/LST are computed once for the night on a ``sky_step_s`` grid (``SkyTrack``)
and shared by every ranking. Returns a ``SimulationResult``: the executed sequence with
per-OB start/end times, score and components, and every OB left with why (``outranked`` when
it was observable at some point but never on top; otherwise the reasons that held at every
ranking, or, if none held throughout, every reason seen).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.time import Time

from dataflow.astro.nights import night_boundaries
from dataflow.astro.site import Site
from scheduling.engine.ranking import filters as F
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import rank
from scheduling.engine.ranking.model import (
    Candidate,
    Conditions,
    FilteredOB,
    RankingOptions,
    Reason,
)
from scheduling.engine.ranking.scores import Scorer
from scheduling.engine.ranking.skytrack import SkyTrack

GENERIC_TEXT: dict[str, str] = {
    "airmass": "above its airmass limit (or below the horizon)",
    "sun_elevation": "Sun above the operator's limit",
    "twilight": "twilight offset not met",
    "moon_distance": "too close to the Moon",
    "moon_fli": "Moon too bright (FLI)",
    "seeing": "seeing worse than required",
    "transparency": "transparency worse than required",
    "zenith_avoidance": "too close to the zenith",
    "wind_pointing": "pointing into the wind",
    "absolute_window": "outside its absolute time windows",
    "lst_window": "outside its LST windows",
    "time_link_previous_pending": "previous OB of the time-link not executed",
    "time_link_not_open": "time-link window not open",
    "time_link_expired": "time-link window expired (the OB fails)",
    "concatenation_member": "another OB of its concatenation is not observable",
    "outranked": "observable at times tonight but never ranked first",
}


@dataclass(frozen=True)
class ExecutedOB:
    """One execution: start/end (UTC), and the score and components it had when chosen."""

    id: str
    start: Time
    end: Time
    score: float
    components: dict[str, float]


@dataclass(frozen=True)
class SimulationResult:
    """The executed sequence and the OBs left (each with its reasons)."""

    night_start: Time
    night_end: Time
    executed: list[ExecutedOB]
    left: list[FilteredOB]
    rankings: int
    idle_s: float

    def to_dict(self) -> dict[str, object]:
        return {
            "night_start": self.night_start.utc.isot,
            "night_end": self.night_end.utc.isot,
            "rankings": self.rankings,
            "idle_s": round(self.idle_s, 1),
            "executed": [
                {
                    "id": e.id,
                    "start": e.start.utc.isot,
                    "end": e.end.utc.isot,
                    "score": round(e.score, 4),
                    "components": {k: round(v, 4) for k, v in e.components.items()},
                }
                for e in self.executed
            ],
            "left": [
                {"id": f.id, "reasons": [{"code": r.code, "text": r.text} for r in f.reasons]}
                for f in self.left
            ],
        }


class _Weather:
    def __init__(self, weather: Conditions | Sequence[tuple[Time, Conditions]]) -> None:
        if isinstance(weather, Conditions):
            self.t = np.array([-np.inf])
            self.c: list[Conditions] = [weather]
        else:
            steps = sorted(((float(t.utc.mjd), c) for t, c in weather), key=lambda x: x[0])
            if not steps:
                raise ValueError("weather sequence is empty")
            self.t = np.array([s[0] for s in steps])
            self.c = [s[1] for s in steps]

    def at(self, mjd: float) -> Conditions:
        k = int(np.searchsorted(self.t, mjd, side="right")) - 1
        return self.c[max(k, 0)]


def simulate_night(
    candidates: Sequence[Candidate] | CandidateArrays,
    *,
    site: Site,
    date: datetime.date,
    weather: Conditions | Sequence[tuple[Time, Conditions]],
    options: RankingOptions | None = None,
    scorer: Scorer | str | None = None,
    sky_step_s: float = 300.0,
    idle_step_s: float = 600.0,
) -> SimulationResult:
    """Simulate the night of ``date`` at ``site`` (see the module docstring)."""
    options = options or RankingOptions()
    base = (
        candidates if isinstance(candidates, CandidateArrays) else CandidateArrays.build(candidates)
    )
    arrays = base.copy_state()
    wx = _Weather(weather)
    night = night_boundaries(site, date)
    start, end = float(night.sunset.utc.mjd), float(night.sunrise.utc.mjd)
    horizon = end + 0.5  # "fits from now" may look past sunrise
    n = int(np.ceil((horizon - start) * 86400.0 / sky_step_s)) + 1
    sky = SkyTrack.exact(site, Time(np.linspace(start, horizon, n), format="mjd", scale="utc"))

    n_ob = len(arrays)
    seen_ok = np.zeros(n_ob, dtype=bool)
    mask_and = np.full(n_ob, np.iinfo(np.uint32).max, dtype=np.uint32)
    mask_or = np.zeros(n_ob, dtype=np.uint32)
    executed: list[ExecutedOB] = []
    t = start
    rankings = 0
    idle = 0.0
    link_next = _link_successors(arrays)
    while t < end and arrays.active.any():
        res = rank(
            arrays,
            site=site,
            time=Time(t, format="mjd", scale="utc"),
            conditions=wx.at(t),
            options=options,
            scorer=scorer,
            sky=sky,
        )
        rankings += 1
        ev = res.evaluation
        ok = ev.mask == 0
        seen_ok[ev.idx[ok]] = True
        bad = ev.idx[~ok]
        # the Sun limit says nothing about an OB; keep it out of the "why"
        m = ev.mask[~ok] & ~np.uint32(F.SUN)
        mask_and[bad] &= m
        mask_or[bad] |= m
        mask_and[ev.idx[ok]] = 0
        # time-link OBs whose window has passed fail for good
        expired = ev.idx[(ev.mask & F.TIME_LINK_EXPIRED) != 0]
        arrays.active[expired] = False
        if res.order.size == 0:
            t += idle_step_s / 86400.0
            idle += idle_step_s
            continue
        head = int(res.order[0])
        comps = {k: float(v[0]) for k, v in res.components.items()}
        score = float(res.scores[0])
        members = (
            arrays.concatenation_members(int(arrays.concat[head]))
            if arrays.concat[head] >= 0
            else np.array([head])
        )
        for i in members:
            i = int(i)
            t_end = t + arrays.execution_s[i] / 86400.0
            executed.append(
                ExecutedOB(
                    id=str(arrays.ids[i]),
                    start=Time(t, format="mjd", scale="utc"),
                    end=Time(t_end, format="mjd", scale="utc"),
                    score=score,
                    components=comps,
                )
            )
            _execute(arrays, i, t_end, link_next)
            t = t_end

    left: list[FilteredOB] = []
    for i in np.flatnonzero(~np.isin(arrays.ids, [e.id for e in executed])):
        if seen_ok[i]:
            codes = ["outranked"]
        else:
            bits = int(mask_and[i]) if mask_and[i] not in (0, np.iinfo(np.uint32).max) else 0
            bits = bits or int(mask_or[i])
            codes = [c for b, c in F.REASON_CODES.items() if bits & b] or ["sun_elevation"]
        left.append(
            FilteredOB(
                id=str(arrays.ids[i]),
                reasons=[Reason(code=c, text=GENERIC_TEXT[c]) for c in codes],
            )
        )
    return SimulationResult(
        night_start=night.sunset,
        night_end=night.sunrise,
        executed=executed,
        left=left,
        rankings=rankings,
        idle_s=idle,
    )


def _link_successors(arrays: CandidateArrays) -> dict[int, int]:
    """OB index -> index of the next OB in its time-link."""
    out: dict[int, int] = {}
    linked = np.flatnonzero(arrays.link >= 0)
    by_key = {(int(arrays.link[i]), int(arrays.link_order[i])): int(i) for i in linked}
    for (lk, order), i in by_key.items():
        nxt = by_key.get((lk, order + 1))
        if nxt is not None:
            out[i] = nxt
    return out


def _execute(arrays: CandidateArrays, i: int, end_mjd: float, link_next: dict[int, int]) -> None:
    """Mark OB ``i`` executed at ``end_mjd``: group score, next time-link window."""
    arrays.active[i] = False
    g = int(arrays.group[i])
    if g >= 0:
        arrays.group_score[g] = min(1.0, arrays.group_score[g] + arrays.contribution[i])
    nxt = link_next.get(i)
    if nxt is not None:
        arrays.link_earliest_mjd[nxt] = end_mjd + arrays.link_min_delay_s[nxt] / 86400.0
        arrays.link_latest_mjd[nxt] = end_mjd + arrays.link_max_delay_s[nxt] / 86400.0
