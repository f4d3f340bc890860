"""Celery tasks of the ingestion: a scan of the landing area, and the ingestion of its files in
batches (one transaction per file, so a bad file never holds back the others).

Both are idempotent: the scan makes a transfer only for a file not already in flight, and the
ingestion leaves a finished transfer as it is and archives the same ARCFILE once
(``archive.landing``). Batches are queued on commit by ``landing_scan``. A full or unreachable
disk (``OSError``) is retried; a refused file is quarantined by the service, not retried.
"""

from __future__ import annotations

from collections import Counter

from dataflow.celery import app

__all__ = ["ingest_transfers", "scan_landing"]


@app.task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def ingest_transfers(self, transfer_ids: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Ingest the transfers' files; how many ended in each outcome."""
    from archive.landing import transfers_ingest

    self.update_state(state="PROGRESS", meta={"total": len(transfer_ids)})
    return dict(Counter(r.outcome for r in transfers_ingest(transfer_ids=transfer_ids)))


@app.task(autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def scan_landing() -> int:
    """Queue the landing area's new files for ingestion; how many."""
    from archive.landing import landing_scan

    return len(landing_scan(queue=True))
