"""Phase 1: periods with their call, proposals, investigators, targets, runs, figures."""

import datetime
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from dataflow.observatory.models import Instrument, Telescope


class Period(models.Model):
    """An observing period (cycle). Its length is data: six months or a year."""

    number = models.PositiveIntegerField(unique=True)
    start = models.DateField(help_text="First night (local evening date).")
    end = models.DateField(help_text="Last night (local evening date), inclusive.")
    call_opens = models.DateTimeField()
    deadline = models.DateTimeField()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="period_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(deadline__gt=models.F("call_opens")),
                name="period_deadline_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"P{self.number}"

    def call_is_open(self, now: "datetime.datetime | None" = None) -> bool:
        now = now or timezone.now()
        return self.call_opens <= now < self.deadline


class Category(models.TextChoices):
    A = "A", "A — Cosmology"
    B = "B", "B — Galaxies and galactic nuclei"
    C = "C", "C — Interstellar medium, star formation and planetary systems"
    D = "D", "D — Stellar evolution"


class ProposalType(models.TextChoices):
    NORMAL = "normal", "Normal"
    LARGE = "large", "Large programme"
    TOO = "too", "Target of opportunity"
    DDT = "ddt", "Director's discretionary time"
    CALIBRATION = "calibration", "Calibration"


class ProposalStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Proposal(models.Model):
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="proposals")
    pi = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pi_proposals"
    )
    title = models.CharField(max_length=300)
    abstract = models.TextField(blank=True)
    category = models.CharField(max_length=1, choices=Category.choices, blank=True)
    proposal_type = models.CharField(
        max_length=20, choices=ProposalType.choices, default=ProposalType.NORMAL
    )
    scientific_justification = models.TextField(blank=True)
    # Sub-fields of the category, lower case; matched against reviewers' declared expertise.
    keywords = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.DRAFT
    )
    # Assigned at submission: period.category-number, e.g. 118.C-0042; unique per period.
    programme_number = models.PositiveIntegerField(null=True, blank=True)
    programme_id = models.CharField(max_length=20, unique=True, null=True, blank=True)
    # Incremented by every write; the API's ETag. Concurrent edits are detected with If-Match.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    final_pdf = models.FileField(upload_to="proposals/final/", blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "programme_number"], name="programme_number_unique_per_period"
            )
        ]

    def __str__(self) -> str:
        return self.programme_id or f"Draft #{self.pk}: {self.title}"

    @property
    def is_editable(self) -> bool:
        return self.status == ProposalStatus.DRAFT


class CoInvestigator(models.Model):
    """A co-investigator: an existing user, or an e-mail invited until they accept."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="coinvestigators")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coi_of",
    )
    email = models.EmailField()
    invitation_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "email"], name="coi_unique_email")
        ]

    def __str__(self) -> str:
        return self.email


class Target(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=100)
    ra_deg = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(360)])
    dec_deg = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    magnitude = models.FloatField(null=True, blank=True)
    pm_ra_mas_yr = models.FloatField("proper motion in RA·cos(Dec) [mas/yr]", default=0.0)
    pm_dec_mas_yr = models.FloatField("proper motion in Dec [mas/yr]", default=0.0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "name"], name="target_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Mode(models.TextChoices):
    SM = "SM", "Service mode"
    VM = "VM", "Visitor mode"


class Transparency(models.TextChoices):
    PHOTOMETRIC = "photometric", "Photometric"
    CLEAR = "clear", "Clear"
    THIN_CIRRUS = "thin_cirrus", "Thin cirrus"
    VARIABLE = "variable", "Variable"


class ObservingRun(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="runs")
    letter = models.CharField(max_length=2)
    telescope = models.ForeignKey(Telescope, on_delete=models.PROTECT)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT)
    mode = models.CharField(max_length=2, choices=Mode.choices, default=Mode.SM)
    hours = models.FloatField(null=True, blank=True, help_text="Time requested (SM), hours.")
    nights = models.FloatField(null=True, blank=True, help_text="Nights requested (VM).")
    max_fli = models.FloatField(
        "max fraction of lunar illumination",
        default=1.0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    max_seeing_arcsec = models.FloatField(default=1.2, validators=[MinValueValidator(0.1)])
    transparency = models.CharField(
        max_length=20, choices=Transparency.choices, default=Transparency.CLEAR
    )
    max_airmass = models.FloatField(
        default=1.6, validators=[MinValueValidator(1.0), MaxValueValidator(5.0)]
    )
    targets = models.ManyToManyField(Target, related_name="runs", blank=True)
    preferred_dates = models.JSONField(default=list, blank=True, help_text="VM: ISO dates.")
    impossible_dates = models.JSONField(default=list, blank=True, help_text="VM: ISO dates.")

    class Meta:
        ordering = ["letter"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "letter"], name="run_unique_letter")
        ]

    def __str__(self) -> str:
        prefix = self.proposal.programme_id or f"#{self.proposal_id}"
        return f"{prefix}({self.letter})"

    @property
    def requested_time_label(self) -> str:
        if self.mode == Mode.VM:
            return f"{self.nights:g} n" if self.nights is not None else "—"
        return f"{self.hours:g} h" if self.hours is not None else "—"


def figure_path(instance: "Figure", filename: str) -> str:
    return f"proposals/figures/{instance.proposal_id}/{uuid.uuid4().hex}.{instance.image_format}"


class Figure(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="figures")
    image = models.FileField(upload_to=figure_path)
    image_format = models.CharField(max_length=4)  # "png" | "jpeg", detected from the content
    caption = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.caption or self.image.name


class EventKind(models.TextChoices):
    STATUS = "status", "Status change"
    EDIT = "edit", "Edit"


class ProposalEvent(models.Model):
    """The audit trail of a proposal: every status change (who, when, from, to) and every edit
    of a draft (who, when, which fields; ``old`` = ``new`` = the status then)."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=EventKind.choices, default=EventKind.STATUS)
    fields = models.JSONField(default=list, blank=True, help_text="Edits: the fields changed.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    old = models.CharField(max_length=20, choices=ProposalStatus.choices)
    new = models.CharField(max_length=20, choices=ProposalStatus.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.proposal_id}: {self.old} -> {self.new}"


# Review and allocation live in their own module; imported here so Django registers them.
from proposals.review.models import (  # noqa: E402, F401
    Assignment,
    Conflict,
    LedgerEntry,
    Panel,
    PanelGrade,
    PanelMember,
    ReviewDelegate,
    ReviewEvent,
    ReviewSetup,
    RunDecision,
)
from proposals.review.models import Review as ProposalReview  # noqa: E402, F401
