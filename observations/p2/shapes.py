"""p2's JSON shapes, both ways: our objects as p2 answers them (camelCase, RA ``HH:MM:SS.sss``,
proper motions in arcsec/yr, parameters as ``[{name, value}]``, windows as ``{from, to}``), and
p2 request bodies as the Phase 2 service commands (``OBData``, ``ItemRef``). No rule lives here:
the services check every value.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rest_framework import serializers

from observations import windows as win
from observations.commands import ItemRef, OBData
from observations.models import (
    AbsoluteWindow,
    Container,
    ItemType,
    ObservationBlock,
    SiderealWindow,
    SkyTransparency,
    TemplateSignature,
)
from observations.p2.transport import MAX_ID
from observations.selectors import (
    ContainerItem,
    OBItem,
    TemplateView,
    container_status,
    parameter_definitions,
)
from proposals.models import ObservingRun

# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def sexagesimal(value: float, *, hours: bool) -> str:
    """Degrees as p2 writes them: RA ``HH:MM:SS.sss`` (0 to 24 h), Dec ``+DD:MM:SS.sss``."""
    units = value / 15.0 if hours else value
    sign = "-" if units < 0 and not hours else ("+" if not hours else "")
    milli = round(abs(units) * 3_600_000)
    if hours:
        milli %= 24 * 3_600_000
    whole, ms = divmod(milli, 1000)
    d, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{d:02d}:{m:02d}:{s:02d}.{ms:03d}"


def ip_version_value(version: str) -> float | str:
    """p2 shows ``ipVersion`` as a number (116.07); a version a number cannot carry exactly
    (``130.10``) stays a string."""
    try:
        number = float(version)
    except ValueError:
        return version
    return number if str(number) == version else version


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


def run_json(run: ObservingRun, ip_versions: Mapping[int, str]) -> dict[str, Any]:
    """A run of ``selectors.phase2_runs`` (annotated with its root folder and counts)."""
    pi = run.proposal.pi
    version = ip_versions.get(run.instrument_id)
    return {
        "runId": run.pk,
        "progId": str(run),
        "containerId": getattr(run, "root_container_id", None),
        "instrument": run.instrument.name,
        "telescope": run.telescope.name,
        "mode": run.mode,
        "ipVersion": ip_version_value(version) if version else None,
        "period": run.proposal.period.number,
        "title": run.proposal.title,
        "itemCount": getattr(run, "item_count", 0),
        "obCount": getattr(run, "ob_count", 0),
        "pi": {"firstName": pi.first_name, "lastName": pi.last_name},
    }


def item_json(item: ContainerItem | OBItem) -> dict[str, Any]:
    """An item of ``getItems``: an OB or a container."""
    if isinstance(item, OBItem):
        return {
            "itemType": ItemType.OB.value,
            "obId": item.id,
            "name": item.name,
            "obStatus": item.status,
            "userPriority": item.user_priority,
            "targetName": item.target_name,
            "exposureTime": round(item.exposure_time_s),
            "executionTime": round(item.execution_time_s),
            "parentContainerId": item.container_id,
        }
    data: dict[str, Any] = {
        "itemType": item.item_type,
        "containerId": item.id,
        "name": item.name,
        "parentContainerId": item.parent_id,
        "itemCount": item.ob_count,
    }
    if item.status is not None:  # folders have none
        data["containerStatus"] = item.status
    return data


def container_json(container: Container, items: Sequence[ContainerItem | OBItem]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "containerId": container.pk,
        "itemType": container.item_type,
        "name": container.name,
        "runId": container.run_id,
        "parentContainerId": container.parent_id,
        "itemCount": len(items),
    }
    status = container_status(
        container.item_type, [i.status for i in items if isinstance(i, OBItem)]
    )
    if status is not None:
        data["containerStatus"] = status
    if container.item_type == ItemType.GROUP:
        data["groupPriority"] = container.group_priority
    return data


def ob_json(ob: ObservationBlock) -> dict[str, Any]:
    """The OB as ``getOB`` answers it (``ob.run`` and its instrument read)."""
    return {
        "obId": ob.pk,
        "itemType": ItemType.OB.value,
        "obStatus": ob.status,
        "name": ob.name,
        "runId": ob.run_id,
        "instrument": ob.run.instrument.name,
        "ipVersion": ip_version_value(ob.ip_version) if ob.ip_version else None,
        "userPriority": ob.user_priority,
        "parentContainerId": ob.container_id,
        "exposureTime": round(ob.exposure_time_s),
        "executionTime": round(ob.execution_time_s),
        "obsDescription": {"name": ob.name, "userComments": ob.user_comments},
        "target": {
            "name": ob.target_name,
            "ra": "00:00:00.000" if ob.ra_deg is None else sexagesimal(ob.ra_deg, hours=True),
            "dec": "+00:00:00.000" if ob.dec_deg is None else sexagesimal(ob.dec_deg, hours=False),
            "equinox": ob.equinox,
            "epoch": ob.epoch,
            "properMotionRa": ob.pm_ra,
            "properMotionDec": ob.pm_dec,
            "differentialRa": 0.0,
            "differentialDec": 0.0,
        },
        "constraints": {
            "name": ob.name,
            "airmass": ob.max_airmass,
            "skyTransparency": ob.sky_transparency,
            "fli": ob.max_fli,
            "seeing": ob.seeing_arcsec,
            "moonDistance": ob.min_moon_distance_deg,
            "twilight": ob.twilight_min,
            "waterVapour": ob.water_vapour_mm,
        },
    }


def _definition_json(definition: Any) -> dict[str, Any]:
    data = {"name": definition.name, "type": definition.type, "default": definition.default}
    if definition.min is not None:
        data["minimum"] = definition.min
    if definition.max is not None:
        data["maximum"] = definition.max
    if definition.allowed is not None:
        data["allowed"] = definition.allowed
    if definition.label:
        data["label"] = definition.label
    return data


def template_json(template: TemplateView) -> dict[str, Any]:
    return {
        "templateId": template.id,
        "templateName": template.name,
        "type": template.type,
        "parameters": [{**_definition_json(p), "value": p.value} for p in template.parameters],
    }


def signature_json(signature: TemplateSignature) -> dict[str, Any]:
    return {
        "templateName": signature.name,
        "type": signature.type,
        "description": signature.description,
        "parameters": [_definition_json(d) for d in parameter_definitions(signature)],
    }


def absolute_json(windows: Iterable[AbsoluteWindow]) -> list[dict[str, str]]:
    return [{"from": win.format_utc(w.start), "to": win.format_utc(w.end)} for w in windows]


def sidereal_json(windows: Iterable[SiderealWindow]) -> list[dict[str, str]]:
    return [{"from": win.format_lst(w.start_min), "to": win.format_lst(w.end_min)} for w in windows]


# ---------------------------------------------------------------------------------------------
# Requests: serializers check the shape (the schema shows them), the services the values
# ---------------------------------------------------------------------------------------------

CONTAINER_TYPES = [t.value for t in ItemType if t != ItemType.OB]


class P2CreateItemInput(serializers.Serializer[Any]):
    itemType = serializers.ChoiceField(choices=ItemType.values)  # noqa: N815 (p2's names)
    name = serializers.CharField(max_length=1000)


class P2ItemRefInput(serializers.Serializer[Any]):
    """An item named by ``getItems``: ``itemType`` with ``obId`` or ``containerId`` (other
    keys of the item are ignored)."""

    itemType = serializers.ChoiceField(choices=ItemType.values)  # noqa: N815
    obId = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)  # noqa: N815
    containerId = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        key = "obId" if attrs["itemType"] == ItemType.OB else "containerId"
        if key not in attrs:
            raise serializers.ValidationError({key: [f"Give the {attrs['itemType']}'s {key}."]})
        return attrs


def item_ref(data: Mapping[str, Any]) -> ItemRef:
    if data["itemType"] == ItemType.OB:
        return ItemRef.ob(data["obId"])
    return ItemRef.container(data["containerId"])


class P2ContainerInput(serializers.Serializer[Any]):
    """saveContainer: the name (a Group's ``groupPriority`` too); other keys are read-only."""

    name = serializers.CharField(max_length=1000, required=False)
    groupPriority = serializers.IntegerField(required=False)  # noqa: N815


class P2DescriptionInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    userComments = serializers.CharField(  # noqa: N815
        max_length=10000, required=False, allow_blank=True, trim_whitespace=False
    )


class P2TargetInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    ra = serializers.CharField(max_length=100, required=False)
    dec = serializers.CharField(max_length=100, required=False)
    equinox = serializers.CharField(max_length=100, required=False)
    epoch = serializers.FloatField(required=False)
    properMotionRa = serializers.FloatField(required=False)  # noqa: N815
    properMotionDec = serializers.FloatField(required=False)  # noqa: N815
    differentialRa = serializers.FloatField(required=False)  # noqa: N815
    differentialDec = serializers.FloatField(required=False)  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for key in ("differentialRa", "differentialDec"):
            if attrs.get(key, 0.0) != 0.0:
                raise serializers.ValidationError({key: ["Differential tracking is not offered."]})
        return attrs


class P2ConstraintsInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    airmass = serializers.FloatField(required=False)
    skyTransparency = serializers.ChoiceField(  # noqa: N815
        choices=SkyTransparency.values, required=False
    )
    fli = serializers.FloatField(required=False)
    seeing = serializers.FloatField(required=False)
    moonDistance = serializers.FloatField(required=False)  # noqa: N815
    twilight = serializers.FloatField(required=False)
    waterVapour = serializers.FloatField(required=False)  # noqa: N815


class P2OBInput(serializers.Serializer[Any]):
    """saveOB: the whole OB as getOB answered it, changed; ``obId``, ``itemType``,
    ``obStatus``, ``ipVersion``, ``exposureTime``, ``executionTime`` (and our ``runId``,
    ``instrument``, ``parentContainerId``) are read-only and ignored."""

    name = serializers.CharField(max_length=1000, required=False)
    userPriority = serializers.IntegerField(required=False)  # noqa: N815
    obsDescription = P2DescriptionInput(required=False)  # noqa: N815
    target = P2TargetInput(required=False)
    constraints = P2ConstraintsInput(required=False)


# p2 key -> OBData field, per part of the OB
_TARGET = {
    "name": "target_name",
    "ra": "ra",
    "dec": "dec",
    "equinox": "equinox",
    "epoch": "epoch",
    "properMotionRa": "pm_ra",
    "properMotionDec": "pm_dec",
}
CONSTRAINTS = {
    "airmass": "max_airmass",
    "skyTransparency": "sky_transparency",
    "fli": "max_fli",
    "seeing": "seeing_arcsec",
    "moonDistance": "min_moon_distance_deg",
    "twilight": "twilight_min",
    "waterVapour": "water_vapour_mm",
}
# OBData field -> the p2 key named in an error message
OB_ERROR_KEYS = {
    **{ours: f"target.{theirs}" for theirs, ours in _TARGET.items()},
    **{ours: f"constraints.{theirs}" for theirs, ours in CONSTRAINTS.items()},
    "ra_deg": "target.ra",
    "dec_deg": "target.dec",
    "user_priority": "userPriority",
    "user_comments": "obsDescription.userComments",
}


def ob_command(data: Mapping[str, Any], shown: Mapping[str, Any]) -> OBData:
    """The fields of a saveOB body that differ from the OB as ``shown`` (``ob_json``): the
    client sends the whole OB back, and an untouched value must not change anything (a
    coordinate shown as 00:00:00.000 for "none yet", or re-parsed at the shown precision)."""

    def differs(part: str, key: str, value: Any) -> bool:
        before = shown.get(part, {}).get(key) if part else shown.get(key)
        return bool(value != before)

    fields: dict[str, Any] = {}
    for key, ours in (("name", "name"), ("userPriority", "user_priority")):
        if key in data and differs("", key, data[key]):
            fields[ours] = data[key]
    description = data.get("obsDescription") or {}
    if "userComments" in description and differs(
        "obsDescription", "userComments", description["userComments"]
    ):
        fields["user_comments"] = description["userComments"]
    for part, keys in (("target", _TARGET), ("constraints", CONSTRAINTS)):
        sent = data.get(part) or {}
        fields.update(
            {
                ours: sent[theirs]
                for theirs, ours in keys.items()
                if theirs in sent and differs(part, theirs, sent[theirs])
            }
        )
    return OBData(**fields)


class P2ParameterInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    value = serializers.JSONField(allow_null=True)


class P2TemplateInput(serializers.Serializer[Any]):
    """saveTemplate: the template as getTemplate answered it; only parameter values change."""

    parameters = P2ParameterInput(many=True)


def changed_values(template: TemplateView, sent: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameter values that differ from the template's current ones (the client sends
    back every parameter); a name the template does not have is passed on for the service to
    refuse."""
    current = {p.name: p.value for p in template.parameters}
    return {
        p["name"]: p["value"]
        for p in sent
        if p["name"] not in current or current[p["name"]] != p["value"]
    }


class P2NewTemplateInput(serializers.Serializer[Any]):
    templateName = serializers.CharField(max_length=200)  # noqa: N815


class P2TemplateRefInput(serializers.Serializer[Any]):
    templateId = serializers.IntegerField(min_value=1, max_value=MAX_ID)  # noqa: N815


class P2WindowInput(serializers.Serializer[Any]):
    # "from" is a Python keyword: declared below.
    to = serializers.CharField(max_length=100)


P2WindowInput._declared_fields["from"] = serializers.CharField(max_length=100)


def window_pairs(data: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(w["from"], w["to"]) for w in data]


class P2VerifyInput(serializers.Serializer[Any]):
    submit = serializers.BooleanField(default=False)


class P2DuplicateInput(serializers.Serializer[Any]):
    containerId = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)  # noqa: N815


class P2OBScheduleInput(serializers.Serializer[Any]):
    """An OB's scheduling information: its share in a Group, its delays (seconds) after the
    previous OB of a TimeLink."""

    groupContribution = serializers.FloatField(required=False)  # noqa: N815
    minDelay = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)  # noqa: N815
    maxDelay = serializers.IntegerField(  # noqa: N815
        required=False, allow_null=True, min_value=0, max_value=MAX_ID
    )


def schedule_command(data: Mapping[str, Any]) -> OBData:
    keys = {
        "groupContribution": "contribution",
        "minDelay": "min_delay_s",
        "maxDelay": "max_delay_s",
    }
    return OBData(**{ours: data[theirs] for theirs, ours in keys.items() if theirs in data})


def ob_schedule_json(ob: ObservationBlock) -> dict[str, Any]:
    return {
        "obId": ob.pk,
        "name": ob.name,
        "groupContribution": ob.contribution,
        "minDelay": ob.min_delay_s,
        "maxDelay": ob.max_delay_s,
    }


class P2ContainerScheduleItemInput(P2OBScheduleInput):
    obId = serializers.IntegerField(min_value=1, max_value=MAX_ID)  # noqa: N815


class P2ContainerScheduleInput(serializers.Serializer[Any]):
    """A container's scheduling information: a Group's priority and its OBs'
    contributions, a TimeLink's OBs' delays."""

    groupPriority = serializers.IntegerField(required=False)  # noqa: N815
    obs = P2ContainerScheduleItemInput(many=True, required=False)
