"""Review and time allocation (ESO's OPC): panels, conflicts, assignments, reviews, the chair's
grade, run decisions and the time ledger. The nights a telescope offers are the observatory
calendar's (``scheduling.models.CalendarNight``), read by ``selectors.available_hours``.

Imported by ``proposals.models`` so Django registers them in the ``proposals`` app."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class ReviewSetup(models.Model):
    """How a period's call is reviewed (one row per period; defaults are ESO's practice)."""

    period = models.OneToOneField(
        "proposals.Period", on_delete=models.CASCADE, related_name="review_setup"
    )
    reviewers_per_proposal = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    primaries_per_proposal = models.PositiveSmallIntegerField(default=1)
    # A reviewer who is PI of another proposal in the same panel competes with it.
    competing_pi_is_conflict = models.BooleanField(default=True)
    # Proposals asking for less than this many hours go to distributed peer review (0: none).
    distributed_below_hours = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    distributed_reviews_per_team = models.PositiveSmallIntegerField(default=3)
    # Triage: proposals ranked beyond the point where the cumulative request reaches this many
    # times the available time are not discussed.
    triage_share = models.FloatField(default=1.5, validators=[MinValueValidator(1.0)])
    disagreement_range = models.FloatField(default=1.5)
    review_deadline = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Review of {self.period}"


class Panel(models.Model):
    period = models.ForeignKey("proposals.Period", on_delete=models.CASCADE, related_name="panels")
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=1)  # proposals.models.Category
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deadline = models.DateTimeField(help_text="Reviews are due by then (UTC).")

    class Meta:
        ordering = ["category", "name"]
        constraints = [models.UniqueConstraint(fields=["period", "name"], name="panel_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.period})"


class PanelMember(models.Model):
    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expertise = models.JSONField(default=list, blank=True, help_text="Keywords, lower case.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["panel", "user"], name="panel_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.panel}"


class ConflictKind(models.TextChoices):
    PI = "pi", "Reviewer is the PI"
    COI = "coi", "Reviewer is a co-investigator"
    INSTITUTE = "institute", "Same institute as an investigator"
    COMPETING = "competing", "PI of a competing proposal in the panel"
    DECLARED = "declared", "Declared by the reviewer"


class Conflict(models.Model):
    """A conflict of interest of a reviewer with a proposal, detected or declared. Staff may
    override it with a reason; the row stays (every decision is kept)."""

    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="conflicts"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ConflictKind.choices)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "reviewer", "kind"], name="conflict_unique_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} / {self.proposal}: {self.kind}"

    @property
    def active(self) -> bool:
        return self.overridden_at is None


class AssignmentRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    DISTRIBUTED = "distributed", "Distributed peer review"


class Assignment(models.Model):
    """A reviewer assigned to a proposal, by a panel or by distributed peer review (then on
    behalf of the team of ``for_proposal``, who owes the review)."""

    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    panel = models.ForeignKey(
        Panel, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    for_proposal = models.ForeignKey(
        "proposals.Proposal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=12, choices=AssignmentRole.choices)
    by_hand = models.BooleanField(default=False, help_text="Moved by staff: kept on re-solve.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "reviewer"], name="assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.proposal}"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


class Review(models.Model):
    """A reviewer's grade (1.0 best .. 5.0 worst, steps of 0.1) and comments."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="review")
    grade = models.DecimalField(
        max_digits=2,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    comment_to_pi = models.TextField(blank=True)
    comment_to_panel = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT
    )
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Review of {self.assignment}"


class PanelGrade(models.Model):
    """The chair's final grade for a proposal after the panel meeting."""

    proposal = models.OneToOneField(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="panel_grade"
    )
    panel = models.ForeignKey(Panel, on_delete=models.CASCADE)
    grade = models.DecimalField(
        max_digits=2, decimal_places=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.proposal}: {self.grade}"


class RankClass(models.TextChoices):
    A = "A", "A: completed if at all possible"
    B = "B", "B: best effort"
    C = "C", "C: filler"


class RunDecision(models.Model):
    """Staff's decision on one run; its time is in the ledger."""

    run = models.OneToOneField(
        "proposals.ObservingRun", on_delete=models.CASCADE, related_name="decision"
    )
    approved = models.BooleanField()
    rank_class = models.CharField(max_length=1, choices=RankClass.choices, blank=True)
    allocated_nights = models.FloatField(null=True, blank=True, help_text="VM runs.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.run}: {'approved' if self.approved else 'rejected'}"


class LedgerKind(models.TextChoices):
    ALLOCATION = "allocation", "Allocation"
    CHARGE = "charge", "Execution charge"
    REFUND = "refund", "Refund"


class LedgerEntry(models.Model):
    """Time of a run in integer seconds: allocations (and their corrections) positive, charges
    of executions negative, refunds positive. The balance is the sum."""

    run = models.ForeignKey(
        "proposals.ObservingRun", on_delete=models.PROTECT, related_name="ledger"
    )
    kind = models.CharField(max_length=10, choices=LedgerKind.choices)
    seconds = models.BigIntegerField()
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.run}: {self.kind} {self.seconds} s"


class ReviewEvent(models.Model):
    """The audit trail of review and allocation: who did what, when (never shown to PIs)."""

    period = models.ForeignKey("proposals.Period", on_delete=models.CASCADE, related_name="+")
    proposal = models.ForeignKey(
        "proposals.Proposal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class ReviewDelegate(models.Model):
    """Distributed peer review: the co-investigator a PI delegates to review on the team's
    behalf (without a row, the PI reviews)."""

    proposal = models.OneToOneField(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="review_delegate"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} reviews for {self.proposal}"
