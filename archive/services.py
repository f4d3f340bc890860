"""The archive's one write path: ingesting a file (from the landing area, ``archive.landing``,
or an upload, ``archive.uploads``) and staff resolving the quarantine.

Storage (``settings.ARCHIVE_ROOT``): ``files/<INSTRUME>/<night>/<ARCFILE>`` for archived files,
``quarantine/<date>/<token>-<name>`` for refused ones. A file is written under its final name
before its row is committed and the landing area's copy removed only after the commit, so a
crash at any point leaves the file in the landing area, in storage, or both, never nowhere; a
rolled-back ingestion removes what it wrote. Concurrent ingestions of one ARCFILE (two
workers, a redelivered task) are serialised by a lock on its name (PostgreSQL advisory lock;
SQLite serialises writers anyway), so the same file twice is one row.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import secrets
import zlib
from http import HTTPStatus
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from archive import access, ingest
from archive.ingest import FrameInfo, IngestRefused
from archive.models import (
    ArchiveEvent,
    ArchiveEventKind,
    ArchiveFile,
    QuarantinedFile,
    QuarantineSource,
    Transfer,
    TransferStatus,
)
from dataflow.errors import DomainError, InvalidInput, NotAllowed
from dataflow.observatory.models import Instrument
from dataflow.permissions import is_staff_member
from observations.models import Execution, ObservationBlock
from observations.rawdata_plan import archive_instrument_name
from proposals.models import ObservingRun, Proposal

Outcome = Literal["ingested", "duplicate", "quarantined", "refused", "missing"]
#: Lower is sooner (the monitor's priority column).
PRIORITIES = {"SCIENCE": 1, "ACQUISITION": 2, "CALIB": 3}
UNREADABLE_PRIORITY = 4
FINISHED = (TransferStatus.INGESTED, TransferStatus.QUARANTINED)


class ArchiveConflict(DomainError):
    """A different file is archived under the same name."""

    status_code = HTTPStatus.CONFLICT


@dataclasses.dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    archive_file: ArchiveFile | None = None
    quarantined: QuarantinedFile | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Links:
    proposal: Proposal | None
    run: ObservingRun | None
    ob: ObservationBlock | None
    execution: Execution | None
    instrument: Instrument | None


@dataclasses.dataclass
class LinkCache:
    """Runs, OBs, instruments and executions already looked up, shared by the files of one
    batch (a night's frames name the same few): fewer queries per file. Runs and OBs are
    kept when found only, so a programme fixed meanwhile is seen."""

    runs: dict[tuple[str, str], ObservingRun] = dataclasses.field(default_factory=dict)
    obs: dict[tuple[int, int], ObservationBlock] = dataclasses.field(default_factory=dict)
    instruments: dict[tuple[str, str], Instrument | None] = dataclasses.field(default_factory=dict)
    #: By (OB id, OBS START): an execution's frames share both (misses too, for a batch).
    executions: dict[tuple[int, datetime.datetime], Execution | None] = dataclasses.field(
        default_factory=dict
    )


def archive_root() -> Path:
    return Path(settings.ARCHIVE_ROOT)


def landing_dir() -> Path:
    return Path(settings.RAW_DATA_LANDING)


# --- ingestion -------------------------------------------------------------------------------


def ingest_file(
    *,
    path: Path,
    source: str = QuarantineSource.LANDING,
    actor: User | None = None,
    transfer_id: int | None = None,
    cache: LinkCache | None = None,
) -> IngestResult:
    """Ingest one raw file: archived (its source removed after the commit), already archived
    (same bytes: one row), or quarantined with the reason (a different file under an existing
    ARCFILE, a broken checksum, not FITS, missing keywords, an unknown programme)."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        info = ingest.read_raw_frame(data)
    except IngestRefused as refused:
        return _quarantine_result(
            data, sha, path, source, actor, transfer_id, refused.reason, remove_source=True
        )
    return ingest_info(
        info, data, path=path, source=source, actor=actor, transfer_id=transfer_id, cache=cache
    )


def ingest_info(
    info: FrameInfo,
    data: bytes,
    *,
    path: Path | None,
    source: str,
    actor: User | None,
    transfer_id: int | None,
    cache: LinkCache | None = None,
) -> IngestResult:
    written: list[Path] = []
    try:
        with transaction.atomic():
            name_lock(info.arcfile)
            # No ordering: the model's default one costs more to compile than the lookup.
            found = ArchiveFile.objects.select_for_update().filter(arcfile=info.arcfile)
            existing = next(iter(found.order_by()[:1]), None)
            if existing is not None:
                if existing.sha256 == info.sha256:
                    if transfer_id is not None:  # a direct second call records no transfer
                        finish_transfer(
                            transfer_id, TransferStatus.INGESTED, archive_file=existing, info=info
                        )
                    _remove_on_commit(path)
                    return IngestResult("duplicate", archive_file=existing)
                reason = (
                    f"refused: a different file is archived under ARCFILE {info.arcfile} "
                    f"(archived sha256 {existing.sha256}, this one {info.sha256})"
                )
                quarantined = _quarantine(
                    data, info.sha256, _name(path, info), source, actor, reason, written
                )
                ArchiveEvent.objects.create(
                    kind=ArchiveEventKind.REFUSED,
                    actor=actor,
                    archive_file=existing,
                    quarantined=quarantined,
                    detail={"arcfile": info.arcfile, "reason": reason},
                )
                finish_transfer(
                    transfer_id, TransferStatus.QUARANTINED, quarantined=quarantined, info=info
                )
                _remove_on_commit(path)
                return IngestResult("refused", quarantined=quarantined, reason=reason)
            try:
                links = resolve_links(info, cache)
            except IngestRefused as refused:
                quarantined = _quarantine(
                    data, info.sha256, _name(path, info), source, actor, refused.reason, written
                )
                finish_transfer(
                    transfer_id, TransferStatus.QUARANTINED, quarantined=quarantined, info=info
                )
                _remove_on_commit(path)
                return IngestResult("quarantined", quarantined=quarantined, reason=refused.reason)
            relative = storage_path_for(info)
            target = archive_root() / relative
            _write(target, data, replace=True)  # no row names it (locked above): an orphan
            written.append(target)
            archive_file = _create_row(info, links, relative, actor)
            ArchiveEvent.objects.create(
                kind=ArchiveEventKind.INGESTED,
                actor=actor,
                archive_file=archive_file,
                detail={"source": str(source), "size": info.size_bytes},
            )
            finish_transfer(
                transfer_id,
                TransferStatus.INGESTED,
                archive_file=archive_file,
                info=info,
            )
            _remove_on_commit(path)
            return IngestResult("ingested", archive_file=archive_file)
    except BaseException:
        for stored in written:
            stored.unlink(missing_ok=True)
        raise


def _name(path: Path | None, info: FrameInfo) -> str:
    return path.name if path is not None else info.arcfile


def resolve_links(info: FrameInfo, cache: LinkCache | None = None) -> Links:
    """The programme, run, OB and execution a frame names; ``IngestRefused`` for an unknown
    programme, run or OB (an execution not found is left empty: the frame is still the
    programme's)."""
    cache = cache or LinkCache()
    instrument = _instrument(info.telescope_name, info.instrument_name, cache)
    if not info.programme_id:
        return Links(None, None, None, None, instrument)
    run = cache.runs.get((info.programme_id, info.run_letter))
    if run is None:
        run = (
            ObservingRun.objects.select_related("proposal", "instrument__telescope__site")
            .filter(proposal__programme_id=info.programme_id, letter=info.run_letter)
            .first()
        )
        if run is None:
            if not Proposal.objects.filter(programme_id=info.programme_id).exists():
                raise IngestRefused(
                    f"unknown programme {info.programme_id} (run id {info.prog_id})"
                )
            raise IngestRefused(f"unknown run {info.prog_id}: its programme has no such run")
        cache.runs[(info.programme_id, info.run_letter)] = run
    ob = None
    execution = None
    if info.ob_id is not None:
        ob = cache.obs.get((run.pk, info.ob_id))
        if ob is None:
            ob = ObservationBlock.objects.filter(pk=info.ob_id, run=run).first()
            if ob is None:
                raise IngestRefused(f"unknown OB {info.ob_id} in run {info.prog_id}")
            cache.obs[(run.pk, info.ob_id)] = ob
        key = (ob.pk, info.obs_start) if info.obs_start is not None else None
        if key is not None and key not in cache.executions:
            # OBS START is the execution's start: its visit's start, or later for the second
            # OB of a concatenation; the latest visit started by then is the execution's.
            cache.executions[key] = (
                Execution.objects.filter(
                    ob=ob, visit__started_at__lte=key[1] + datetime.timedelta(milliseconds=1)
                )
                .order_by("-visit__started_at")
                .first()
            )
        execution = cache.executions[key] if key is not None else None
    return Links(run.proposal, run, ob, execution, instrument or run.instrument)


def _instrument(telescope: str, name: str, cache: LinkCache) -> Instrument | None:
    key = (telescope, name)
    if key not in cache.instruments:
        found = None
        for instrument in Instrument.objects.filter(telescope__name=telescope).select_related(
            "telescope__site"
        ):
            if archive_instrument_name(instrument.name) == name:
                found = instrument
        cache.instruments[key] = found
    return cache.instruments[key]


def storage_path_for(info: FrameInfo) -> str:
    day = info.night or info.date_obs.date()
    instrument = "".join(c for c in info.instrument_name if c.isalnum()) or "UNKNOWN"
    return f"files/{instrument}/{day.isoformat()}/{info.arcfile}"


def _create_row(info: FrameInfo, links: Links, relative: str, actor: User | None) -> ArchiveFile:
    today = access.today()
    proposal_type = links.proposal.proposal_type if links.proposal else None
    night = info.night
    if night is None and links.instrument is not None:
        site = links.instrument.telescope.site
        night = ingest.night_of(info.date_obs, site.longitude_deg)
    return ArchiveFile.objects.create(
        dp_id=info.dp_id,
        arcfile=info.arcfile,
        origfile=info.origfile[:200],
        category=info.category,
        dpr_type=info.dpr_type,
        dpr_tech=info.dpr_tech,
        calib_level=info.calib_level,
        instrument_name=info.instrument_name,
        telescope_name=info.telescope_name,
        instrument=links.instrument,
        object_name=info.object_name,
        ra_deg=info.ra_deg,
        dec_deg=info.dec_deg,
        footprint=[list(corner) for corner in info.footprint] if info.footprint else None,
        fov_deg=info.fov_deg,
        date_obs=info.date_obs,
        t_min=info.t_min,
        t_max=info.t_max,
        exptime_s=info.exptime_s,
        prog_id=info.prog_id,
        proposal=links.proposal,
        run=links.run,
        ob=links.ob,
        execution=links.execution,
        night=night,
        sha256=info.sha256,
        size_bytes=info.size_bytes,
        storage_path=relative,
        header_text=info.header_text,
        ingested_at=timezone.now(),
        release_date=access.release_date(
            category=info.category, proposal_type=proposal_type, ingested_on=today
        ),
        uploaded_by=actor if info.calib_level > 1 else None,
        provenance=list(info.provenance),
    )


# --- quarantine ------------------------------------------------------------------------------


def _quarantine_result(
    data: bytes,
    sha: str,
    path: Path | None,
    source: str,
    actor: User | None,
    transfer_id: int | None,
    reason: str,
    *,
    remove_source: bool,
) -> IngestResult:
    written: list[Path] = []
    try:
        with transaction.atomic():
            quarantined = _quarantine(
                data, sha, path.name if path else "upload", source, actor, reason, written
            )
            finish_transfer(
                transfer_id,
                TransferStatus.QUARANTINED,
                quarantined=quarantined,
                file_name=quarantined.file_name,
                size=len(data),
            )
            if remove_source:
                _remove_on_commit(path)
            return IngestResult("quarantined", quarantined=quarantined, reason=reason)
    except BaseException:
        for stored in written:
            stored.unlink(missing_ok=True)
        raise


def _quarantine(
    data: bytes,
    sha: str,
    file_name: str,
    source: str,
    actor: User | None,
    reason: str,
    written: list[Path],
) -> QuarantinedFile:
    """Keep the bytes under quarantine/ with a row and an event (inside the caller's
    transaction; the caller removes what was written if it rolls back)."""
    safe = "".join(c if c.isalnum() or c in "._-:" else "_" for c in file_name)[:150] or "file"
    relative = f"quarantine/{timezone.now():%Y-%m-%d}/{secrets.token_hex(6)}-{safe}"
    target = archive_root() / relative
    _write(target, data, replace=False)
    written.append(target)
    quarantined = QuarantinedFile.objects.create(
        file_name=file_name[:255],
        storage_path=relative,
        reason=reason,
        sha256=sha,
        size_bytes=len(data),
        source=source,
        uploaded_by=actor,
    )
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.QUARANTINED,
        actor=actor,
        quarantined=quarantined,
        detail={"reason": reason, "file_name": file_name},
    )
    return quarantined


@transaction.atomic
def quarantine_resolve(
    *, quarantined_id: int, actor: User, resolution: str, reingest: bool = False
) -> QuarantinedFile:
    """Staff close a quarantined file with a note, or ingest it again (after fixing what it
    named, e.g. the programme); a second refusal keeps it quarantined and says why."""
    if not is_staff_member(actor):
        raise NotAllowed("Only observatory staff resolve the quarantine.")
    quarantined = QuarantinedFile.objects.select_for_update().get(pk=quarantined_id)
    if quarantined.resolved_at is not None:
        raise InvalidInput("This file is resolved already.", {"resolution": ["Resolved already."]})
    note = resolution.strip()
    if not note and not reingest:
        raise InvalidInput("Say how it was resolved.", {"resolution": ["This field is required."]})
    detail: dict[str, object] = {"resolution": note, "reingest": reingest}
    if reingest:
        data = (archive_root() / quarantined.storage_path).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        try:
            info = ingest.read_raw_frame(data)
            name_lock(info.arcfile)
            existing = ArchiveFile.objects.filter(arcfile=info.arcfile).first()
            if existing is not None and existing.sha256 != sha:
                raise IngestRefused(f"a different file is archived under {info.arcfile}")
            if existing is None:
                result = ingest_info(
                    info, data, path=None, source=quarantined.source, actor=actor, transfer_id=None
                )
                if result.archive_file is None:
                    raise IngestRefused(result.reason)
                existing = result.archive_file
        except IngestRefused as refused:
            raise InvalidInput(
                f"Still refused: {refused.reason}", {"reingest": [refused.reason]}
            ) from None
        detail["archive_file"] = existing.dp_id
        note = note or f"Ingested again as {existing.dp_id}."
    quarantined.resolved_at = timezone.now()
    quarantined.resolved_by = actor
    quarantined.resolution = note
    quarantined.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.RESOLVED, actor=actor, quarantined=quarantined, detail=detail
    )
    return quarantined


def finish_transfer(
    transfer_id: int | None,
    status: str,
    *,
    archive_file: ArchiveFile | None = None,
    quarantined: QuarantinedFile | None = None,
    info: FrameInfo | None = None,
    file_name: str = "",
    size: int = 0,
) -> None:
    """Close the file's transfer, or record one (a file ingested outside a scan: an upload, a
    direct call) so the monitor counts every file."""
    now = timezone.now()
    changes: dict[str, object] = {
        "status": status,
        "finished_at": now,
        "archive_file": archive_file,
        "quarantined": quarantined,
    }
    if info is not None:
        changes["night"] = archive_file.night if archive_file else info.night
        changes["instrument_name"] = info.instrument_name
        changes["priority"] = PRIORITIES.get(info.category, UNREADABLE_PRIORITY)
    if transfer_id is not None:
        Transfer.objects.filter(pk=transfer_id).update(**changes)
        return
    Transfer.objects.create(
        file_name=info.arcfile if info else file_name,
        size_bytes=info.size_bytes if info else size,
        queued_at=now,
        started_at=now,
        **changes,  # type: ignore[arg-type]
    )


# --- files and locks ---------------------------------------------------------------------------


def _write(target: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` under ``target`` durably: a temporary name, fsync, then the final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # never over another quarantined file
    finally:
        tmp.unlink(missing_ok=True)


def _remove_on_commit(path: Path | None) -> None:
    if path is not None:
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def name_lock(name: str) -> None:
    """Serialise writers of one name until the transaction ends (PostgreSQL); SQLite has one
    writer at a time already."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [4013, key])
