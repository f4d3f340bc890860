"""Serializers of the review API (``proposals.review.api.views``): output, and input (shape
only; the services hold the rules)."""

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dataflow.accounts.api.serializers import StrictCharField
from proposals.models import Category, Proposal
from proposals.review import services
from proposals.review.models import (
    Assignment,
    Conflict,
    LedgerEntry,
    Panel,
    PanelGrade,
    PanelMember,
    RankClass,
    Review,
    RunDecision,
)

# ---------------------------------------------------------------------------------------------
# Serializers: output
# ---------------------------------------------------------------------------------------------


class ProposalRefSerializer(serializers.Serializer[Proposal]):
    id = serializers.IntegerField()
    programme_id = serializers.CharField(allow_null=True)
    title = serializers.CharField()


class AssignedProposalSerializer(ProposalRefSerializer):
    category = serializers.CharField()


class AssignedProposalDetailSerializer(AssignedProposalSerializer):
    abstract = serializers.CharField()


class MyReviewSerializer(serializers.Serializer[Review]):
    """The reviewer's own review (never anyone else's)."""

    grade = serializers.FloatField(
        allow_null=True, help_text="1.0 (best) to 5.0 (worst), steps of 0.1"
    )
    comment_to_pi = serializers.CharField(allow_blank=True)
    comment_to_panel = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)


class AssignmentSerializer(serializers.ModelSerializer[Assignment]):
    proposal = AssignedProposalSerializer()
    panel = serializers.CharField(source="panel.name", allow_null=True, default=None)
    deadline = serializers.DateTimeField(source="panel.deadline", allow_null=True, default=None)
    review_status = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "role", "panel", "deadline", "proposal", "review_status"]

    def get_review_status(self, assignment: Assignment) -> str:
        review = getattr(assignment, "review", None)
        return review.status if review is not None else "open"


class AssignmentDetailSerializer(AssignmentSerializer):
    proposal = AssignedProposalDetailSerializer()
    review = serializers.SerializerMethodField()

    class Meta(AssignmentSerializer.Meta):
        fields = [*AssignmentSerializer.Meta.fields, "review"]

    @staticmethod
    def _review(assignment: Assignment) -> Review | None:
        return getattr(assignment, "review", None)

    @extend_schema_field(MyReviewSerializer(allow_null=True))
    def get_review(self, assignment: Assignment) -> dict[str, Any] | None:
        review = self._review(assignment)
        return dict(MyReviewSerializer(review).data) if review is not None else None


class PanelMemberSerializer(serializers.ModelSerializer[PanelMember]):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = PanelMember
        fields = ["user", "username", "expertise"]


class PanelSerializer(serializers.ModelSerializer[Panel]):
    period = serializers.IntegerField(source="period.number")
    chair = serializers.IntegerField(source="chair_id", allow_null=True)
    members = PanelMemberSerializer(many=True)

    class Meta:
        model = Panel
        fields = ["id", "period", "name", "category", "deadline", "chair", "members"]


class ReviewerGradeSerializer(serializers.Serializer[Any]):
    reviewer = serializers.CharField(help_text="R1, R2, ...: never the reviewer's identity")
    raw = serializers.FloatField()
    normalised = serializers.FloatField()


class RankingLineSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    proposal = ProposalRefSerializer()
    grades = ReviewerGradeSerializer(many=True)
    mean = serializers.FloatField(allow_null=True, help_text="of the normalised grades")
    median = serializers.FloatField(allow_null=True)
    spread = serializers.FloatField(allow_null=True)
    disagreement = serializers.BooleanField()
    triaged = serializers.BooleanField(help_text="Below the triage line: not discussed")
    panel_grade = serializers.FloatField(allow_null=True)
    requested_hours = serializers.FloatField()
    submitted = serializers.IntegerField(help_text="Reviews submitted")
    assigned = serializers.IntegerField(help_text="Reviewers assigned")


class PanelRankingSerializer(serializers.Serializer[Any]):
    panel = serializers.IntegerField()
    proposals = RankingLineSerializer(many=True)


class TelescopeLineSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    proposal = ProposalRefSerializer()
    hours = serializers.FloatField()
    cumulative_hours = serializers.FloatField()
    above_cut = serializers.BooleanField()
    above_triage = serializers.BooleanField()


class TelescopeRankingSerializer(serializers.Serializer[Any]):
    telescope = serializers.CharField()
    available_hours = serializers.FloatField()
    requested_hours = serializers.FloatField()
    pressure = serializers.FloatField(allow_null=True, help_text="requested / available")
    lines = TelescopeLineSerializer(many=True)


class PeriodRankingSerializer(serializers.Serializer[Any]):
    period = serializers.IntegerField()
    telescopes = TelescopeRankingSerializer(many=True)
    pressure = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text='Per telescope and per category ("category C")',
    )


class CountSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()


class ConflictSerializer(serializers.ModelSerializer[Conflict]):
    proposal = ProposalRefSerializer()
    reviewer = serializers.IntegerField(source="reviewer_id")
    reviewer_username = serializers.CharField(source="reviewer.username")
    overridden_by = serializers.CharField(
        source="overridden_by.username", allow_null=True, default=None
    )
    active = serializers.BooleanField()

    class Meta:
        model = Conflict
        fields = [
            "id", "proposal", "reviewer", "reviewer_username", "kind", "reason", "created_at",
            "active", "overridden_at", "overridden_by", "override_reason",
        ]  # fmt: skip


class PanelGradeSerializer(serializers.ModelSerializer[PanelGrade]):
    grade = serializers.FloatField()

    class Meta:
        model = PanelGrade
        fields = ["proposal", "panel", "grade", "at"]


class RunDecisionSerializer(serializers.ModelSerializer[RunDecision]):
    allocated_seconds = serializers.SerializerMethodField()

    class Meta:
        model = RunDecision
        fields = [
            "run", "approved", "rank_class", "allocated_nights", "allocated_seconds", "note",
            "decided_at",
        ]  # fmt: skip

    def get_allocated_seconds(self, decision: RunDecision) -> int:
        return services.allocated_seconds(decision.run)


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "seconds", "note", "at"]


class LedgerSerializer(serializers.Serializer[Any]):
    run = serializers.IntegerField()
    entries = LedgerEntrySerializer(many=True)
    balance_seconds = serializers.IntegerField(help_text="The sum of the entries")


# ---------------------------------------------------------------------------------------------
# Serializers: input (shape only; the services hold the rules)
# ---------------------------------------------------------------------------------------------


def _grade_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=2,
        decimal_places=1,
        min_value=1,  # type: ignore[arg-type]  # DRF compares with Decimal
        max_value=5,  # type: ignore[arg-type]
        coerce_to_string=False,
        help_text="1.0 (best) to 5.0 (worst), steps of 0.1",
        **kwargs,
    )


class ReviewInput(serializers.Serializer[Any]):
    """PUT sends every field (``grade`` may be null in a draft); PATCH only those to change."""

    grade = _grade_field(allow_null=True)
    comment_to_pi = StrictCharField(allow_blank=True, max_length=10000)
    comment_to_panel = StrictCharField(allow_blank=True, max_length=10000)
    submit = serializers.BooleanField(
        required=False, default=False, help_text="Make the review final"
    )


class ReasonInput(serializers.Serializer[Any]):
    reason = StrictCharField(max_length=500)


class PanelGradeInput(serializers.Serializer[Any]):
    grade = _grade_field()


class PanelCreateInput(serializers.Serializer[Any]):
    period = serializers.IntegerField(help_text="Period number", min_value=1, max_value=10**6)
    name = StrictCharField(max_length=100)
    category = serializers.ChoiceField(choices=Category.choices)
    deadline = serializers.DateTimeField(help_text="Reviews are due by then (UTC)")
    chair = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**31 - 1
    )


class PanelMemberInput(serializers.Serializer[Any]):
    user = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    expertise = serializers.ListField(
        child=StrictCharField(max_length=100), required=False, allow_null=True, max_length=50
    )
    chair = serializers.BooleanField(required=False, default=False)


class MoveInput(serializers.Serializer[Any]):
    reviewer = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class RunDecisionInput(serializers.Serializer[Any]):
    approved = serializers.BooleanField()
    rank_class = serializers.ChoiceField(
        choices=[*RankClass.choices, ("", "none")], required=False, default=""
    )
    hours = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
    nights = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
    note = StrictCharField(required=False, allow_blank=True, max_length=300, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("hours", "nights"):
            value = attrs.get(name)
            if value is not None and not math.isfinite(value):
                raise serializers.ValidationError({name: ["A finite number."]})
        return attrs


class LateReviewSerializer(serializers.Serializer[Any]):
    assignment = serializers.IntegerField()
    proposal = serializers.IntegerField()
    programme_id = serializers.CharField(allow_null=True)
    reviewer = serializers.CharField(help_text="Username (staff only).")
    panel = serializers.CharField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)


class ReviewProgressSerializer(serializers.Serializer[Any]):
    period = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Assignments not submitted yet.")
    submitted = serializers.IntegerField()
    late = LateReviewSerializer(many=True)
    teams_in_debt = serializers.ListField(
        child=serializers.CharField(),
        help_text="Distributed review: proposals whose team did not deliver its reviews.",
    )
