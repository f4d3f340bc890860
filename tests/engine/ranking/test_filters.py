"""Each observability filter, tolerance and option on hand-placed targets."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from dataflow.astro.geometry import airmass, target_altaz
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from scheduling.engine.ranking.engine import rank
from scheduling.engine.ranking.model import (
    Conditions,
    ConstraintSet,
    GroupMembership,
    TimeLinkMembership,
    Transparency,
)
from scheduling.engine.ranking.skytrack import SkyTrack
from tests.engine.ranking.conftest import (
    DARK,
    DAY,
    GOOD,
    LAX,
    MOONLIT,
    codes,
    do_rank,
    lst_deg,
    ob,
    transit,
)


def test_fixture_times_are_what_the_tests_assume() -> None:
    s = sky_samples(PARANAL, Time([DARK, MOONLIT, DAY]))
    assert s.sun_alt_deg[0] < -18 and s.moon_alt_deg[0] < -5
    assert s.sun_alt_deg[1] < -18 and s.moon_alt_deg[1] > 45 and s.moon_fli[1] > 0.6
    assert s.sun_alt_deg[2] > 10


def test_target_on_meridian_in_dark_time_is_observable() -> None:
    # given a target near the meridian with lax constraints
    # when ranked in dark time
    r = do_rank([transit(DARK)], DARK)
    # then it is observable, nothing filtered
    assert [x.id for x in r.ranked] == ["T"] and r.filtered == []


def test_airmass_limit_and_operator_tolerance() -> None:
    # given a target at dec +10 near the meridian at Paranal: airmass ~1.22
    c = transit(
        DARK,
        dec=10.0,
        constraints=ConstraintSet(max_airmass=1.15, max_fli=1.0, min_moon_distance_deg=0),
    )
    # when ranked without and with a 10 % airmass tolerance
    strict = do_rank([c], DARK)
    relaxed = do_rank([c], DARK, airmass_tolerance_pct=10.0)
    # then the tolerance admits it
    assert codes(strict, "T") == {"airmass"}
    assert [x.id for x in relaxed.ranked] == ["T"]
    assert "airmass" in strict.filtered[0].reasons[0].text


def test_target_below_horizon_is_filtered_for_airmass() -> None:
    r = do_rank([ob("B", lst_deg(DARK) + 180.0, dec=0.0)], DARK)
    assert codes(r, "B") == {"airmass"}
    assert "below the horizon" in r.filtered[0].reasons[0].text


def test_sun_limit_in_daytime() -> None:
    # given daytime
    r = do_rank([transit(DAY)], DAY)
    # then the Sun filters; with the Sun limit lifted it does not
    assert "sun_elevation" in codes(r, "T")
    assert "sun_elevation" not in codes(
        do_rank([transit(DAY)], DAY, sun_max_elevation_deg=90.0), "T"
    )


def test_twilight_offset() -> None:
    # given 10 minutes after the end of astronomical twilight
    import datetime

    from dataflow.astro.nights import night_boundaries

    night = night_boundaries(PARANAL, datetime.date(2025, 11, 20))
    t = night.astronomical_dusk + 10 * u.min
    strict = ConstraintSet(
        max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=0, twilight_offset_min=30.0
    )
    loose = ConstraintSet(
        max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=0, twilight_offset_min=-30.0
    )
    # when ranked with a +30 min and a -30 min twilight offset
    r = do_rank([transit(t, "S", constraints=strict), transit(t, "L", constraints=loose)], t)
    # then only the +30 min OB waits, and it becomes observable ~20 min later
    assert codes(r, "S") == {"twilight"} and [x.id for x in r.ranked] == ["L"]
    frm = r.filtered[0].observable_from
    assert frm is not None and 10 <= (frm - t).to_value(u.min) <= 30.01


def test_moon_distance_tolerance_and_moon_elevation_limit() -> None:
    s = sky_samples(PARANAL, MOONLIT)
    mra, mdec = float(s.moon_ra_deg[0]), float(s.moon_dec_deg[0])
    cons = ConstraintSet(max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=30.0)
    # given a target 25 deg from the Moon (in declination)
    c = ob("M", mra, mdec - 25.0, constraints=cons)
    # then it is too close; a 20 % tolerance (limit 24 deg) admits it; so does a Moon
    # elevation limit above the Moon (the Moon then counts as down)
    assert codes(do_rank([c], MOONLIT), "M") == {"moon_distance"}
    assert codes(do_rank([c], MOONLIT, moon_distance_tolerance_pct=20.0), "M") == set()
    assert codes(do_rank([c], MOONLIT, moon_elevation_limit_deg=80.0), "M") == set()


def test_fli_limit_and_tolerance() -> None:
    cons = ConstraintSet(max_airmass=3.0, max_fli=0.65, min_moon_distance_deg=0.0)
    c = transit(MOONLIT, constraints=cons)
    assert codes(do_rank([c], MOONLIT), "T") == {"moon_fli"}
    assert codes(do_rank([c], MOONLIT, fli_tolerance_pct=10.0), "T") == set()
    # the same OB in dark time (Moon down) passes
    assert codes(do_rank([transit(DARK, constraints=cons)], DARK), "T") == set()


def test_seeing_and_transparency() -> None:
    cons = ConstraintSet(
        max_airmass=3.0,
        max_fli=1.0,
        min_moon_distance_deg=0,
        max_seeing_arcsec=0.8,
        min_transparency=Transparency.CLEAR,
    )
    c = transit(DARK, constraints=cons)
    bad = Conditions(seeing_arcsec=1.1, transparency=Transparency.THIN_CIRRUS)
    assert codes(do_rank([c], DARK, bad), "T") == {"seeing", "transparency"}
    ok = Conditions(seeing_arcsec=0.8, transparency=Transparency.CLEAR)
    assert codes(do_rank([c], DARK, ok), "T") == set()
    # the operator may switch the weather filters off
    assert (
        codes(do_rank([c], DARK, bad, check_seeing=False, check_transparency=False), "T") == set()
    )


def test_transparency_is_ordered() -> None:
    assert Transparency.PHOTOMETRIC > Transparency.CLEAR > Transparency.THIN_CIRRUS
    assert Transparency.THIN_CIRRUS > Transparency.VARIABLE
    assert Transparency.parse("thin cirrus") is Transparency.THIN_CIRRUS


def test_zenith_avoidance() -> None:
    # given a target passing through the zenith within its execution
    c = ob("Z", lst_deg(DARK) + 2.0, dec=PARANAL.latitude_deg)
    assert codes(do_rank([c], DARK), "Z") == {"zenith_avoidance"}
    assert codes(do_rank([c], DARK, zenith_avoidance_deg=0.0), "Z") == set()


def test_wind_pointing_restriction() -> None:
    # given a target to the south (dec -60 on the meridian: azimuth 180) and strong wind
    c = ob("W", lst_deg(DARK), dec=-60.0, execution_time_s=600.0)
    from_south = Conditions(seeing_arcsec=0.6, wind_speed_ms=15.0, wind_direction_deg=170.0)
    from_north = Conditions(seeing_arcsec=0.6, wind_speed_ms=15.0, wind_direction_deg=0.0)
    weak = Conditions(seeing_arcsec=0.6, wind_speed_ms=5.0, wind_direction_deg=170.0)
    assert codes(do_rank([c], DARK, from_south), "W") == {"wind_pointing"}
    assert codes(do_rank([c], DARK, from_north), "W") == set()
    assert codes(do_rank([c], DARK, weak), "W") == set()
    assert codes(do_rank([c], DARK, from_south, wind_restriction=False), "W") == set()


def test_absolute_window_fits_from_now_versus_at_start() -> None:
    # given a window closing 20 minutes after now and a 30-minute OB
    w = ((DARK - 1 * u.h, DARK + 20 * u.min),)
    c = transit(DARK, absolute_windows=w)
    # then it does not fit, but starts inside the window
    assert codes(do_rank([c], DARK), "T") == {"absolute_window"}
    assert codes(do_rank([c], DARK, fits_from_now=False), "T") == set()
    # a window opening later: observable from its opening (on the 10-min search grid)
    later = transit(DARK, absolute_windows=((DARK + 1 * u.h, DARK + 3 * u.h),))
    r = do_rank([later], DARK)
    assert codes(r, "T") == {"absolute_window"}
    assert abs((r.filtered[0].observable_from - (DARK + 1 * u.h)).to_value(u.min)) <= 10.0


def test_lst_window_wrapping_through_zero() -> None:
    lst_h = lst_deg(DARK) / 15.0
    inside = ((lst_h - 1.0) % 24.0, (lst_h + 2.0) % 24.0)
    outside = ((lst_h + 3.0) % 24.0, (lst_h + 5.0) % 24.0)
    wrap = ((lst_h - 23.0) % 24.0 if lst_h < 1 else 23.5, (lst_h + 1.0) % 24.0)
    r = do_rank(
        [
            transit(DARK, "I", lst_windows=(inside,)),
            transit(DARK, "O", lst_windows=(outside,)),
            transit(DARK, "W", lst_windows=(wrap,) if lst_h < 23.5 else (inside,)),
        ],
        DARK,
    )
    assert codes(r, "I") == set() and codes(r, "W") == set()
    assert codes(r, "O") == {"lst_window"}


def test_time_link_pending_not_open_expired_and_open() -> None:
    def tl(order: int, early: Time | None, late: Time | None) -> TimeLinkMembership:
        return TimeLinkMembership("L", order, earliest=early, latest=late)

    r = do_rank(
        [
            transit(DARK, "P", time_link=tl(1, None, None)),
            transit(DARK, "N", time_link=tl(1, DARK + 1 * u.h, DARK + 2 * u.d)),
            transit(DARK, "E", time_link=tl(1, DARK - 3 * u.d, DARK - 1 * u.h)),
            transit(DARK, "O", time_link=tl(1, DARK - 1 * u.d, DARK + 1 * u.d)),
            transit(DARK, "F", time_link=tl(0, None, None)),
        ],
        DARK,
    )
    assert codes(r, "P") == {"time_link_previous_pending"}
    assert codes(r, "N") == {"time_link_not_open"}
    assert codes(r, "E") == {"time_link_expired"}
    assert {x.id for x in r.ranked} == {"O", "F"}
    assert r.filtered[[f.id for f in r.filtered].index("E")].observable_from is None


def test_all_filtered_reports_every_reason() -> None:
    # given three OBs each failing differently, in daytime
    bad = Conditions(seeing_arcsec=2.5, transparency=Transparency.VARIABLE)
    cons = ConstraintSet(
        max_airmass=1.5,
        max_seeing_arcsec=1.0,
        min_moon_distance_deg=0.0,
        min_transparency=Transparency.PHOTOMETRIC,
    )
    r = do_rank([transit(DAY, "A", constraints=cons), ob("B", 0.0, 80.0)], DAY, bad)
    # then nothing is ranked and every reason is listed
    assert r.ranked == []
    assert codes(r, "A") == {"sun_elevation", "seeing", "transparency"}
    assert codes(r, "B") == {"sun_elevation", "airmass"}
    assert all(x.text for f in r.filtered for x in f.reasons)


def test_empty_candidate_list() -> None:
    r = do_rank([], DARK)
    assert r.ranked == [] and r.filtered == [] and r.to_dict()["ranked"] == []


def test_proper_motion_moves_the_target() -> None:
    # given a star with a huge proper motion (10"/yr for 100 yr = 0.2778 deg): the engine
    # uses the position of date, so it behaves like a star at that position
    c0 = transit(
        DARK,
        "A",
        dec=10.0,
        constraints=ConstraintSet(max_airmass=1.16, max_fli=1.0, min_moon_distance_deg=0),
    )
    epoch = 2000.0 + (DARK.utc.mjd - 51544.5) / 365.25 - 100.0
    moved = transit(
        DARK,
        "B",
        dec=10.0 + 1000.0 / 3600.0,
        pm_dec_mas_yr=-10000.0,
        epoch_jyear=epoch,
        constraints=c0.constraints,
    )
    r = do_rank([c0, moved], DARK)
    am = {int(i): float(a) for i, a in zip(r.evaluation.idx, r.evaluation.airmass_now, strict=True)}
    assert abs(am[0] - am[1]) < 1e-4
    assert codes(r, "A") == codes(r, "B")


def test_group_membership_is_not_a_filter() -> None:
    c = transit(DARK, group=GroupMembership("G", 0.5, 0.5))
    assert [x.id for x in do_rank([c], DARK).ranked] == ["T"]
    assert LAX.max_fli == 1.0


def test_rising_target_is_observable_from_when_it_reaches_its_airmass_limit() -> None:
    # given a target three hours east of the meridian with an airmass limit of 1.3
    c = ob(
        "R",
        lst_deg(DARK) + 45.0,
        -30.0,
        constraints=ConstraintSet(max_airmass=1.3, max_fli=1.0, min_moon_distance_deg=0),
    )
    r = do_rank([c], DARK, fits_from_now=False)
    assert codes(r, "R") == {"airmass"}
    frm = r.filtered[0].observable_from
    # then observable_from is the first 10-minute step where its airmass is below 1.3
    assert frm is not None
    grid = DARK + np.arange(1, 60) * 10 * u.min
    alt, _ = target_altaz(PARANAL, sky_samples(PARANAL, grid), [c.ra_deg], [c.dec_deg])
    first = grid[int(np.argmax(airmass(alt[0]) <= 1.3))]
    assert abs((frm - first).to_value(u.min)) < 0.01


def test_sky_track_must_cover_the_instant() -> None:
    track = SkyTrack.exact(PARANAL, Time([DARK + 1 * u.h, DARK + 2 * u.h]))
    with pytest.raises(ValueError, match="does not cover"):
        rank([transit(DARK)], site=PARANAL, time=DARK, conditions=GOOD, sky=track)


def test_observable_from_is_the_same_whatever_the_chunk_of_steps(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduling.engine.ranking import engine
    from scheduling.engine.ranking.arrays import CandidateArrays
    from scheduling.engine.ranking.synthetic import synthetic_candidates

    # given candidates with containers (concatenations are predicted as a whole) early in
    # the night, when many of their targets are still to rise
    early = DARK - 2 * u.h
    arrays = CandidateArrays.build(synthetic_candidates(rng, 600, early))

    def predicted() -> np.ndarray:
        r = rank(arrays, site=PARANAL, time=early, conditions=GOOD)
        return r.observable_from_mjd

    # when the night's steps are searched all at once, and one step per evaluation
    whole = predicted()
    monkeypatch.setattr(engine, "PREDICT_ROWS", 1)
    arrays.cache.clear()
    stepwise = predicted()
    # then every filtered OB gets the same answer, and some do become observable later
    np.testing.assert_array_equal(whole, stepwise)
    assert np.isfinite(whole).sum() >= 10
    assert (arrays.concat >= 0).any()


def test_before_dusk_observable_from_is_when_the_sun_goes_down() -> None:
    import datetime

    from dataflow.astro.nights import night_boundaries

    # given an operator asking 40 minutes before the end of astronomical twilight (the Sun
    # above the -18 deg limit), and a target near the meridian then
    night = night_boundaries(PARANAL, datetime.date(2025, 11, 20))
    for before in (40 * u.min, 3 * u.h):
        t = night.astronomical_dusk - before
        r = do_rank([transit(night.astronomical_dusk)], t)
        # then the Sun filters it, and it becomes observable once the Sun is below the limit
        assert "sun_elevation" in codes(r, "T")
        frm = r.filtered[0].observable_from
        assert frm is not None
        assert 0.0 <= (frm - night.astronomical_dusk).to_value(u.min) <= 10.0
