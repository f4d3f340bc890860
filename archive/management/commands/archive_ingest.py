"""Scan the landing area and ingest its files: in this process (default) or queued for the
Celery workers (``--queue``)."""

from collections import Counter
from typing import Any

from django.core.management import BaseCommand

from archive import landing


class Command(BaseCommand):
    help = "Ingest the raw frames waiting in the landing area (settings.RAW_DATA_LANDING)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--queue", action="store_true", help="Queue the ingestion for the Celery workers."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        ids = landing.landing_scan(queue=opts["queue"])
        if opts["queue"]:
            self.stdout.write(f"{len(ids)} files queued for ingestion.")
            return
        outcomes: Counter[str] = Counter()
        for transfer_id in ids:
            result = landing.transfer_ingest(transfer_id=transfer_id)
            outcomes[result.outcome] += 1
            if result.reason:
                self.stdout.write(f"  {result.outcome}: {result.reason}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        self.stdout.write(f"{len(ids)} files from the landing area: {summary or 'none'}.")
