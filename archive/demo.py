"""The demo's archive: what the demo nights left in the landing area, ingested through the
services (to be written with the ingestion)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveDemo:
    ingested: int = 0
    quarantined: int = 0

    def summary(self) -> str:
        return f"{self.ingested} files ingested, {self.quarantined} quarantined"


def walk() -> ArchiveDemo:
    """Ingest the landing area (nothing yet)."""
    return ArchiveDemo()
