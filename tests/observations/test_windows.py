"""ESO's rules for an OB's time windows (observations.windows): absolute UTC windows and
sidereal LST windows, from < to, no overlap, 24:00 only as an end. No database."""

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as sts

from observations.windows import (
    LstTime,
    absolute_errors,
    format_lst,
    format_utc,
    parse_lst,
    parse_utc,
    sidereal_errors,
)

UTC = dt.UTC


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2027, 5, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------- sidereal


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("00:00", 0), ("3:30", 210), ("23:59", 1439), ("24:00", 1440), (" 12:05 ", 725)],
)
def test_lst_is_read_as_minutes(text: str, minutes: int) -> None:
    assert parse_lst(text) == minutes


@pytest.mark.parametrize("text", ["24:01", "25:00", "12:60", "12", "12:5", "1230", "-01:00", ""])
def test_an_lst_that_is_not_a_time_of_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM|00:00 to 24:00"):
        parse_lst(text)


def test_lst_minutes_are_written_back_as_hh_mm() -> None:
    assert [format_lst(m) for m in (0, 210, 1440)] == ["00:00", "03:30", "24:00"]


def test_valid_sidereal_windows_have_no_errors() -> None:
    # given touching windows, one ending at 24:00, and stored minutes
    windows: list[tuple[LstTime, LstTime]] = [
        ("00:00", "01:00"),
        ("22:00", "24:00"),
        ("01:00", "02:30"),
        (600, 700),
    ]
    assert sidereal_errors(windows) == {}


def test_24_00_is_only_an_end() -> None:
    errors = sidereal_errors([("24:00", "24:00"), ("23:00", "24:00")])
    assert errors == {0: "24:00 is only an end: start at 00:00 instead."}


def test_a_sidereal_window_across_0h_must_be_split() -> None:
    # when
    errors = sidereal_errors([("22:00", "02:00")])
    # then the message gives the two windows to use instead
    assert "22:00-24:00 and 00:00-02:00" in errors[0]


def test_an_empty_sidereal_window_is_refused() -> None:
    assert "empty" in sidereal_errors([("05:00", "05:00")])[0]


def test_an_overlapping_sidereal_window_is_reported_on_the_later_one() -> None:
    # given a window inside a longer one, listed first
    errors = sidereal_errors([("03:00", "04:00"), ("01:00", "05:00"), ("06:00", "07:00")])
    # then the one starting later is to change, and the message says where to start it
    assert errors == {
        0: "Overlaps 01:00..05:00: start at 05:00 or later, or merge the two windows."
    }


def test_unreadable_sidereal_ends_are_reported_per_window() -> None:
    errors = sidereal_errors([("1:00", "2:00"), ("abc", "03:00"), (0, 2000)])
    assert set(errors) == {1, 2}
    assert "HH:MM" in errors[1]
    assert "0 to 1440" in errors[2]


# ---------------------------------------------------------------------------- absolute


def test_valid_absolute_windows_have_no_errors() -> None:
    assert absolute_errors([(at(1), at(2)), (at(2), at(3, 12)), (at(10), at(11))]) == {}


def test_an_absolute_window_must_start_before_it_ends() -> None:
    # when
    errors = absolute_errors([(at(2), at(1)), (at(3), at(3))])
    # then both, with what to change
    assert set(errors) == {0, 1}
    assert errors[0] == (
        "'from' (2027-05-02T00:00) must be before 'to' (2027-05-01T00:00): "
        "swap them or move 'to' later."
    )


def test_overlapping_absolute_windows_are_refused() -> None:
    errors = absolute_errors([(at(5), at(8)), (at(1), at(6))])
    assert errors == {
        0: "Overlaps 2027-05-01T00:00..2027-05-06T00:00: start at 2027-05-06T00:00 or later, "
        "or merge the two windows."
    }


def test_absolute_windows_need_a_time_zone() -> None:
    naive = dt.datetime(2027, 5, 1)
    assert "UTC" in absolute_errors([(naive, at(2))])[0]


def test_an_absolute_window_in_another_zone_is_compared_in_utc() -> None:
    # given 2027-05-01 23:00 at UTC-4, i.e. 05-02 03:00 UTC: after the first window's end
    chile = dt.timezone(dt.timedelta(hours=-4))
    windows = [(at(1), at(2, 3)), (dt.datetime(2027, 5, 1, 23, tzinfo=chile), at(3))]
    assert absolute_errors(windows) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-05-01T00:00", at(1)),
        ("2027-05-01T23:30:00Z", at(1, 23, 30)),
        ("2027-05-01T20:30-03:00", at(1, 23, 30)),
    ],
)
def test_p2_times_are_read_as_utc(text: str, expected: dt.datetime) -> None:
    # when
    value = parse_utc(text)
    # then
    assert value == expected
    assert value.utcoffset() == dt.timedelta(0)


def test_an_unreadable_time_is_refused_with_the_format() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DDTHH:MM"):
        parse_utc("1 May 2027")


def test_utc_times_are_written_as_p2_does() -> None:
    assert format_utc(at(1, 23, 30)) == "2027-05-01T23:30"


# ---------------------------------------------------------------------------- invariants


@given(
    cuts=sts.lists(sts.integers(0, 1440), min_size=2, max_size=12, unique=True),
    order=sts.randoms(use_true_random=False),
)
def test_disjoint_windows_in_any_order_are_valid(cuts: list[int], order: random.Random) -> None:
    # given consecutive cut points made into windows (a, b), (c, d)... in shuffled order
    cuts.sort()
    windows = [(format_lst(a), format_lst(b)) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    order.shuffle(windows)
    # then
    assert sidereal_errors(windows) == {}


@given(
    start=sts.integers(0, 1439),
    length=sts.integers(1, 1440),
    shift=sts.integers(0, 1439),
)
def test_two_windows_sharing_a_minute_overlap(start: int, length: int, shift: int) -> None:
    # given a window and another starting inside it
    end = min(start + length, 1440)
    other = start + shift % (end - start)
    windows = [(start, end), (other, min(other + 10, 1440))]
    # then exactly one of the two is to change
    assert len(sidereal_errors(windows)) == 1


def test_a_time_that_overflows_when_converted_to_utc_is_a_value_error() -> None:
    # 9999-12-31T23:00-05:00 is after datetime.max in UTC: OverflowError, a server error.
    with pytest.raises(ValueError):
        parse_utc("9999-12-31T23:00-05:00")
