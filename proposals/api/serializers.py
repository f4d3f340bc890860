"""Phase 1 API serializers: I/O only. Output serializers shape what selectors return; input
serializers check the shape of a request before exactly one service is called. Domain rules
(coordinates, instrument on telescope, positive time, deadlines, image content) live in the
services, which answer with field messages."""

import math
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dataflow.observatory.models import Instrument, Site, Telescope
from proposals.coordinates import format_dec, format_ra
from proposals.models import (
    Category,
    CoInvestigator,
    Figure,
    Mode,
    ObservingRun,
    Period,
    Proposal,
    ProposalEvent,
    ProposalType,
    Target,
    Transparency,
)

# ---------------------------------------------------------------------------------------------
# Observatory and periods (read-only)
# ---------------------------------------------------------------------------------------------


class PeriodSerializer(serializers.ModelSerializer[Period]):
    call_is_open = serializers.SerializerMethodField()

    class Meta:
        model = Period
        fields = ["number", "start", "end", "call_opens", "deadline", "call_is_open"]

    def get_call_is_open(self, period: Period) -> bool:
        return period.call_is_open()


class SiteSerializer(serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["name", "latitude_deg", "longitude_deg", "height_m", "timezone"]


class InstrumentSerializer(serializers.ModelSerializer[Instrument]):
    observing_modes = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Instrument
        fields = ["id", "name", "description", "offered_sm", "offered_vm", "observing_modes"]


class TelescopeSerializer(serializers.ModelSerializer[Telescope]):
    site = SiteSerializer()
    instruments = InstrumentSerializer(many=True)

    class Meta:
        model = Telescope
        fields = ["id", "name", "aperture_m", "site", "instruments"]


# ---------------------------------------------------------------------------------------------
# Proposals: output
# ---------------------------------------------------------------------------------------------


def _institute(user: User) -> str:
    profile = getattr(user, "profile", None)  # None when the user has no profile row
    return profile.institute if profile is not None else ""


class PersonSerializer(serializers.Serializer[User]):
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    email = serializers.EmailField()
    institute = serializers.SerializerMethodField()

    def get_name(self, user: User) -> str:
        return user.get_full_name() or user.username

    def get_institute(self, user: User) -> str:
        return _institute(user)


class CoInvestigatorSerializer(serializers.ModelSerializer[CoInvestigator]):
    accepted = serializers.SerializerMethodField()
    user = PersonSerializer(allow_null=True)

    class Meta:
        model = CoInvestigator
        fields = ["id", "email", "accepted", "user", "invited_at"]

    def get_accepted(self, coi: CoInvestigator) -> bool:
        return coi.user_id is not None


class TargetSerializer(serializers.ModelSerializer[Target]):
    ra = serializers.SerializerMethodField(help_text="Right ascension, hh:mm:ss.ss")
    dec = serializers.SerializerMethodField(help_text="Declination, ±dd:mm:ss.s")

    class Meta:
        model = Target
        fields = [
            "id", "name", "ra", "dec", "ra_deg", "dec_deg", "magnitude",
            "pm_ra_mas_yr", "pm_dec_mas_yr",
        ]  # fmt: skip

    def get_ra(self, target: Target) -> str:
        return format_ra(target.ra_deg)

    def get_dec(self, target: Target) -> str:
        return format_dec(target.dec_deg)


class NamedRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RunSerializer(serializers.ModelSerializer[ObservingRun]):
    telescope = NamedRefSerializer()
    instrument = NamedRefSerializer()
    target_ids = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()
    preferred_dates = serializers.ListField(child=serializers.DateField())
    impossible_dates = serializers.ListField(child=serializers.DateField())

    class Meta:
        model = ObservingRun
        fields = [
            "id", "letter", "telescope", "instrument", "mode", "hours", "nights", "max_fli",
            "max_seeing_arcsec", "transparency", "max_airmass", "target_ids", "targets",
            "preferred_dates", "impossible_dates",
        ]  # fmt: skip

    # Both read the (prefetched) run.targets.all(), never a fresh query per run.
    def get_target_ids(self, run: ObservingRun) -> list[int]:
        return [t.pk for t in run.targets.all()]

    def get_targets(self, run: ObservingRun) -> list[str]:
        return [t.name for t in run.targets.all()]


class FigureSerializer(serializers.ModelSerializer[Figure]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Figure
        fields = ["id", "caption", "image_format", "url"]

    def get_url(self, figure: Figure) -> str:
        """The API view of the image: served only to those who may see the proposal."""
        path = reverse("proposal-figure", args=[figure.proposal_id, figure.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class EventSerializer(serializers.ModelSerializer[ProposalEvent]):
    actor = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = ProposalEvent
        fields = ["at", "kind", "old", "new", "actor", "note", "fields"]


class ProposalListSerializer(serializers.ModelSerializer[Proposal]):
    period = serializers.IntegerField(source="period.number")
    pi = PersonSerializer()

    class Meta:
        model = Proposal
        fields = [
            "id", "period", "programme_id", "title", "category", "proposal_type", "status",
            "pi", "version", "created_at", "updated_at", "submitted_at",
        ]  # fmt: skip


class ProposalDetailSerializer(ProposalListSerializer):
    coinvestigators = CoInvestigatorSerializer(many=True)
    targets = TargetSerializer(many=True)
    runs = RunSerializer(many=True)
    figures = FigureSerializer(many=True)
    events = EventSerializer(many=True)
    is_editable = serializers.BooleanField()
    keywords = serializers.ListField(child=serializers.CharField())

    class Meta(ProposalListSerializer.Meta):
        fields = [
            *ProposalListSerializer.Meta.fields,
            "abstract", "scientific_justification", "keywords", "is_editable",
            "coinvestigators", "targets", "runs", "figures", "events",
        ]  # fmt: skip


class VerificationFindingSerializer(serializers.Serializer[Any]):
    where = serializers.CharField()
    message = serializers.CharField()


class VerificationReportSerializer(serializers.Serializer[Any]):
    # "errors" is the report's JSON key by contract; it shadows Serializer.errors, unused here.
    errors = VerificationFindingSerializer(many=True)  # type: ignore[assignment]
    warnings = VerificationFindingSerializer(many=True)


# ---------------------------------------------------------------------------------------------
# Proposals: input (shape only)
# ---------------------------------------------------------------------------------------------


class ProposalCreateInput(serializers.Serializer[Any]):
    period = serializers.SlugRelatedField(
        slug_field="number", queryset=Period.objects.all(), help_text="Period number, e.g. 119."
    )
    title = serializers.CharField(max_length=300)
    abstract = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, allow_blank=True, default=""
    )
    proposal_type = serializers.ChoiceField(
        choices=ProposalType.choices, required=False, default=ProposalType.NORMAL
    )
    scientific_justification = serializers.CharField(required=False, allow_blank=True, default="")
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10, default=list
    )


class ProposalUpdateInput(serializers.Serializer[Any]):
    """PATCH: only the fields sent are changed."""

    title = serializers.CharField(max_length=300, required=False)
    abstract = serializers.CharField(required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, required=False, allow_blank=True)
    proposal_type = serializers.ChoiceField(choices=ProposalType.choices, required=False)
    scientific_justification = serializers.CharField(required=False, allow_blank=True)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10
    )


class StrictFloatField(serializers.FloatField):
    """A JSON number: booleans, huge integers and non-finite values are refused with a field
    message (DRF's FloatField turns ``true`` into 1.0 and lets ``float(10**400)`` raise)."""

    default_error_messages = {"invalid": "Give a finite number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            value = super().to_internal_value(data)
        except OverflowError:
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return value


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 40}, {"type": "number"}]})
class CoordinateField(serializers.Field[Any, Any, Any, Any]):
    """A string (sexagesimal or decimal degrees) or a number (degrees); the service parses it."""

    default_error_messages = {"invalid": "Give a string such as '10:08:22.3' or a number."}

    def to_internal_value(self, data: Any) -> str | float | int:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if isinstance(data, str) and len(data) > 40:
            self.fail("invalid")
        return data  # the service parses and range-checks it (huge numbers included)

    def to_representation(self, value: Any) -> Any:
        return value


class TargetInput(serializers.Serializer[Any]):
    """POST/PUT take every field (name, ra, dec required); PATCH only the ones to change."""

    name = serializers.CharField(max_length=100)
    ra = CoordinateField(help_text="'hh:mm:ss.s', '10h08m22s' or decimal degrees")
    dec = CoordinateField(help_text="'±dd:mm:ss', '-30d12m05s' or decimal degrees")
    magnitude = StrictFloatField(required=False, allow_null=True, default=None)
    pm_ra_mas_yr = StrictFloatField(required=False, default=0.0)
    pm_dec_mas_yr = StrictFloatField(required=False, default=0.0)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "maxLength": 50}]})
class IdOrNameField(serializers.Field[Any, Any, Any, Any]):
    """An object's numeric id or its name."""

    default_error_messages = {"invalid": "Give an id (number) or a name (string)."}

    def to_internal_value(self, data: Any) -> int | str:
        # Passed on as given: the service resolves ids (ASCII digits) and names alike.
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        if isinstance(data, str) and len(data) > 50:
            self.fail("invalid")
        return data.strip() if isinstance(data, str) else data

    def to_representation(self, value: Any) -> Any:
        return value


class RunInput(serializers.Serializer[Any]):
    """POST/PUT take the whole run (telescope and instrument required; the fields left out take
    their defaults); PATCH only the fields to change.

    ``target_ids`` and/or ``targets`` (names) pick the run's targets among the proposal's."""

    telescope = IdOrNameField(help_text="Telescope id or name, e.g. 'UT1'.")
    instrument = IdOrNameField(help_text="Instrument id or name, e.g. 'FORS2'.")
    mode = serializers.ChoiceField(choices=Mode.choices, required=False, default=Mode.SM)
    hours = StrictFloatField(
        required=False, allow_null=True, default=None, help_text="SM only: hours."
    )
    nights = StrictFloatField(
        required=False, allow_null=True, default=None, help_text="VM only: nights."
    )
    max_fli = StrictFloatField(required=False, default=1.0)
    max_seeing_arcsec = StrictFloatField(required=False, default=1.2)
    transparency = serializers.ChoiceField(
        choices=Transparency.choices, required=False, default=Transparency.CLEAR
    )
    max_airmass = StrictFloatField(required=False, default=1.6)
    target_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
    )
    targets = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Target names."
    )
    preferred_dates = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        help_text="VM only: YYYY-MM-DD dates.",
    )
    impossible_dates = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        help_text="VM only: YYYY-MM-DD dates.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Turn target names into ids of the proposal in ``context["proposal"]``."""
        names = attrs.pop("targets", None)
        if names is None:
            return attrs
        proposal: Proposal = self.context["proposal"]
        ids_by_name = dict(proposal.targets.filter(name__in=names).values_list("name", "pk"))
        unknown = [n for n in names if n not in ids_by_name]
        if unknown:
            raise serializers.ValidationError(
                {"targets": [f"No target named {n} in this proposal." for n in unknown]}
            )
        attrs["target_ids"] = sorted({*attrs.get("target_ids", []), *ids_by_name.values()})
        return attrs


class CoInvestigatorInput(serializers.Serializer[Any]):
    email = serializers.EmailField()


class FigureInput(serializers.Serializer[Any]):
    """multipart/form-data: the type is checked by content and the size limited by the service."""

    image = serializers.FileField(help_text="PNG or JPEG; at most FIGURE_MAX_BYTES.")
    caption = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------------------------------------
# The outcome letter (output only; built by proposals.review.outcome.outcome_data)
# ---------------------------------------------------------------------------------------------


class OutcomeRunSerializer(serializers.Serializer[Any]):
    run = serializers.CharField(help_text="e.g. 119.C-0001(A)")
    letter = serializers.CharField()
    telescope = serializers.CharField()
    instrument = serializers.CharField()
    mode = serializers.CharField()
    requested = serializers.CharField()
    decision = serializers.CharField()
    rank_class = serializers.CharField(allow_blank=True)
    allocated_seconds = serializers.IntegerField(allow_null=True)
    allocated_hours = serializers.FloatField(allow_null=True)
    allocated_nights = serializers.FloatField(allow_null=True)


class OutcomeCommentSerializer(serializers.Serializer[Any]):
    # "label" is the JSON key by contract; it shadows Field.label, unused on this output.
    label = serializers.CharField(help_text="Reviewer 1, 2...: never an identity.")  # type: ignore[assignment]
    text = serializers.CharField()


class OutcomeSerializer(serializers.Serializer[Any]):
    """The letter a proposal's team receives: decisions, time, grade, standing, comments to
    the PI, and nothing that identifies a reviewer."""

    proposal = serializers.IntegerField()
    programme_id = serializers.CharField()
    title = serializers.CharField()
    period = serializers.IntegerField()
    status = serializers.CharField()
    runs = OutcomeRunSerializer(many=True)
    grade = serializers.FloatField(allow_null=True)
    quartile = serializers.IntegerField(allow_null=True)
    quartile_label = serializers.CharField(allow_blank=True)
    pool = serializers.CharField(allow_blank=True)
    pool_size = serializers.IntegerField()
    standing = serializers.CharField(allow_blank=True)
    comments_to_pi = OutcomeCommentSerializer(many=True)


class ReviewDelegateInput(serializers.Serializer[Any]):
    user = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="User id of an accepted co-investigator; the PI's own id removes the delegation.",
    )


class ReviewDelegateSerializer(serializers.Serializer[Any]):
    reviewer = serializers.CharField(help_text="Username of who reviews for the team.")
    delegated = serializers.BooleanField()
