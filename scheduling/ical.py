"""A proposal's accepted VM nights as an iCalendar file (RFC 5545), for the team's calendars.

One event per run and night, from the site's sunset to its sunrise in UTC
(``dataflow.astro.nights``); a half night runs from sunset to the midpoint of the night, or
from the midpoint to sunrise. Summary: ``<programme id>(<letter>) <telescope> <instrument>``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone
from icalendar import Calendar, Event

from dataflow.astro.nights import Night, nights
from dataflow.observatory.models import Site
from proposals.models import Proposal
from scheduling.models import RunNight

PRODID = "-//Observatory Data Flow System//Scheduled nights//EN"


def summary(night: RunNight) -> str:
    run = night.run
    return f"{run} {run.telescope.name} {run.instrument.name}"


def proposal_calendar(proposal: Proposal, rows: Iterable[RunNight]) -> bytes:
    """The iCalendar text of ``rows`` (the proposal's nights; an empty calendar if none)."""
    rows = list(rows)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{proposal.programme_id or f'Proposal {proposal.pk}'}: nights")
    boundaries = _boundaries(rows)
    stamp = timezone.now()
    for row in rows:
        begin, end = _times(boundaries[row.run.telescope.site_id][row.date], row)
        event = Event()
        event.add("uid", f"run-{row.run_id}-{row.date.isoformat()}@dataflow")
        event.add("dtstamp", stamp)
        event.add("dtstart", begin)
        event.add("dtend", end)
        event.add("summary", summary(row))
        event.add("location", f"{row.run.telescope.name}, {row.run.telescope.site.name}")
        event.add("description", f"Night of {row.date.isoformat()} ({_halves(row)})")
        cal.add_component(event)
    return bytes(cal.to_ical())


def _boundaries(rows: list[RunNight]) -> dict[int, dict[dt.date, Night]]:
    """Each site's nights over the span of its rows (one vectorised computation per site)."""
    dates: dict[int, list[dt.date]] = defaultdict(list)
    sites: dict[int, Site] = {}
    for row in rows:
        site = row.run.telescope.site
        sites[site.pk] = site
        dates[site.pk].append(row.date)
    out: dict[int, dict[dt.date, Night]] = {}
    for pk, ds in dates.items():
        found = nights(sites[pk].as_astro(), min(ds), max(ds))
        out[pk] = {n.date: n for n in found}
    return out


def _times(night: Night, row: RunNight) -> tuple[dt.datetime, dt.datetime]:
    sunset = night.sunset.to_datetime(timezone=dt.UTC).replace(microsecond=0)
    sunrise = night.sunrise.to_datetime(timezone=dt.UTC).replace(microsecond=0)
    middle = (sunset + (sunrise - sunset) / 2).replace(microsecond=0)
    begin = sunset if row.first_half else middle
    end = sunrise if row.second_half else middle
    return begin, end


def _halves(row: RunNight) -> str:
    if row.first_half and row.second_half:
        return "full night"
    return "first half" if row.first_half else "second half"
