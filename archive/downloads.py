"""Writes of the download side: the basket, and download requests (ESO's request handler).

A request names files the user may download when asking; a Celery task prepares it (each file
checked on disk against its sha256, the progress bar counting files) and it is delivered as a
zip streamed on the fly or a download script (:mod:`archive.delivery`), where access is decided
again at download time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from archive import access
from archive.models import (
    ArchiveEvent,
    ArchiveEventKind,
    ArchiveFile,
    BasketItem,
    DownloadRequest,
    DownloadStatus,
)
from dataflow.errors import InvalidInput, NotAllowed
from dataflow.states import TransitionTable

# A request is for a session's worth of data, not the whole archive.
MAX_REQUEST_FILES = 1000
MAX_BASKET_FILES = 1000
HASH_CHUNK = 1 << 20

DOWNLOAD_TRANSITIONS = TransitionTable(
    "download request",
    {
        DownloadStatus.QUEUED: {DownloadStatus.PREPARING, DownloadStatus.FAILED},
        # PREPARING again: a task redelivered after its worker died starts over (the checks
        # only read, so repeating them is harmless).
        DownloadStatus.PREPARING: {
            DownloadStatus.PREPARING,
            DownloadStatus.READY,
            DownloadStatus.FAILED,
        },
    },
)


def file_path(archive_file: ArchiveFile) -> Path:
    """Where a file lives in archive storage (a stored path never leaves ARCHIVE_ROOT)."""
    root = Path(settings.ARCHIVE_ROOT).resolve()
    path = (root / archive_file.storage_path).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput(f"{archive_file.dp_id} has a storage path outside the archive.")
    return path


@transaction.atomic
def basket_add(*, user: User, file_ids: list[int]) -> int:
    """Put files ``user`` may see into their basket; returns how many were new."""
    if not file_ids:
        raise InvalidInput("Nothing to add.", {"files": ["Choose at least one file."]})
    visible = set(access.visible_files(user).filter(pk__in=file_ids).values_list("pk", flat=True))
    unknown = sorted(set(file_ids) - visible)
    if unknown:
        raise InvalidInput(
            "No such file.", {"files": [f"No file {pk} in the archive." for pk in unknown[:10]]}
        )
    # Locks the user's row so two tabs adding at once count the ceiling right.
    User.objects.select_for_update().get(pk=user.pk)
    present = set(
        BasketItem.objects.filter(user=user, archive_file_id__in=visible).values_list(
            "archive_file_id", flat=True
        )
    )
    new = sorted(visible - present)
    if BasketItem.objects.filter(user=user).count() + len(new) > MAX_BASKET_FILES:
        raise InvalidInput(
            "The basket is full.",
            {"files": [f"A basket holds at most {MAX_BASKET_FILES} files; request some first."]},
        )
    BasketItem.objects.bulk_create([BasketItem(user=user, archive_file_id=pk) for pk in new])
    if new:
        ArchiveEvent.objects.create(
            kind=ArchiveEventKind.BASKET_ADDED, actor=user, detail={"files": new}
        )
    return len(new)


@transaction.atomic
def basket_remove(*, user: User, file_ids: list[int]) -> int:
    """Take files out of ``user``'s basket; returns how many were there."""
    items = BasketItem.objects.filter(user=user, archive_file_id__in=file_ids)
    gone = sorted(items.values_list("archive_file_id", flat=True))
    removed, _ = items.delete()
    if gone:
        ArchiveEvent.objects.create(
            kind=ArchiveEventKind.BASKET_REMOVED, actor=user, detail={"files": gone}
        )
    return removed


@transaction.atomic
def download_request_create(
    *, user: User, file_ids: list[int] | None = None, from_basket: bool = False
) -> DownloadRequest:
    """A download request of ``file_ids`` (or of the basket, which it then empties), every file
    one ``user`` may download now; preparation is queued once the request is committed."""
    User.objects.select_for_update().get(pk=user.pk)
    ids = set(file_ids or [])
    if from_basket:
        ids |= set(BasketItem.objects.filter(user=user).values_list("archive_file_id", flat=True))
    if not ids:
        raise InvalidInput("Nothing to download.", {"files": ["Choose at least one file."]})
    if len(ids) > MAX_REQUEST_FILES:
        raise InvalidInput(
            "Too many files.",
            {"files": [f"A request holds at most {MAX_REQUEST_FILES} files."]},
        )
    visible = dict(access.visible_files(user).filter(pk__in=ids).values_list("pk", "dp_id"))
    unknown = sorted(ids - set(visible))
    if unknown:
        raise InvalidInput(
            "No such file.", {"files": [f"No file {pk} in the archive." for pk in unknown[:10]]}
        )
    readable = set(access.readable_files(user).filter(pk__in=ids).values_list("pk", flat=True))
    refused = sorted(visible[pk] for pk in ids - readable)
    if refused:
        shown = ", ".join(refused[:10]) + (" …" if len(refused) > 10 else "")
        raise NotAllowed(
            "Some files are proprietary.",
            {"files": [f"Proprietary until their release date: {shown}."]},
        )
    request = DownloadRequest.objects.create(user=user, total=len(ids))
    request.files.set(sorted(ids))
    if from_basket:
        BasketItem.objects.filter(user=user, archive_file_id__in=ids).delete()
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.DOWNLOAD_REQUESTED,
        actor=user,
        detail={"request": request.pk, "files": len(ids)},
    )
    from archive.tasks_download import prepare_download  # the task module imports this one

    transaction.on_commit(lambda: prepare_download.delay(request.pk))
    return request


@transaction.atomic
def _transition(
    *, request_id: int, to: DownloadStatus, error: str = "", size: int = 0
) -> DownloadRequest | None:
    """Move a request on; None when it is no longer where this move starts (a redelivered
    task finds it prepared already)."""
    request = DownloadRequest.objects.select_for_update().get(pk=request_id)
    if not DOWNLOAD_TRANSITIONS.allows(request.status, to):
        return None
    request.status = to
    fields = ["status"]
    if to in (DownloadStatus.READY, DownloadStatus.FAILED):
        request.finished_at = timezone.now()
        request.error = error
        request.result_size = size
        fields += ["finished_at", "error", "result_size"]
        kind = ArchiveEventKind.DOWNLOAD_READY if to == DownloadStatus.READY else None
        ArchiveEvent.objects.create(
            kind=kind or ArchiveEventKind.DOWNLOAD_FAILED,
            actor=None,
            detail={"request": request.pk, "error": error[:500]},
        )
    if to == DownloadStatus.PREPARING:
        request.done = 0
        fields.append("done")
    request.save(update_fields=fields)
    return request


def _check_file(archive_file: ArchiveFile) -> str:
    """Why a file cannot be delivered ("" when it can): missing, or not what was ingested."""
    path = file_path(archive_file)
    if not path.is_file():
        return f"{archive_file.dp_id}: the file is missing from archive storage."
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != archive_file.sha256:
        return f"{archive_file.dp_id}: the stored file does not match its checksum."
    return ""


def download_request_prepare(*, request_id: int) -> DownloadRequest:
    """Prepare a queued request: every file checked in storage, the progress counted per file.

    Not one transaction on purpose: each file's progress is committed as it is counted so the
    progress bar (another connection) sees it move; the status moves are locked services."""
    started = _transition(request_id=request_id, to=DownloadStatus.PREPARING)
    if started is None:
        return DownloadRequest.objects.get(pk=request_id)
    problems: list[str] = []
    size = 0
    files = ArchiveFile.objects.filter(pk__in=started.files.values("pk")).order_by("dp_id")
    for done, archive_file in enumerate(files, start=1):
        if not access.may_download(started.user, archive_file):
            problems.append(f"{archive_file.dp_id}: no longer yours to download.")
        else:
            problems += [p for p in [_check_file(archive_file)] if p]
        size += archive_file.size_bytes
        DownloadRequest.objects.filter(pk=request_id).update(done=done)
    if problems:
        finished = _transition(
            request_id=request_id, to=DownloadStatus.FAILED, error="\n".join(problems)
        )
    else:
        finished = _transition(request_id=request_id, to=DownloadStatus.READY, size=size)
    return finished or DownloadRequest.objects.get(pk=request_id)
