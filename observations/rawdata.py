"""Raw data: a completed execution's frames and a night's calibrations, written as FITS files
into the landing area, where the archive's ingestion takes them.

The landing area is the directory ``settings.RAW_DATA_LANDING`` (environment variable
``DATAFLOW_RAW_DATA_LANDING``; ``var/landing/`` of the project in development, a temporary
directory in tests). Its layout::

    <landing>/<ARCFILE>                 a frame, e.g. FORS2.2027-03-11T04:05:06.789.fits
    <landing>/.<ARCFILE>.<random>.tmp   only while a write is under way
    <landing>/.manifests/execution-<id>.json
    <landing>/.manifests/calibrations-<telescope id>-<night>-<instrument id>.json

Ingestion should take ``*.fits`` at the top level only; dot-files are ours.

Atomic: every frame of a call is written to a temporary name, flushed and fsynced, and only
then published under its ``ARCFILE`` by a hard link (a rename that never replaces an existing
file) and the directory fsynced; if anything fails, the temporary files and the frames
published by that call are removed, so no half-written or partial set of files remains.

Idempotent: when a call has published its frames it writes a manifest (the file names, the
execution) under ``.manifests/``; a later call for the same execution (or the same
instrument's calibrations of that night) returns the manifest's paths and writes nothing,
even after ingestion has moved the files away. Names are deterministic (from the execution's
start, the OB's templates and the overheads), so a call interrupted by a crash after
publishing some frames but before its manifest picks up those frames (same ``ARCFILE``,
``ORIGFILE`` and OB) and writes the rest; a different file under one of its names is refused.
Calls are serialised by an exclusive lock on the ``.manifests`` directory.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from pathlib import Path

from astropy.io import fits
from django.conf import settings

from dataflow.errors import DomainError
from dataflow.observatory.models import Instrument, Telescope
from observations import parameters
from observations import rawdata_plan as plan
from observations.exectime import Overheads
from observations.models import Execution, OverheadModel
from observations.rules import ip_version_key

MANIFESTS = ".manifests"


class RawDataRefused(DomainError):
    """The frames cannot be written: the execution is not completed, or a different file
    already holds one of their names."""

    status_code = HTTPStatus.CONFLICT


def landing_dir() -> Path:
    """The landing area (``settings.RAW_DATA_LANDING``)."""
    return Path(settings.RAW_DATA_LANDING)


def write_execution_frames(*, execution_id: int) -> list[Path]:
    """Write a completed execution's raw frames to the landing area, once; their paths."""
    execution = Execution.objects.select_related(
        "visit__telescope__site", "ob__run__proposal", "ob__run__instrument"
    ).get(pk=execution_id)
    if not execution.grade or execution.aborted:
        raise RawDataRefused(
            f"Execution {execution_id} is not completed (no grade, or aborted): no raw data."
        )
    landing = landing_dir()
    with _locked(landing) as manifests:
        manifest = manifests / f"execution-{execution_id}.json"
        done = _read_manifest(landing, manifest)
        if done is not None:
            return done
        frames = plan.plan_execution(_execution_input(execution))
        paths = _publish(landing, frames)
        _write_manifest(
            manifest,
            {
                "execution_id": execution_id,
                "ob_id": execution.ob_id,
                "files": [p.name for p in paths],
            },
        )
    return paths


def write_night_calibrations(*, telescope_id: int, night: datetime.date) -> list[Path]:
    """Write the night's bias and flat frames of each instrument the telescope executed an
    OB with that night, once per instrument; their paths."""
    telescope = Telescope.objects.select_related("site").get(pk=telescope_id)
    used = Execution.objects.filter(visit__telescope_id=telescope_id, visit__night=night)
    instruments = Instrument.objects.filter(pk__in=used.values("ob__run__instrument")).order_by(
        "name", "pk"
    )
    site = telescope.site.as_astro()
    start = plan.calibration_start(site, night)
    landing = landing_dir()
    paths: list[Path] = []
    with _locked(landing) as manifests:
        for instrument in instruments:
            manifest = manifests / f"calibrations-{telescope_id}-{night}-{instrument.pk}.json"
            done = _read_manifest(landing, manifest)
            if done is None:
                frames = plan.plan_calibrations(
                    plan.CalibrationInput(
                        instrument=plan.archive_instrument_name(instrument.name),
                        telescope=telescope.name,
                        site=site,
                        technique=plan.technique_for("", instrument.observing_modes or []),
                        start=start,
                        readout_s=_readout_s(instrument),
                        seed=(telescope_id, night.toordinal(), instrument.pk),
                    )
                )
                done = _publish(landing, frames)
                _write_manifest(
                    manifest,
                    {
                        "telescope_id": telescope_id,
                        "night": night.isoformat(),
                        "instrument_id": instrument.pk,
                        "files": [p.name for p in done],
                    },
                )
            paths += done
    return paths


# --- from the database to the plan's inputs -------------------------------------------------


def _execution_input(execution: Execution) -> plan.ExecutionInput:
    ob, visit = execution.ob, execution.visit
    run = ob.run
    instrument = run.instrument
    programme_id = run.proposal.programme_id or f"#{run.proposal_id}"
    model = OverheadModel.objects.filter(instrument=instrument, ip_version=ob.ip_version).first()
    overheads = (
        Overheads(model.preset_s, model.acquisition_s, model.template_s, model.readout_s)
        if model
        else Overheads(0.0, 0.0, 0.0, 0.0)  # as the OB's execution time: exposures only
    )
    templates = []
    for template in ob.templates.select_related("signature").order_by("position", "pk"):
        signature = template.signature
        values = parameters.effective(signature.parameters, template.values)
        templates.append(
            plan.TemplateRun(
                tpl_id=signature.name,
                category=signature.type,
                dpr_type=plan.dpr_type_for(signature.name, signature.type),
                technique=plan.technique_for(signature.name, instrument.observing_modes or []),
                exposures_s=plan.template_exposures(signature.type, signature.exposure, values),
            )
        )
    name = plan.archive_instrument_name(instrument.name)
    return plan.ExecutionInput(
        instrument=name,
        telescope=visit.telescope.name,
        site=visit.telescope.site.as_astro(),
        target=plan.Target(
            name=ob.target_name or ob.name,
            ra_deg=ob.ra_deg if ob.ra_deg is not None else 0.0,
            dec_deg=ob.dec_deg if ob.dec_deg is not None else 0.0,
            equinox=plan.equinox_years(ob.equinox),
            pm_ra_arcsec_yr=ob.pm_ra,
            pm_dec_arcsec_yr=ob.pm_dec,
            epoch_jyear=ob.epoch,
        ),
        programme_id=programme_id,
        run_id=f"{programme_id}({run.letter})",
        ob_id=ob.pk,
        ob_name=ob.name,
        templates=tuple(templates),
        start=_execution_start(execution),
        overheads=overheads,
        seeing_arcsec=visit.seeing_arcsec,
        pixel_scale_arcsec=plan.PIXEL_SCALE_ARCSEC.get(name, plan.DEFAULT_PIXEL_SCALE),
        seed=execution.pk,
    )


def _execution_start(execution: Execution) -> datetime.datetime:
    """The visit's start plus the execution times of the OBs before this one in the visit (a
    concatenation's OBs run back to back): deterministic, so a second call plans the same
    names."""
    before = (
        Execution.objects.filter(visit_id=execution.visit_id, position__lt=execution.position)
        .select_related("ob")
        .only("ob__execution_time_s")
    )
    seconds = sum(e.ob.execution_time_s for e in before)
    return execution.visit.started_at + datetime.timedelta(seconds=seconds)


def _readout_s(instrument: Instrument) -> float:
    """The readout of the instrument's newest package version, s (0 without a model)."""
    models = list(OverheadModel.objects.filter(instrument=instrument))
    if not models:
        return 0.0
    return max(models, key=lambda m: ip_version_key(m.ip_version)).readout_s


# --- files -----------------------------------------------------------------------------------


def write_frame(hdul: fits.HDUList, path: Path) -> None:
    """Write one frame with its checksums to a new file and force it to disk."""
    # O_EXCL: never write into an existing file (astropy refuses the "xb" mode)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as f:
        hdul.writeto(f, checksum=True)
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _locked(landing: Path) -> Iterator[Path]:
    """The manifests directory, held under an exclusive lock (one writer at a time, across
    processes) for the duration."""
    manifests = landing / MANIFESTS
    manifests.mkdir(parents=True, exist_ok=True)
    fd = os.open(manifests, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield manifests
    finally:
        os.close(fd)  # releases the lock


def _read_manifest(landing: Path, manifest: Path) -> list[Path] | None:
    if not manifest.exists():
        return None
    names = json.loads(manifest.read_text())["files"]
    return [landing / name for name in names]


def _write_manifest(manifest: Path, content: dict[str, object]) -> None:
    tmp = manifest.with_name(f".{manifest.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x") as f:
            json.dump(content, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, manifest)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(manifest.parent)


def _publish(landing: Path, frames: Sequence[plan.Frame]) -> list[Path]:
    """Write the frames all or none (see the module's docstring); their final paths."""
    temps: list[tuple[Path, Path]] = []
    published: list[Path] = []
    try:
        for frame in frames:
            final = landing / frame.arcfile
            if final.exists():
                _ensure_same(final, frame)  # an interrupted earlier call published it
                continue
            tmp = landing / f".{frame.arcfile}.{secrets.token_hex(4)}.tmp"
            temps.append((tmp, final))
            write_frame(plan.build_hdul(frame), tmp)
        for tmp, final in temps:
            try:
                os.link(tmp, final)  # atomic, and never replaces a file that appeared since
            except FileExistsError:
                raise RawDataRefused(
                    f"{final.name} appeared in the landing area meanwhile."
                ) from None
            published.append(final)
        _fsync_dir(landing)
    except BaseException:
        for path in published:
            path.unlink(missing_ok=True)
        raise
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    return [landing / frame.arcfile for frame in frames]


_IDENTITY = ("ARCFILE", "ORIGFILE", "INSTRUME", "HIERARCH ESO OBS ID", "HIERARCH ESO OBS START")


def _ensure_same(path: Path, frame: plan.Frame) -> None:
    """Refuse a file under the frame's name unless it is that frame (same identity keywords)."""
    try:
        header = fits.getheader(path)
    except (OSError, ValueError) as error:
        raise RawDataRefused(f"{path.name} exists and is not a readable FITS file.") from error
    for keyword in _IDENTITY:
        if header.get(keyword) != frame.value(keyword):
            raise RawDataRefused(
                f"{path.name} exists in the landing area with another {keyword}: "
                f"{header.get(keyword)!r}, not {frame.value(keyword)!r}."
            )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
