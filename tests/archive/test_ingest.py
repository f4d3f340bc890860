"""Ingestion from the landing area: checksums, idempotence, refusals into the quarantine,
links to the execution, OB, run and programme, and the proprietary period."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import time_machine
from astropy.io import fits
from astropy.wcs import WCS

from archive import access, ingest, landing, services
from archive.models import (
    ArchiveEvent,
    ArchiveEventKind,
    ArchiveFile,
    Category,
    QuarantinedFile,
    Transfer,
    TransferStatus,
)
from dataflow.errors import InvalidInput, NotAllowed
from tests.archive.conftest import ArchiveWorld, make_world
from tests.archive.frames import (
    calibration_frames,
    execution_frames,
    flip_data_byte,
    frame_bytes,
    header_changed,
    land,
)

INGEST_DAY = dt.datetime(2027, 3, 12, 15, 0, tzinfo=dt.UTC)


def ingest_path(path: Path, capture) -> services.IngestResult:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return services.ingest_file(path=path)


# --- the pure reading ------------------------------------------------------------------------


def test_the_readers_values_and_footprint_agree_with_astropy() -> None:
    # given the night's own frames
    for frame in execution_frames() + calibration_frames():
        data = frame_bytes(frame)
        header = fits.getheader(io.BytesIO(data))
        # when
        info = ingest.read_raw_frame(data)
        # then every card's value is astropy's
        for card in header.cards:
            key = f"HIERARCH {card.keyword}" if " " in card.keyword else card.keyword
            if card.keyword not in ("COMMENT", "HISTORY", ""):
                assert info.header[key] == card.value, key
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        if "CTYPE1" in header:
            expected = WCS(header).calc_footprint()
            assert info.footprint is not None
            np.testing.assert_allclose(np.array(info.footprint), expected, atol=1e-9)
        else:
            assert info.footprint is None


def test_a_flipped_data_byte_fails_the_checksum_where_astropy_only_warns() -> None:
    # given
    data = flip_data_byte(frame_bytes(execution_frames()[1]))
    # then astropy warns but opens the file
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(data), checksum=True) as hdul:
            hdul[0].data  # noqa: B018
    assert any("Checksum verification failed" in str(w.message) for w in seen)
    # and the archive refuses it
    with pytest.raises(ingest.IngestRefused, match="checksum"):
        ingest.read_raw_frame(data)


def test_a_frame_without_checksums_is_refused() -> None:
    hdul = fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4), dtype=np.int16))])
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    with pytest.raises(ingest.IngestRefused, match="checksum: HDU 0 has no CHECKSUM or DATASUM"):
        ingest.read_raw_frame(buffer.getvalue())


def test_every_missing_keyword_is_named() -> None:
    frame = execution_frames()[1]
    data = header_changed(
        frame, {"EXPTIME": None, "HIERARCH ESO OBS ID": None, "HIERARCH ESO OBS START": None}
    )
    with pytest.raises(ingest.IngestRefused) as refused:
        ingest.read_raw_frame(data)
    assert refused.value.reason == (
        "missing keywords: EXPTIME, HIERARCH ESO OBS ID, HIERARCH ESO OBS START"
    )


def test_a_morning_calibration_belongs_to_the_night_before() -> None:
    info = ingest.read_raw_frame(frame_bytes(calibration_frames()[0]))
    assert info.date_obs.date() == dt.date(2027, 3, 11)
    assert info.night == dt.date(2027, 3, 10)


# --- the service -----------------------------------------------------------------------------


def test_a_frame_is_archived_and_linked_to_its_execution_ob_run_and_programme(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a science frame of the world's execution in the landing area
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    path = land(world.landing, frame)
    data = path.read_bytes()
    # when
    result = ingest_path(path, django_capture_on_commit_callbacks)
    # then
    assert result.outcome == "ingested"
    archived = ArchiveFile.objects.get()
    assert archived.arcfile == frame.arcfile and archived.dp_id == frame.arcfile[:-5]
    assert (archived.proposal, archived.run, archived.ob, archived.execution) == (
        world.proposal,
        world.run,
        world.ob,
        world.execution,
    )
    assert archived.category == Category.SCIENCE and archived.prog_id == "130.C-0001(A)"
    assert archived.instrument == world.run.instrument
    assert archived.night == dt.date(2027, 3, 10)
    assert archived.footprint is not None and len(archived.footprint) == 4
    assert archived.ra_deg == pytest.approx(11.888) and archived.exptime_s == 60.0
    # the bytes moved into storage, the landing area emptied
    assert (world.root / archived.storage_path).read_bytes() == data
    assert archived.sha256 == hashlib.sha256(data).hexdigest()
    assert not path.exists()
    assert ArchiveEvent.objects.filter(
        kind=ArchiveEventKind.INGESTED, archive_file=archived
    ).exists()
    assert Transfer.objects.get().status == TransferStatus.INGESTED


def test_ingesting_the_same_file_twice_gives_one_row(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given an archived frame
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    data = frame_bytes(frame)
    first = ingest_path(land(world.landing, frame, data), django_capture_on_commit_callbacks)
    # when the same bytes land again and are ingested
    again = land(world.landing, frame, data)
    second = ingest_path(again, django_capture_on_commit_callbacks)
    # then one row, the same, and the copy is gone from the landing area
    assert second.outcome == "duplicate"
    assert second.archive_file == first.archive_file
    assert ArchiveFile.objects.count() == 1
    assert not again.exists()
    assert not QuarantinedFile.objects.exists()


def test_a_flipped_data_byte_is_quarantined_with_checksum_in_the_reason(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a frame damaged on its way
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    damaged = flip_data_byte(frame_bytes(frame))
    path = land(world.landing, frame, damaged)
    # when
    result = ingest_path(path, django_capture_on_commit_callbacks)
    # then nothing archived; the file kept, byte for byte, in the quarantine with its reason
    assert result.outcome == "quarantined"
    assert not ArchiveFile.objects.exists()
    quarantined = QuarantinedFile.objects.get()
    assert "checksum" in quarantined.reason
    assert quarantined.file_name == frame.arcfile
    assert (world.root / quarantined.storage_path).read_bytes() == damaged
    assert not path.exists()
    assert Transfer.objects.get().status == TransferStatus.QUARANTINED


def test_a_different_file_under_an_existing_arcfile_is_refused(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given an archived frame
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    original = frame_bytes(frame)
    ingest_path(land(world.landing, frame, original), django_capture_on_commit_callbacks)
    archived = ArchiveFile.objects.get()
    # when another file arrives under its name
    impostor = header_changed(frame, {"OBJECT": "Not NGC 253"})
    result = ingest_path(land(world.landing, frame, impostor), django_capture_on_commit_callbacks)
    # then it is refused, kept in the quarantine, and the archived file is untouched
    assert result.outcome == "refused"
    assert ArchiveFile.objects.get() == archived
    assert (world.root / archived.storage_path).read_bytes() == original
    quarantined = QuarantinedFile.objects.get()
    assert "different file" in quarantined.reason and frame.arcfile in quarantined.reason
    assert (world.root / quarantined.storage_path).read_bytes() == impostor
    assert ArchiveEvent.objects.filter(kind=ArchiveEventKind.REFUSED).count() == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a fits file at all" * 200, "not a FITS file"),
        (None, "unknown programme 999.Z-0001"),
    ],
)
def test_a_bad_file_is_quarantined_with_its_reason(
    world: ArchiveWorld, django_capture_on_commit_callbacks, data: bytes | None, reason: str
) -> None:
    frame = execution_frames(run_id="999.Z-0001(A)", ob_id=world.ob.pk)[1]
    path = land(world.landing, frame, data)
    result = ingest_path(path, django_capture_on_commit_callbacks)
    assert result.outcome == "quarantined"
    assert reason in QuarantinedFile.objects.get().reason
    assert not ArchiveFile.objects.exists()


@time_machine.travel(INGEST_DAY, tick=False)
def test_a_science_file_is_released_after_the_proprietary_period_and_public_that_day(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a science frame ingested on 12 March 2027 (a normal programme: 12 months)
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    ingest_path(land(world.landing, frame), django_capture_on_commit_callbacks)
    archived = ArchiveFile.objects.get()
    # then it is released on 12 March 2028
    assert archived.release_date == dt.date(2028, 3, 12)
    # the day before: the PI and the co-investigator may download it, a stranger may not
    with time_machine.travel(dt.datetime(2028, 3, 11, 12, tzinfo=dt.UTC), tick=False):
        assert not access.is_public(archived)
        assert access.may_download(world.pi, archived)
        assert access.may_download(world.coi, archived)
        assert not access.may_download(world.stranger, archived)
    # that day: everyone
    with time_machine.travel(dt.datetime(2028, 3, 12, 12, tzinfo=dt.UTC), tick=False):
        assert access.is_public(archived)
        assert access.may_download(world.stranger, archived)


@time_machine.travel(INGEST_DAY, tick=False)
def test_a_ddt_programmes_file_is_released_after_its_shorter_period(
    db: None, storage: tuple[Path, Path], django_capture_on_commit_callbacks
) -> None:
    world = make_world(*storage, proposal_type="ddt")
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    ingest_path(land(world.landing, frame), django_capture_on_commit_callbacks)
    assert ArchiveFile.objects.get().release_date == dt.date(2027, 9, 12)


@time_machine.travel(INGEST_DAY, tick=False)
def test_a_calibration_is_public_at_once(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a night's bias frame
    path = land(world.landing, calibration_frames()[0])
    # when
    result = ingest_path(path, django_capture_on_commit_callbacks)
    # then it is public the day it is ingested, to anyone
    archived = result.archive_file
    assert archived is not None and archived.category == Category.CALIB
    assert archived.release_date == dt.date(2027, 3, 12)
    assert archived.proposal is None
    assert access.may_download(world.stranger, archived)


def test_staff_ingest_a_quarantined_file_again_once_its_programme_exists(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a frame quarantined for its unknown programme
    frame = execution_frames(run_id="130.C-0002(A)", ob_id=world.ob.pk)[1]
    ingest_path(land(world.landing, frame), django_capture_on_commit_callbacks)
    quarantined = QuarantinedFile.objects.get()
    # a stranger may not resolve it
    with pytest.raises(NotAllowed):
        services.quarantine_resolve(
            quarantined_id=quarantined.pk, actor=world.stranger, resolution="x"
        )
    # staff's retry is refused while the programme is unknown
    with pytest.raises(InvalidInput, match="unknown programme"):
        services.quarantine_resolve(
            quarantined_id=quarantined.pk, actor=world.staff, resolution="", reingest=True
        )
    # when the programme is corrected (here: the world's programme renamed) and staff retry
    type(world.proposal).objects.filter(pk=world.proposal.pk).update(programme_id="130.C-0002")
    with django_capture_on_commit_callbacks(execute=True):
        resolved = services.quarantine_resolve(
            quarantined_id=quarantined.pk, actor=world.staff, resolution="", reingest=True
        )
    # then the file is archived and the quarantine entry closed, its bytes still kept
    assert resolved.resolved_by == world.staff and "Ingested again" in resolved.resolution
    assert ArchiveFile.objects.get().proposal == world.proposal
    assert (world.root / quarantined.storage_path).exists()


def test_the_scan_takes_top_level_fits_files_only_and_ingests_them_through_the_task(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given frames, a writer's dot-file, a manifest folder and a non-FITS name
    frames = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)
    for frame in frames:
        land(world.landing, frame)
    (world.landing / ".FORS2.2027-03-11T00:00:00.000.fits.abcd.tmp").write_bytes(b"partial")
    (world.landing / ".manifests").mkdir()
    (world.landing / ".manifests" / "x.fits").write_bytes(b"x")
    (world.landing / "notes.txt").write_text("x")
    # when the scan task runs (Celery eager in tests) and its batches run on commit
    from archive.tasks_ingest import scan_landing

    with django_capture_on_commit_callbacks(execute=True):
        queued = scan_landing.delay().get()
    # then every frame is archived, the rest left alone, nothing quarantined
    assert queued == len(frames)
    assert ArchiveFile.objects.count() == len(frames)
    assert not QuarantinedFile.objects.exists()
    assert sorted(p.name for p in world.landing.iterdir()) == [
        ".FORS2.2027-03-11T00:00:00.000.fits.abcd.tmp",
        ".manifests",
        "notes.txt",
    ]
    # and scanning again finds nothing new
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_landing.delay().get() == 0
    assert Transfer.objects.filter(status=TransferStatus.INGESTED).count() == len(frames)


def test_science_is_queued_before_calibrations(world: ArchiveWorld) -> None:
    for frame in calibration_frames()[:1] + execution_frames(run_id=world.run_id)[1:2]:
        land(world.landing, frame)
    landing.landing_scan(queue=False)
    assert [t.priority for t in Transfer.objects.order_by("pk")] == [1, 3]


def test_a_redelivered_transfer_changes_nothing(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    land(world.landing, execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1])
    [transfer_id] = landing.landing_scan(queue=False)
    with django_capture_on_commit_callbacks(execute=True):
        first = landing.transfer_ingest(transfer_id=transfer_id)
        second = landing.transfer_ingest(transfer_id=transfer_id)
    assert (first.outcome, second.outcome) == ("ingested", "duplicate")
    assert ArchiveFile.objects.count() == 1 and ArchiveEvent.objects.count() == 1


def test_the_demo_walk_ingests_the_landing_area(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    from archive import demo

    for frame in execution_frames(run_id=world.run_id, ob_id=world.ob.pk):
        land(world.landing, frame)
    land(world.landing, calibration_frames()[0], b"broken" * 480)
    with django_capture_on_commit_callbacks(execute=True):
        summary = demo.walk()
    assert (summary.ingested, summary.quarantined) == (3, 1)
    assert summary.summary() == "3 files ingested, 1 quarantined"


def test_the_command_ingests_the_landing_area(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    from django.core.management import call_command

    for frame in execution_frames(run_id=world.run_id, ob_id=world.ob.pk):
        land(world.landing, frame)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("archive_ingest", stdout=out)
    assert "3 files from the landing area: 3 ingested." in out.getvalue()


def test_the_scan_queues_again_a_transfer_left_in_flight_too_long(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given a file whose transfer was queued twenty minutes ago and never ingested (the
    # message was lost)
    land(world.landing, execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1])
    [transfer_id] = landing.landing_scan(queue=False)
    Transfer.objects.filter(pk=transfer_id).update(
        queued_at=Transfer.objects.get().queued_at - dt.timedelta(minutes=20)
    )
    # when the next scan runs
    with django_capture_on_commit_callbacks(execute=True):
        new = landing.landing_scan(queue=True)
    # then it makes no second transfer but ingests the file through the first
    assert new == []
    assert Transfer.objects.get().status == TransferStatus.INGESTED
    assert ArchiveFile.objects.count() == 1
