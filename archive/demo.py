"""The demo's archive: what the demo nights left in the landing area, ingested through the
services (``seed_demo`` calls :func:`walk` after the nights)."""

from __future__ import annotations

from dataclasses import dataclass

from archive import landing
from archive.models import ArchiveFile, QuarantinedFile


@dataclass(frozen=True)
class ArchiveDemo:
    ingested: int = 0
    quarantined: int = 0

    def summary(self) -> str:
        return f"{self.ingested} files ingested, {self.quarantined} quarantined"


def walk() -> ArchiveDemo:
    """Ingest what is still in the landing area, in this process (the nights' frames were
    queued for ingestion as they landed: eagerly under ``make run``, by a worker elsewhere),
    and count what the archive holds and what it refused."""
    for transfer_id in landing.landing_scan(queue=False):
        landing.transfer_ingest(transfer_id=transfer_id)
    return ArchiveDemo(
        ingested=ArchiveFile.objects.count(), quarantined=QuarantinedFile.objects.count()
    )
