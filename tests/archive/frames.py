"""FITS files for the archive's tests, made by the night's own frame planner
(``observations.rawdata_plan``), so the archive reads what the landing area really holds."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from astropy.io import fits

from dataflow.astro.site import Site
from observations import rawdata_plan as plan
from observations.exectime import Overheads

PARANAL = Site(
    name="Paranal",
    latitude_deg=-24.6272,
    longitude_deg=-70.4042,
    height_m=2635.0,
    timezone="America/Santiago",
)
START = dt.datetime(2027, 3, 11, 4, 5, 6, tzinfo=dt.UTC)


def execution_frames(
    *,
    run_id: str = "130.C-0001(A)",
    ob_id: int = 1,
    instrument: str = "FORS2",
    telescope: str = "UT1",
    start: dt.datetime = START,
    science_exposures: tuple[float, ...] = (60.0, 60.0),
    ra_deg: float = 11.888,
    dec_deg: float = -25.288,
) -> tuple[plan.Frame, ...]:
    """An acquisition and a science template's frames of one execution."""
    return plan.plan_execution(
        plan.ExecutionInput(
            instrument=instrument,
            telescope=telescope,
            site=PARANAL,
            target=plan.Target(name="NGC 253", ra_deg=ra_deg, dec_deg=dec_deg),
            programme_id=run_id.split("(")[0],
            run_id=run_id,
            ob_id=ob_id,
            ob_name="OB 1",
            templates=(
                plan.TemplateRun("FORS2_img_acq", "acquisition", "OBJECT", "IMAGE", (5.0,)),
                plan.TemplateRun("FORS2_img_obs", "science", "OBJECT", "IMAGE", science_exposures),
            ),
            start=start,
            overheads=Overheads(60.0, 120.0, 30.0, 20.0),
            seeing_arcsec=0.8,
            pixel_scale_arcsec=0.25,
            seed=ob_id,
        )
    )


def calibration_frames(
    *, instrument: str = "FORS2", start: dt.datetime = START + dt.timedelta(hours=7)
) -> tuple[plan.Frame, ...]:
    return plan.plan_calibrations(
        plan.CalibrationInput(
            instrument=instrument,
            telescope="UT1",
            site=PARANAL,
            technique="IMAGE",
            start=start,
            readout_s=20.0,
            seed=(1,),
            n_bias=2,
            n_flat=2,
        )
    )


def frame_bytes(frame: plan.Frame) -> bytes:
    """The frame as a file, with its checksums."""
    return header_changed(frame, {})


def header_changed(frame: plan.Frame, changes: dict[str, object]) -> bytes:
    """Like :func:`frame_bytes` with keywords spelled as in the header (``HIERARCH ESO ...``)."""
    hdul = plan.build_hdul(frame)
    for key, value in changes.items():
        if value is None:
            del hdul[0].header[key]
        else:
            hdul[0].header[key] = value
    buffer = io.BytesIO()
    hdul.writeto(buffer, checksum=True)
    return buffer.getvalue()


def flip_data_byte(data: bytes) -> bytes:
    """The file with one byte of its image flipped (headers untouched)."""
    header_end = len(fits.Header.fromstring(data.decode("ascii", "replace")).tostring())
    header_end = -(-header_end // 2880) * 2880
    position = header_end + 1001
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


def land(directory: Path, frame: plan.Frame, data: bytes | None = None) -> Path:
    """Put a frame into a landing directory under its ARCFILE."""
    path = directory / frame.arcfile
    path.write_bytes(frame_bytes(frame) if data is None else data)
    return path
