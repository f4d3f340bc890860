"""Phase 2 API, write side: input serializers (the shape of a request, translated into the
services' typed inputs) and the shapes of the commands' answers. No rule lives here: names,
ranges, statuses and windows are checked by the services, which answer with field messages.

An input accepts what the read side answers (read-only fields are ignored), so a client can
GET an object, change it and PUT it back, as p2's clients do.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from observations import windows as win
from observations.commands import ItemRef, OBData
from observations.models import ItemType, OBStatus, SkyTransparency
from proposals.api.serializers import CoordinateField, StrictFloatField

MAX_ID = 2**63 - 1  # a larger number names no row (and would overflow the database's integer)


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# ---------------------------------------------------------------------------------------------
# Containers and items
# ---------------------------------------------------------------------------------------------


class ItemCreateInput(serializers.Serializer[Any]):
    """p2's createItem: ``item_type`` OB makes an OB, the others a container."""

    item_type = serializers.ChoiceField(choices=ItemType.choices)
    name = serializers.CharField(allow_blank=True)


class ContainerInput(serializers.Serializer[Any]):
    """PUT takes the container as GET answers it (``name`` required); PATCH the fields to
    change. ``group_priority``: Groups only."""

    name = serializers.CharField(allow_blank=True)
    group_priority = serializers.IntegerField(required=False)


class ItemRefInput(serializers.Serializer[Any]):
    """An item as the container's items list names it: ``item_type`` with ``ob_id`` (an OB)
    or ``container_id`` (any other type); other fields of the item are ignored."""

    item_type = serializers.ChoiceField(choices=ItemType.choices)
    ob_id = id_field(required=False)
    container_id = id_field(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        key = "ob_id" if attrs["item_type"] == ItemType.OB else "container_id"
        if key not in attrs:
            raise serializers.ValidationError({key: f"A {attrs['item_type']} item needs {key}."})
        return attrs

    @staticmethod
    def ref(attrs: dict[str, Any]) -> ItemRef:
        if attrs["item_type"] == ItemType.OB:
            return ItemRef.ob(attrs["ob_id"])
        return ItemRef.container(attrs["container_id"])


class ItemMoveInput(serializers.Serializer[Any]):
    container_id = id_field(help_text="The container to move the item into (of the same run)")


# ---------------------------------------------------------------------------------------------
# OBs: the same nesting as the OB the read side answers
# ---------------------------------------------------------------------------------------------


class OBTargetInput(serializers.Serializer[Any]):
    """``ra``/``dec`` sexagesimal or degrees (``ra_deg``/``dec_deg`` are read-only)."""

    name = serializers.CharField(allow_blank=True)
    ra = CoordinateField(allow_null=True, help_text="'hh:mm:ss.s' or degrees; null clears it")
    dec = CoordinateField(allow_null=True, help_text="'±dd:mm:ss' or degrees; null clears it")
    equinox = serializers.CharField(help_text="e.g. J2000")
    epoch = StrictFloatField()
    pm_ra_arcsec_yr = StrictFloatField()
    pm_dec_arcsec_yr = StrictFloatField()


class OBConstraintsInput(serializers.Serializer[Any]):
    max_airmass = StrictFloatField()
    seeing_arcsec = StrictFloatField()
    sky_transparency = serializers.ChoiceField(choices=SkyTransparency.choices)
    max_fli = StrictFloatField()
    min_moon_distance_deg = StrictFloatField()
    twilight_min = StrictFloatField()
    water_vapour_mm = StrictFloatField()


class OBSchedulingInput(serializers.Serializer[Any]):
    contribution = StrictFloatField(help_text="Groups only")
    min_delay_s = serializers.IntegerField(help_text="TimeLinks only")
    max_delay_s = serializers.IntegerField(allow_null=True, help_text="TimeLinks only")


CONSTRAINTS = (
    "max_airmass", "seeing_arcsec", "sky_transparency", "max_fli", "min_moon_distance_deg",
    "twilight_min", "water_vapour_mm",
)  # fmt: skip
SCHEDULING = ("contribution", "min_delay_s", "max_delay_s")
# (input section, input name) -> OBData's field; the errors of the services are named back.
_OB_FIELDS: dict[tuple[str, str], str] = {
    ("", "name"): "name",
    ("", "user_priority"): "user_priority",
    ("", "user_comments"): "user_comments",
    ("target", "name"): "target_name",
    ("target", "ra"): "ra",
    ("target", "dec"): "dec",
    ("target", "equinox"): "equinox",
    ("target", "epoch"): "epoch",
    ("target", "pm_ra_arcsec_yr"): "pm_ra",
    ("target", "pm_dec_arcsec_yr"): "pm_dec",
    **{("constraints", name): name for name in CONSTRAINTS},
    **{("scheduling", name): name for name in SCHEDULING},
}
OB_ERROR_KEYS = {
    field: f"{section}.{name}" if section else name for (section, name), field in _OB_FIELDS.items()
}


class OBInput(serializers.Serializer[Any]):
    """PUT takes the whole OB as GET answers it (its read-only fields ignored: ids, status,
    version, instrument, times, templates, windows, charts); PATCH only what to change."""

    name = serializers.CharField(allow_blank=True)
    user_priority = serializers.IntegerField()
    user_comments = serializers.CharField(allow_blank=True)
    target = OBTargetInput()
    constraints = OBConstraintsInput()
    scheduling = OBSchedulingInput()

    def command(self) -> OBData:
        sent: dict[str, Any] = {}
        for key, value in self.validated_data.items():
            if isinstance(value, dict):
                sent.update({_OB_FIELDS[(key, name)]: v for name, v in value.items()})
            else:
                sent[_OB_FIELDS[("", key)]] = value
        return OBData(**sent)


class CopyTargetInput(serializers.Serializer[Any]):
    target_id = id_field(help_text="A Phase 1 target of the OB's run")


class SendBackInput(serializers.Serializer[Any]):
    message = serializers.CharField(allow_blank=True, help_text="What to repair")


class WaiverInput(serializers.Serializer[Any]):
    waived = serializers.BooleanField(help_text="true: waive the SM one-hour minimum")


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


class TemplateAddInput(serializers.Serializer[Any]):
    template_name = serializers.CharField(help_text="A template of the OB's instrument package")


class ParameterValueInput(serializers.Serializer[Any]):
    name = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="null resets it to its default")

    def validate_value(self, value: Any) -> Any:
        """What JSON can carry but no parameter and no database column takes: a NUL
        character, an integer beyond any float (the services compare values as numbers)."""
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and "\x00" in item:
                raise serializers.ValidationError("Null characters are not allowed.")
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**63:
                raise serializers.ValidationError("The number is too large.")
        return value


class TemplateValuesInput(serializers.Serializer[Any]):
    """p2's saveTemplate: the parameters to set, ``[{name, value}]`` (their definitions, as
    GET answers them, are ignored)."""

    parameters = ParameterValueInput(many=True)

    def validate_parameters(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [p["name"] for p in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise serializers.ValidationError(f"Give each parameter once: {', '.join(twice)}.")
        return value

    def values(self) -> dict[str, Any]:
        return {p["name"]: p["value"] for p in self.validated_data["parameters"]}


class TemplateOrderInput(serializers.Serializer[Any]):
    template_ids = serializers.ListField(child=id_field(), help_text="Every template, once")


# ---------------------------------------------------------------------------------------------
# Windows and finding charts
# ---------------------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "example": "2027-05-01T00:00"})
class UtcTimeField(serializers.Field[Any, Any, Any, Any]):
    """An ISO date and time, UTC unless it has an offset (p2 writes ``2027-05-01T00:00``)."""

    default_error_messages = {"invalid": "Give the time as YYYY-MM-DDTHH:MM in UTC."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or len(data) > 40:
            self.fail("invalid")
        try:
            return win.parse_utc(data)
        except (ValueError, OverflowError) as exc:  # an offset can push year 9999 past the end
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> Any:
        return value


class AbsoluteWindowInput(serializers.Serializer[Any]):
    start = UtcTimeField()
    end = UtcTimeField()


class SiderealWindowInput(serializers.Serializer[Any]):
    start = serializers.CharField(help_text="LST, HH:MM")
    end = serializers.CharField(help_text="LST, HH:MM (24:00 only here)")


class ChartInput(serializers.Serializer[Any]):
    file = serializers.FileField(
        allow_empty_file=True, help_text="A JPEG of at most 1 MiB (checked by its content)"
    )


class ChartSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="1 to 5, the path of its image")
    name = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes")


# ---------------------------------------------------------------------------------------------
# Answers of the commands
# ---------------------------------------------------------------------------------------------


class VerificationSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="true: no errors, the OB may be submitted")
    # A field of the schema, not the ``errors`` property: the metaclass moves fields away.
    errors = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="What to change"
    )
    warnings = serializers.ListField(child=serializers.CharField(), help_text="What to look at")


class OBVerificationSerializer(VerificationSerializer):
    ob_id = serializers.IntegerField()
    name = serializers.CharField()


class ContainerVerificationSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="true: the container and every OB under it pass")
    errors = serializers.ListField(  # type: ignore[assignment]  # a field, as above
        child=serializers.CharField(), help_text="Every failing OB's errors, each naming its OB"
    )
    obs = OBVerificationSerializer(many=True, help_text="Every OB under the container")


class StatusChangeSerializer(serializers.Serializer[Any]):
    """The OBs a container's submit or accept moved, all to one status."""

    ob_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The OBs changed")
    ob_status = serializers.ChoiceField(choices=OBStatus.choices, help_text="Their new status")


class ExecutionLineSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text="preset, acquisition, setup, readout or exposure")
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves fields off the class
    seconds = serializers.FloatField()
    template = serializers.IntegerField(help_text="1-based position of its template; 0: none")


class ExecutionTimeSerializer(serializers.Serializer[Any]):
    exposure_time_s = serializers.FloatField(source="exposure_s")
    overhead_s = serializers.FloatField()
    execution_time_s = serializers.FloatField(source="execution_s")
    n_exposures = serializers.IntegerField()
    lines = ExecutionLineSerializer(many=True)
