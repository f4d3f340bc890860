"""The data transfer monitor and the quarantine pages (staff)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse

from archive import landing, services
from archive.models import QuarantinedFile, Transfer, TransferStatus
from tests.archive.conftest import ArchiveWorld
from tests.archive.frames import (
    calibration_frames,
    execution_frames,
    flip_data_byte,
    frame_bytes,
    land,
)

NOW = dt.datetime(2027, 3, 11, 14, 0, tzinfo=dt.UTC)


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@time_machine.travel(NOW, tick=False)
def test_staff_see_files_in_flight_and_ingested_per_night_and_instrument_with_a_plot(
    world: ArchiveWorld, django_capture_on_commit_callbacks: Any
) -> None:
    # given two frames ingested, one damaged (quarantined), and a calibration still waiting
    frames = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)
    for frame in frames[:2]:
        land(world.landing, frame)
    land(world.landing, frames[2], flip_data_byte(frame_bytes(frames[2])))
    with django_capture_on_commit_callbacks(execute=True):
        for transfer_id in landing.landing_scan(queue=False):
            landing.transfer_ingest(transfer_id=transfer_id)
    waiting = land(world.landing, calibration_frames()[0])
    landing.landing_scan(queue=False)
    # when staff open the monitor ten minutes later
    with time_machine.travel(NOW + dt.timedelta(minutes=10), tick=False):
        response = client_of(world.staff).get(reverse("archive_staff:monitor"))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    m = response.context["m"]
    assert (m.totals["ingested"], m.totals["quarantined"], m.totals["waiting"]) == (2, 1, 1)
    assert m.in_flight_count == 1 and m.in_flight[0].file_name == waiting.name
    assert m.in_flight[0].priority == 3  # a calibration, after science
    assert m.oldest_waiting_s == 600.0
    assert m.recent_files == 2 and m.files_per_minute == 2 / 60
    [row] = m.rows
    assert (row.night, row.instrument) == (dt.date(2027, 3, 10), "FORS2")
    assert (row.ingested, row.quarantined, row.waiting, row.total) == (2, 1, 1, 4)
    assert row.size_bytes == sum(t.size_bytes for t in Transfer.objects.all())
    assert "<svg" in page and "FORS2" in page
    assert waiting.name in page and "10\xa0minutes" in page


def test_the_monitor_filters_by_instrument(world: ArchiveWorld) -> None:
    land(world.landing, calibration_frames()[0])
    land(world.landing, calibration_frames(instrument="UVES")[0])
    landing.landing_scan(queue=False)
    response = client_of(world.staff).get(
        reverse("archive_staff:monitor"), {"instrument": "UVES", "days": "3660"}
    )
    assert [r.instrument for r in response.context["m"].rows] == ["UVES"]


def test_only_staff_see_the_monitor_and_the_quarantine(world: ArchiveWorld) -> None:
    for url in (reverse("archive_staff:monitor"), reverse("archive_staff:quarantine")):
        assert client_of(world.pi).get(url).status_code == 403
        assert Client().get(url).status_code == 302


def test_staff_read_the_reason_and_resolve_a_quarantined_file(
    world: ArchiveWorld, django_capture_on_commit_callbacks: Any
) -> None:
    # given a file not in FITS
    path = world.landing / "FORS2.2027-03-11T05:00:00.000.fits"
    path.write_bytes(b"garbage" * 500)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_file(path=path)
    quarantined = QuarantinedFile.objects.get()
    client = client_of(world.staff)
    # when staff open the quarantine
    page = client.get(reverse("archive_staff:quarantine")).content.decode()
    # then its reason is shown
    assert "not a FITS file" in page and path.name in page
    # when they resolve it with a note
    response = client.post(
        reverse("archive_staff:quarantine_resolve", args=[quarantined.pk]),
        {"resolution": "Corrupt at the instrument; asked for a resend."},
    )
    # then it leaves the waiting list, kept with the note
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.resolved_by == world.staff
    assert "quarantine-empty" in client.get(reverse("archive_staff:quarantine")).content.decode()
    assert (
        "asked for a resend" in client.get("/archive/staff/quarantine/?show=all").content.decode()
    )
    assert Transfer.objects.get().status == TransferStatus.QUARANTINED


def test_a_resolution_without_a_note_is_refused_and_changes_nothing(
    world: ArchiveWorld, django_capture_on_commit_callbacks: Any
) -> None:
    path = world.landing / "X.fits"
    path.write_bytes(b"garbage" * 500)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_file(path=path)
    quarantined = QuarantinedFile.objects.get()
    response = client_of(world.staff).post(
        reverse("archive_staff:quarantine_resolve", args=[quarantined.pk]), {"resolution": ""}
    )
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.resolved_at is None


def test_the_staff_home_shows_the_quarantined_files_waiting(
    world: ArchiveWorld, django_capture_on_commit_callbacks: Any
) -> None:
    path = world.landing / "Y.fits"
    path.write_bytes(b"garbage" * 500)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_file(path=path)
    response = client_of(world.staff).get(
        reverse("review:overview", args=[world.proposal.period.number])
    )
    assert response.status_code == 200
    assert "Archive: 1 quarantined file waiting" in response.content.decode()
