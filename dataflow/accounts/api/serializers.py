"""Serializers of the accounts API: they check the shape of input and render output; the
rules are in ``dataflow.accounts.services``."""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from dataflow.accounts.models import Role
from dataflow.accounts.selectors import ProfileDetails
from dataflow.accounts.services import PROFILE_FIELDS, char_max_length


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's CharField would store the number 5 as "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class ApiErrorSerializer(serializers.Serializer[Any]):
    """An error: ``detail`` says what went wrong, ``errors`` (when given) lists the messages
    of each field of the input (``non_field_errors`` for the input as a whole)."""

    detail = serializers.CharField()
    # A field of the schema, not the ``errors`` property: the metaclass moves fields away.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ProfileSerializer(serializers.Serializer[ProfileDetails]):
    """The user's own account; names, institute and country can be changed with PATCH."""

    username = serializers.CharField(read_only=True)
    # Not an EmailField: accounts made by an administrator may have none ("").
    email = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    institute = serializers.CharField(read_only=True)
    country = serializers.CharField(read_only=True)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), read_only=True
    )


def _profile_field(name: str) -> StrictCharField:
    return StrictCharField(
        required=False, allow_blank=True, max_length=char_max_length(PROFILE_FIELDS[name], name)
    )


class ProfileUpdateSerializer(serializers.Serializer[Any]):
    """A partial change of the profile: the fields sent change, the others keep their values.

    Any other field is refused, read-only or unknown, so that a client learns of its mistake.
    """

    first_name = _profile_field("first_name")
    last_name = _profile_field("last_name")
    institute = _profile_field("institute")
    country = _profile_field("country")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            return dict(super().to_internal_value(data))  # refused: not an object
        shown = ProfileSerializer().fields
        unexpected = {
            name: [
                "This field is read-only."
                if name in shown
                else f"Unknown field: the profile has {', '.join(self.fields)}."
            ]
            for name in data
            if name not in self.fields
        }
        try:
            value = dict(super().to_internal_value(data))
        except serializers.ValidationError as invalid:
            assert isinstance(invalid.detail, dict)
            raise serializers.ValidationError({**unexpected, **invalid.detail}) from invalid
        if unexpected:
            raise serializers.ValidationError(unexpected)
        return value


class ClosedProfileUpdateSchema(OpenApiSerializerExtension):
    """The schema of ``ProfileUpdateSerializer`` says that other fields are refused."""

    target_class = ProfileUpdateSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class TokenRequestSerializer(AuthTokenSerializer):
    """A username and its password."""

    # Strings only, and a username no longer than a user's can be (axes records it).
    username = StrictCharField(
        label="Username", write_only=True, max_length=char_max_length(User, "username")
    )
    password = StrictCharField(
        label="Password", write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    token = None  # type: ignore[assignment]  # DRF drops a parent's field set to None


class ApiTokenSerializer(serializers.Serializer[Any]):
    """The API token, to send as ``Authorization: Bearer <token>``."""

    token = serializers.CharField(read_only=True)
