"""Phase 2: Observation Blocks (OBs) in a tree of containers per approved run.

Shaped so that ESO's p2 API maps onto it one to one (``../shared/P2API.md``): a run's root
folder is its ``containerId``; containers (Folder, Group, TimeLink, Concatenation) and OBs are
the p2 *items* of a container, ordered by ``position``; ``obStatus`` uses ESO's codes; every
object has a ``version`` (the ETag), bumped by every write, a status change included.

Instruments are data: a :class:`TemplateSignature` per instrument, instrument-package version
and template name, with typed parameter definitions, loaded from fixtures
(``observations/fixtures/``) like the observatory; an :class:`OverheadModel` per instrument and
version gives the execution time (``observations.exectime``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dataflow.observatory.models import Instrument


class ItemType(models.TextChoices):
    FOLDER = "Folder"
    GROUP = "Group"
    TIMELINK = "TimeLink"
    CONCATENATION = "Concatenation"
    OB = "OB"


# Containers that hold OBs only (no nested containers) and are refused in VM runs.
SCHEDULING_CONTAINERS = (ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION)


class OBStatus(models.TextChoices):
    """ESO's OB status codes. The night statuses come with night operations."""

    PARTIAL = "P", "Partially defined"
    DEFINED = "D", "Defined (awaiting review)"
    ACCEPTED = "+", "Accepted"
    REPAIR = "-", "Needs repair"
    STARTED = "S", "Started"
    COMPLETED = "C", "Completed"
    MUST_REPEAT = "M", "Must repeat"
    ABORTED = "A", "Aborted"
    FAILED = "F", "Failed"
    CANCELLED = "K", "Cancelled"


class TemplateType(models.TextChoices):
    ACQUISITION = "acquisition"
    SCIENCE = "science"
    CALIBRATION = "calibration"


class SkyTransparency(models.TextChoices):
    """p2's names (the Phase 1 run uses proposals.models.Transparency; same order)."""

    PHOTOMETRIC = "Photometric"
    CLEAR = "Clear"
    THIN = "Thin"
    VARIABLE = "Variable"


class TemplateSignature(models.Model):
    """An instrument template and its parameters, as data.

    ``parameters``: a list of ``{"name", "type" (number|integer|string|boolean|list),
    "default", "min", "max", "allowed", "label"}``; ``exposure``: which parameters make the
    exposure time and the number of exposures (``{"time": name, "coadds": [names], "count":
    [names]}``: sub-integrations (coadds) lengthen an exposure without a readout each), read
    by ``observations.exectime``.
    """

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    ip_version = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=12, choices=TemplateType.choices)
    description = models.CharField(max_length=300, blank=True)
    parameters = models.JSONField(default=list)
    exposure = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["instrument", "ip_version", "type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "ip_version", "name"], name="template_signature_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument.name} {self.ip_version} {self.name}"


class OverheadModel(models.Model):
    """Overheads of one instrument package version, seconds: telescope preset and setup,
    per acquisition template, per template (instrument setup), per exposure (readout)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    ip_version = models.CharField(max_length=20)
    preset_s = models.FloatField()
    acquisition_s = models.FloatField()
    template_s = models.FloatField()
    readout_s = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "ip_version"], name="overhead_unique")
        ]

    def __str__(self) -> str:
        return f"{self.instrument.name} {self.ip_version} overheads"


class Container(models.Model):
    """A folder or scheduling container of a run's tree; the root folder has no parent."""

    run = models.ForeignKey(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="containers"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    item_type = models.CharField(
        max_length=13, choices=[(t.value, t.label) for t in ItemType if t != ItemType.OB]
    )
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    group_priority = models.PositiveSmallIntegerField(default=1, help_text="Groups: 1 first.")

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=Q(parent__isnull=True), name="one_root_folder_per_run"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item_type} {self.name}"


class ObservationBlock(models.Model):
    run = models.ForeignKey(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="observation_blocks"
    )
    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="obs")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=1, choices=OBStatus.choices, default=OBStatus.PARTIAL)
    version = models.PositiveIntegerField(default=1)
    ip_version = models.CharField(max_length=20, blank=True)
    user_priority = models.PositiveSmallIntegerField(default=1)
    user_comments = models.TextField(blank=True)
    # target
    target_name = models.CharField(max_length=100, blank=True)
    ra_deg = models.FloatField(null=True, blank=True)
    dec_deg = models.FloatField(null=True, blank=True)
    equinox = models.CharField(max_length=10, default="J2000")
    epoch = models.FloatField(default=2000.0)
    pm_ra = models.FloatField("proper motion in RA, arcsec/yr", default=0.0)
    pm_dec = models.FloatField("proper motion in Dec, arcsec/yr", default=0.0)
    # constraint set
    max_airmass = models.FloatField(default=2.0)
    seeing_arcsec = models.FloatField("image quality or seeing, arcsec", default=1.0)
    sky_transparency = models.CharField(
        max_length=12, choices=SkyTransparency.choices, default=SkyTransparency.VARIABLE
    )
    max_fli = models.FloatField(default=1.0)
    min_moon_distance_deg = models.FloatField(default=30.0)
    twilight_min = models.FloatField("twilight offset, minutes", default=0.0)
    water_vapour_mm = models.FloatField(default=30.0)
    # scheduling information inside a Group or a TimeLink
    contribution = models.FloatField(default=1.0, help_text="Groups: the OB's share.")
    min_delay_s = models.PositiveIntegerField(default=0, help_text="TimeLinks: after previous.")
    max_delay_s = models.PositiveIntegerField(null=True, blank=True)
    # execution time as last computed (seconds), and staff's waiver of the SM one-hour minimum
    exposure_time_s = models.FloatField(default=0.0)
    execution_time_s = models.FloatField(default=0.0)
    short_ob_waived = models.BooleanField(default=False)
    executed = models.BooleanField(default=False, help_text="Ever started at night.")

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"OB {self.pk} {self.name}"


class Template(models.Model):
    ob = models.ForeignKey(ObservationBlock, on_delete=models.CASCADE, related_name="templates")
    signature = models.ForeignKey(TemplateSignature, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)
    values = models.JSONField(default=dict, help_text="Parameter name -> value.")

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.signature.name} of OB {self.ob_id}"


class AbsoluteWindow(models.Model):
    """A UTC window in which the OB may be executed."""

    ob = models.ForeignKey(ObservationBlock, on_delete=models.CASCADE, related_name="absolute")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%dT%H:%M}..{self.end:%Y-%m-%dT%H:%M} UTC"


class SiderealWindow(models.Model):
    """An LST window, minutes from 0 to 1440 (24:00 only as an end)."""

    ob = models.ForeignKey(ObservationBlock, on_delete=models.CASCADE, related_name="sidereal")
    start_min = models.PositiveSmallIntegerField()
    end_min = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["start_min"]

    def __str__(self) -> str:
        def hhmm(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return f"LST {hhmm(self.start_min)}..{hhmm(self.end_min)}"


class FindingChart(models.Model):
    ob = models.ForeignKey(ObservationBlock, on_delete=models.CASCADE, related_name="charts")
    name = models.CharField(max_length=200)
    content = models.BinaryField()
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class EphemerisFile(models.Model):
    """A moving target's ephemeris (ESO's PAF-like text), at most one per OB (p2's
    ``/obsBlocks/{id}/ephemeris``)."""

    ob = models.OneToOneField(ObservationBlock, on_delete=models.CASCADE, related_name="ephemeris")
    file_name = models.CharField(max_length=200)
    content = models.TextField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.file_name


class Phase2Event(models.Model):
    """One row per write: status changes (with the message of a send-back) and edits."""

    run = models.ForeignKey("proposals.ObservingRun", on_delete=models.CASCADE, related_name="+")
    ob = models.ForeignKey(
        ObservationBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    container = models.ForeignKey(
        Container, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20)
    from_status = models.CharField(max_length=1, blank=True)
    to_status = models.CharField(max_length=1, blank=True)
    message = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status} at {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------
# Night operations: what was executed, under which conditions (observations.night)
# ---------------------------------------------------------------------------------------------


class QCGrade(models.TextChoices):
    """ESO's quality-control grade of an execution (DOMAIN.md): A and B complete the OB, C
    means it must be repeated, D is out of constraints but closed as completed."""

    A = "A", "A: all constraints met"
    B = "B", "B: slightly out of constraints (within 10 %)"
    C = "C", "C: out of constraints, must be repeated"
    D = "D", "D: out of constraints, closed as completed"


class VisitState(models.TextChoices):
    RUNNING = "running"
    DONE = "done"
    ABORTED = "aborted"


class Conditions(models.Model):
    """Sky and weather as measured at one moment: posted by a weather station, typed in by the
    operator, or recorded when an OB starts. Abstract: a reading, and each visit's start."""

    seeing_arcsec = models.FloatField(null=True, blank=True)
    transparency = models.CharField(
        max_length=12, choices=SkyTransparency.choices, blank=True, default=""
    )
    wind_speed_ms = models.FloatField(null=True, blank=True)
    wind_direction_deg = models.FloatField(null=True, blank=True, help_text="From, N=0 E=90.")
    water_vapour_mm = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True


class WeatherReading(Conditions):
    """The conditions at a telescope at ``at`` (the console shows the latest)."""

    telescope = models.ForeignKey(
        "observatory.Telescope", on_delete=models.CASCADE, related_name="weather"
    )
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, default="operator", help_text="operator or station")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["telescope", "-at", "-pk"]
        indexes = [models.Index(fields=["telescope", "-at"])]

    def __str__(self) -> str:
        return f"{self.telescope} weather at {self.at:%Y-%m-%d %H:%M} ({self.source})"


class Visit(Conditions):
    """One start by the operator: an OB, or a concatenation's OBs back to back (all or
    nothing). At most one visit runs on a telescope at a time; its conditions are those at
    the start. Each OB it holds gets an :class:`Execution`."""

    telescope = models.ForeignKey(
        "observatory.Telescope", on_delete=models.PROTECT, related_name="visits"
    )
    night = models.DateField(help_text="The local evening date of the night.")
    concatenation = models.ForeignKey(
        Container, null=True, blank=True, on_delete=models.PROTECT, related_name="visits"
    )
    state = models.CharField(max_length=10, choices=VisitState.choices, default=VisitState.RUNNING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["telescope"],
                condition=Q(state="running"),
                name="one_running_visit_per_telescope",
            )
        ]
        indexes = [models.Index(fields=["telescope", "night"])]

    def __str__(self) -> str:
        return f"{self.telescope} {self.night} visit {self.pk} ({self.state})"


class Execution(models.Model):
    """One OB's execution within a visit: its outcome, QC grade, the seconds charged to the
    run's ledger (integer, execution time with overheads) and any refund."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="executions")
    ob = models.ForeignKey(ObservationBlock, on_delete=models.PROTECT, related_name="executions")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the visit.")
    status_before = models.CharField(max_length=1, choices=OBStatus.choices)
    ended_at = models.DateTimeField(null=True, blank=True)
    grade = models.CharField(max_length=1, choices=QCGrade.choices, blank=True)
    aborted = models.BooleanField(default=False)
    reason = models.TextField(blank=True, help_text="Why it was aborted.")
    comment = models.TextField(blank=True)
    charged_s = models.BigIntegerField(default=0)
    charge = models.OneToOneField(
        "proposals.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund = models.OneToOneField(
        "proposals.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["visit", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "ob"], name="one_execution_per_ob_and_visit"),
            models.CheckConstraint(
                condition=Q(charged_s__gte=0), name="execution_charged_s_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["ob", "visit"])]

    def __str__(self) -> str:
        return f"OB {self.ob_id} in visit {self.visit_id}: {self.grade or self.visit.state}"


class NightNote(models.Model):
    """The night log's own lines: weather and technical losses, operator comments."""

    class Kind(models.TextChoices):
        WEATHER = "weather", "Time lost to weather"
        TECHNICAL = "technical", "Time lost to a technical fault"
        COMMENT = "comment", "Comment"

    telescope = models.ForeignKey(
        "observatory.Telescope", on_delete=models.CASCADE, related_name="night_notes"
    )
    night = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    lost_s = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["telescope", "night", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.telescope} {self.night} {self.kind}"
