"""External products (ESO's Phase 3): an authenticated upload checked like a raw file, then
against the keyword standard (``archive.keyword_standard``), by an investigator of its
programme or staff, and ingested through the one write path (``archive.services``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from archive import ingest
from archive import keyword_standard as standard_mod
from archive.ingest import IngestRefused
from archive.models import ArchiveFile, QuarantineSource
from archive.services import (
    ArchiveConflict,
    IngestResult,
    ingest_info,
    name_lock,
    resolve_links,
)
from dataflow.errors import InvalidInput, NotAllowed
from dataflow.permissions import is_investigator, is_staff_member
from proposals.models import Proposal


def product_upload(*, data: bytes, file_name: str, actor: User) -> IngestResult:
    """An external product (Phase 3): the raw files' checks, then its header against the
    keyword standard (every problem at once), the uploader an investigator of its programme
    or staff. Refused uploads are answered with the problems and store nothing (the uploader
    holds the file); the same bytes twice are one row."""
    sha = hashlib.sha256(data).hexdigest()
    try:
        hdus, _ = ingest.read_file(data)
    except IngestRefused as refused:
        raise InvalidInput(f"Refused: {refused.reason}", {"file": [refused.reason]}) from None
    header = hdus[0].header
    standard = keyword_standard()
    checked = standard_mod.validate(header, standard, archived=_archived_names)
    if not checked.ok:
        raise InvalidInput(
            "The header does not meet the keyword standard "
            f"({len(checked.problems)} keywords with problems).",
            {key: list(messages) for key, messages in checked.problems.items()},
        )
    run_id = str(header.get(standard.run_keyword) or "").strip()
    match = ingest.RUN_ID_PATTERN.match(run_id)
    if match is None:
        raise InvalidInput(
            "The product names no run.",
            {standard.run_keyword: ["must name the run, like 130.C-0001(A)"]},
        )
    level = header.get("PRODLVL")
    try:
        with transaction.atomic():
            name_lock(f"sha256:{sha}")
            existing = ArchiveFile.objects.filter(sha256=sha, calib_level__gt=1).first()
            if existing is not None:
                _check_uploader(actor, existing.proposal)
                return IngestResult("duplicate", archive_file=existing)
            now = timezone.now()
            arcfile = f"ADP.{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}.fits"
            info = ingest.product_info(
                data,
                hdus,
                sha,
                arcfile=arcfile,
                programme=match["programme"],
                letter=match["letter"],
                calib_level=level if isinstance(level, int) and level in (2, 3) else 2,
                provenance=checked.provenance,
            )
            links = resolve_links(info)
            _check_uploader(actor, links.proposal)
            if ArchiveFile.objects.filter(arcfile=arcfile).exists():
                raise ArchiveConflict("Another product was archived this millisecond: send again.")
            return ingest_info(
                info, data, path=None, source=QuarantineSource.UPLOAD, actor=actor, transfer_id=None
            )
    except IngestRefused as refused:
        raise InvalidInput(f"Refused: {refused.reason}", {"file": [refused.reason]}) from None


def _check_uploader(actor: User, proposal: Proposal | None) -> None:
    if is_staff_member(actor):
        return
    if proposal is None or not is_investigator(actor, proposal):
        raise NotAllowed("Only the programme's investigators and staff deliver its products.")


def keyword_standard() -> standard_mod.KeywordStandard:
    """The configured standard (``settings.ARCHIVE_KEYWORD_STANDARD``), else the default."""
    return standard_mod.standard_from_config(getattr(settings, "ARCHIVE_KEYWORD_STANDARD", None))


def _archived_names(names: Sequence[str]) -> set[str]:
    return set(ArchiveFile.objects.filter(dp_id__in=list(names)).values_list("dp_id", flat=True))
