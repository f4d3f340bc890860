"""p2 login, the authenticated user and the runs."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.accounts.api.serializers import TokenRequestSerializer
from dataflow.accounts.lockout import (
    cool_off_seconds,
    failures_reset,
    is_locked_out,
    lockout_message,
)
from dataflow.accounts.services import token_for
from observations import selectors
from observations.models import (
    Container,
)
from observations.p2 import schema as out
from observations.p2 import shapes
from observations.p2.transport import (
    ERROR,
    READ_ERRORS,
    P2View,
    answer,
    checked_id,
)
from observations.p2.views.common import (
    _actor,
)

# ---------------------------------------------------------------------------------------------


class LoginView(P2View):
    """POST ``username`` and ``password`` (form-encoded, as the client sends them): the
    user's API token (the same as ``/api/v1/token/``; it does not expire)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, JSONParser]

    @extend_schema(
        operation_id="p2_login",
        request={
            "application/x-www-form-urlencoded": out.P2LoginInput,
            "application/json": out.P2LoginInput,
        },
        responses={200: out.P2TokenOut, 400: ERROR, 415: ERROR, 429: ERROR},
    )
    def post(self, request: Request) -> Response:
        credentials = TokenRequestSerializer(data=request.data, context={"request": request})
        valid = credentials.is_valid()
        if is_locked_out(request):  # during a lock-out the right password fails too
            raise Throttled(wait=cool_off_seconds(request), detail=lockout_message(request))
        if not valid:
            raise ValidationError(credentials.errors)
        failures_reset(request, username=credentials.validated_data["username"])
        token = token_for(user=credentials.validated_data["user"])
        return Response({"access_token": token.key, "token_type": "Bearer"})


class UserView(P2View):
    @extend_schema(operation_id="p2_user", responses={200: out.P2UserOut, 401: ERROR})
    def get(self, request: Request) -> Response:
        """getUser: the signed-in user."""
        user = _actor(request)
        return answer(
            {
                "username": user.username,
                "firstName": user.first_name,
                "lastName": user.last_name,
                "email": user.email,
            }
        )


class RunsView(P2View):
    @extend_schema(operation_id="p2_runs", responses={200: out.P2RunOut(many=True), 401: ERROR})
    def get(self, request: Request) -> Response:
        """getRuns: the runs whose Phase 2 is open to the user."""
        runs = list(selectors.phase2_runs(request.user))
        versions = selectors.current_ip_versions(r.instrument_id for r in runs)
        return answer([shapes.run_json(r, versions) for r in runs])


class RunView(P2View):
    @extend_schema(operation_id="p2_run", responses={200: out.P2RunOut, **READ_ERRORS})
    def get(self, request: Request, phase2_run_id: int) -> Response:
        """getRun: one run (404 when it is not the user's). ``ETag``: its root folder's."""
        run = selectors.phase2_runs(request.user).get(pk=checked_id(phase2_run_id))
        versions = selectors.current_ip_versions([run.instrument_id])
        root = Container.objects.filter(pk=run.root_container_id).first()  # type: ignore[attr-defined]
        return answer(shapes.run_json(run, versions), root.version if root else 0)


# ---------------------------------------------------------------------------------------------
# Containers and their items
