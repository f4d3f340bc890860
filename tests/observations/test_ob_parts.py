"""Time windows and finding charts of an OB: ESO's window rules (no overlap, from < to, 24:00
only as an end), absolute windows editable in more statuses than the rest of an SM OB, finding
charts that are JPEG by content, ≤ 1 MiB and ≤ 5 per OB; every write checks the actor and the
version, bumps the OB's version and writes one event."""

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion
from observations import ob_parts, services
from observations import status as st
from observations.models import FindingChart, ObservationBlock, Phase2Event
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def _ob(phase2: Phase2, run: str = "sm") -> ObservationBlock:
    root = phase2.root(getattr(phase2, run))
    return services.ob_create(container_id=root.pk, name="OB 1", actor=phase2.pi)


def _set_status(ob: ObservationBlock, status: str) -> None:
    ObservationBlock.objects.filter(pk=ob.pk).update(status=status)


def _state(ob: ObservationBlock) -> tuple[int, list[tuple[datetime, datetime]], list, int, int]:
    """Everything the services may change: version, windows, charts and events."""
    fresh = ObservationBlock.objects.get(pk=ob.pk)
    return (
        fresh.version,
        [(w.start, w.end) for w in fresh.absolute.all()],
        [(w.start_min, w.end_min) for w in fresh.sidereal.all()],
        fresh.charts.count(),
        Phase2Event.objects.filter(ob_id=ob.pk).count(),
    )


def _image(fmt: str, size: int | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format=fmt)
    data = buffer.getvalue()
    if size is None:
        return data
    # Pad a real JPEG to exactly ``size`` bytes with comment segments after its SOI marker.
    padding, rest = [], size - len(data)
    assert rest >= 0
    while rest:
        total = min(rest, 65537)  # a segment: FF FE, 2 length bytes (counted), data
        if 0 < rest - total < 4:
            total -= 4
        padding.append(b"\xff\xfe" + (total - 2).to_bytes(2, "big") + b"x" * (total - 4))
        rest -= total
    padded = data[:2] + b"".join(padding) + data[2:]
    assert len(padded) == size
    return padded


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- absolute windows ----------------------------------------------------------------------------


def test_absolute_windows_replace_the_obs_windows_with_a_new_version_and_an_event(
    phase2: Phase2,
) -> None:
    ob = _ob(phase2)
    version, *_, events = _state(ob)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk,
        windows=[("2027-05-03T00:00", "2027-05-03T02:00")],
        actor=phase2.pi,
        expected_version=version,
    )
    done = ob_parts.absolute_windows_set(
        ob_id=ob.pk,
        windows=[
            ("2027-05-02T00:00", "2027-05-02T03:30"),
            (_utc("2027-05-01T22:00"), _utc("2027-05-02T00:00")),  # touching is fine
        ],
        actor=phase2.coi,
        expected_version=version + 1,
    )
    new_version, absolute, *_, new_events = _state(ob)
    assert done.version == new_version == version + 2
    assert absolute == [
        (_utc("2027-05-01T22:00"), _utc("2027-05-02T00:00")),
        (_utc("2027-05-02T00:00"), _utc("2027-05-02T03:30")),
    ]
    assert new_events == events + 2
    last = Phase2Event.objects.filter(ob_id=ob.pk).latest("pk")
    assert (last.kind, last.actor) == (services.EventKind.EDIT, phase2.coi)
    assert "2027-05-01T22:00..2027-05-02T00:00" in last.message


def test_an_offset_is_converted_to_utc(phase2: Phase2) -> None:
    ob = _ob(phase2)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk, windows=[("2027-05-02T02:00+02:00", "2027-05-02T05:00Z")], actor=phase2.pi
    )
    assert _state(ob)[1] == [(_utc("2027-05-02T00:00"), _utc("2027-05-02T05:00"))]


def test_setting_the_same_absolute_windows_again_changes_nothing(phase2: Phase2) -> None:
    ob = _ob(phase2)
    windows = [("2027-05-02T00:00", "2027-05-02T03:30")]
    ob_parts.absolute_windows_set(ob_id=ob.pk, windows=windows, actor=phase2.pi)
    before = _state(ob)
    ob_parts.absolute_windows_set(ob_id=ob.pk, windows=windows, actor=phase2.pi)
    assert _state(ob) == before


def test_an_empty_list_clears_the_absolute_windows(phase2: Phase2) -> None:
    ob = _ob(phase2)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk, windows=[("2027-05-02T00:00", "2027-05-02T03:30")], actor=phase2.pi
    )
    ob_parts.absolute_windows_set(ob_id=ob.pk, windows=[], actor=phase2.pi)
    assert _state(ob)[1] == []


@pytest.mark.parametrize(
    ("windows", "field", "words"),
    [
        (  # overlap: the later-starting window is the one to change
            [("2027-05-02T00:00", "2027-05-02T03:00"), ("2027-05-02T02:00", "2027-05-02T04:00")],
            "windows[1]",
            "Overlaps",
        ),
        ([("2027-05-02T03:00", "2027-05-02T01:00")], "windows[0]", "must be before"),
        ([("2027-05-02T03:00", "2027-05-02T03:00")], "windows[0]", "must be before"),
        ([("2027-05-02T01:00", "tomorrow")], "windows[0]", "YYYY-MM-DDTHH:MM"),
        ([(datetime(2027, 5, 2, 1), datetime(2027, 5, 2, 3))], "windows[0]", "time zone"),
        ([("2027-05-02T01:00",)], "windows[0]", "two UTC times"),
        ([None], "windows[0]", "two UTC times"),
    ],
    ids=["overlap", "from-after-to", "empty", "not-a-time", "naive", "one-end", "not-a-pair"],
)
def test_invalid_absolute_windows_are_refused_per_window(
    phase2: Phase2, windows: list, field: str, words: str
) -> None:
    ob = _ob(phase2)
    before = _state(ob)
    with pytest.raises(InvalidInput) as refused:
        ob_parts.absolute_windows_set(ob_id=ob.pk, windows=windows, actor=phase2.pi)
    assert list(refused.value.errors) == [field]
    assert words in refused.value.errors[field][0]
    assert _state(ob) == before


@pytest.mark.parametrize("status", sorted(st.ABSOLUTE_WINDOWS_EDITABLE))
def test_absolute_windows_of_an_sm_ob_stay_editable_after_submission(
    phase2: Phase2, status: str
) -> None:
    ob = _ob(phase2)
    _set_status(ob, status)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk, windows=[("2027-05-02T00:00", "2027-05-02T03:30")], actor=phase2.pi
    )
    assert len(_state(ob)[1]) == 1


@pytest.mark.parametrize("status", [st.STARTED, st.COMPLETED, st.FAILED, st.CANCELLED])
def test_absolute_windows_are_frozen_once_executed(phase2: Phase2, status: str) -> None:
    ob = _ob(phase2)
    _set_status(ob, status)
    with pytest.raises(Frozen, match="absolute time windows"):
        ob_parts.absolute_windows_set(
            ob_id=ob.pk, windows=[("2027-05-02T00:00", "2027-05-02T03:30")], actor=phase2.pi
        )
    assert _state(ob)[1] == []


# -- sidereal windows ----------------------------------------------------------------------------


def test_sidereal_windows_are_stored_in_minutes_with_24_00_as_an_end(phase2: Phase2) -> None:
    ob = _ob(phase2)
    version, *_, events = _state(ob)
    done = ob_parts.sidereal_windows_set(
        ob_id=ob.pk,
        windows=[("22:00", "24:00"), ("00:00", "02:30")],
        actor=phase2.pi,
        expected_version=version,
    )
    new_version, _, sidereal, _, new_events = _state(ob)
    assert done.version == new_version == version + 1
    assert sidereal == [(0, 150), (1320, 1440)]
    assert new_events == events + 1
    assert "22:00..24:00" in Phase2Event.objects.filter(ob_id=ob.pk).latest("pk").message


@pytest.mark.parametrize(
    ("windows", "field", "words"),
    [
        ([("24:00", "24:00")], "windows[0]", "24:00 is only an end"),
        ([("22:00", "02:00")], "windows[0]", "two"),  # across 0h: write two windows
        ([("01:00", "03:00"), ("02:00", "04:00")], "windows[1]", "Overlaps"),
        ([("01:00", "01:00")], "windows[0]", "empty"),
        ([("1:00", "25:00")], "windows[0]", "00:00 to 24:00"),
        ([("01:00", 120)], "windows[0]", "HH:MM"),
    ],
    ids=["24-as-start", "from-after-to", "overlap", "empty", "not-a-time", "minutes"],
)
def test_invalid_sidereal_windows_are_refused_per_window(
    phase2: Phase2, windows: list, field: str, words: str
) -> None:
    ob = _ob(phase2)
    before = _state(ob)
    with pytest.raises(InvalidInput) as refused:
        ob_parts.sidereal_windows_set(ob_id=ob.pk, windows=windows, actor=phase2.pi)
    assert list(refused.value.errors) == [field]
    assert words in refused.value.errors[field][0]
    assert _state(ob) == before


@pytest.mark.parametrize("status", [st.DEFINED, st.ACCEPTED, st.MUST_REPEAT])
def test_sidereal_windows_of_an_sm_ob_are_frozen_where_absolute_ones_are_not(
    phase2: Phase2, status: str
) -> None:
    ob = _ob(phase2)
    _set_status(ob, status)
    with pytest.raises(Frozen):
        ob_parts.sidereal_windows_set(ob_id=ob.pk, windows=[("01:00", "03:00")], actor=phase2.pi)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk, windows=[("2027-05-02T00:00", "2027-05-02T03:30")], actor=phase2.pi
    )
    assert _state(ob)[2] == []


def test_sidereal_windows_of_a_submitted_vm_ob_are_editable(phase2: Phase2) -> None:
    ob = _ob(phase2, "vm")
    _set_status(ob, st.DEFINED)
    ob_parts.sidereal_windows_set(ob_id=ob.pk, windows=[("01:00", "03:00")], actor=phase2.pi)
    assert _state(ob)[2] == [(60, 180)]


# -- finding charts ------------------------------------------------------------------------------


def test_a_jpeg_finding_chart_is_attached_with_a_new_version_and_an_event(phase2: Phase2) -> None:
    ob = _ob(phase2)
    version, *_, events = _state(ob)
    jpeg = _image("JPEG")
    chart = ob_parts.chart_add(
        ob_id=ob.pk, name="field.jpg", content=jpeg, actor=phase2.pi, expected_version=version
    )
    stored = FindingChart.objects.get(pk=chart.pk)
    assert (stored.ob_id, stored.name, bytes(stored.content), stored.size) == (
        ob.pk,
        "field.jpg",
        jpeg,
        len(jpeg),
    )
    new_version, *_, charts, new_events = _state(ob)
    assert (new_version, charts, new_events) == (version + 1, 1, events + 1)
    assert "field.jpg" in Phase2Event.objects.filter(ob_id=ob.pk).latest("pk").message


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd.jpg"),
        ("C:\\charts\\my <chart>.JPEG", "my _chart_.JPEG"),
        ("...", "finding_chart.jpg"),
        ("x" * 300 + ".jpg", "x" * 196 + ".jpg"),
    ],
)
def test_the_chart_name_is_sanitised(phase2: Phase2, name: str, stored: str) -> None:
    chart = ob_parts.chart_add(
        ob_id=_ob(phase2).pk, name=name, content=_image("JPEG"), actor=phase2.pi
    )
    assert chart.name == stored


@pytest.mark.parametrize(
    "content",
    [
        _image("PNG"),
        _image("GIF"),
        b"\xff\xd8\xff\xe0" + b"not really a JPEG" + b"\xff\xd9",  # the magic bytes alone
        _image("JPEG")[:-10],  # a truncated upload: no EOI marker
        b"",
    ],
    ids=["png", "gif", "magic-only", "truncated", "empty"],
)
def test_a_chart_that_is_not_a_jpeg_by_content_is_refused_whatever_its_name(
    phase2: Phase2, content: bytes
) -> None:
    ob = _ob(phase2)
    before = _state(ob)
    with pytest.raises(InvalidInput) as refused:
        ob_parts.chart_add(ob_id=ob.pk, name="chart.jpg", content=content, actor=phase2.pi)
    assert "not a JPEG" in refused.value.errors["content"][0]
    assert _state(ob) == before


def test_a_chart_of_1_mib_is_accepted_and_one_byte_more_refused(phase2: Phase2) -> None:
    ob = _ob(phase2)
    ob_parts.chart_add(ob_id=ob.pk, name="a.jpg", content=_image("JPEG", MiB), actor=phase2.pi)
    before = _state(ob)
    with pytest.raises(InvalidInput) as refused:
        ob_parts.chart_add(
            ob_id=ob.pk, name="b.jpg", content=_image("JPEG", MiB + 1), actor=phase2.pi
        )
    assert "1,048,577 bytes" in refused.value.errors["content"][0]
    assert _state(ob) == before


def test_a_sixth_chart_is_refused_until_one_is_removed(phase2: Phase2) -> None:
    ob = _ob(phase2)
    charts = [
        ob_parts.chart_add(ob_id=ob.pk, name=f"{i}.jpg", content=_image("JPEG"), actor=phase2.pi)
        for i in range(5)
    ]
    before = _state(ob)
    with pytest.raises(InvalidInput, match="Too many"):
        ob_parts.chart_add(ob_id=ob.pk, name="6.jpg", content=_image("JPEG"), actor=phase2.pi)
    assert _state(ob) == before
    done = ob_parts.chart_remove(chart_id=charts[0].pk, actor=phase2.pi, expected_version=before[0])
    assert not FindingChart.objects.filter(pk=charts[0].pk).exists()
    version, *_, count, events = _state(ob)
    assert (done.version, version, count, events) == (
        before[0] + 1,
        before[0] + 1,
        4,
        before[4] + 1,
    )
    ob_parts.chart_add(ob_id=ob.pk, name="6.jpg", content=_image("JPEG"), actor=phase2.pi)


@pytest.mark.parametrize("status", [st.DEFINED, st.ACCEPTED])
def test_charts_of_a_submitted_sm_ob_are_frozen(phase2: Phase2, status: str) -> None:
    ob = _ob(phase2)
    chart = ob_parts.chart_add(ob_id=ob.pk, name="a.jpg", content=_image("JPEG"), actor=phase2.pi)
    _set_status(ob, status)
    before = _state(ob)
    with pytest.raises(Frozen):
        ob_parts.chart_add(ob_id=ob.pk, name="b.jpg", content=_image("JPEG"), actor=phase2.pi)
    with pytest.raises(Frozen):
        ob_parts.chart_remove(chart_id=chart.pk, actor=phase2.pi)
    assert _state(ob) == before


# -- every service: versions and access ----------------------------------------------------------

Write = Callable[..., object]


def _writes(ob: ObservationBlock) -> dict[str, Write]:
    chart = FindingChart.objects.filter(ob=ob).first()
    return {
        "absolute": lambda **kw: ob_parts.absolute_windows_set(
            ob_id=ob.pk, windows=[("2027-05-02T00:00", "2027-05-02T03:30")], **kw
        ),
        "sidereal": lambda **kw: ob_parts.sidereal_windows_set(
            ob_id=ob.pk, windows=[("01:00", "03:00")], **kw
        ),
        "chart_add": lambda **kw: ob_parts.chart_add(
            ob_id=ob.pk, name="b.jpg", content=_image("JPEG"), **kw
        ),
        "chart_remove": lambda **kw: ob_parts.chart_remove(chart_id=chart.pk if chart else 0, **kw),
    }


WRITES = ["absolute", "sidereal", "chart_add", "chart_remove"]


@pytest.mark.parametrize("write", WRITES)
def test_a_stale_version_is_refused_and_nothing_changes(phase2: Phase2, write: str) -> None:
    ob = _ob(phase2)
    ob_parts.chart_add(ob_id=ob.pk, name="a.jpg", content=_image("JPEG"), actor=phase2.pi)
    before = _state(ob)
    with pytest.raises(StaleVersion):
        _writes(ob)[write](actor=phase2.pi, expected_version=before[0] - 1)
    assert _state(ob) == before
    _writes(ob)[write](actor=phase2.pi, expected_version=before[0])  # the current one works
    assert _state(ob)[0] == before[0] + 1


@pytest.mark.parametrize("who", ["outsider", "staff"])
@pytest.mark.parametrize("write", WRITES)
def test_only_investigators_write(phase2: Phase2, write: str, who: str) -> None:
    ob = _ob(phase2)
    ob_parts.chart_add(ob_id=ob.pk, name="a.jpg", content=_image("JPEG"), actor=phase2.pi)
    before = _state(ob)
    with pytest.raises(NotAllowed):
        _writes(ob)[write](actor=getattr(phase2, who))
    assert _state(ob) == before
