"""``rank``: which OB should this telescope execute now?

Public API
----------
``rank(candidates, *, site, time, conditions, options=RankingOptions(), scorer=None,
sky=None, sky_method="exact") -> RankingResult``

``candidates`` is a sequence of ``Candidate`` or a prebuilt ``CandidateArrays`` (build it once
and pass it again for repeated rankings). ``time`` is an astropy ``Time`` (scalar). ``sky`` is
an optional ``SkyTrack`` covering the instant and the "fits from now" horizon (e.g. a night
track built once with ``SkyTrack.exact(site, grid)``); without it the engine samples
``dataflow.astro.sky.sky_samples`` itself every 5 minutes over the horizon (~1 ms), or the
low-precision closed form with ``sky_method="analytic"``.

``RankingResult`` holds arrays (cheap to produce even for 100,000 candidates) and builds the
dataclasses on demand: ``result.ranked`` (``RankedOB`` list in rank order, score and its
components), ``result.top(k)``, ``result.filtered`` (``FilteredOB`` list with every reason and
``observable_from``, the first 10-minute step tonight from which the OB would pass every filter
assuming the current conditions persist; computed on first access), ``result.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from astropy.time import Time

from dataflow.astro.geometry import airmass, apply_proper_motion, target_altaz
from dataflow.astro.site import Site
from scheduling.engine.ranking import _lowprec
from scheduling.engine.ranking import filters as F
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.model import (
    Candidate,
    Conditions,
    FilteredOB,
    RankedOB,
    RankingOptions,
    Reason,
)
from scheduling.engine.ranking.scores import SCORERS, ScoreContext, Scorer
from scheduling.engine.ranking.skytrack import SkyTrack, _radec_eff, sin_altitude

_D2R = np.pi / 180.0
#: Step of the sky samples the engine takes itself over the "fits from now" horizon, days
#: (5 min: altitude interpolation error < 0.005 deg, see ``skytrack``).
SKY_STEP_D = 5.0 / 1440.0
#: Step of the search for ``observable_from``, days.
PREDICT_STEP_D = 10.0 / 1440.0
#: Rows (OB x step) evaluated at once by the search for ``observable_from``.
PREDICT_ROWS = 20_000


def _jyear(mjd: float) -> float:
    return 2000.0 + (mjd - 51544.5) / 365.25


def prepare_geometry(arrays: CandidateArrays, site: Site, mjd: float) -> F.Geometry:
    """Proper motion and apparent place of every candidate for the (TT) day of ``mjd``.

    Cached on ``arrays`` per site and day: the apparent place changes by < 0.5" per day.
    The true-of-date coordinates are recovered from ``dataflow.astro.geometry.target_altaz``
    at one instant (inverting its alt/az with the same LST), so they pair exactly with
    ``sky_samples``' apparent sidereal time.
    """
    key = ("geometry", site, int(np.floor(mjd)))
    hit = arrays.cache.get(key)
    if isinstance(hit, F.Geometry):
        return hit
    from dataflow.astro.sky import sky_samples

    ra, dec = apply_proper_motion(
        arrays.ra_deg,
        arrays.dec_deg,
        arrays.pm_ra_mas_yr,
        arrays.pm_dec_mas_yr,
        arrays.epoch_jyear,
        _jyear(mjd),
    )
    t = Time(np.floor(mjd) + 0.5, format="mjd", scale="utc")
    sky = sky_samples(site, t)
    alt, az = target_altaz(site, sky, ra, dec)
    lst = np.full(ra.shape, float(sky.lst_deg[0]))
    ra_tod, dec_tod = _radec_eff(site.latitude_deg, lst, alt[:, 0], az[:, 0])
    geo = F.Geometry.create(np.mod(ra_tod, 360.0), dec_tod, ra, dec)
    for k in [k for k in arrays.cache if isinstance(k, tuple) and k[0] == "geometry"]:
        del arrays.cache[k]  # keep one day per arrays object
    arrays.cache[key] = geo
    return geo


@dataclass(frozen=True)
class NightBounds:
    """The night around an instant, from the low-precision Sun (error < 1 min), MJD UTC."""

    sun_limit_end: float  # first instant >= now when the Sun rises above the operator's limit
    twilight: tuple[float, float] | None  # end of evening / start of morning astro twilight


def night_bounds(site: Site, mjd: float, sun_max_deg: float) -> NightBounds:
    """Night containing (or following) ``mjd``: Sun-limit end and astronomical twilights."""
    # Computed on a 34 h window around the local midnight of the night, so it can be cached
    # per night and the answer for any ``mjd`` of that night derived cheaply.
    night = np.floor(mjd + site.longitude_deg / 360.0 - 0.5)
    return _night_bounds_cached(site, float(night), sun_max_deg).at(mjd)


@dataclass(frozen=True)
class _NightSun:
    t: np.ndarray
    alt: np.ndarray
    ups: np.ndarray
    twilight: tuple[float, float] | None
    sun_max_deg: float

    def at(self, mjd: float) -> NightBounds:
        # The night ends when the Sun next rises above the limit: before dusk that is the
        # coming morning (the night is still ahead). With no such crossing left, the Sun is
        # either above the limit (after the morning's crossing: the night is over) or below
        # it until the window's end.
        later = self.ups[self.ups >= mjd]
        if later.size:
            end = float(later[0])
        elif np.interp(mjd, self.t, self.alt) > self.sun_max_deg:
            end = mjd
        else:
            end = float(self.t[-1])
        return NightBounds(sun_limit_end=end, twilight=self.twilight)


@lru_cache(maxsize=64)
def _night_bounds_cached(site: Site, night: float, sun_max_deg: float) -> _NightSun:
    # local midnight ~ night + 1 - lon/360 (MJD); sample from the previous noon - 4 h
    mjd = night + 1.0 - site.longitude_deg / 360.0
    step = 5.0 / 1440.0
    t = mjd + np.arange(-16.0 / 24.0, 20.0 / 24.0, step)
    sky = _lowprec.sky(t, site.latitude_deg, site.longitude_deg, site.height_m)
    alt = np.degrees(
        np.arcsin(
            sin_altitude(
                site.latitude_deg, sky["lst_deg"] - sky["sun_ra_eff_deg"], sky["sun_dec_deg"]
            )
        )
    )

    def crossings(level: float, upward: bool) -> np.ndarray:
        a0, a1 = alt[:-1] - level, alt[1:] - level
        hit = (a0 <= 0) & (a1 > 0) if upward else (a0 > 0) & (a1 <= 0)
        k = np.flatnonzero(hit)
        return t[k] + step * (-a0[k]) / (a1[k] - a0[k])

    ups = crossings(sun_max_deg, True)
    downs18, ups18 = crossings(-18.0, False), crossings(-18.0, True)
    twilight = None
    best = np.inf
    for d in downs18:
        u = ups18[ups18 > d]
        if not u.size:
            continue
        dist = 0.0 if d <= mjd <= u[0] else min(abs(mjd - d), abs(mjd - u[0]))
        if dist < best:
            best, twilight = dist, (float(d), float(u[0]))
    return _NightSun(t=t, alt=alt, ups=ups, twilight=twilight, sun_max_deg=sun_max_deg)


def build_sky(site: Site, start_mjd: float, span_d: float, method: str) -> SkyTrack:
    """Sky samples every 5 min over ``[start, start + span]`` (at least two)."""
    n = max(2, int(np.ceil(span_d / SKY_STEP_D)) + 1)
    t = Time(start_mjd + np.linspace(0.0, max(span_d, SKY_STEP_D), n), format="mjd", scale="utc")
    if method == "exact":
        return SkyTrack.exact(site, t)
    if method == "analytic":
        return SkyTrack.analytic(site, t)
    raise ValueError(f"unknown sky_method {method!r} (exact | analytic)")


@dataclass
class RankingResult:
    """Arrays of one ranking; dataclasses are built on demand (see the module docstring)."""

    time: Time
    arrays: CandidateArrays
    order: np.ndarray  # indices into arrays, best first
    scores: np.ndarray  # aligned with order
    components: dict[str, np.ndarray]  # aligned with order
    filtered_idx: np.ndarray = field(repr=False)  # indices of the filtered OBs
    evaluation: F.Evaluation = field(repr=False)
    _predict: Callable[[], np.ndarray] | None = field(repr=False, default=None)

    @property
    def ranked_ids(self) -> list[str]:
        return [str(x) for x in self.arrays.ids[self.order]]

    def top(self, k: int) -> list[RankedOB]:
        """The best ``k`` observable OBs."""
        return [self._ranked_ob(j) for j in range(min(k, self.order.size))]

    @cached_property
    def ranked(self) -> list[RankedOB]:
        """Every observable OB in rank order."""
        return self.top(self.order.size)

    def _ranked_ob(self, j: int) -> RankedOB:
        a = self.arrays
        i = int(self.order[j])
        concat: tuple[str, ...] = ()
        if a.concat[i] >= 0:
            concat = tuple(str(x) for x in a.ids[a.concatenation_members(int(a.concat[i]))])
        return RankedOB(
            id=str(a.ids[i]),
            score=float(self.scores[j]),
            components={k: float(v[j]) for k, v in self.components.items()},
            concatenation=concat,
        )

    @cached_property
    def observable_from_mjd(self) -> np.ndarray:
        """For each filtered OB (aligned with ``filtered_idx``): MJD or NaN."""
        if self._predict is None:
            return np.full(self.filtered_idx.size, np.nan)
        return self._predict()

    @cached_property
    def filtered(self) -> list[FilteredOB]:
        """Every non-observable candidate, with all reasons and ``observable_from``."""
        ev = self.evaluation
        pos = {int(i): j for j, i in enumerate(ev.idx)}
        out = []
        frm = self.observable_from_mjd
        for n, i in enumerate(self.filtered_idx):
            j = pos[int(i)]
            mjd = frm[n]
            out.append(
                FilteredOB(
                    id=str(self.arrays.ids[i]),
                    reasons=reasons_for(self.arrays, ev, j),
                    observable_from=None if np.isnan(mjd) else Time(mjd, format="mjd", scale="utc"),
                )
            )
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready output (times ISO UTC)."""
        return {
            "time": self.time.utc.isot,
            "ranked": [
                {
                    "id": r.id,
                    "score": round(r.score, 4),
                    "components": {k: round(v, 4) for k, v in r.components.items()},
                    **({"concatenation": list(r.concatenation)} if r.concatenation else {}),
                }
                for r in self.ranked
            ],
            "filtered": [
                {
                    "id": f.id,
                    "reasons": [{"code": r.code, "text": r.text} for r in f.reasons],
                    "observable_from": None
                    if f.observable_from is None
                    else f.observable_from.utc.isot,
                }
                for f in self.filtered
            ],
        }


def reasons_for(arrays: CandidateArrays, ev: F.Evaluation, j: int) -> list[Reason]:
    """Human-readable reasons for OB ``ev.idx[j]`` from its reason bits."""
    a, i, m = arrays, int(ev.idx[j]), int(ev.mask[j])
    out = []
    for bit, code in F.REASON_CODES.items():
        if not m & bit:
            continue
        if bit == F.AIRMASS:
            am = ev.airmass_worst[j]
            text = (
                "target below the horizon"
                if not np.isfinite(am)
                else f"airmass reaches {am:.2f} > limit {a.max_airmass[i]:.2f} (+tolerance)"
            )
        elif bit == F.SUN:
            text = f"Sun at {ev.sun_alt_worst_deg[j]:.1f} deg, above the operator's limit"
        elif bit == F.TWILIGHT:
            text = f"twilight offset {a.twilight_offset_min[i]:+.0f} min not met"
        elif bit == F.MOON_DISTANCE:
            text = (
                f"Moon {ev.moon_sep_min_deg[j]:.1f} deg away < "
                f"{a.min_moon_distance_deg[i]:.0f} deg (-tolerance)"
            )
        elif bit == F.FLI:
            text = f"FLI {ev.fli_worst[j]:.2f} > max {a.max_fli[i]:.2f} (+tolerance)"
        elif bit == F.SEEING:
            text = f"seeing worse than the OB's {a.max_seeing_arcsec[i]:.2f} arcsec"
        elif bit == F.TRANSPARENCY:
            text = "transparency worse than required"
        elif bit == F.ZENITH:
            text = f"passes {90.0 - ev.alt_max_deg[j]:.1f} deg from the zenith"
        elif bit == F.WIND:
            text = f"pointing into the wind (azimuth {ev.az_now_deg[j]:.0f} deg)"
        elif bit == F.ABSOLUTE_WINDOW:
            text = "outside its absolute time windows"
        elif bit == F.LST_WINDOW:
            text = f"LST {ev.lst_now_h[j]:.2f} h outside its LST windows"
        elif bit == F.TIME_LINK_PENDING:
            text = "previous OB of the time-link not executed yet"
        elif bit == F.TIME_LINK_NOT_OPEN:
            text = "time-link window not open yet"
        elif bit == F.TIME_LINK_EXPIRED:
            text = "time-link window expired (the OB fails)"
        else:
            text = "another OB of its concatenation is not observable"
        out.append(Reason(code=code, text=text))
    return out


def _as_arrays(candidates: Sequence[Candidate] | CandidateArrays) -> CandidateArrays:
    if isinstance(candidates, CandidateArrays):
        return candidates
    return CandidateArrays.build(candidates)


def _scalar_mjd(time: Time) -> float:
    if not isinstance(time, Time) or not time.isscalar:
        raise ValueError("time must be a scalar astropy Time")
    return float(time.utc.mjd)


def rank(
    candidates: Sequence[Candidate] | CandidateArrays,
    *,
    site: Site,
    time: Time,
    conditions: Conditions,
    options: RankingOptions | None = None,
    scorer: Scorer | str | None = None,
    sky: SkyTrack | None = None,
    sky_method: str = "exact",
) -> RankingResult:
    """Rank the candidates for execution at ``time`` at ``site`` under ``conditions``.

    Returns
    -------
    RankingResult
        ``ranked`` (observable OBs, best first, with score components) and ``filtered``
        (the others with every reason). Inactive OBs (``arrays.active`` False) appear in
        neither.
    """
    options = options or RankingOptions()
    if scorer is None or isinstance(scorer, str):
        try:
            scorer = SCORERS[scorer or "default"]
        except KeyError:
            raise ValueError(f"unknown scorer {scorer!r}; known: {sorted(SCORERS)}") from None
    arrays = _as_arrays(candidates)
    t0 = _scalar_mjd(time)
    idx = np.flatnonzero(arrays.active)
    geo = prepare_geometry(arrays, site, t0)
    bounds = night_bounds(site, t0, options.sun_max_elevation_deg)
    slot_end = arrays.concat_offset_s[idx] + (
        arrays.execution_s[idx] if options.fits_from_now else 0.0
    )
    span = min(float(slot_end.max()) / 86400.0 if idx.size else 0.0, 0.5)
    if sky is None:
        sky = build_sky(site, t0, span, sky_method)
    elif not sky.start_mjd - 1e-6 <= t0 <= sky.end_mjd:
        raise ValueError("the sky track does not cover the ranking instant")
    dense = sky.dense(t0, t0 + span + 1.0 / 1440.0)
    ev = F.evaluate(
        arrays,
        idx,
        t0,
        geometry=geo,
        sky=dense,
        conditions=conditions,
        options=options,
        twilight=bounds.twilight,
    )
    F.merge_concatenations(arrays, idx, ev.mask)
    ok = ev.mask == 0
    obs = idx[ok]

    # score context for the observable OBs
    a = arrays
    alt_lim = F.airmass_limit_altitude(a, options.airmass_tolerance_pct)[obs]
    dec = geo.dec_tod[obs] * _D2R
    lat = site.latitude_deg * _D2R
    cos_hlim = (np.sin(alt_lim * _D2R) - np.sin(lat) * np.sin(dec)) / (np.cos(lat) * np.cos(dec))
    h_lim = np.degrees(np.arccos(np.clip(cos_hlim, -1.0, 1.0)))
    ha_now = np.mod(dense.lst0_deg - geo.ra_tod[obs] + 180.0, 360.0) - 180.0
    set_h = np.where(
        cos_hlim <= -1.0, np.inf, np.maximum(h_lim - ha_now, 0.0) / (F.SIDEREAL_DEG_PER_DAY / 24.0)
    )
    hours_left = np.minimum(set_h, max(bounds.sun_limit_end - t0, 0.0) * 24.0)
    g = a.group[obs]
    in_group = g >= 0
    gscore = np.where(
        in_group, a.group_score[np.where(in_group, g, 0)] if a.group_score.size else 0.0, 0.0
    )
    late, early = a.link_latest_mjd[obs], a.link_earliest_mjd[obs]
    width = np.where(
        ~np.isnan(early),
        late - early,
        (a.link_max_delay_s[obs] - a.link_min_delay_s[obs]) / 86400.0,
    )
    width = np.where(np.isfinite(width) & (width > 0), width, 1.0)
    remaining = np.where(np.isnan(late), 1.0, (late - t0) / width)
    ctx = ScoreContext(
        arrays=a,
        idx=obs,
        now_mjd=t0,
        conditions=conditions,
        airmass_now=airmass(ev.alt_now_deg[ok]),
        airmass_limit=a.max_airmass[obs] * (1 + options.airmass_tolerance_pct / 100),
        hours_left=hours_left,
        group_score=gscore,
        in_group=in_group,
        link_remaining_frac=remaining,
    )
    comps = scorer.components(ctx)
    score = np.zeros(obs.size)
    for v in comps.values():
        score = score + v
    # concatenations rank as one unit: the members share the mean of their scores
    c = a.concat[obs]
    member = c >= 0
    if member.any():
        n_c = len(a.concat_ids)
        cnt = np.bincount(c[member], minlength=n_c)
        cnt = np.maximum(cnt, 1)
        where_c = np.where(member, c, 0)

        def mean_of(v: np.ndarray) -> np.ndarray:
            sums = np.bincount(c[member], weights=v[member], minlength=n_c)
            return np.where(member, (sums / cnt)[where_c], v)

        score = mean_of(score)
        comps = {k: mean_of(np.asarray(v, dtype=float)) for k, v in comps.items()}
    unit = np.where(member, len(a) + c, obs)  # members of a concatenation stay contiguous
    order_local = np.lexsort((a.concat_order[obs], unit, -score))
    order = obs[order_local]

    filtered_idx = idx[~ok]

    def predict() -> np.ndarray:
        return _predict_observable_from(
            arrays,
            idx,
            ev,
            filtered_idx,
            t0,
            site=site,
            geo=geo,
            sky=sky,
            conditions=conditions,
            options=options,
            bounds=bounds,
            sky_method=sky_method,
        )

    return RankingResult(
        time=time,
        arrays=arrays,
        order=order,
        scores=score[order_local],
        components={k: np.asarray(v, dtype=float)[order_local] for k, v in comps.items()},
        filtered_idx=filtered_idx,
        evaluation=ev,
        _predict=predict,
    )


def _predict_observable_from(
    arrays: CandidateArrays,
    idx: np.ndarray,
    ev: F.Evaluation,
    filtered_idx: np.ndarray,
    t0: float,
    *,
    site: Site,
    geo: F.Geometry,
    sky: SkyTrack,
    conditions: Conditions,
    options: RankingOptions,
    bounds: NightBounds,
    sky_method: str,
) -> np.ndarray:
    """First start on a 10-minute grid tonight (until the Sun limit) passing every filter."""
    out = np.full(filtered_idx.size, np.nan)
    end = bounds.sun_limit_end
    if filtered_idx.size == 0 or end <= t0:
        return out
    pos = {int(i): j for j, i in enumerate(ev.idx)}
    mask_f = ev.mask[[pos[int(i)] for i in filtered_idx]]
    hopeless = (mask_f & (F.WEATHER_BITS | F.FINAL_BITS)) != 0
    if options.check_transparency is False and options.check_seeing is False:
        hopeless = (mask_f & F.FINAL_BITS) != 0
    open_ = ~hopeless
    horizon = end - t0 + float(arrays.concat_total_s[idx].max()) / 86400.0
    if sky.end_mjd < t0 + horizon - 1e-6:
        sky = build_sky(site, t0, horizon, sky_method)
    dense = sky.dense(t0, t0 + horizon)
    steps = np.arange(t0 + PREDICT_STEP_D, end, PREDICT_STEP_D)
    where = {int(i): n for n, i in enumerate(filtered_idx)}
    # Steps are evaluated a chunk at a time, every (step, OB) pair as one row of one call:
    # one vectorised evaluation instead of one per step (~0.4 ms each, ~60 a night).
    first = 0
    while first < steps.size:
        todo = filtered_idx[open_ & np.isnan(out)]
        if todo.size == 0:
            break
        # whole concatenations must be evaluated together
        cs = np.unique(arrays.concat[todo][arrays.concat[todo] >= 0])
        sub = todo
        if cs.size:
            extra = idx[np.isin(arrays.concat[idx], cs)]
            sub = np.union1d(todo, extra)
        chunk = steps[first : first + max(1, PREDICT_ROWS // sub.size)]
        first += chunk.size
        e = F.evaluate(
            arrays,
            np.tile(sub, chunk.size),
            np.repeat(chunk, sub.size),
            geometry=geo,
            sky=dense,
            conditions=conditions,
            options=options,
            twilight=bounds.twilight,
        )
        masks = e.mask.reshape(chunk.size, sub.size)
        if cs.size:
            for step_mask in masks:
                F.merge_concatenations(arrays, sub, step_mask)
        passing = masks == 0
        opens = passing.any(axis=0)
        first_ok = chunk[passing.argmax(axis=0)]
        for i, ok, ts in zip(sub.tolist(), opens.tolist(), first_ok.tolist(), strict=True):
            n = where.get(i)
            if ok and n is not None and np.isnan(out[n]):
                out[n] = ts
    return out
