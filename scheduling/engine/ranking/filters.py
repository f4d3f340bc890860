"""Vectorised observability filters: one bit per reason, for many OBs at once.

``evaluate(arrays, idx, start_mjd, ...)`` checks the OBs ``idx`` (indices into a
``CandidateArrays``) starting at ``start_mjd`` and returns an ``Evaluation`` with a reason
bitmask per OB (0 = observable) and the quantities the reasons quote.

Sampling ("fits from now")
--------------------------
Each OB occupies the slot ``[start + offset, start + offset + execution]`` where ``offset`` is
its place within its concatenation (0 when not concatenated). The Sun, Moon and target are
sampled at the slot's start, middle and end ("at start only": the start). The airmass limit
and the Sun limit are exact with these samples because a target's (and, during a night, the
Sun's) altitude is unimodal over less than 12 h, so its extremes over the slot are at the ends;
zenith avoidance uses the exact culmination when the slot contains the meridian passage; the
Moon constraints (distance, FLI, Moon elevation) are checked at the three samples only, which
is adequate because they change by < 0.5 deg per hour except for the Moon's elevation near
the limit. Absolute, LST and time-link windows are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dataflow.astro.geometry import airmass, altitude_for_airmass
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.model import Conditions, RankingOptions
from scheduling.engine.ranking.skytrack import DenseSky, SkyTrack

_D2R = np.pi / 180.0
SIDEREAL_DEG_PER_DAY = 360.98564736629

# Reason bits and their machine codes (stable API: codes, not bits, go into the output).
AIRMASS = 1 << 0
SUN = 1 << 1
TWILIGHT = 1 << 2
MOON_DISTANCE = 1 << 3
FLI = 1 << 4
SEEING = 1 << 5
TRANSPARENCY = 1 << 6
ZENITH = 1 << 7
WIND = 1 << 8
ABSOLUTE_WINDOW = 1 << 9
LST_WINDOW = 1 << 10
TIME_LINK_PENDING = 1 << 11
TIME_LINK_NOT_OPEN = 1 << 12
TIME_LINK_EXPIRED = 1 << 13
CONCATENATION = 1 << 14

REASON_CODES: dict[int, str] = {
    AIRMASS: "airmass",
    SUN: "sun_elevation",
    TWILIGHT: "twilight",
    MOON_DISTANCE: "moon_distance",
    FLI: "moon_fli",
    SEEING: "seeing",
    TRANSPARENCY: "transparency",
    ZENITH: "zenith_avoidance",
    WIND: "wind_pointing",
    ABSOLUTE_WINDOW: "absolute_window",
    LST_WINDOW: "lst_window",
    TIME_LINK_PENDING: "time_link_previous_pending",
    TIME_LINK_NOT_OPEN: "time_link_not_open",
    TIME_LINK_EXPIRED: "time_link_expired",
    CONCATENATION: "concatenation_member",
}
#: Reasons that never clear while the conditions stay as they are.
WEATHER_BITS = SEEING | TRANSPARENCY
#: Reasons that can never clear later tonight.
FINAL_BITS = TIME_LINK_EXPIRED | TIME_LINK_PENDING


@dataclass(frozen=True)
class Geometry:
    """Per-candidate coordinates prepared for one night: true-of-date (for hour angles) and
    ICRS with proper motion applied (for Moon separations), degrees, shape (N,)."""

    ra_tod: np.ndarray
    dec_tod: np.ndarray
    ra_icrs: np.ndarray
    dec_icrs: np.ndarray
    sin_dec_tod: np.ndarray
    cos_dec_tod: np.ndarray
    sin_dec_icrs: np.ndarray
    cos_dec_icrs: np.ndarray

    @classmethod
    def create(
        cls, ra_tod: np.ndarray, dec_tod: np.ndarray, ra_icrs: np.ndarray, dec_icrs: np.ndarray
    ) -> Geometry:
        dt, di = np.radians(dec_tod), np.radians(dec_icrs)
        return cls(
            ra_tod=ra_tod,
            dec_tod=dec_tod,
            ra_icrs=ra_icrs,
            dec_icrs=dec_icrs,
            sin_dec_tod=np.sin(dt),
            cos_dec_tod=np.cos(dt),
            sin_dec_icrs=np.sin(di),
            cos_dec_icrs=np.cos(di),
        )


@dataclass(frozen=True)
class Evaluation:
    """Result of ``evaluate`` for OBs ``idx``; every array has shape (M,).

    mask : uint32 reason bits (0 = observable).
    alt_now_deg, az_now_deg : target at the slot start (geometric).
    alt_min_deg, alt_max_deg : lowest / highest target altitude over the slot.
    sun_alt_worst_deg : highest Sun altitude over the samples.
    moon_sep_min_deg : smallest Moon separation over the samples where the Moon is up (inf
        when it is down throughout).
    fli_worst : largest FLI over the samples where the Moon is up (0 when down throughout).
    lst_now_h : LST at the slot start, hours.
    slot_start_mjd : the OB's slot start.
    """

    idx: np.ndarray
    mask: np.ndarray
    alt_now_deg: np.ndarray
    az_now_deg: np.ndarray
    alt_min_deg: np.ndarray
    alt_max_deg: np.ndarray
    sun_alt_worst_deg: np.ndarray
    moon_sep_min_deg: np.ndarray
    fli_worst: np.ndarray
    lst_now_h: np.ndarray
    slot_start_mjd: np.ndarray

    @cached_property
    def airmass_now(self) -> np.ndarray:
        return airmass(self.alt_now_deg)

    @cached_property
    def airmass_worst(self) -> np.ndarray:
        return airmass(self.alt_min_deg)


def _bit(cond: np.ndarray, bit: int) -> np.ndarray:
    return cond.astype(np.uint32) * np.uint32(bit)


def airmass_limit_altitude(arrays: CandidateArrays, tolerance_pct: float) -> np.ndarray:
    """Altitude (deg) where each OB reaches its airmass limit (+ tolerance); cached."""
    key = ("alt_limit", tolerance_pct)
    hit = arrays.cache.get(key)
    if isinstance(hit, np.ndarray):
        return hit
    limits = arrays.max_airmass * (1.0 + tolerance_pct / 100.0)
    uniq, inverse = np.unique(limits, return_inverse=True)
    alt = np.asarray(altitude_for_airmass(uniq))[inverse.reshape(-1)]
    arrays.cache[key] = alt
    return alt


def evaluate(
    arrays: CandidateArrays,
    idx: np.ndarray,
    start_mjd: float | np.ndarray,
    *,
    geometry: Geometry,
    sky: SkyTrack | DenseSky,
    conditions: Conditions,
    options: RankingOptions,
    twilight: tuple[float, float] | None,
) -> Evaluation:
    """Check OBs ``idx`` for a start at ``start_mjd`` (UTC MJD; one instant, or one per OB:
    ``idx`` may then repeat an OB at several instants).

    ``sky`` is best a ``DenseSky`` (1-minute nodes) covering the slots; ``twilight`` is
    ``(end of evening, start of morning astronomical twilight)`` in MJD for the night, or
    None when the Sun never reaches -18 deg (then twilight offsets are not checked).
    """
    a = arrays
    lat = sky.latitude_deg
    m = idx.size
    exe_d = a.execution_s[idx] / 86400.0
    s0 = start_mjd + a.concat_offset_s[idx] / 86400.0
    fits = options.fits_from_now
    if fits:
        times = s0[:, None] + exe_d[:, None] * np.array([0.0, 0.5, 1.0])[None, :]  # (M, 3)
    else:
        times = s0[:, None]
    at = sky.at(times)
    ra_t = geometry.ra_tod[idx]
    ha = at.lst_deg - ra_t[:, None]
    sl, cl = np.sin(lat * _D2R), np.cos(lat * _D2R)
    sd, cd = geometry.sin_dec_tod[idx], geometry.cos_dec_tod[idx]
    sin_alt = (sl * sd)[:, None] + (cl * cd)[:, None] * np.cos(ha * _D2R)
    mask = np.zeros(m, dtype=np.uint32)

    # airmass: altitude is unimodal, so its minimum over the slot is at one end
    sin_min = sin_alt.min(axis=1)
    alt_lim = airmass_limit_altitude(a, options.airmass_tolerance_pct)[idx]
    mask |= _bit(sin_min < np.sin(alt_lim * _D2R), AIRMASS)
    alt_min = np.degrees(np.arcsin(np.clip(sin_min, -1.0, 1.0)))
    alt_now = np.degrees(np.arcsin(np.clip(sin_alt[:, 0], -1.0, 1.0)))

    # zenith avoidance: culmination inside the slot?
    h0 = np.mod(ha[:, 0] + 180.0, 360.0) - 180.0
    h1 = h0 + exe_d * SIDEREAL_DEG_PER_DAY if fits else h0
    culm = (h0 <= 0.0) & (h1 >= 0.0)
    alt_ends = np.degrees(np.arcsin(np.clip(sin_alt.max(axis=1), -1.0, 1.0)))
    alt_max = np.where(culm, 90.0 - np.abs(lat - geometry.dec_tod[idx]), alt_ends)
    if options.zenith_avoidance_deg > 0:
        mask |= _bit(alt_max > 90.0 - options.zenith_avoidance_deg, ZENITH)

    # Sun (unimodal during a night: the ends of the slot suffice)
    sun_worst = np.maximum(at.sun_alt_deg[:, 0], at.sun_alt_deg[:, -1])
    mask |= _bit(sun_worst > options.sun_max_elevation_deg, SUN)
    twi = a.twilight_offset_min[idx]
    has_twi = ~np.isnan(twi)
    if twilight is not None and has_twi.any():
        dusk, dawn = twilight
        off = np.where(has_twi, twi, 0.0) / 1440.0
        end = s0 + (exe_d if fits else 0.0)
        bad = has_twi & ((s0 < dusk + off) | (end > dawn - off))
        mask |= _bit(bad, TWILIGHT)

    # Moon: distance and FLI apply only while the Moon is above the elevation limit
    moon_up = at.moon_alt_deg >= options.moon_elevation_limit_deg  # (M, K)
    ra_i = geometry.ra_icrs[idx] * _D2R
    cos_sep = geometry.sin_dec_icrs[idx][:, None] * at.moon_sin_dec + geometry.cos_dec_icrs[idx][
        :, None
    ] * at.moon_cos_dec * np.cos(ra_i[:, None] - at.moon_ra_deg * _D2R)
    sep = np.degrees(np.arccos(np.clip(cos_sep, -1.0, 1.0)))
    sep_min = np.where(moon_up, sep, np.inf).min(axis=1)
    dist_limit = a.min_moon_distance_deg[idx] * (1.0 - options.moon_distance_tolerance_pct / 100)
    mask |= _bit(sep_min < dist_limit, MOON_DISTANCE)
    fli_worst = np.where(moon_up, at.moon_fli, 0.0).max(axis=1)
    fli_limit = a.max_fli[idx] * (1.0 + options.fli_tolerance_pct / 100.0)
    mask |= _bit(fli_worst > fli_limit, FLI)

    # weather
    if options.check_seeing:
        mask |= _bit(conditions.seeing_arcsec > a.max_seeing_arcsec[idx], SEEING)
    if options.check_transparency:
        mask |= _bit(int(conditions.transparency) < a.min_transparency[idx], TRANSPARENCY)

    # wind pointing restriction (azimuth at the start)
    hr = ha[:, 0] * _D2R
    az0 = np.degrees(np.arctan2(-cd * np.sin(hr), sd * cl - cd * np.cos(hr) * sl)) % 360.0
    if options.wind_restriction and conditions.wind_speed_ms >= options.wind_speed_limit_ms:
        d = np.abs(np.mod(az0 - conditions.wind_direction_deg + 180.0, 360.0) - 180.0)
        mask |= _bit(d < options.wind_avoid_halfwidth_deg, WIND)

    # absolute windows
    if a.abs_start_mjd.shape[1]:
        has = a.has_abs[idx]
        if has.any():
            ws, we = a.abs_start_mjd[idx], a.abs_end_mjd[idx]
            if fits:
                inside = (ws <= s0[:, None]) & ((s0 + exe_d)[:, None] <= we)
            else:
                inside = (ws <= s0[:, None]) & (s0[:, None] < we)
            mask |= _bit(has & ~inside.any(axis=1), ABSOLUTE_WINDOW)

    # LST windows (hours, may wrap through 0 h)
    lst_h = np.mod(at.lst_deg[:, 0], 360.0) / 15.0
    if a.lst_start_h.shape[1]:
        has = a.has_lst[idx]
        if has.any():
            ls, le = a.lst_start_h[idx], a.lst_end_h[idx]
            length = np.mod(le - ls, 24.0)
            length = np.where(length == 0.0, 24.0, length)
            into = np.mod(lst_h[:, None] - ls, 24.0)
            if fits:
                inside = into + (exe_d * SIDEREAL_DEG_PER_DAY / 15.0)[:, None] <= length
            else:
                inside = into < length
            inside &= ~np.isnan(ls)
            mask |= _bit(has & ~inside.any(axis=1), LST_WINDOW)

    # time-link window on the start of the OB
    linked = a.link[idx] >= 0
    if linked.any():
        early, late = a.link_earliest_mjd[idx], a.link_latest_mjd[idx]
        pending = linked & (a.link_order[idx] > 0) & np.isnan(early) & np.isnan(late)
        mask |= _bit(pending, TIME_LINK_PENDING)
        mask |= _bit(~np.isnan(early) & (s0 < early), TIME_LINK_NOT_OPEN)
        mask |= _bit(~np.isnan(late) & (s0 > late), TIME_LINK_EXPIRED)

    return Evaluation(
        idx=idx,
        mask=mask,
        alt_now_deg=alt_now,
        az_now_deg=az0,
        alt_min_deg=alt_min,
        alt_max_deg=alt_max,
        sun_alt_worst_deg=sun_worst,
        moon_sep_min_deg=sep_min,
        fli_worst=fli_worst,
        lst_now_h=lst_h,
        slot_start_mjd=s0,
    )


def merge_concatenations(arrays: CandidateArrays, idx: np.ndarray, mask: np.ndarray) -> None:
    """All or nothing: flag every member of a concatenation that has a failing member.

    ``mask`` (for OBs ``idx``) is updated in place with ``CONCATENATION``.
    """
    c = arrays.concat[idx]
    member = c >= 0
    if not member.any():
        return
    n_c = len(arrays.concat_ids)
    failed = np.zeros(n_c, dtype=bool)
    np.logical_or.at(failed, c[member], mask[member] != 0)
    # a member that is no longer active breaks the concatenation too
    active_count = np.bincount(c[member], minlength=n_c)
    total_count = np.bincount(arrays.concat[arrays.concat >= 0], minlength=n_c)
    failed |= active_count < total_count
    partner = member & failed[np.where(member, c, 0)] & (mask == 0)
    mask |= _bit(partner, CONCATENATION)
