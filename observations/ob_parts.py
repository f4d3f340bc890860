"""Writes of an OB's parts beside its templates: time windows, finding charts, ephemeris.

The same write path as ``observations.services`` (see its docstring): one transaction, the
run's and the OB's locks, the access check, ``expected_version`` (stale → ``StaleVersion``),
a new OB version (its ETag) and one ``Phase2Event`` per change; a write that changes nothing
keeps the version and writes no event. The window rules are ``observations.windows``'s.
"""

import io
import re
from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from PIL import Image

from dataflow.errors import Frozen, InvalidInput
from observations import access
from observations import status as st
from observations import windows as win  # `windows` is the services' argument
from observations.models import (
    AbsoluteWindow,
    EphemerisFile,
    FindingChart,
    ObservationBlock,
    SiderealWindow,
)
from observations.services.base import (
    EventKind,
    _bump,
    _check_version,
    _event,
    _lock_ob,
    _lock_ob_for_edit,
)

MAX_CHART_BYTES = 1024 * 1024  # ESO's limit per finding chart
MAX_CHARTS = 5  # per OB
CHART_NAME_LENGTH = 200  # FindingChart.name's max_length
MAX_EPHEMERIS_BYTES = 1024 * 1024  # per OB; ESO's ephemerides are a few hundred KB at most
EPHEMERIS_NAME_LENGTH = 200  # EphemerisFile.file_name's max_length

UtcTime = datetime | str
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]+")


# --------------------------------------------------------------------------------------------
# Time windows
# --------------------------------------------------------------------------------------------


@transaction.atomic
def absolute_windows_set(
    *,
    ob_id: int,
    windows: Sequence[tuple[UtcTime, UtcTime]],
    actor: User,
    expected_version: int | None = None,
) -> ObservationBlock:
    """Replace the OB's absolute (UTC) windows; ends are datetimes or ISO strings (p2's
    ``2027-05-01T00:00``, UTC unless an offset is given)."""
    ob, run = _lock_ob(ob_id)
    access.ensure_may_write(actor, run)
    if not st.absolute_windows_editable(ob.status):
        allowed = " ".join(s for s in st.STATUSES if s in st.ABSOLUTE_WINDOWS_EDITABLE)
        raise Frozen(
            f"OB {ob.pk} '{ob.name}' is {st.LABELS.get(ob.status, ob.status)} ('{ob.status}'): "
            f"its absolute time windows can be changed only in statuses {allowed}."
        )
    _check_version(ob, expected_version)
    errors: dict[str, list[str]] = {}
    parsed: list[tuple[datetime, datetime]] = []
    for i, pair in enumerate(windows):
        try:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise ValueError("Give the window as two UTC times, 'from' and 'to'.")
            start, end = _utc(pair[0]), _utc(pair[1])
        except ValueError as exc:
            errors[f"windows[{i}]"] = [str(exc)]
            continue
        parsed.append((start, end))
    if not errors:
        errors = {f"windows[{i}]": [m] for i, m in win.absolute_errors(parsed).items()}
    if errors:
        raise InvalidInput("Invalid absolute time windows.", errors)
    wanted = sorted(parsed)
    if wanted == [(w.start, w.end) for w in ob.absolute.order_by("start", "end")]:
        return ob
    ob.absolute.all().delete()
    AbsoluteWindow.objects.bulk_create(AbsoluteWindow(ob=ob, start=s, end=e) for s, e in wanted)
    _bump(ob)
    shown = ", ".join(f"{win.format_utc(s)}..{win.format_utc(e)}" for s, e in wanted)
    _event(run, actor, EventKind.EDIT, ob=ob, message=f"absolute windows: {shown or 'none'}")
    return ob


@transaction.atomic
def sidereal_windows_set(
    *,
    ob_id: int,
    windows: Sequence[tuple[str, str]],
    actor: User,
    expected_version: int | None = None,
) -> ObservationBlock:
    """Replace the OB's sidereal (LST) windows, each ``("HH:MM", "HH:MM")``."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    found = _sidereal_errors(windows)
    if found:
        raise InvalidInput(
            "Invalid sidereal time windows.", {f"windows[{i}]": [m] for i, m in found.items()}
        )
    wanted = sorted((win.parse_lst(start), win.parse_lst(end)) for start, end in windows)
    if wanted == [(w.start_min, w.end_min) for w in ob.sidereal.order_by("start_min", "end_min")]:
        return ob
    ob.sidereal.all().delete()
    SiderealWindow.objects.bulk_create(
        SiderealWindow(ob=ob, start_min=s, end_min=e) for s, e in wanted
    )
    _bump(ob)
    shown = ", ".join(f"{win.format_lst(s)}..{win.format_lst(e)}" for s, e in wanted)
    _event(run, actor, EventKind.EDIT, ob=ob, message=f"sidereal windows: {shown or 'none'}")
    return ob


def _utc(value: UtcTime) -> datetime:
    if isinstance(value, datetime):
        return value  # absolute_errors refuses a naive one
    if isinstance(value, str):
        return win.parse_utc(value)
    raise ValueError(f"Give the time as YYYY-MM-DDTHH:MM in UTC (got {value!r}).")


def _sidereal_errors(pairs: Sequence[tuple[str, str]]) -> dict[int, str]:
    # Only strings: minutes are the storage form, not an input of this service.
    bad = {
        i: 'Give the window as two LST times HH:MM, e.g. ("22:00", "24:00").'
        for i, pair in enumerate(pairs)
        if not (isinstance(pair, tuple | list) and len(pair) == 2)
        or not all(isinstance(v, str) for v in pair)
    }
    return bad or win.sidereal_errors(pairs)


# --------------------------------------------------------------------------------------------
# Finding charts
# --------------------------------------------------------------------------------------------


@transaction.atomic
def chart_add(
    *,
    ob_id: int,
    name: str,
    content: bytes,
    actor: User,
    expected_version: int | None = None,
) -> FindingChart:
    """Attach a finding chart: a JPEG (by its content, whatever its name says) of at most
    1 MiB, at most 5 per OB."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    clean = chart_name(name)
    if len(content) > MAX_CHART_BYTES:
        raise InvalidInput(
            "Finding chart too large.",
            {
                "content": [
                    f"{clean} has {len(content):,} bytes; a finding chart may have at most "
                    f"{MAX_CHART_BYTES:,} (1 MiB): reduce its size or JPEG quality."
                ]
            },
        )
    if not is_jpeg(content):
        raise InvalidInput(
            "Finding chart is not a JPEG.",
            {"content": [f"{clean} is not a JPEG image: export the chart as JPEG."]},
        )
    count = ob.charts.count()
    if count >= MAX_CHARTS:
        raise InvalidInput(
            "Too many finding charts.",
            {
                "content": [
                    f"OB {ob.pk} already has {count} finding charts, the most allowed: remove "
                    "one first."
                ]
            },
        )
    chart = FindingChart.objects.create(ob=ob, name=clean, content=content, size=len(content))
    _bump(ob)
    _event(run, actor, EventKind.EDIT, ob=ob, message=f"finding chart added: {clean}")
    return chart


@transaction.atomic
def chart_remove(
    *, chart_id: int, actor: User, expected_version: int | None = None, ob_id: int | None = None
) -> ObservationBlock:
    """Remove a finding chart; ``expected_version`` is its OB's (``ob_id``, if the caller names
    it: a chart of another OB is not found)."""
    owner = FindingChart.objects.filter(pk=chart_id).values_list("ob_id", flat=True).first()
    if owner is None or ob_id not in (None, owner):
        raise FindingChart.DoesNotExist(f"No finding chart {chart_id}.")
    ob, run = _lock_ob_for_edit(owner, actor, expected_version)
    chart = FindingChart.objects.get(pk=chart_id)  # under the OB's lock: still there
    chart.delete()
    _bump(ob)
    _event(run, actor, EventKind.EDIT, ob=ob, message=f"finding chart removed: {chart.name}")
    return ob


def is_jpeg(content: bytes) -> bool:
    """A JPEG by its content: SOI marker first, EOI marker last (a truncated upload has none),
    and Pillow reads its headers as a JPEG."""
    if not (content.startswith(b"\xff\xd8\xff") and content.endswith(b"\xff\xd9")):
        return False  # cheap refusal before Pillow parses anything
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.format in {"JPEG", "MPO"}  # MPO: a multi-picture JPEG file
    except Exception:  # Pillow raises many kinds on broken input; all mean "not a JPEG"
        return False


def chart_name(name: str) -> str:
    """A safe file name: no directories, no control or shell characters, at most 200
    characters, ending in .jpg or .jpeg."""
    base = re.split(r"[/\\]", str(name))[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" ._") or "finding_chart"
    stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() not in {"jpg", "jpeg"}:
        stem, ext = base, "jpg"
    return f"{stem[: CHART_NAME_LENGTH - len(ext) - 1]}.{ext}"


# --------------------------------------------------------------------------------------------
# Ephemeris file
# --------------------------------------------------------------------------------------------


@transaction.atomic
def ephemeris_save(
    *,
    ob_id: int,
    file_name: str,
    content: bytes | str,
    actor: User,
    expected_version: int | None = None,
) -> EphemerisFile:
    """Set (or replace) the OB's ephemeris file: non-empty UTF-8 text without NUL, at most
    1 MiB. The same text again changes nothing (no new version, no event)."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    clean = ephemeris_name(file_name)
    text = ephemeris_text(clean, content)
    current = EphemerisFile.objects.filter(ob=ob).first()
    if current is not None and current.content == text and current.file_name == clean:
        return current
    if current is None:
        current = EphemerisFile.objects.create(ob=ob, file_name=clean, content=text)
    else:
        current.file_name, current.content = clean, text
        current.uploaded_at = timezone.now()
        current.save(update_fields=["file_name", "content", "uploaded_at"])
    _bump(ob)
    _event(run, actor, EventKind.EDIT, ob=ob, message=f"ephemeris file saved: {clean}")
    return current


@transaction.atomic
def ephemeris_delete(
    *, ob_id: int, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Remove the OB's ephemeris file; removing none changes nothing (p2 answers the same)."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    current = EphemerisFile.objects.filter(ob=ob).first()
    if current is None:
        return ob
    current.delete()
    _bump(ob)
    _event(
        run, actor, EventKind.EDIT, ob=ob, message=f"ephemeris file removed: {current.file_name}"
    )
    return ob


def ephemeris_text(name: str, content: bytes | str) -> str:
    """The upload as text, or ``InvalidInput`` on the ``content`` field."""
    size = len(content.encode() if isinstance(content, str) else content)
    problem = ""
    text = ""
    if size == 0:
        problem = f"{name} is empty: upload the ephemeris text."
    elif size > MAX_EPHEMERIS_BYTES:
        problem = (
            f"{name} has {size:,} bytes; an ephemeris file may have at most "
            f"{MAX_EPHEMERIS_BYTES:,} (1 MiB)."
        )
    else:
        try:
            text = content if isinstance(content, str) else content.decode("utf-8")
        except UnicodeDecodeError:
            problem = f"{name} is not UTF-8 (or ASCII) text: upload the ephemeris as text."
        else:
            if "\x00" in text:
                problem = f"{name} contains NUL bytes: it is not a text file."
    if problem:
        raise InvalidInput("Invalid ephemeris file.", {"content": [problem]})
    return text


def ephemeris_name(name: str) -> str:
    """A safe file name: no directories, no control or shell characters, at most 200."""
    base = re.split(r"[/\\]", str(name))[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" ._") or "ephemeris.txt"
    return base[:EPHEMERIS_NAME_LENGTH]
