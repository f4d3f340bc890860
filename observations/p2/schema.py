"""The p2 answers as serializers, for the OpenAPI schema only (``observations.p2.shapes``
builds the data): field names are p2's camelCase."""

# ruff: noqa: N815 (p2's names)

from typing import Any

from rest_framework import serializers

from observations.models import ItemType, OBStatus, SkyTransparency


class P2NameSerializer(serializers.Serializer[Any]):
    firstName = serializers.CharField()
    lastName = serializers.CharField()


class P2RunOut(serializers.Serializer[Any]):
    runId = serializers.IntegerField()
    progId = serializers.CharField()
    containerId = serializers.IntegerField(allow_null=True, help_text="The run's root folder")
    instrument = serializers.CharField()
    telescope = serializers.CharField()
    mode = serializers.CharField(help_text="SM or VM")
    ipVersion = serializers.JSONField(allow_null=True, help_text="A number, e.g. 130.0")
    period = serializers.IntegerField()
    title = serializers.CharField()
    itemCount = serializers.IntegerField()
    obCount = serializers.IntegerField()
    pi = P2NameSerializer()


class P2ItemOut(serializers.Serializer[Any]):
    itemType = serializers.ChoiceField(choices=ItemType.values)
    name = serializers.CharField()
    obId = serializers.IntegerField(required=False)
    obStatus = serializers.ChoiceField(choices=OBStatus.choices, required=False)
    containerId = serializers.IntegerField(required=False)
    containerStatus = serializers.ChoiceField(choices=OBStatus.choices, required=False)
    parentContainerId = serializers.IntegerField(allow_null=True)
    userPriority = serializers.IntegerField(required=False)
    targetName = serializers.CharField(required=False)
    exposureTime = serializers.IntegerField(required=False)
    executionTime = serializers.IntegerField(required=False)
    itemCount = serializers.IntegerField(required=False)


class P2ContainerOut(serializers.Serializer[Any]):
    containerId = serializers.IntegerField()
    itemType = serializers.CharField(help_text="Folder, Group, TimeLink or Concatenation")
    name = serializers.CharField()
    runId = serializers.IntegerField()
    parentContainerId = serializers.IntegerField(allow_null=True)
    itemCount = serializers.IntegerField()
    containerStatus = serializers.ChoiceField(choices=OBStatus.choices, required=False)
    groupPriority = serializers.IntegerField(required=False)


class P2DescriptionOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    userComments = serializers.CharField()


class P2TargetOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    ra = serializers.CharField(help_text="HH:MM:SS.sss")
    dec = serializers.CharField(help_text="+DD:MM:SS.sss")
    equinox = serializers.CharField()
    epoch = serializers.FloatField()
    properMotionRa = serializers.FloatField(help_text="arcsec/yr")
    properMotionDec = serializers.FloatField(help_text="arcsec/yr")
    differentialRa = serializers.FloatField()
    differentialDec = serializers.FloatField()


class P2ConstraintsOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    airmass = serializers.FloatField()
    skyTransparency = serializers.ChoiceField(choices=SkyTransparency.values)
    fli = serializers.FloatField()
    seeing = serializers.FloatField()
    moonDistance = serializers.FloatField()
    twilight = serializers.FloatField()
    waterVapour = serializers.FloatField()


class P2OBOut(serializers.Serializer[Any]):
    obId = serializers.IntegerField()
    itemType = serializers.CharField(help_text='Always "OB"')
    obStatus = serializers.ChoiceField(choices=OBStatus.choices)
    name = serializers.CharField()
    runId = serializers.IntegerField()
    instrument = serializers.CharField()
    ipVersion = serializers.JSONField(allow_null=True)
    userPriority = serializers.IntegerField()
    parentContainerId = serializers.IntegerField()
    exposureTime = serializers.IntegerField(help_text="seconds")
    executionTime = serializers.IntegerField(help_text="seconds")
    obsDescription = P2DescriptionOut()
    target = P2TargetOut()
    constraints = P2ConstraintsOut()


class P2ParameterOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    minimum = serializers.JSONField(required=False)
    maximum = serializers.JSONField(required=False)
    allowed = serializers.JSONField(required=False)
    label = serializers.CharField(required=False)  # type: ignore[assignment]  # DRF moves fields off the class
    value = serializers.JSONField(allow_null=True, required=False)


class P2TemplateOut(serializers.Serializer[Any]):
    templateId = serializers.IntegerField()
    templateName = serializers.CharField()
    type = serializers.CharField()
    parameters = P2ParameterOut(many=True)


class P2SignatureOut(serializers.Serializer[Any]):
    templateName = serializers.CharField()
    type = serializers.CharField()
    description = serializers.CharField()
    parameters = P2ParameterOut(many=True)


class P2WindowOut(serializers.Serializer[Any]):
    to = serializers.CharField()


P2WindowOut._declared_fields["from"] = serializers.CharField()


class P2VerifyOut(serializers.Serializer[Any]):
    observable = serializers.BooleanField()
    messages = serializers.ListField(child=serializers.CharField())


class P2ExecutionTimeOut(serializers.Serializer[Any]):
    obId = serializers.IntegerField()
    exposureTime = serializers.IntegerField(help_text="seconds")
    executionTime = serializers.IntegerField(help_text="seconds, overheads included")
    overheads = serializers.IntegerField(help_text="seconds")
    numberOfExposures = serializers.IntegerField()


class P2OBScheduleOut(serializers.Serializer[Any]):
    obId = serializers.IntegerField()
    name = serializers.CharField()
    groupContribution = serializers.FloatField()
    minDelay = serializers.IntegerField(help_text="seconds after the previous OB")
    maxDelay = serializers.IntegerField(allow_null=True)


class P2ContainerScheduleOut(serializers.Serializer[Any]):
    containerId = serializers.IntegerField()
    itemType = serializers.CharField()
    groupPriority = serializers.IntegerField(required=False)
    obs = P2OBScheduleOut(many=True)


class P2ExecutionOut(serializers.Serializer[Any]):
    """One execution of the OB (a night's start by the operator) and its outcome."""

    executionId = serializers.IntegerField()
    obId = serializers.IntegerField()
    night = serializers.DateField(help_text="The local evening date")
    to = serializers.DateTimeField(allow_null=True, help_text="UTC")
    grade = serializers.CharField(help_text="QC grade A-D; empty: running or aborted")
    aborted = serializers.BooleanField()
    reason = serializers.CharField()
    comment = serializers.CharField()
    seeing = serializers.FloatField(allow_null=True)
    skyTransparency = serializers.CharField()


P2ExecutionOut._declared_fields["from"] = serializers.DateTimeField(help_text="UTC")


class P2UserOut(serializers.Serializer[Any]):
    username = serializers.CharField()
    firstName = serializers.CharField()
    lastName = serializers.CharField()
    email = serializers.CharField()


class P2TokenOut(serializers.Serializer[Any]):
    access_token = serializers.CharField()
    token_type = serializers.CharField()


class P2LoginInput(serializers.Serializer[Any]):
    username = serializers.CharField()
    password = serializers.CharField()


class P2ConstraintOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField()
    minimum = serializers.FloatField(required=False, allow_null=True)
    maximum = serializers.FloatField(required=False, allow_null=True)
    allowed = serializers.ListField(child=serializers.CharField(), required=False)


class P2InstrumentConstraintsOut(serializers.Serializer[Any]):
    instrument = serializers.CharField()
    ipVersion = serializers.CharField()
    constraints = P2ConstraintOut(many=True)
