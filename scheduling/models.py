"""The long-term schedule in the platform: the observatory calendar as data (technical and
closed nights, instrument mounts), staff links and pins between runs, solve jobs with their
progress, and the schedule versions they store."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from dataflow.observatory.models import Instrument, Telescope


class NightKind(models.TextChoices):
    TECHNICAL = "technical", "Technical night"
    CLOSED = "closed", "Closed night"


class CalendarNight(models.Model):
    """A night (by the local date it begins) a telescope does no science."""

    telescope = models.ForeignKey(Telescope, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=NightKind.choices)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["telescope", "date"]
        constraints = [
            models.UniqueConstraint(fields=["telescope", "date"], name="calendar_night_unique")
        ]

    def __str__(self) -> str:
        return f"{self.telescope} {self.date}: {self.kind}"


class InstrumentMount(models.Model):
    """An instrument is mounted (ready for science) from ``start`` to ``end`` inclusive. An
    instrument without any row is always mounted; with rows, only on those nights."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="mounts")
    start = models.DateField()
    end = models.DateField()

    class Meta:
        ordering = ["instrument", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="mount_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.start}..{self.end}"


class LinkKind(models.TextChoices):
    SAME_NIGHTS = "same_nights", "Same nights"
    APART = "apart", "N days apart"


class RunLink(models.Model):
    """A constraint between two VM runs (both scheduled or neither)."""

    first = models.ForeignKey("proposals.ObservingRun", on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey("proposals.ObservingRun", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=LinkKind.choices)
    min_days = models.IntegerField(null=True, blank=True)
    max_days = models.IntegerField(null=True, blank=True)
    ordered = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.first} {self.kind} {self.second}"


class RunPin(models.Model):
    """Staff fix a VM run's first night (second half if asked)."""

    run = models.OneToOneField(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="pin"
    )
    start = models.DateField()
    second_half = models.BooleanField(default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.run} pinned on {self.start}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Solver(models.TextChoices):
    CPSAT = "cpsat", "CP-SAT"
    GREEDY = "greedy", "Greedy"


class ScheduleJob(models.Model):
    """A solve of a period's long-term schedule, run by a Celery worker."""

    period = models.ForeignKey("proposals.Period", on_delete=models.CASCADE, related_name="+")
    solver = models.CharField(max_length=6, choices=Solver.choices, default=Solver.CPSAT)
    time_limit_s = models.PositiveIntegerField(default=60)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Two jobs of one period never run (and write) at the same time.
            models.UniqueConstraint(
                fields=["period"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_job_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.period}, {self.solver}): {self.status}"


class JobProgress(models.Model):
    """One progress report of a running job, as the solver sends them."""

    job = models.ForeignKey(ScheduleJob, on_delete=models.CASCADE, related_name="progress")
    elapsed_s = models.FloatField()
    objective = models.FloatField(null=True, blank=True)
    bound = models.FloatField(null=True, blank=True)
    gap = models.FloatField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "elapsed_s", "id"]

    def __str__(self) -> str:
        return f"{self.job_id} at {self.elapsed_s:.1f} s: {self.objective} / {self.bound}"


class ScheduleVersion(models.Model):
    """A stored schedule of a period (one per finished job), with the solver's statistics."""

    period = models.ForeignKey(
        "proposals.Period", on_delete=models.CASCADE, related_name="schedule_versions"
    )
    job = models.OneToOneField(
        ScheduleJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="version"
    )
    number = models.PositiveIntegerField()
    solver = models.CharField(max_length=6, choices=Solver.choices)
    status = models.CharField(max_length=20, help_text="optimal, feasible, greedy...")
    objective = models.FloatField()
    bound = models.FloatField(null=True, blank=True)
    statistics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["period", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["period", "number"], name="schedule_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.period} schedule v{self.number}"


class Placement(models.Model):
    """A run's time on one night of a version: a VM run's (half) night, or an SM reservation
    of some hours."""

    version = models.ForeignKey(
        ScheduleVersion, on_delete=models.CASCADE, related_name="placements"
    )
    run = models.ForeignKey("proposals.ObservingRun", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    hours = models.FloatField(help_text="VM: the hours of the (half) night; SM: reserved hours.")
    first_half = models.BooleanField(default=True)
    second_half = models.BooleanField(default=True)

    class Meta:
        ordering = ["version", "date", "run"]

    def __str__(self) -> str:
        return f"{self.run} on {self.date}: {self.hours:.1f} h"


class LeftOut(models.Model):
    """A run a version could not schedule, and why."""

    version = models.ForeignKey(ScheduleVersion, on_delete=models.CASCADE, related_name="left_out")
    run = models.ForeignKey("proposals.ObservingRun", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)

    def __str__(self) -> str:
        return f"{self.run}: {self.reason}"


# ---------------------------------------------------------------------------------------------
# The accepted schedule (written by ``services.version_accept``)
# ---------------------------------------------------------------------------------------------


class RunNight(models.Model):
    """A night (by the local date it begins) a VM run observes, as the accepted version of its
    period placed it; one or both halves."""

    run = models.ForeignKey(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="scheduled_nights"
    )
    date = models.DateField()
    first_half = models.BooleanField(default=True)
    second_half = models.BooleanField(default=True)
    version = models.ForeignKey(ScheduleVersion, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["date", "run"]
        constraints = [
            models.UniqueConstraint(fields=["run", "date"], name="run_night_unique"),
            models.CheckConstraint(
                condition=models.Q(first_half=True) | models.Q(second_half=True),
                name="run_night_some_half",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run} on {self.date}"


class SMReservation(models.Model):
    """Hours of a night reserved for an SM run's queue, as the accepted version placed them."""

    run = models.ForeignKey(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="sm_reservations"
    )
    date = models.DateField()
    hours = models.FloatField()
    version = models.ForeignKey(ScheduleVersion, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["date", "run"]
        constraints = [
            models.UniqueConstraint(fields=["run", "date"], name="sm_reservation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.run} on {self.date}: {self.hours:.1f} h"


class ScheduleEvent(models.Model):
    """What staff did to a period's schedule (accepting a version), who and when."""

    period = models.ForeignKey("proposals.Period", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        ScheduleVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["period", "at", "id"]

    def __str__(self) -> str:
        return f"{self.period}: {self.action} at {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------
# Visitors: travel requests of VM runs (written by ``scheduling.travel``)
# ---------------------------------------------------------------------------------------------


class TravelStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    CONFIRMED = "confirmed", "Confirmed"
    # An accepted schedule moved or removed the run's nights out of the request's dates.
    NEEDS_UPDATE = "needs_update", "Needs update"


class TravelRequest(models.Model):
    """The team's travel to the site for a VM run's accepted nights: who comes, when they
    arrive and leave, their flights and whether they need a room at the site. One per run."""

    run = models.OneToOneField(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="travel_request"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    travellers = models.JSONField(default=list, help_text="The travellers' names.")
    arrival = models.DateField(help_text="Arrival at the site (on or before the first night).")
    departure = models.DateField(help_text="Departure from the site (after the last night).")
    flights = models.TextField(blank=True)
    lodging = models.BooleanField(default=True, help_text="A room at the site.")
    notes = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=TravelStatus.choices, default=TravelStatus.SUBMITTED
    )
    update_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the team must update it (needs update)."
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Bumped by every write: the API's ETag."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["arrival", "run"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(departure__gt=models.F("arrival")),
                name="travel_departure_after_arrival",
            )
        ]

    def __str__(self) -> str:
        return f"{self.run}: {self.arrival}..{self.departure}"
