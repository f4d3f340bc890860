"""The accounts API: API tokens for a username and password, the user's own profile."""

from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dataflow.accounts.api.serializers import (
    ApiErrorSerializer,
    ApiTokenSerializer,
    ProfileSerializer,
    ProfileUpdateSerializer,
    TokenRequestSerializer,
)
from dataflow.accounts.lockout import (
    cool_off_seconds,
    failures_reset,
    is_locked_out,
    lockout_message,
)
from dataflow.accounts.selectors import profile_details
from dataflow.accounts.services import profile_update, token_for


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ApiErrorSerializer, description=description)


def _user_id(request: Request) -> int:
    """The id of the authenticated user (``IsAuthenticated`` refused anonymous requests)."""
    return cast(User, request.user).pk


NOT_AUTHENTICATED = error("No valid `Authorization: Bearer <token>` and no session.")


class ProfileAPIView(APIView):
    """The authenticated user's own profile: names, institute and country; roles read-only."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="profile_retrieve",
        responses={200: ProfileSerializer, 401: NOT_AUTHENTICATED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ProfileSerializer(profile_details(user_id=_user_id(request))).data)

    @extend_schema(
        operation_id="profile_partial_update",
        description=(
            "Change the fields sent (first_name, last_name, institute, country); the others "
            "keep their values. Any other field, read-only or unknown, is refused with 400."
        ),
        request=ProfileUpdateSerializer,
        responses={
            200: ProfileSerializer,
            400: error("Bad input, with a message per field; nothing was changed."),
            401: NOT_AUTHENTICATED,
            403: error("Session authentication without a valid CSRF token."),
            415: error("The body is not JSON."),
        },
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        change = ProfileUpdateSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        sent = change.validated_data
        profile_update(
            user_id=_user_id(request),
            first_name=sent.get("first_name"),
            last_name=sent.get("last_name"),
            institute=sent.get("institute"),
            country=sent.get("country"),
        )
        return Response(ProfileSerializer(profile_details(user_id=_user_id(request))).data)


class ApiTokenView(ObtainAuthToken):
    """POST username and password, get the API token to send as ``Authorization: Bearer``.

    Throttled like the log-in page: after too many failures for a username from one address,
    that username is refused there with 429, even with the right password, for a while.
    """

    # The posted password is the only credential: a stale ``Authorization`` header must not
    # turn the request into a 401, nor a session into a CSRF check.
    authentication_classes = []
    serializer_class = TokenRequestSerializer

    @extend_schema(
        operation_id="token_create",
        request=TokenRequestSerializer,
        responses={
            200: ApiTokenSerializer,
            400: error("Missing or wrong credentials, with a message per field."),
            415: error("The body is neither JSON nor form data."),
            429: error(
                "Too many failed log-ins for this username from this address: refused, even "
                "with the right password, until the cool-off (``Retry-After``, seconds) has "
                "passed."
            ),
        },
        parameters=[
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                response=[429],
                description="Seconds until the lock-out ends.",
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        credentials = self.get_serializer(data=request.data)
        valid = credentials.is_valid()
        # Checked before the credentials' errors: during a lock-out the right password fails too.
        if is_locked_out(request):
            raise Throttled(wait=cool_off_seconds(request), detail=lockout_message(request))
        if not valid:
            raise ValidationError(credentials.errors)
        failures_reset(request, username=credentials.validated_data["username"])
        return Response({"token": token_for(user=credentials.validated_data["user"]).key})
