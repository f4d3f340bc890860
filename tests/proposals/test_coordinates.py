"""Coordinates typed by people: every bad value is an InvalidInput on its field, never a crash."""

import math

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataflow.errors import InvalidInput
from proposals.coordinates import format_dec, format_ra, parse_dec, parse_ra

HUGE_INT = 10**400


@pytest.mark.parametrize(
    "value",
    [HUGE_INT, -HUGE_INT, str(HUGE_INT), "-" + "9" * 400],
    ids=["int", "negative-int", "digits", "negative-digits"],
)
@pytest.mark.parametrize(("parse", "field"), [(parse_ra, "ra"), (parse_dec, "dec")])
def test_a_coordinate_with_400_digits_is_refused_on_its_field(parse, field, value):
    # when
    with pytest.raises(InvalidInput) as err:
        parse(value)
    # then the message names the field and quotes the value shortened
    (message,) = err.value.errors[field]
    assert len(message) < 200


def test_an_integer_beyond_the_digit_limit_of_str_is_refused():
    # given an int that str() itself refuses to print (Python's 4300-digit limit)
    value = 10**5000
    # when / then
    with pytest.raises(InvalidInput) as err:
        parse_ra(value)
    assert "ra" in err.value.errors


@pytest.mark.parametrize("text", ["24:00:00", "24:00:00.0", "24h00m00s", "24 00 00", "25:00:00"])
def test_right_ascension_of_24_hours_or_more_is_refused(text):
    # when
    with pytest.raises(InvalidInput) as err:
        parse_ra(text)
    # then
    assert "outside 0..24 h" in err.value.errors["ra"][0]


@pytest.mark.parametrize("text", ["05:60:00", "05:00:60", "05:00:60.0", "05h60m00s", "05:59:60"])
def test_sixty_minutes_or_seconds_in_a_right_ascension_are_refused(text):
    with pytest.raises(InvalidInput) as err:
        parse_ra(text)
    assert "below 60" in err.value.errors["ra"][0]


@pytest.mark.parametrize("text", ["05:60:00", "-05:00:60", "-30d60m00s", "-89:59:60"])
def test_sixty_minutes_or_seconds_in_a_declination_are_refused(text):
    with pytest.raises(InvalidInput) as err:
        parse_dec(text)
    assert "below 60" in err.value.errors["dec"][0]


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, "nan", "NaN", "inf", "-inf", "Infinity", "1e400"]
)
@pytest.mark.parametrize(("parse", "field"), [(parse_ra, "ra"), (parse_dec, "dec")])
def test_nan_and_infinity_are_refused(parse, field, value):
    with pytest.raises(InvalidInput) as err:
        parse(value)
    assert field in err.value.errors


@pytest.mark.parametrize(("parse", "field"), [(parse_ra, "ra"), (parse_dec, "dec")])
def test_a_boolean_is_not_a_coordinate(parse, field):
    with pytest.raises(InvalidInput) as err:
        parse(True)
    assert field in err.value.errors


@pytest.mark.parametrize(
    ("value", "degrees"),
    [
        ("05:35:17.3", 83.822083),
        ("10h08m22.3s", 152.092917),
        ("05 35 17.3", 83.822083),
        ("10:08", 152.0),
        ("152.09", 152.09),
        (" 152.09 ", 152.09),
        (152.09, 152.09),
        (0, 0.0),
        ("0", 0.0),
        ("00:00:00", 0.0),
        ("23:59:59.99", 359.999958),
        (359.99, 359.99),
    ],
)
def test_right_ascension_in_hours_or_degrees(value, degrees):
    assert parse_ra(value) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "degrees"),
    [
        ("-05:23:28", -5.391111),
        ("-00:30:00", -0.5),
        ("+05:23:28", 5.391111),
        ("-30d12m05s", -30.201389),
        ("-30.2", -30.2),
        (-30.2, -30.2),
        (-90, -90.0),
        ("90:00:00", 90.0),
        ("89:59:59.9", 89.999972),
    ],
)
def test_declination_in_sexagesimal_or_degrees(value, degrees):
    assert parse_dec(value) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize(
    ("parse", "value", "field", "message"),
    [
        (parse_ra, 400.0, "ra", "outside 0..24 h"),
        (parse_ra, 360, "ra", "outside 0..24 h"),
        (parse_ra, "-00:30:00", "ra", "outside 0..24 h"),
        (parse_ra, "ten past five", "ra", "Cannot read 'ten past five' as a right ascension"),
        (parse_ra, "25h99m", "ra", "Cannot read '25h99m' as a right ascension"),
        (parse_dec, "-95:00:00", "dec", "outside ±90°"),
        (parse_dec, "-95.0", "dec", "outside ±90°"),
        (parse_dec, "south", "dec", "Cannot read 'south' as a declination"),
    ],
)
def test_messages_of_today_are_kept(parse, value, field, message):
    with pytest.raises(InvalidInput) as err:
        parse(value)
    assert message in err.value.errors[field][0]


@pytest.mark.parametrize("degrees", [0.0, 83.822083, 359.9999, 359.99999999])
def test_a_formatted_right_ascension_reads_back(degrees):
    # given a value the edit form shows back to the user (rounded to 0.01 s)
    text = format_ra(degrees)
    # when it is submitted again, then it is accepted and close to the stored value (mod 24 h)
    difference = abs(parse_ra(text) - degrees) % 360.0
    assert min(difference, 360.0 - difference) < 1e-4


@pytest.mark.parametrize("degrees", [-90.0, -5.391111, 0.0, 89.99999999, 90.0])
def test_a_formatted_declination_reads_back(degrees):
    assert parse_dec(format_dec(degrees)) == pytest.approx(degrees, abs=1e-4)


@pytest.mark.parametrize(
    ("ra", "dec", "field"),
    [
        (HUGE_INT, -30, "ra"),
        (10, -HUGE_INT, "dec"),
        ("24:00:00", -30, "ra"),
        (10, "05:60:00", "dec"),
    ],
    ids=["huge-ra", "huge-dec", "ra-24h", "dec-60-minutes"],
)
def test_the_api_answers_a_bad_coordinate_with_400_on_its_field(draft, ra, dec, field):
    # given
    token, _ = Token.objects.get_or_create(user=draft.pi)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    # when
    response = client.post(
        f"/api/v1/proposals/{draft.pk}/targets/",
        {"name": "Bad", "ra": ra, "dec": dec},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert draft.targets.count() == 1
