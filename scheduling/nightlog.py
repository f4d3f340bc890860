"""The night log of a telescope: what was executed in one night, the weather, the time lost,
the operators' comments and the totals; read for its page, CSV and PDF.

Four queries whatever the night holds: the telescope with its site, the executions (with
their visit, OB, run, operator and ledger entries), the weather readings and the notes. The
night is the local (mean solar) evening date, as ``observations.night`` records it; weather
readings belong to it from its local mean noon to the next.

Totals, integer seconds: ``executed_s`` is the time the telescope spent on visits (each
ended visit from its start to its end, a concatenation counted once), ``charged_s`` the time
charged to the runs' ledgers, ``refunded_s`` what staff gave back, ``lost_weather_s`` and
``lost_technical_s`` the losses the operators logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dataflow.observatory.models import Telescope
from observations import night as night_services
from observations import status as st
from observations.models import Execution, NightNote, VisitState, WeatherReading

OUTCOMES = {
    st.Action.COMPLETE: "completed",
    st.Action.REPEAT: "must repeat",
}


@dataclass(frozen=True)
class ConditionsRow:
    """Sky and weather at one moment; ``None``/"": not measured."""

    seeing_arcsec: float | None
    transparency: str
    wind_speed_ms: float | None
    wind_direction_deg: float | None
    water_vapour_mm: float | None

    @classmethod
    def of(cls, row: object) -> ConditionsRow:
        return cls(
            seeing_arcsec=getattr(row, "seeing_arcsec", None),
            transparency=getattr(row, "transparency", "") or "",
            wind_speed_ms=getattr(row, "wind_speed_ms", None),
            wind_direction_deg=getattr(row, "wind_direction_deg", None),
            water_vapour_mm=getattr(row, "water_vapour_mm", None),
        )

    def summary(self) -> str:
        """e.g. "seeing 0.8″, Clear, wind 6.0 m/s from 270°, PWV 2.5 mm"."""
        parts = []
        if self.seeing_arcsec is not None:
            parts.append(f"seeing {self.seeing_arcsec:.2f}″")
        if self.transparency:
            parts.append(self.transparency)
        if self.wind_speed_ms is not None:
            wind = f"wind {self.wind_speed_ms:.1f} m/s"
            if self.wind_direction_deg is not None:
                wind += f" from {self.wind_direction_deg:.0f}°"
            parts.append(wind)
        if self.water_vapour_mm is not None:
            parts.append(f"PWV {self.water_vapour_mm:.1f} mm")
        return ", ".join(parts) or "not measured"


@dataclass(frozen=True)
class LogExecution:
    """One OB's execution: ``outcome`` is completed, must repeat, aborted or running."""

    execution_id: int
    visit_id: int
    start: dt.datetime
    end: dt.datetime | None
    ob_id: int
    ob_name: str
    run: str  # e.g. "119.C-0042(A)"
    programme_id: str
    grade: str
    outcome: str
    conditions: ConditionsRow
    operator: str
    comment: str
    reason: str  # why it was aborted
    charged_s: int
    refunded_s: int
    refund_note: str

    @property
    def refundable(self) -> bool:
        """Charged and not refunded yet (staff may give the time back once)."""
        return self.charged_s > 0 and not self.refunded_s


@dataclass(frozen=True)
class LogWeather:
    at: dt.datetime
    source: str
    author: str
    conditions: ConditionsRow


@dataclass(frozen=True)
class LogNote:
    at: dt.datetime
    kind: str
    kind_label: str
    lost_s: int
    text: str
    author: str


@dataclass(frozen=True)
class Totals:
    executions: int = 0
    executed_s: int = 0
    charged_s: int = 0
    refunded_s: int = 0
    lost_weather_s: int = 0
    lost_technical_s: int = 0

    @property
    def lost_s(self) -> int:
        return self.lost_weather_s + self.lost_technical_s

    @property
    def net_charged_s(self) -> int:
        return self.charged_s - self.refunded_s


@dataclass(frozen=True)
class NightLog:
    telescope_id: int
    telescope: str
    site: str
    night: dt.date
    begins: dt.datetime  # local mean noon of the evening, UTC
    ends: dt.datetime
    executions: list[LogExecution] = field(default_factory=list)
    weather: list[LogWeather] = field(default_factory=list)
    notes: list[LogNote] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)


def _name(user: object) -> str:
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "username", ""))


def _outcome(execution: Execution) -> str:
    if execution.aborted:
        return "aborted"
    if not execution.grade:
        return "running"
    return OUTCOMES.get(st.grade_action(execution.grade), "completed")


def night_log(telescope_id: int, night: dt.date) -> NightLog:
    """The log of ``telescope_id``'s ``night``; ``Telescope.DoesNotExist`` if there is none."""
    telescope = Telescope.objects.select_related("site").get(pk=telescope_id)
    longitude = telescope.site.longitude_deg
    begins = night_services.night_begins(longitude, night)
    ends = begins + dt.timedelta(days=1)
    rows = (
        Execution.objects.filter(visit__telescope_id=telescope_id, visit__night=night)
        .select_related("visit__operator", "ob__run__proposal", "charge", "refund")
        .order_by("visit__started_at", "visit_id", "position", "pk")
    )
    executions: list[LogExecution] = []
    visits: dict[int, int] = {}  # ended visits' durations, s
    for e in rows:
        visit, ob = e.visit, e.ob
        if visit.state != VisitState.RUNNING and visit.ended_at is not None:
            visits[visit.pk] = night_services.elapsed_seconds(visit.started_at, visit.ended_at)
        executions.append(
            LogExecution(
                execution_id=e.pk,
                visit_id=visit.pk,
                start=visit.started_at,
                end=e.ended_at,
                ob_id=ob.pk,
                ob_name=ob.name,
                run=str(ob.run),
                programme_id=ob.run.proposal.programme_id or "",
                grade=e.grade,
                outcome=_outcome(e),
                conditions=ConditionsRow.of(visit),
                operator=_name(visit.operator),
                comment=e.comment,
                reason=e.reason,
                charged_s=e.charged_s,
                refunded_s=e.refund.seconds if e.refund is not None else 0,
                refund_note=e.refund.note if e.refund is not None else "",
            )
        )
    readings = WeatherReading.objects.filter(
        telescope_id=telescope_id, at__gte=begins, at__lt=ends
    ).select_related("author")
    weather = [
        LogWeather(at=w.at, source=w.source, author=_name(w.author), conditions=ConditionsRow.of(w))
        for w in readings.order_by("at", "pk")
    ]
    notes = [
        LogNote(
            at=n.at,
            kind=n.kind,
            kind_label=n.get_kind_display(),
            lost_s=n.lost_s,
            text=n.text,
            author=_name(n.author),
        )
        for n in NightNote.objects.filter(telescope_id=telescope_id, night=night)
        .select_related("author")
        .order_by("at", "pk")
    ]
    totals = Totals(
        executions=len(executions),
        executed_s=sum(visits.values()),
        charged_s=sum(e.charged_s for e in executions),
        refunded_s=sum(e.refunded_s for e in executions),
        lost_weather_s=sum(n.lost_s for n in notes if n.kind == NightNote.Kind.WEATHER),
        lost_technical_s=sum(n.lost_s for n in notes if n.kind == NightNote.Kind.TECHNICAL),
    )
    return NightLog(
        telescope_id=telescope.pk,
        telescope=telescope.name,
        site=telescope.site.name,
        night=night,
        begins=begins,
        ends=ends,
        executions=executions,
        weather=weather,
        notes=notes,
        totals=totals,
    )


def hms(seconds: int) -> str:
    """Whole seconds as h:mm:ss (e.g. 3725 -> "1:02:05")."""
    sign = "-" if seconds < 0 else ""
    minutes, s = divmod(abs(int(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{sign}{hours}:{m:02d}:{s:02d}"
