"""Reads for the data transfer monitor (seed 001) and the quarantine list: files in flight,
what was ingested per night and instrument, totals and throughput."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from archive.models import QuarantinedFile, Transfer, TransferStatus

IN_FLIGHT = (TransferStatus.WAITING, TransferStatus.INGESTING)
#: Rows of files in flight shown (the totals count them all).
IN_FLIGHT_ROWS = 200
THROUGHPUT_WINDOW = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class NightRow:
    night: datetime.date | None
    instrument: str
    waiting: int
    ingesting: int
    ingested: int
    quarantined: int
    size_bytes: int

    @property
    def total(self) -> int:
        return self.waiting + self.ingesting + self.ingested + self.quarantined


@dataclass(frozen=True)
class Monitor:
    now: datetime.datetime
    in_flight: list[Transfer]
    in_flight_count: int
    rows: list[NightRow]
    totals: dict[str, int]
    total_bytes: int
    in_flight_bytes: int
    oldest_waiting_s: float | None
    #: Files and bytes ingested in the last ``THROUGHPUT_WINDOW``, and per minute.
    recent_files: int
    recent_bytes: int
    files_per_minute: float
    bytes_per_second: float
    instruments: list[str] = field(default_factory=list)
    nights: list[datetime.date] = field(default_factory=list)


def transfers(
    *, night: datetime.date | None = None, instrument: str = "", days: int | None = None
) -> QuerySet[Transfer]:
    query = Transfer.objects.all()
    if night is not None:
        query = query.filter(night=night)
    if instrument:
        query = query.filter(instrument_name=instrument)
    if days is not None:
        since = timezone.localdate() - datetime.timedelta(days=days)
        query = query.filter(Q(night__gte=since) | Q(night__isnull=True) | Q(status__in=IN_FLIGHT))
    return query


def monitor(
    *, night: datetime.date | None = None, instrument: str = "", days: int | None = 30
) -> Monitor:
    now = timezone.now()
    query = transfers(night=night, instrument=instrument, days=days)
    flight = query.filter(status__in=IN_FLIGHT)
    grouped = (
        query.values("night", "instrument_name")
        .annotate(
            waiting=Count("pk", filter=Q(status=TransferStatus.WAITING)),
            ingesting=Count("pk", filter=Q(status=TransferStatus.INGESTING)),
            ingested=Count("pk", filter=Q(status=TransferStatus.INGESTED)),
            quarantined=Count("pk", filter=Q(status=TransferStatus.QUARANTINED)),
            size=Sum("size_bytes"),
        )
        .order_by("-night", "instrument_name")
    )
    rows = [
        NightRow(
            night=g["night"],
            instrument=g["instrument_name"],
            waiting=g["waiting"],
            ingesting=g["ingesting"],
            ingested=g["ingested"],
            quarantined=g["quarantined"],
            size_bytes=g["size"] or 0,
        )
        for g in grouped
    ]
    totals = {status.value: 0 for status in TransferStatus}
    for row in query.values("status").annotate(n=Count("pk")).order_by():
        totals[row["status"]] = row["n"]
    sizes = query.aggregate(
        total=Sum("size_bytes"), flight=Sum("size_bytes", filter=Q(status__in=IN_FLIGHT))
    )
    oldest = flight.filter(status=TransferStatus.WAITING).order_by("queued_at").first()
    recent = query.filter(
        status=TransferStatus.INGESTED, finished_at__gte=now - THROUGHPUT_WINDOW
    ).aggregate(n=Count("pk"), size=Sum("size_bytes"))
    window_s = THROUGHPUT_WINDOW.total_seconds()
    all_rows = Transfer.objects.order_by()
    return Monitor(
        now=now,
        in_flight=list(flight.order_by("priority", "queued_at", "pk")[:IN_FLIGHT_ROWS]),
        in_flight_count=totals[TransferStatus.WAITING] + totals[TransferStatus.INGESTING],
        rows=rows,
        totals=totals,
        total_bytes=sizes["total"] or 0,
        in_flight_bytes=sizes["flight"] or 0,
        oldest_waiting_s=(now - oldest.queued_at).total_seconds() if oldest else None,
        recent_files=recent["n"] or 0,
        recent_bytes=recent["size"] or 0,
        files_per_minute=(recent["n"] or 0) / (window_s / 60),
        bytes_per_second=(recent["size"] or 0) / window_s,
        instruments=sorted(
            set(all_rows.exclude(instrument_name="").values_list("instrument_name", flat=True))
        ),
        nights=sorted(
            {n for n in all_rows.values_list("night", flat=True) if n is not None}, reverse=True
        )[:60],
    )


def quarantine(*, show_resolved: bool = False) -> QuerySet[QuarantinedFile]:
    query = QuarantinedFile.objects.select_related("uploaded_by", "resolved_by")
    return query if show_resolved else query.filter(resolved_at__isnull=True)


def quarantine_waiting() -> int:
    """Quarantined files no one has resolved yet (the staff home's card)."""
    return QuarantinedFile.objects.filter(resolved_at__isnull=True).count()
