"""The OB editor's visibility plots (observations.visibility and its views).

The numbers are cross-checked against astropy's frame machinery, offline (the trusted slow
path: ``AltAz(pressure=0)`` with the site's EarthLocation, geometric altitudes), with these
tolerances:

- the night's airmass curve: the same Kasten & Young formula applied to astropy's altitude
  agrees to 0.001 where the airmass is < 3; against astropy's own ``sec z`` to 0.01 below
  sec z 2.3 and to 0.025 below 3 (Kasten & Young is lower than sec z by up to 0.023 at 3, see
  ``dataflow.astro.geometry.airmass``); the Moon's altitude to 0.01 deg, its distance from the
  target to 0.02 deg, the Sun at the astronomical twilights to 0.01 deg of -18;
- hours per night: within 2 minutes of astropy sampled every minute (Sun <= -18 deg and
  airmass <= the limit; a minute of sampling at each of the crossings that bound the time),
  with the absolute windows as the same restriction of the samples.

The views: PNGs for the OB's investigators (and staff, see the role matrix), 404 for everyone
else, a login redirect for the anonymous, 400 for a date that is none, a small PNG for an OB
without coordinates, ``Cache-Control: private`` with an ETag.
"""

import datetime as dt
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np
import pytest
import time_machine
from astropy.coordinates import AltAz, SkyCoord, get_body
from astropy.time import Time
from astropy.utils import data as astropy_data
from astropy.utils.iers import iers as iers_module
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dataflow.astro.geometry import airmass, altitude_for_airmass
from dataflow.astro.site import PARANAL
from observations import ob_parts, services
from observations.commands import OBData
from observations.models import ObservationBlock
from observations.visibility import (
    ObTarget,
    default_night,
    hours_in_intervals,
    night_airmass,
    night_date_at,
    period_hours,
)
from observations.visibility_views import NO_TARGET, ob_target
from tests.observations.conftest import Phase2

UTC = dt.UTC
NGC_253 = ObTarget(
    "NGC 253", ra_deg=11.888, dec_deg=-25.288, max_airmass=1.6, min_moon_distance_deg=30.0
)
# Low in the west after dusk in October: it sets through the limit during the night.
SETTING = ObTarget("Setting", ra_deg=262.0, dec_deg=-35.0, max_airmass=2.0)
START = dt.date(2027, 10, 1)
END = dt.date(2027, 10, 10)
CHECKED_NIGHTS = (START, END)  # sampled every minute by astropy
WINDOW = (dt.datetime(2027, 10, 2, 1, 0, tzinfo=UTC), dt.datetime(2027, 10, 2, 3, 45, tzinfo=UTC))
TWO_MINUTES_H = 2.0 / 60.0
PNG = b"\x89PNG\r\n\x1a\n"


def _forbid(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"astropy tried to reach the network: {args!r}")


@pytest.fixture(autouse=True, scope="module")
def _offline() -> Iterator[None]:
    """Any download astropy attempts fails the test (the bundled IERS tables only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(astropy_data, "download_file", _forbid)
        patch.setattr(iers_module, "download_file", _forbid)
        patch.setattr(urllib.request, "urlopen", _forbid)
        yield


def _altaz(times: Time) -> AltAz:
    return AltAz(obstime=times, location=PARANAL.location, pressure=0 * u.hPa)


def _jd(times: Time) -> np.ndarray:
    return np.asarray(times.jd, dtype=float)


# ---------------------------------------------------------------------------------------------
# One night against astropy
# ---------------------------------------------------------------------------------------------


def test_night_airmass_curve_moon_and_twilights_match_astropy() -> None:
    # given NGC 253 through the night of 2027-10-04 at Paranal, every 5 minutes
    night = night_airmass(PARANAL, NGC_253, dt.date(2027, 10, 4))
    times = Time(night.jd, format="jd", scale="utc")
    # when astropy transforms the target and the Moon to AltAz at the same instants
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IERS predictive-range notices for 2027
        frame = _altaz(times)
        target = SkyCoord(ra=NGC_253.ra_deg * u.deg, dec=NGC_253.dec_deg * u.deg)
        target = target.transform_to(frame)
        moon = get_body("moon", times, PARANAL.location).transform_to(frame)
        twilights = Time(
            [night.astronomical_dusk_jd, night.astronomical_dawn_jd], format="jd", scale="utc"
        )
        sun = get_body("sun", twilights, PARANAL.location).transform_to(_altaz(twilights))
    # then the samples span sunset to sunrise, 5 minutes apart
    assert night.jd[0] == night.sunset_jd and night.jd[-1] == night.sunrise_jd
    assert np.allclose(np.diff(night.jd)[:-1] * 1440.0, 5.0)
    # and the airmass agrees within the stated tolerances where it is below 3
    up = night.airmass < 3.0
    assert up.sum() > 50
    same_formula = airmass(target.alt.deg)
    assert np.abs(night.airmass - same_formula)[up].max() <= 0.001
    secz = np.asarray(target.secz)
    assert np.abs(night.airmass - secz)[secz < 2.3].max() <= 0.01
    assert np.abs(night.airmass - secz)[secz < 3.0].max() <= 0.025
    # and the Moon, its distance from the target and the twilights
    assert np.abs(night.moon_alt_deg - moon.alt.deg).max() <= 0.01
    assert np.abs(night.moon_separation_deg - target.separation(moon).deg).max() <= 0.02
    assert np.abs(sun.alt.deg + 18.0).max() <= 0.01
    assert night.sunset_jd < night.astronomical_dusk_jd < night.astronomical_dawn_jd
    assert 0.0 <= night.moon_fli <= 1.0


def test_the_nights_hours_are_the_periods_value_for_that_night() -> None:
    # given the night plot and the period plot of the same target
    night = night_airmass(PARANAL, NGC_253, dt.date(2027, 10, 4))
    period = period_hours(PARANAL, NGC_253, START, END)
    # then the night's hours are that night's in the period, and the sampled curve agrees
    assert night.hours == pytest.approx(period.hours[3], abs=1e-9)
    sampled = night.observable()[:-1].sum() * 5.0 / 60.0
    assert abs(sampled - night.hours) <= 10.0 / 60.0  # two 5-minute steps
    assert 6.0 < night.hours < night.astronomical_dawn_jd * 24 - night.astronomical_dusk_jd * 24


# ---------------------------------------------------------------------------------------------
# Hours per night against astropy sampled every minute
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sampled:
    """Astropy's view of the checked nights, one sample a minute from 16 h to 8 h local."""

    nights: dict[dt.date, slice]
    jd: np.ndarray
    dark: np.ndarray  # (T,) Sun <= -18 deg
    target_airmass: dict[str, np.ndarray]  # (T,) Kasten & Young of astropy's altitude


@pytest.fixture(scope="module")
def sampled() -> Sampled:
    jds: list[np.ndarray] = []
    nights: dict[dt.date, slice] = {}
    for date in CHECKED_NIGHTS:
        # local mean 16:00 (UTC + longitude / 15 h) for 16 hours: the whole night in October
        midnight_utc = Time(dt.datetime(date.year, date.month, date.day, tzinfo=UTC)).jd
        first = midnight_utc + 16.0 / 24.0 - PARANAL.longitude_deg / 360.0
        count = 16 * 60
        nights[date] = slice(len(jds) * count, (len(jds) + 1) * count)
        jds.append(first + np.arange(count) / 1440.0)
    jd = np.concatenate(jds)
    times = Time(jd, format="jd", scale="utc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = _altaz(times)
        sun = get_body("sun", times, PARANAL.location).transform_to(frame)
        targets = {
            t.name: SkyCoord(ra=t.ra_deg * u.deg, dec=t.dec_deg * u.deg).transform_to(frame)
            for t in (NGC_253, SETTING)
        }
    return Sampled(
        nights=nights,
        jd=jd,
        dark=sun.alt.deg <= -18.0,
        target_airmass={name: airmass(c.alt.deg) for name, c in targets.items()},
    )


def _sampled_hours(sampled: Sampled, target: ObTarget, date: dt.date) -> float:
    part = sampled.nights[date]
    ok = sampled.dark[part] & (sampled.target_airmass[target.name][part] <= target.max_airmass)
    if target.windows:
        jd = sampled.jd[part]
        inside = np.zeros(jd.shape, dtype=bool)
        for start, end in target.windows:
            inside |= (jd >= Time(start).jd) & (jd < Time(end).jd)
        ok &= inside
    return float(ok.sum()) / 60.0


@pytest.mark.parametrize("target", [NGC_253, SETTING], ids=lambda t: t.name)
def test_hours_per_night_match_astropy_sampled_every_minute(
    sampled: Sampled, target: ObTarget
) -> None:
    # when
    hours = period_hours(PARANAL, target, START, END)
    # then
    assert hours.dates[0] == START and hours.dates[-1] == END and hours.window_hours is None
    for date in CHECKED_NIGHTS:
        expected = _sampled_hours(sampled, target, date)
        assert expected > 1.0  # the check means something: the target is up that night
        assert abs(hours.hours[(date - START).days] - expected) <= TWO_MINUTES_H
    assert np.array_equal(hours.observable_hours, hours.hours)


def test_absolute_windows_restrict_the_hours_per_night(sampled: Sampled) -> None:
    # given a window on the first night that cuts into the target's time there
    windowed = replace(SETTING, windows=(WINDOW,))
    # when
    plain = period_hours(PARANAL, SETTING, START, END)
    hours = period_hours(PARANAL, windowed, START, END)
    # then the window's night keeps only the time inside it, the other nights none
    assert hours.window_hours is not None
    first = hours.window_hours[0]
    assert 0.5 < first < plain.hours[0] - 0.5
    assert abs(first - _sampled_hours(sampled, windowed, START)) <= TWO_MINUTES_H
    assert np.all(hours.window_hours[1:] == 0.0)
    assert np.array_equal(hours.observable_hours, hours.window_hours)
    assert np.array_equal(hours.hours, plain.hours)  # shown alongside, unrestricted
    assert hours.window_nights == [(START, START)]


def test_a_window_over_the_whole_period_restricts_nothing_and_overlaps_count_once() -> None:
    # given one window over every night, then the same time as two overlapping windows
    around = dt.datetime(2027, 9, 30, tzinfo=UTC), dt.datetime(2027, 10, 12, tzinfo=UTC)
    split = (
        (around[0], dt.datetime(2027, 10, 5, 4, tzinfo=UTC)),
        (dt.datetime(2027, 10, 5, 1, tzinfo=UTC), around[1]),
    )
    plain = period_hours(PARANAL, NGC_253, START, END)
    # when
    whole = period_hours(PARANAL, replace(NGC_253, windows=(around,)), START, END)
    twice = period_hours(PARANAL, replace(NGC_253, windows=split), START, END)
    # then
    assert whole.window_hours is not None and twice.window_hours is not None
    assert np.abs(whole.window_hours - plain.hours).max() <= 1.0 / 3600.0
    assert np.abs(twice.window_hours - plain.hours).max() <= 1.0 / 3600.0


def test_hours_in_intervals_is_the_time_below_the_limit_inside_each_interval() -> None:
    # given an interval of a whole sidereal day, a target that rises and sets and an empty interval
    start = Time("2027-10-04T00:00:00", scale="utc").jd
    day = 1.0 / 1.00273790935  # one sidereal day in solar days
    # when
    hours = hours_in_intervals(PARANAL, 11.888, -25.288, 1.6, [start, start], [start + day, start])
    # then the full day gives the target's daily time above the limit, the empty one nothing
    sin_limit = np.sin(np.radians(altitude_for_airmass(1.6)))
    phi, dec = np.radians(PARANAL.latitude_deg), np.radians(-25.288)
    h0 = np.degrees(
        np.arccos((sin_limit - np.sin(phi) * np.sin(dec)) / (np.cos(phi) * np.cos(dec)))
    )
    assert hours[0] == pytest.approx(2 * h0 / 15.0 * day, abs=0.01)  # precession since J2000
    assert hours[1] == 0.0


# ---------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------


def test_the_default_night_is_tonight_inside_the_period_else_its_first() -> None:
    # 03:00 UTC is 22:18 local mean time at Paranal: still the night of the previous evening
    inside = dt.datetime(2027, 10, 5, 3, 0, tzinfo=UTC)
    before = dt.datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
    assert default_night(PARANAL, START, END, inside) == dt.date(2027, 10, 4)
    assert default_night(PARANAL, START, END, before) == START
    # local mean noon (16:41:37 UTC) starts the next night
    assert night_date_at(PARANAL, Time("2027-10-05T16:41:00").jd) == dt.date(2027, 10, 4)
    assert night_date_at(PARANAL, Time("2027-10-05T16:42:30").jd) == dt.date(2027, 10, 5)


def test_proper_motion_moves_the_target_to_the_date_drawn() -> None:
    # given 10"/yr north from epoch 2000
    moving = replace(NGC_253, pm_dec_arcsec_yr=10.0)
    # when / then: 27.76 years later it is 277.6" north
    ra, dec = moving.position_at(Time("2027-10-04T00:00:00", scale="utc").jd)
    assert (dec - NGC_253.dec_deg) * 3600.0 == pytest.approx(277.6, abs=0.1)
    assert ra == pytest.approx(NGC_253.ra_deg, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# The views
# ---------------------------------------------------------------------------------------------


def _ob(phase2: Phase2, with_target: bool = True) -> ObservationBlock:
    ob = services.ob_create(
        container_id=phase2.root(phase2.sm).pk, name="NGC 253 deep", actor=phase2.pi
    )
    if with_target:
        data = OBData(target_name="NGC 253", ra="00:47:33.1", dec="-25:17:18", max_airmass=1.8)
        ob = services.ob_update(ob_id=ob.pk, data=data, actor=phase2.pi)
    return ob


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _night(ob: ObservationBlock, date: str | None = None) -> str:
    url = reverse("phase2:ob_visibility_night", args=[ob.pk])
    return url if date is None else f"{url}?date={date}"


def _period(ob: ObservationBlock) -> str:
    return reverse("phase2:ob_visibility_period", args=[ob.pk])


@pytest.mark.django_db
def test_the_investigators_get_both_plots_as_private_pngs(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    assert _night(ob).endswith(f"/phase2/obs/{ob.pk}/visibility/night.png")
    for user in (phase2.pi, phase2.coi):
        for url in (_night(ob), _period(ob)):
            # when
            response = _client(user).get(url)
            # then
            assert response.status_code == 200, url
            assert response["Content-Type"] == "image/png"
            assert response.content.startswith(PNG)
            assert response["Cache-Control"].startswith("private")
            assert response["ETag"]


@pytest.mark.django_db
def test_an_outsider_gets_404_and_the_anonymous_the_login_page(phase2: Phase2) -> None:
    ob = _ob(phase2)
    for url in (_night(ob), _period(ob)):
        assert _client(phase2.outsider).get(url).status_code == 404
        anonymous = _client(None).get(url)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("date", ["tomorrow", "2027-13-01", "2027-02-30", "20271001", "1899-01-01"])
def test_a_date_that_is_no_night_is_a_400_with_a_message(phase2: Phase2, date: str) -> None:
    # when
    response = _client(phase2.pi).get(_night(_ob(phase2), date))
    # then
    assert response.status_code == 400
    assert b"'date' must be" in response.content


@pytest.mark.django_db
def test_a_night_outside_the_period_is_drawn(phase2: Phase2) -> None:
    ob = _ob(phase2)
    outside = phase2.proposal.period.end + dt.timedelta(days=40)
    response = _client(phase2.coi).get(_night(ob, outside.isoformat()))
    assert response.status_code == 200
    assert response.content.startswith(PNG)


@pytest.mark.django_db
def test_the_default_night_is_the_periods_first_or_tonight_inside_it(phase2: Phase2) -> None:
    # given the night plot's ETag for explicit dates
    ob = _ob(phase2)
    client = _client(phase2.pi)
    period = phase2.proposal.period
    third = period.start + dt.timedelta(days=2)

    def etag(url: str) -> str:
        return str(client.get(url)["ETag"])

    # when the clock is before the period, then inside it (noon UTC: the previous evening)
    with time_machine.travel(dt.datetime(2020, 1, 1, tzinfo=UTC), tick=False):
        client.force_login(phase2.pi)
        before = etag(_night(ob))
    inside_now = dt.datetime.combine(period.start + dt.timedelta(days=3), dt.time(12), UTC)
    with time_machine.travel(inside_now, tick=False):
        client.force_login(phase2.pi)
        inside = etag(_night(ob))
    # then
    assert before == etag(_night(ob, period.start.isoformat()))
    assert inside == etag(_night(ob, third.isoformat()))
    assert before != inside


@pytest.mark.django_db
def test_an_ob_without_coordinates_gets_a_no_target_png(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2, with_target=False)
    client = _client(phase2.pi)
    # when
    night, period = client.get(_night(ob)), client.get(_period(ob))
    # then: the same small PNG for both
    assert night.status_code == period.status_code == 200
    assert night.content.startswith(PNG) and night.content == period.content
    assert ob_target(ob) is None and "No target coordinates yet" in NO_TARGET


@pytest.mark.django_db
def test_an_unchanged_plot_is_a_304_and_an_edit_makes_a_new_one(phase2: Phase2) -> None:
    # given the period plot as the browser holds it
    ob = _ob(phase2)
    client = _client(phase2.pi)
    first = client.get(_period(ob))
    # when it revalidates, then after the airmass limit changed
    again = client.get(_period(ob), headers={"if-none-match": first["ETag"]})
    services.ob_update(ob_id=ob.pk, data=OBData(max_airmass=1.3), actor=phase2.pi)
    edited = client.get(_period(ob), headers={"if-none-match": first["ETag"]})
    # then
    assert again.status_code == 304 and again.content == b""
    assert again["Cache-Control"].startswith("private")
    assert edited.status_code == 200 and edited["ETag"] != first["ETag"]


@pytest.mark.django_db
def test_the_ob_becomes_plain_inputs_with_its_windows_and_proper_motion(phase2: Phase2) -> None:
    # given an OB with proper motion and two absolute windows
    ob = _ob(phase2)
    services.ob_update(ob_id=ob.pk, data=OBData(pm_ra=0.01, pm_dec=-0.02), actor=phase2.pi)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk,
        windows=[
            ("2027-10-02T00:00", "2027-10-02T03:30"),
            ("2027-10-01T22:00", "2027-10-02T00:00"),
        ],
        actor=phase2.pi,
    )
    # when
    target = ob_target(ObservationBlock.objects.get(pk=ob.pk))
    # then
    assert target is not None
    assert (target.name, target.max_airmass) == ("NGC 253", 1.8)
    assert target.ra_deg == pytest.approx(11.888, abs=1e-3)
    assert (target.pm_ra_arcsec_yr, target.pm_dec_arcsec_yr) == (0.01, -0.02)
    assert target.windows == (
        (dt.datetime(2027, 10, 1, 22, tzinfo=UTC), dt.datetime(2027, 10, 2, 0, tzinfo=UTC)),
        (dt.datetime(2027, 10, 2, 0, tzinfo=UTC), dt.datetime(2027, 10, 2, 3, 30, tzinfo=UTC)),
    )
    # and the period plot with windows is drawn
    response = _client(phase2.coi).get(_period(ob))
    assert response.status_code == 200 and response.content.startswith(PNG)
