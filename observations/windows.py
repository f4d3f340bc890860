"""ESO's rules for an OB's time windows. Pure Python, no Django.

Absolute windows are UTC intervals ``[from, to)``; sidereal windows are LST intervals in
minutes from 00:00 (0) to 24:00 (1440), written ``"HH:MM"``. For both: ``from`` before ``to``
and no two windows of an OB overlap (touching is fine). A sidereal window never wraps past
24:00: 24:00 is allowed only as an end, so LST 22:00..02:00 is two windows, 22:00-24:00 and
00:00-02:00, as in ESO's p2.

The checks return ``{index: message}`` (0-based, in the order given) for the windows to change,
an empty dict when all are valid; each message says what to change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

DAY_MIN = 24 * 60
_LST = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")
_UTC_FORMAT = "%Y-%m-%dT%H:%M"

LstTime = str | int  # "HH:MM", or minutes as stored
T = TypeVar("T", datetime, int)


def parse_lst(text: str) -> int:
    """``"HH:MM"`` -> minutes, 0..1440; raises ``ValueError`` with a message that says why."""
    match = _LST.fullmatch(text)
    if not match:
        raise ValueError(f"Write the LST as HH:MM, e.g. 03:30 (got {text!r}).")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{text.strip()} is not a time of day: use 00:00 to 24:00.")
    return hours * 60 + minutes


def format_lst(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_utc(text: str) -> datetime:
    """An ISO date and time (p2 writes ``2027-05-01T00:00``) -> an aware UTC datetime.

    Without an offset the time is UTC; with one it is converted. Raises ``ValueError``.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"Write the time as YYYY-MM-DDTHH:MM in UTC, e.g. 2027-05-01T23:30 (got {text!r})."
        ) from None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable time
        raise ValueError(f"The time {text!r} is out of range.") from None


def format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_UTC_FORMAT)


def absolute_errors(windows: Sequence[tuple[datetime, datetime]]) -> dict[int, str]:
    """Per-window errors of an OB's absolute (UTC) windows."""
    errors: dict[int, str] = {}
    valid: list[tuple[datetime, datetime, int]] = []
    for i, (start, end) in enumerate(windows):
        if start.tzinfo is None or end.tzinfo is None:
            errors[i] = "Give both ends with their time zone (UTC)."
        elif start >= end:
            errors[i] = (
                f"'from' ({format_utc(start)}) must be before 'to' ({format_utc(end)}): "
                "swap them or move 'to' later."
            )
        else:
            valid.append((start, end, i))
    for (prev_start, prev_end), i in _overlaps(valid):
        errors[i] = (
            f"Overlaps {format_utc(prev_start)}..{format_utc(prev_end)}: start at "
            f"{format_utc(prev_end)} or later, or merge the two windows."
        )
    return errors


def sidereal_errors(windows: Sequence[tuple[LstTime, LstTime]]) -> dict[int, str]:
    """Per-window errors of an OB's sidereal (LST) windows, ends as ``"HH:MM"`` or minutes."""
    errors: dict[int, str] = {}
    valid: list[tuple[int, int, int]] = []
    for i, (raw_start, raw_end) in enumerate(windows):
        try:
            start, end = _minutes(raw_start), _minutes(raw_end)
        except ValueError as exc:
            errors[i] = str(exc)
            continue
        if start == DAY_MIN:
            errors[i] = "24:00 is only an end: start at 00:00 instead."
        elif start == end:
            errors[i] = f"The window {format_lst(start)}..{format_lst(end)} is empty."
        elif start > end:
            errors[i] = (
                f"'from' ({format_lst(start)}) must be before 'to' ({format_lst(end)}). For a "
                f"window across 0h LST use two: {format_lst(start)}-24:00 and "
                f"00:00-{format_lst(end)}."
            )
        else:
            valid.append((start, end, i))
    for (prev_start, prev_end), i in _overlaps(valid):
        errors[i] = (
            f"Overlaps {format_lst(prev_start)}..{format_lst(prev_end)}: start at "
            f"{format_lst(prev_end)} or later, or merge the two windows."
        )
    return errors


def _minutes(value: LstTime) -> int:
    if isinstance(value, str):
        return parse_lst(value)
    if isinstance(value, bool) or not 0 <= value <= DAY_MIN:
        raise ValueError(f"LST minutes must be 0 to {DAY_MIN} (got {value!r}).")
    return value


def _overlaps(windows: list[tuple[T, T, int]]) -> list[tuple[tuple[T, T], int]]:
    """The indexes of windows (start, end, index) that start before an earlier-starting one
    has ended, each with the window it overlaps: the later-starting one is the one to change."""
    result: list[tuple[tuple[T, T], int]] = []
    reach: tuple[T, T] | None = None  # the window reaching furthest so far
    for start, end, i in sorted(windows):
        if reach is not None and start < reach[1]:
            result.append((reach, i))
        if reach is None or end > reach[1]:
            reach = (start, end)
    return result
