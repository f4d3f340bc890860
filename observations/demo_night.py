"""The demo period's nights (``seed_demo``): a few nights on each telescope with accepted OBs,
executed through the night's services as an operator would, in the order the night simulator
chooses.

For each night: the weather station posts the conditions at sunset; the telescope's candidate
arrays are built from the records (``scheduling.night.candidates.build_arrays``, what the
console ranks) and the simulator (``scheduling.engine.ranking.simulate.simulate_night``: rank,
execute the top OB or its whole concatenation, advance, repeat, from sunset to sunrise) plans
the night under those conditions; the operator then starts each planned OB at its planned
start and completes it when its execution time has passed, for the first ``MAX_VISITS``
visits. QC grades are mostly A and B, some C (must repeat). Once in the demo (the first
night with two visits) the wind rises during the second: the operator aborts it with the
reason, closes the dome for an hour, logs the time lost to weather, and resumes with the
plan's OBs after it. A planned OB the records refuse (a time link waiting for an OB graded
C) is skipped. Each night is then closed (``night_close``), which queues its calibrations;
each completed visit queued its raw frames (written at once where Celery is eager, as in
``make run``).

Only ``observations.night`` writes. Nights fall inside the period at planning times (the
``at`` of every service is the planned time), so the demo works whenever it is seeded.
Deterministic for a given ``rng`` and database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import numpy as np
from django.contrib.auth.models import User

from dataflow.astro.nights import night_boundaries
from dataflow.errors import DomainError
from dataflow.observatory.models import Telescope
from observations import night as services
from observations.models import Execution, ObservationBlock, SkyTransparency, Visit
from observations.status import ACCEPTED
from proposals.models import Period
from scheduling.engine.ranking.model import Conditions, RankingOptions, Transparency
from scheduling.engine.ranking.simulate import simulate_night
from scheduling.night.candidates import build_arrays

NIGHTS = (2, 3)  # nights per telescope, inclusive
MAX_VISITS = 6  # per night: keeps seeding quick (each visit writes its frames)
GRADES = (("A", 0.6), ("B", 0.3), ("C", 0.1))
LOST_TO_WIND_S = 3600
ABORT_REASON = "Wind gusts above 18 m/s: dome closed for safety."
TRANSPARENCIES = (
    (SkyTransparency.PHOTOMETRIC, 0.4),
    (SkyTransparency.CLEAR, 0.4),
    (SkyTransparency.THIN, 0.15),
    (SkyTransparency.VARIABLE, 0.05),
)


@dataclasses.dataclass
class NightsSummary:
    """What the demo nights wrote (printed by ``seed_demo``)."""

    nights: int = 0
    visits: int = 0
    grades: Counter[str] = dataclasses.field(default_factory=Counter)
    aborted: int = 0
    lost_s: int = 0

    def summary(self) -> str:
        grades = ", ".join(f"{g} {self.grades.get(g, 0)}" for g in "ABCD")
        return (
            f"{self.nights} nights, {self.visits} visits (grades {grades}; "
            f"{self.aborted} aborted), {self.lost_s // 60} min lost to weather"
        )


def walk(period: Period, *, operator: User, rng: np.random.Generator) -> NightsSummary:
    """Execute a few nights of ``period`` on each telescope with accepted OBs."""
    accepted = ObservationBlock.objects.filter(run__proposal__period=period, status=ACCEPTED)
    telescopes = Telescope.objects.filter(pk__in=accepted.values("run__telescope_id"))
    done = NightsSummary()
    days = (period.end - period.start).days + 1
    for telescope in telescopes.select_related("site").order_by("name"):
        count = int(rng.integers(NIGHTS[0], NIGHTS[1] + 1))
        offsets = sorted(int(d) for d in rng.choice(days, size=min(count, days), replace=False))
        for offset in offsets:
            night = period.start + dt.timedelta(days=offset)
            _Night(telescope, night, operator, rng, done).run()
    return done


class _Night:
    def __init__(
        self,
        telescope: Telescope,
        night: dt.date,
        operator: User,
        rng: np.random.Generator,
        done: NightsSummary,
    ) -> None:
        self.telescope, self.night, self.operator, self.rng, self.done = (
            telescope,
            night,
            operator,
            rng,
            done,
        )
        # the weather is posted at sunset; the plan starts when the Sun is low enough
        self.at = _utc(night_boundaries(telescope.site.as_astro(), night).sunset.to_datetime())
        self.weather = services.ConditionsData()

    def run(self) -> None:
        self._post_weather()
        arrays, _ = build_arrays(self.telescope.pk, self.night)
        plan = simulate_night(
            arrays,
            site=self.telescope.site.as_astro(),
            date=self.night,
            weather=self._conditions(),
            options=RankingOptions(),
        )
        done_obs: set[int] = set()
        visits = 0
        for planned in plan.executed:
            ob_id = int(planned.id)
            start = _utc(planned.start.to_datetime())
            if ob_id in done_obs or start < self.at:
                continue  # run with its concatenation, or planned in the hour lost
            if visits >= MAX_VISITS:
                break
            try:
                visit = services.visit_start(
                    telescope_id=self.telescope.pk, ob_id=ob_id, actor=self.operator, at=start
                )
            except DomainError:
                continue  # e.g. a time link waiting for an OB graded C
            visits += 1
            executions = list(
                Execution.objects.filter(visit=visit).values_list("ob_id", "ob__execution_time_s")
            )
            done_obs.update(ob for ob, _ in executions)
            end = start + dt.timedelta(seconds=sum(seconds for _, seconds in executions))
            if visits == 2 and not self.done.aborted:
                self._abort(visit, halfway=start + (end - start) / 2)
                continue
            grade = str(self.rng.choice([g for g, _ in GRADES], p=[p for _, p in GRADES]))
            services.visit_complete(
                visit_id=visit.pk,
                grade=grade,
                actor=self.operator,
                comment=_comment(grade),
                at=end,
            )
            self.done.visits += 1
            self.done.grades[grade] += len(executions)
            self.at = end
        services.night_close(
            telescope_id=self.telescope.pk,
            night=self.night,
            actor=self.operator,
            at=self.at + dt.timedelta(minutes=10),
        )
        self.done.nights += 1

    def _abort(self, visit: Visit, *, halfway: dt.datetime) -> None:
        services.visit_abort(
            visit_id=visit.pk, reason=ABORT_REASON, actor=self.operator, at=halfway
        )
        services.night_note_add(
            telescope_id=self.telescope.pk,
            kind="weather",
            actor=self.operator,
            lost_s=LOST_TO_WIND_S,
            text="Strong wind from the north: dome closed, reopened when it dropped.",
            night=self.night,
            at=halfway + dt.timedelta(seconds=LOST_TO_WIND_S),
        )
        self.done.visits += 1
        self.done.aborted += 1
        self.done.lost_s += LOST_TO_WIND_S
        self.at = halfway + dt.timedelta(seconds=LOST_TO_WIND_S)
        self._post_weather(calmer=True)

    def _post_weather(self, *, calmer: bool = False) -> None:
        rng = self.rng
        values = [t for t, _ in TRANSPARENCIES]
        self.weather = services.ConditionsData(
            seeing_arcsec=round(float(rng.uniform(0.5, 1.3)), 2),
            transparency=str(rng.choice(values, p=[p for _, p in TRANSPARENCIES])),
            wind_speed_ms=round(float(rng.uniform(2, 6 if calmer else 11)), 1),
            wind_direction_deg=round(float(rng.uniform(0, 360)), 0),
            water_vapour_mm=round(float(rng.uniform(1, 8)), 1),
        )
        services.weather_post(
            telescope_id=self.telescope.pk,
            data=self.weather,
            actor=self.operator,
            source="station",
            at=self.at,
        )

    def _conditions(self) -> Conditions:
        w = self.weather
        return Conditions(
            seeing_arcsec=w.seeing_arcsec or 1.0,
            transparency=Transparency.parse(w.transparency or "Clear"),
            wind_speed_ms=w.wind_speed_ms or 0.0,
            wind_direction_deg=w.wind_direction_deg or 0.0,
        )


def _utc(value: dt.datetime) -> dt.datetime:
    """astropy's ``to_datetime`` is naive UTC."""
    return value.replace(tzinfo=dt.UTC)


def _comment(grade: str) -> str:
    if grade == "C":
        return "Seeing degraded above the OB's limit during the exposures: to be repeated."
    if grade == "B":
        return "Seeing slightly above the limit for part of the exposures."
    return ""
