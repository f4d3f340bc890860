"""Raw data: a completed execution's frames and the night's calibrations land as FITS files
that open with astropy, verify their checksums and carry the archive's keywords; written all
or nothing, once."""

import datetime as dt
import shutil
import warnings
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dataflow.astro.nights import night_boundaries
from dataflow.astro.site import PARANAL
from dataflow.observatory.models import Instrument
from observations import rawdata, services
from observations import rawdata_plan as plan
from observations.exectime import Overheads, execution_time
from observations.models import (
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    OBStatus,
    QCGrade,
    Visit,
    VisitState,
)
from tests.factories import RunFactory
from tests.observations.conftest import Phase2

# The conftest's FORS2 overheads, s.
PRESET, ACQUISITION, SETUP, READOUT = 360.0, 120.0, 60.0, 30.0
# The OB below: an acquisition (5 s), 3 x 1200 s imaging, one 600 s spectrum.
EXPTIMES = [5.0, 1200.0, 1200.0, 1200.0, 600.0]
SEEING = 0.7


@pytest.fixture
def landing(settings: Any, tmp_path: Path) -> Path:
    settings.RAW_DATA_LANDING = tmp_path / "landing"
    return tmp_path / "landing"


def _accepted_ob(phase2: Phase2, name: str = "NGC 253 deep") -> ObservationBlock:
    ob = services.ob_create(container_id=phase2.root(phase2.sm).pk, name=name, actor=phase2.pi)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    image = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=image.pk,
        values={"INS.FILT": "R_SPECIAL", "DET.DIT": 1200.0, "SEQ.NEXPO": 3},
        actor=phase2.pi,
    )
    services.template_add(ob_id=ob.pk, signature_name="FORS2_spec_obs", actor=phase2.pi)
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    services.ob_accept(ob_id=ob.pk, actor=phase2.staff)
    return ObservationBlock.objects.get(pk=ob.pk)


def _night(phase2: Phase2) -> dt.date:
    return phase2.proposal.period.start


def _execute(
    phase2: Phase2,
    ob: ObservationBlock,
    *,
    grade: str = QCGrade.A,
    aborted: bool = False,
    night: dt.date | None = None,
    hour: int = 3,
) -> Execution:
    """A finished visit of ``ob`` starting at ``hour`` UTC the morning after ``night`` (the
    target is then high at Paranal), built directly: the night services are not used here."""
    night = night or _night(phase2)
    started = dt.datetime.combine(
        night + dt.timedelta(days=1), dt.time(hour, 0, 0, 250_400), dt.UTC
    )
    ended = started + dt.timedelta(seconds=ob.execution_time_s)
    visit = Visit.objects.create(
        telescope=ob.run.telescope,
        night=night,
        started_at=started,
        ended_at=ended,
        state=VisitState.ABORTED if aborted else VisitState.DONE,
        seeing_arcsec=SEEING,
        operator=phase2.staff,
    )
    return Execution.objects.create(
        visit=visit,
        ob=ob,
        status_before=OBStatus.ACCEPTED,
        ended_at=ended,
        grade="" if aborted else grade,
        aborted=aborted,
        charged_s=round(ob.execution_time_s),
    )


def _headers(paths: list[Path]) -> list[fits.Header]:
    return [fits.getheader(p) for p in paths]


def _fits_in(landing: Path) -> list[str]:
    return sorted(p.name for p in landing.iterdir() if p.name != rawdata.MANIFESTS)


# --- the files -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_completed_execution_writes_one_valid_file_per_exposure(
    phase2: Phase2, landing: Path
) -> None:
    # given
    ob = _accepted_ob(phase2)
    execution = _execute(phase2, ob)
    # when
    paths = rawdata.write_execution_frames(execution_id=execution.pk)
    # then: one file per exposure, as the execution time counts them, plus the acquisition's
    templates = [
        (t.signature.type, t.signature.exposure, t.values)
        for t in ob.templates.select_related("signature")
    ]
    assert len(paths) == execution_time(Overheads(0, 0, 0, 0), templates).n_exposures + 1 == 5
    assert _fits_in(landing) == sorted(p.name for p in paths)
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a checksum mismatch is only a warning in astropy
            with fits.open(path, checksum=True) as hdul:
                hdul.verify("exception")
                assert hdul[0].data.shape == (64, 64) and hdul[0].data.dtype == np.dtype(">i2")
                assert hdul[0].header["CHECKSUM"] and hdul[0].header["DATASUM"]


@pytest.mark.django_db
def test_the_headers_carry_what_the_archive_needs(phase2: Phase2, landing: Path) -> None:
    # given
    ob = _accepted_ob(phase2)
    execution = _execute(phase2, ob)
    # when
    paths = rawdata.write_execution_frames(execution_id=execution.pk)
    headers = _headers(paths)
    # then
    for path, h in zip(paths, headers, strict=True):
        assert h["ARCFILE"] == path.name
        assert plan.ARCFILE_PATTERN.match(h["ARCFILE"])
        assert h["ARCFILE"] == f"FORS2.{h['DATE-OBS']}.fits"
        assert (h["INSTRUME"], h["TELESCOP"], h["ORIGIN"]) == ("FORS2", "UT1", "ESO-PARANAL")
        assert (h["OBJECT"], h["EQUINOX"], h["RADESYS"]) == ("NGC 253", 2000.0, "ICRS")
        # the Phase 1 target moved by its proper motion (5 mas/yr in RA) since J2000
        assert h["RA"] == pytest.approx(11.888, abs=1e-4) and h["RA"] != 11.888
        assert h["DEC"] == pytest.approx(-25.288, abs=1e-6)
        assert h["MJD-OBS"] == pytest.approx(Time(h["DATE-OBS"], scale="utc").mjd, abs=1e-9)
        assert h["HIERARCH ESO OBS ID"] == ob.pk
        assert h["HIERARCH ESO OBS NAME"] == "NGC 253 deep"
        assert h["HIERARCH ESO OBS PROG ID"] == "130.C-0001(A)"
        assert h["HIERARCH ESO TEL AMBI FWHM START"] == SEEING
        assert h["ORIGFILE"].startswith(f"FORS2_OB{ob.pk}_")
    assert [h["EXPTIME"] for h in headers] == EXPTIMES
    assert [h["HIERARCH ESO TPL ID"] for h in headers] == [
        "FORS2_img_acq",
        *["FORS2_img_obs"] * 3,
        "FORS2_spec_obs",
    ]
    assert [h["HIERARCH ESO TPL EXPNO"] for h in headers] == [1, 1, 2, 3, 1]
    assert [h["HIERARCH ESO OBS TPLNO"] for h in headers] == [1, 2, 2, 2, 3]
    assert [h["HIERARCH ESO DPR CATG"] for h in headers] == ["ACQUISITION", *["SCIENCE"] * 4]
    assert {h["HIERARCH ESO DPR TYPE"] for h in headers} == {"OBJECT"}
    assert [h["HIERARCH ESO DPR TECH"] for h in headers] == [*["IMAGE"] * 4, "SPECTRUM"]


@pytest.mark.django_db
def test_frames_follow_the_execution_timeline(phase2: Phase2, landing: Path) -> None:
    # given: the visit starts at 03:00:00.2504 UTC (kept to the millisecond)
    ob = _accepted_ob(phase2)
    execution = _execute(phase2, ob)
    start = execution.visit.started_at
    # when
    headers = _headers(rawdata.write_execution_frames(execution_id=execution.pk))
    # then: preset, acquisition, then per template a setup and per exposure exposure + readout
    dates = [dt.datetime.fromisoformat(h["DATE-OBS"]).replace(tzinfo=dt.UTC) for h in headers]
    assert {h["HIERARCH ESO OBS START"] for h in headers} == {
        start.isoformat(timespec="milliseconds").removesuffix("+00:00")
    }
    expected = [PRESET]
    expected.append(expected[-1] + ACQUISITION + SETUP)
    expected.append(expected[-1] + 1200 + READOUT)
    expected.append(expected[-1] + 1200 + READOUT)
    expected.append(expected[-1] + 1200 + READOUT + SETUP)
    assert [(d - start).total_seconds() for d in dates] == pytest.approx(expected, abs=1e-3)
    assert dates == sorted(set(dates))
    end = dates[-1] + dt.timedelta(seconds=600 + READOUT)
    assert (end - start).total_seconds() == pytest.approx(ob.execution_time_s, abs=1e-3)


@pytest.mark.django_db
def test_the_airmass_is_the_targets_at_each_exposure(phase2: Phase2, landing: Path) -> None:
    # given
    execution = _execute(phase2, _accepted_ob(phase2))
    # when
    headers = _headers(rawdata.write_execution_frames(execution_id=execution.pk))
    # then: astropy's sec z (no refraction) agrees with our Kasten & Young airmass to 0.005
    for h in headers:
        for keyword, offset in (("START", 0.0), ("END", h["EXPTIME"])):
            when = Time(h["DATE-OBS"], scale="utc") + offset * u.s
            frame = AltAz(obstime=when, location=PARANAL.location, pressure=0 * u.hPa)
            secz = SkyCoord(h["RA"] * u.deg, h["DEC"] * u.deg).transform_to(frame).secz
            assert 1.0 < h[f"HIERARCH ESO TEL AIRM {keyword}"] < 2.0
            assert h[f"HIERARCH ESO TEL AIRM {keyword}"] == pytest.approx(float(secz), abs=5e-3)


@pytest.mark.django_db
def test_the_wcs_puts_the_target_at_the_reference_pixel_where_the_star_is(
    phase2: Phase2, landing: Path
) -> None:
    # given
    execution = _execute(phase2, _accepted_ob(phase2))
    # when
    paths = rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    for path in paths:
        with fits.open(path) as hdul:
            header, data = hdul[0].header, hdul[0].data
            wcs = WCS(header)
            x, y = wcs.world_to_pixel(SkyCoord(header["RA"] * u.deg, header["DEC"] * u.deg))
            assert (float(x), float(y)) == pytest.approx(
                (header["CRPIX1"] - 1, header["CRPIX2"] - 1), abs=1e-9
            )
            assert wcs.proj_plane_pixel_scales()[0].to_value(u.arcsec) == pytest.approx(0.25)
            corners = SkyCoord(wcs.calc_footprint() * u.deg)
            target = SkyCoord(header["RA"] * u.deg, header["DEC"] * u.deg)
            # a 16 arcsec square around the target: corners 8 * sqrt(2) arcsec away
            assert target.separation(corners).arcsec == pytest.approx([11.3] * 4, abs=0.2)
            row, column = np.unravel_index(np.argmax(data), data.shape)
            assert abs(column - x) <= 1 and abs(row - y) <= 1


def test_a_flipped_data_byte_fails_the_checksum(tmp_path: Path) -> None:
    # given: a frame written as the service writes it
    frame = _pure_plan()[1]
    path = tmp_path / frame.arcfile
    rawdata.write_frame(plan.build_hdul(frame), path)
    with fits.open(path) as hdul:
        data_at = hdul.fileinfo(0)["datLoc"]
    content = bytearray(path.read_bytes())
    # when
    content[data_at + 1000] ^= 0x01
    path.write_bytes(bytes(content))
    # then: both the header's CHECKSUM and the data's DATASUM disagree
    with pytest.warns(AstropyUserWarning) as caught, fits.open(path, checksum=True) as hdul:
        hdul[0].data.sum()
    messages = " ".join(str(w.message) for w in caught)
    assert "Checksum verification failed" in messages
    assert "Datasum verification failed" in messages


# --- all or nothing, once ------------------------------------------------------------------------


@pytest.mark.django_db
def test_writing_twice_writes_nothing_more(phase2: Phase2, landing: Path) -> None:
    # given
    execution = _execute(phase2, _accepted_ob(phase2))
    first = rawdata.write_execution_frames(execution_id=execution.pk)
    stamps = {p.name: p.stat().st_mtime_ns for p in first}
    # when
    again = rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in again} == stamps
    assert _fits_in(landing) == sorted(stamps)


@pytest.mark.django_db
def test_frames_taken_away_by_ingestion_are_not_written_again(
    phase2: Phase2, landing: Path, tmp_path: Path
) -> None:
    # given: the archive moved the frames out of the landing area
    execution = _execute(phase2, _accepted_ob(phase2))
    first = rawdata.write_execution_frames(execution_id=execution.pk)
    archive = tmp_path / "archive"
    archive.mkdir()
    for path in first:
        shutil.move(path, archive / path.name)
    # when
    again = rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    assert again == first
    assert _fits_in(landing) == []


@pytest.mark.django_db
def test_a_failure_mid_way_leaves_no_file_behind(
    phase2: Phase2, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the disk fills up while the second frame is being written
    execution = _execute(phase2, _accepted_ob(phase2))
    real = rawdata.write_frame
    calls = []

    def failing(hdul: fits.HDUList, path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:
            path.write_bytes(b"SIMPLE  =                    T")  # half a header
            raise OSError(28, "No space left on device")
        real(hdul, path)

    monkeypatch.setattr(rawdata, "write_frame", failing)
    # when
    with pytest.raises(OSError, match="No space left"):
        rawdata.write_execution_frames(execution_id=execution.pk)
    # then: neither frames nor temporary files nor a manifest
    assert len(calls) == 2
    assert _fits_in(landing) == []
    assert list((landing / rawdata.MANIFESTS).iterdir()) == []
    # and the next attempt writes them all
    monkeypatch.setattr(rawdata, "write_frame", real)
    assert len(rawdata.write_execution_frames(execution_id=execution.pk)) == 5


@pytest.mark.django_db
def test_a_failure_while_publishing_takes_back_what_was_published(
    phase2: Phase2, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the third frame's name is taken by a file that appears while the frames are written
    execution = _execute(phase2, _accepted_ob(phase2))
    names = [f.arcfile for f in plan.plan_execution(rawdata._execution_input(execution))]
    real = rawdata.write_frame

    def intruding(hdul: fits.HDUList, path: Path) -> None:
        real(hdul, path)
        if hdul[0].header["ARCFILE"] == names[-1]:
            (landing / names[2]).write_bytes(b"someone else's")

    monkeypatch.setattr(rawdata, "write_frame", intruding)
    # when
    with pytest.raises(rawdata.RawDataRefused, match="appeared"):
        rawdata.write_execution_frames(execution_id=execution.pk)
    # then: the two frames published before are taken back; the other file is left alone
    assert _fits_in(landing) == [names[2]]
    assert (landing / names[2]).read_bytes() == b"someone else's"


@pytest.mark.django_db
def test_a_different_file_under_a_frames_name_is_refused(phase2: Phase2, landing: Path) -> None:
    # given
    execution = _execute(phase2, _accepted_ob(phase2))
    name = plan.plan_execution(rawdata._execution_input(execution))[0].arcfile
    other = _pure_plan()[0]
    landing.mkdir(parents=True)
    rawdata.write_frame(plan.build_hdul(other), landing / name)
    # when
    with pytest.raises(rawdata.RawDataRefused, match="another ARCFILE"):
        rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    assert _fits_in(landing) == [name]


@pytest.mark.django_db
def test_an_interrupted_write_is_completed_without_rewriting_what_was_published(
    phase2: Phase2, landing: Path
) -> None:
    # given: a crash after two frames were published, before the manifest
    execution = _execute(phase2, _accepted_ob(phase2))
    paths = rawdata.write_execution_frames(execution_id=execution.pk)
    (landing / rawdata.MANIFESTS / f"execution-{execution.pk}.json").unlink()
    for path in paths[2:]:
        path.unlink()
    kept = {p.name: p.stat().st_ino for p in paths[:2]}
    # when
    again = rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    assert again == paths and all(p.exists() for p in paths)
    assert {p.name: p.stat().st_ino for p in paths[:2]} == kept
    for path in again:
        with fits.open(path, checksum=True) as hdul:
            hdul.verify("exception")


@pytest.mark.django_db
@pytest.mark.parametrize("aborted", [False, True])
def test_an_execution_without_a_grade_has_no_raw_data(
    phase2: Phase2, landing: Path, aborted: bool
) -> None:
    # given: aborted, or not yet graded
    execution = _execute(phase2, _accepted_ob(phase2), aborted=aborted)
    if not aborted:
        Execution.objects.filter(pk=execution.pk).update(grade="")
    # when
    with pytest.raises(rawdata.RawDataRefused, match="not completed"):
        rawdata.write_execution_frames(execution_id=execution.pk)
    # then
    assert not landing.exists() or _fits_in(landing) == []


@pytest.mark.django_db
def test_a_concatenations_second_ob_starts_after_the_first_ones_execution_time(
    phase2: Phase2, landing: Path
) -> None:
    # given: two OBs executed back to back in one visit
    first = _execute(phase2, _accepted_ob(phase2, "one"))
    second_ob = _accepted_ob(phase2, "two")
    second = Execution.objects.create(
        visit=first.visit, ob=second_ob, position=1, status_before=OBStatus.ACCEPTED,
        ended_at=first.ended_at, grade=QCGrade.B,
    )  # fmt: skip
    # when
    one = _headers(rawdata.write_execution_frames(execution_id=first.pk))
    two = _headers(rawdata.write_execution_frames(execution_id=second.pk))
    # then
    assert one[-1]["DATE-OBS"] < two[0]["DATE-OBS"]
    started = dt.datetime.fromisoformat(two[0]["HIERARCH ESO OBS START"])
    assert (started - first.visit.started_at.replace(tzinfo=None)).total_seconds() == (
        pytest.approx(first.ob.execution_time_s, abs=1e-3)
    )
    assert len({h["ARCFILE"] for h in one + two}) == 10


# --- the night's calibrations ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_nights_calibrations_cover_each_instrument_used(phase2: Phase2, landing: Path) -> None:
    # given: FORS2 executed tonight; KMOS (same telescope) executed only on another night
    ob = _accepted_ob(phase2)
    execution = _execute(phase2, ob)
    night = _night(phase2)
    kmos = Instrument.objects.create(telescope=ob.run.telescope, name="KMOS")
    _execute(phase2, _ob_of(phase2, kmos), night=night + dt.timedelta(days=1))
    # when
    paths = rawdata.write_night_calibrations(telescope_id=execution.visit.telescope_id, night=night)
    # then: five biases and five lamp flats of FORS2, after the night's sunrise
    headers = _headers(paths)
    assert {h["INSTRUME"] for h in headers} == {"FORS2"}
    assert [h["HIERARCH ESO DPR TYPE"] for h in headers] == ["BIAS"] * 5 + ["FLAT,LAMP"] * 5
    assert [h["EXPTIME"] for h in headers] == [0.0] * 5 + [10.0] * 5
    assert {h["HIERARCH ESO DPR CATG"] for h in headers} == {"CALIB"}
    assert {h["OBJECT"] for h in headers} == {"BIAS", "FLAT"}
    sunrise = night_boundaries(PARANAL, night).sunrise
    for path, h in zip(paths, headers, strict=True):
        assert h["ARCFILE"] == path.name and plan.ARCFILE_PATTERN.match(path.name)
        assert Time(h["DATE-OBS"], scale="utc") > sunrise
        assert "RA" not in h and "HIERARCH ESO OBS PROG ID" not in h
        with fits.open(path, checksum=True) as hdul:
            hdul.verify("exception")
    assert len({h["DATE-OBS"] for h in headers}) == 10


@pytest.mark.django_db
def test_calibrations_are_written_once_and_a_new_instrument_gets_its_own(
    phase2: Phase2, landing: Path
) -> None:
    # given: FORS2's calibrations written; later that night KMOS is used too
    ob = _accepted_ob(phase2)
    execution = _execute(phase2, ob)
    telescope_id, night = execution.visit.telescope_id, _night(phase2)
    first = rawdata.write_night_calibrations(telescope_id=telescope_id, night=night)
    stamps = {p.name: p.stat().st_mtime_ns for p in first}
    kmos = Instrument.objects.create(telescope=ob.run.telescope, name="KMOS")
    _execute(phase2, _ob_of(phase2, kmos), hour=8)
    # when
    again = rawdata.write_night_calibrations(telescope_id=telescope_id, night=night)
    # then
    assert again[:10] == first and len(again) == 20
    assert {p.name: p.stat().st_mtime_ns for p in first} == stamps
    assert {h["INSTRUME"] for h in _headers(again[10:])} == {"KMOS"}
    assert rawdata.write_night_calibrations(telescope_id=telescope_id, night=night) == again


@pytest.mark.django_db
def test_a_night_without_executions_has_no_calibrations(phase2: Phase2, landing: Path) -> None:
    # when
    paths = rawdata.write_night_calibrations(
        telescope_id=phase2.sm.telescope_id, night=_night(phase2)
    )
    # then
    assert paths == []


def _ob_of(phase2: Phase2, instrument: Instrument) -> ObservationBlock:
    """An accepted OB of a run on ``instrument`` (its templates do not matter here)."""
    run = RunFactory.create(
        proposal=phase2.proposal, letter="C", telescope=instrument.telescope, instrument=instrument
    )
    root = Container.objects.create(run=run, item_type=ItemType.FOLDER, name=str(run))
    return ObservationBlock.objects.create(
        run=run, container=root, name="K", status=OBStatus.ACCEPTED, ra_deg=11.9, dec_deg=-25.3
    )


# --- the pure plan ------------------------------------------------------------------------------


def _pure_plan(
    templates: tuple[plan.TemplateRun, ...] | None = None, **changes: Any
) -> tuple[plan.Frame, ...]:
    values: dict[str, Any] = {
        "instrument": "HAWKI",
        "telescope": "UT4",
        "site": PARANAL,
        "target": plan.Target("Field", 150.0, -30.0),
        "programme_id": "130.D-0002",
        "run_id": "130.D-0002(B)",
        "ob_id": 42,
        "ob_name": "Ñandú field",
        "templates": templates
        or (
            plan.TemplateRun("HAWKI_img_acq_Preset", "acquisition", "OBJECT", "IMAGE", (2.0,)),
            plan.TemplateRun("HAWKI_img_obs_AutoJitter", "science", "OBJECT", "IMAGE", (60.0,) * 3),
        ),
        "start": dt.datetime(2027, 3, 11, 4, 0, 0, tzinfo=dt.UTC),
        "overheads": Overheads(360.0, 180.0, 30.0, 10.0),
        "seeing_arcsec": None,
        "pixel_scale_arcsec": 0.106,
        "seed": 1,
    }
    values.update(changes)
    return plan.plan_execution(plan.ExecutionInput(**values))


def test_instrument_names_become_letters_and_digits() -> None:
    assert plan.archive_instrument_name("HAWK-I") == "HAWKI"
    assert plan.archive_instrument_name("4most") == "4MOST"
    with pytest.raises(ValueError):
        plan.archive_instrument_name("--")


def test_an_unknown_seeing_and_text_beyond_ascii_are_written_as_fits_allows() -> None:
    # given
    frame = _pure_plan()[0]
    # when
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        header = plan.build_hdul(frame)[0].header
    # then
    assert header["HIERARCH ESO OBS NAME"] == "Nandu field"
    assert header["HIERARCH ESO TEL AMBI FWHM START"] == plan.UNKNOWN


def test_techniques_and_calibration_types_come_from_template_names_or_the_instrument() -> None:
    assert plan.technique_for("FORS2_lss_obs", ["imaging", "LSS"]) == "SPECTRUM"
    assert plan.technique_for("FORS2_img_obs_offset", []) == "IMAGE"
    assert plan.technique_for("FORS2_ipol_obs", []) == "POLARIMETRY"
    assert plan.technique_for("4MOST_obs_exp", ["LRS", "HRS"]) == "SPECTRUM"
    assert plan.technique_for("MUSE_wfm-noao_obs_genericoffset", ["WFM", "NFM"]) == "IFU"
    assert plan.technique_for("VIRCAM_img_obs_paw", ["imaging"]) == "IMAGE"
    assert plan.dpr_type_for("FORS2_lss_cal_arcs", "calibration") == "WAVE"
    assert plan.dpr_type_for("UVES_dic1_cal_flatatt", "calibration") == "FLAT"
    assert plan.dpr_type_for("HAWKI_img_cal_Darks", "calibration") == "DARK"
    assert plan.dpr_type_for("FORS2_lss_cal_flat", "science") == "OBJECT"


def test_exposures_are_counted_as_the_execution_time_counts_them() -> None:
    # coadds lengthen an exposure; list counts count their elements
    kmos = {"time": "DET.SEQ1.DIT", "coadds": ["DET.NDIT"], "count": ["SEQ.NABCYCLES"]}
    values: dict[str, Any] = {"DET.SEQ1.DIT": 10.0, "DET.NDIT": 6, "SEQ.NABCYCLES": 4}
    assert plan.template_exposures("science", kmos, values) == (60.0,) * 4
    pol = {"time": "DET.WIN1.UIT1", "count": ["SEQ.NEXPO", "INS.RETA2.POSANG"]}
    values = {"DET.WIN1.UIT1": 30.0, "SEQ.NEXPO": 2, "INS.RETA2.POSANG": [0, 22.5, 45, 67.5]}
    assert plan.template_exposures("science", pol, values) == (30.0,) * 8
    assert plan.template_exposures("calibration", {}, {"SEQ.NEXPO": 5}) == ()
    assert plan.template_exposures("acquisition", {}, {"DET.WIN1.UIT1": 3}) == (3.0,)
    assert plan.template_exposures("acquisition", {}, {}) == (plan.DEFAULT_ACQUISITION_S,)


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    exposures=st.lists(st.sampled_from([0.0, 0.0004, 0.5, 1.0, 30.0]), min_size=1, max_size=12),
    readout=st.sampled_from([0.0, 0.0002, 10.0]),
)
def test_frames_never_share_a_name_and_their_dates_increase(
    exposures: list[float], readout: float
) -> None:
    # given: exposures and readouts down to zero and below a millisecond
    templates = (plan.TemplateRun("X_cal_bias", "calibration", "BIAS", "IMAGE", tuple(exposures)),)
    # when
    frames = _pure_plan(templates, overheads=Overheads(0.0, 0.0, 0.0, readout))
    # then
    names = [f.arcfile for f in frames]
    dates = [str(f.value("DATE-OBS")) for f in frames]
    assert len(set(names)) == len(names) == len(exposures)
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert all(plan.ARCFILE_PATTERN.match(name) for name in names)


def test_frames_are_the_same_when_planned_again() -> None:
    first, second = _pure_plan(), _pure_plan()
    assert first == second
    assert all(
        np.array_equal(plan.image_data(a.image), plan.image_data(b.image))
        for a, b in zip(first, second, strict=True)
    )
    assert not np.array_equal(plan.image_data(first[1].image), plan.image_data(first[2].image))
