"""The demo period's observatory calendar (``seed_demo``): the first night of each month
technical on every telescope, a closed stretch on one telescope, most nights held for
guaranteed time and large programmes (closed to the call), and one instrument mounted only for
part of the period. Idempotent. The review's available hours are read from this calendar, so
``seed_demo`` seeds it before the review. Then (:func:`accept_greedy`) a greedy schedule of
the period, accepted, so that the pages show nights."""

import datetime as dt

from django.contrib.auth.models import User

from dataflow.observatory.models import Instrument, Telescope
from proposals.models import Period
from scheduling import services
from scheduling.models import CalendarNight, InstrumentMount, NightKind, ScheduleVersion

CLOSED_NIGHTS = 10
"""Length of the demo's maintenance shutdown, nights."""
HELD_CYCLE, OPEN_NIGHTS = 20, 14
"""Of every ``HELD_CYCLE`` nights a telescope offers the call ``OPEN_NIGHTS`` in a row (the
longest VM run is 5 nights) and holds the rest for guaranteed time and large programmes: with
the technical nights about a third of the period. The call's pressure stays above 2 (service
mode asks ~6,000 h) and Phase 2 and the nights get a few thousand OBs.
The cycle starts four nights later on each telescope, as such blocks do not coincide."""


def seed_calendar(period: Period) -> None:
    telescopes = list(Telescope.objects.order_by("name"))
    if not telescopes:
        return
    nights = [
        period.start + dt.timedelta(days=i) for i in range((period.end - period.start).days + 1)
    ]
    # The first claim on a night wins: technical, then the shutdown, then the held nights.
    calendar: dict[tuple[Telescope, dt.date], tuple[NightKind, str]] = {}
    for telescope in telescopes:
        for night in nights:
            if night.day == 1:
                calendar[telescope, night] = (NightKind.TECHNICAL, "Monthly engineering night")
    # A maintenance shutdown in the middle of the period on the last telescope.
    middle = len(nights) // 2
    for night in nights[middle : middle + CLOSED_NIGHTS]:
        calendar.setdefault((telescopes[-1], night), (NightKind.CLOSED, "Maintenance shutdown"))
    for k, telescope in enumerate(telescopes):
        for i, night in enumerate(nights):
            if (i + 4 * k) % HELD_CYCLE >= OPEN_NIGHTS:
                calendar.setdefault(
                    (telescope, night),
                    (NightKind.CLOSED, "Guaranteed time and large programmes"),
                )
    # Rows a previous run (or staff) stored are kept.
    CalendarNight.objects.bulk_create(
        [
            CalendarNight(telescope=telescope, date=night, kind=kind, note=note)
            for (telescope, night), (kind, note) in calendar.items()
        ],
        ignore_conflicts=True,
    )
    # One instrument leaves its telescope after the first two thirds of the period (the rows of
    # an instrument are the only nights it is mounted: without rows it is always mounted).
    instrument = Instrument.objects.filter(telescope=telescopes[0]).order_by("name").last()
    if (
        instrument is not None
        and not InstrumentMount.objects.filter(instrument=instrument).exists()
    ):
        InstrumentMount.objects.create(
            instrument=instrument, start=period.start, end=nights[len(nights) * 2 // 3]
        )


def accept_greedy(period: Period, staff: User) -> ScheduleVersion:
    """Solve the period with the greedy solver (seconds), store the version and accept it; a
    period that already has an accepted version keeps it (idempotent)."""
    accepted = ScheduleVersion.objects.filter(period=period, accepted_at__isnull=False).first()
    if accepted is not None:
        return accepted
    version = services.version_from_greedy(period_id=period.pk, actor=staff)
    return services.version_accept(version_id=version.pk, actor=staff)
