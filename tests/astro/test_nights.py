"""Night boundaries against astroplan's Observer (built from our EarthLocation, never at_site)."""

import datetime
import time
import warnings

import astropy.units as u
import numpy as np
import pytest
from astroplan import Observer
from astropy.time import Time

from dataflow.astro.nights import (
    MOON_HORIZON_DEG,
    SUN_HORIZON_DEG,
    Night,
    NightTable,
    night_boundaries,
    night_table,
    nights,
)
from dataflow.astro.site import PARANAL, Site

ONE_MINUTE_DAYS = 1.0 / 1440.0
# 12 dates 23 days apart: spread over the seasons and over the lunar phases (astroplan is
# slow: ~1 s per vectorised call).
DATES = [datetime.date(2026, 1, 5) + datetime.timedelta(days=23 * i) for i in range(12)]


def _jd(times: Time) -> np.ndarray:
    return np.asarray(times.jd, dtype=float)


@pytest.fixture(scope="module")
def table() -> NightTable:
    return night_table(PARANAL, DATES[0], DATES[-1])


@pytest.fixture(scope="module")
def astroplan_events(table) -> dict[str, np.ndarray]:
    observer = Observer(location=PARANAL.location)
    index = [(d - DATES[0]).days for d in DATES]
    noon = Time(table.noon_jd[index], format="jd", scale="utc")
    horizon = SUN_HORIZON_DEG * u.deg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # astroplan's which="next" can skip a moonrise minutes after the start time, so the
        # Moon is searched from noon too; at most one rise (set) fits in 24 h < 24.8 h.
        events = {
            "sunset": _jd(observer.sun_set_time(noon, which="next", horizon=horizon)),
            "sunrise": _jd(observer.sun_rise_time(noon, which="next", horizon=horizon)),
            "civil_dusk": _jd(observer.twilight_evening_civil(noon, which="next")),
            "civil_dawn": _jd(observer.twilight_morning_civil(noon, which="next")),
            "nautical_dusk": _jd(observer.twilight_evening_nautical(noon, which="next")),
            "nautical_dawn": _jd(observer.twilight_morning_nautical(noon, which="next")),
            "astronomical_dusk": _jd(observer.twilight_evening_astronomical(noon, which="next")),
            "astronomical_dawn": _jd(observer.twilight_morning_astronomical(noon, which="next")),
            "moonrise": _jd(
                observer.moon_rise_time(noon, which="next", horizon=MOON_HORIZON_DEG * u.deg)
            ),
            "moonset": _jd(
                observer.moon_set_time(noon, which="next", horizon=MOON_HORIZON_DEG * u.deg)
            ),
        }
    return events


@pytest.mark.parametrize(
    "event",
    [
        "sunset",
        "sunrise",
        "civil_dusk",
        "civil_dawn",
        "nautical_dusk",
        "nautical_dawn",
        "astronomical_dusk",
        "astronomical_dawn",
    ],
)
def test_sun_events_match_astroplan_within_a_minute(table, astroplan_events, event):
    # when
    ours = [getattr(night_boundaries(PARANAL, d), event) for d in DATES[:2]]
    index = [(d - DATES[0]).days for d in DATES]
    # then
    delta = np.abs(getattr(table, event + "_jd")[index] - astroplan_events[event])
    assert delta.max() <= ONE_MINUTE_DAYS
    # and the scalar API agrees with the table
    assert all(t is not None for t in ours)
    assert np.allclose([t.jd for t in ours], getattr(table, event + "_jd")[index[:2]], atol=1e-9)


@pytest.mark.parametrize("event", ["moonrise", "moonset"])
def test_moon_events_match_astroplan_within_a_minute(table, astroplan_events, event):
    # given astroplan's next event after noon, kept if it falls between sunset and sunrise
    index = [(d - DATES[0]).days for d in DATES]
    theirs = astroplan_events[event]
    inside = (theirs >= astroplan_events["sunset"]) & (theirs <= astroplan_events["sunrise"])
    ours = getattr(table, event + "_jd")[index]
    # then the same nights have an event, at the same time
    assert np.array_equal(np.isfinite(ours), inside)
    assert inside.sum() >= 4
    assert np.abs(ours[inside] - theirs[inside]).max() <= ONE_MINUTE_DAYS


def test_night_is_ordered_and_named_after_its_local_evening():
    # when
    night = night_boundaries(PARANAL, datetime.date(2026, 11, 21))
    # then: Paranal (UTC-4:42 mean solar) sets the Sun around 23 UT on the evening's date
    assert night.sunset.utc.datetime.date() == datetime.date(2026, 11, 21)
    steps = [
        night.sunset,
        night.civil_dusk,
        night.nautical_dusk,
        night.astronomical_dusk,
        night.astronomical_dawn,
        night.nautical_dawn,
        night.civil_dawn,
        night.sunrise,
    ]
    assert all(t is not None for t in steps)
    jds = [t.jd for t in steps if t is not None]
    assert jds == sorted(jds)
    assert 7.0 < night.dark_hours < 8.5
    for moon_event in (night.moonrise, night.moonset):
        assert moon_event is None or night.sunset.jd <= moon_event.jd <= night.sunrise.jd


def test_nights_are_consecutive_and_inclusive():
    # when
    result = nights(PARANAL, datetime.date(2027, 2, 27), datetime.date(2027, 3, 2))
    # then
    assert [n.date for n in result] == [
        datetime.date(2027, 2, 27),
        datetime.date(2027, 2, 28),
        datetime.date(2027, 3, 1),
        datetime.date(2027, 3, 2),
    ]
    assert all(isinstance(n, Night) for n in result)
    assert all(a.sunrise.jd < b.sunset.jd for a, b in zip(result, result[1:], strict=False))
    assert nights(PARANAL, datetime.date(2027, 3, 2), datetime.date(2027, 3, 1)) == []


def test_a_year_of_nights_takes_well_under_a_few_seconds():
    nights(PARANAL, datetime.date(2026, 1, 1), datetime.date(2026, 1, 2))  # warm the IERS table
    # when
    start = time.perf_counter()
    result = nights(
        PARANAL, datetime.date(2027, 1, 1), datetime.date(2027, 12, 31) + datetime.timedelta(days=1)
    )
    elapsed = time.perf_counter() - start
    # then
    assert len(result) == 366
    assert elapsed < 2.0


def test_polar_summer_has_no_darkness_and_polar_winter_no_sunrise():
    # given Tromsø, 69.65 N
    tromso = Site("Tromsø", latitude_deg=69.65, longitude_deg=18.96, height_m=0.0)
    # when
    summer = night_boundaries(tromso, datetime.date(2026, 6, 21))
    spring = night_boundaries(tromso, datetime.date(2026, 4, 25))
    winter = night_boundaries(tromso, datetime.date(2026, 12, 21))
    # then: midnight Sun is a zero-length night with no twilight at all
    assert summer.sunset.jd == summer.sunrise.jd
    assert summer.civil_dusk is None and summer.astronomical_dusk is None
    assert summer.dark_hours == 0.0
    # the Sun sets but never reaches -18 deg in late April
    assert spring.sunset.jd < spring.sunrise.jd
    assert spring.astronomical_dusk is None and spring.astronomical_dawn is None
    assert spring.dark_hours == 0.0
    # polar night: the Sun stays down from noon to noon, but climbs above -18 deg at noon
    assert winter.sunrise.jd - winter.sunset.jd == pytest.approx(1.0)
    assert winter.astronomical_dusk is not None
    assert 12.0 < winter.dark_hours < 24.0
