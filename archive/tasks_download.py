"""Celery tasks of download requests: take an id, call one service, idempotent (a request
already prepared or failed is left alone by :func:`archive.downloads.download_request_prepare`)."""

from archive.downloads import download_request_prepare
from dataflow.celery import app

__all__ = ["prepare_download"]


@app.task
def prepare_download(request_id: int) -> str:
    """Prepare a download request (each file checked in storage, progress per file)."""
    return download_request_prepare(request_id=request_id).status
