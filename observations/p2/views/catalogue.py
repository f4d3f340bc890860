"""p2 instrument packages, template signatures and instrument constraints; the endpoints
not supported (501)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from observations import selectors
from observations.models import (
    SkyTransparency,
)
from observations.p2 import schema as out
from observations.p2 import shapes
from observations.p2.transport import (
    READ_ERRORS,
    P2View,
    answer,
)
from observations.p2.views.common import (
    STRINGS,
)
from observations.rules import _RANGES as RANGES  # the ranges the services check

# ---------------------------------------------------------------------------------------------


class PackagesView(P2View):
    @extend_schema(operation_id="p2_instrument_packages", responses={200: STRINGS, **READ_ERRORS})
    def get(self, request: Request, instrument: str) -> Response:
        """getInstrumentPackageVersions: newest first."""
        versions = selectors.instrument_packages(instrument)
        if not versions:
            raise NotFound(f"No instrument package for {instrument}.")
        return answer(versions)


def _signatures(instrument: str, ip_version: str) -> Any:
    found = selectors.template_signatures(instrument, ip_version)
    if not found.exists():
        raise NotFound(f"No instrument package {instrument} {ip_version}.")
    return found


class SignaturesView(P2View):
    @extend_schema(
        operation_id="p2_template_signatures",
        parameters=[
            OpenApiParameter("for", str, OpenApiParameter.QUERY, enum=["phase1", "phase2"])
        ],
        responses={200: out.P2SignatureOut(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, instrument: str, ip_version: str) -> Response:
        """getTemplateSignatures (phase 2; phase 1 has no templates here)."""
        return answer([shapes.signature_json(s) for s in _signatures(instrument, ip_version)])


class SignatureView(P2View):
    @extend_schema(
        operation_id="p2_template_signature", responses={200: out.P2SignatureOut, **READ_ERRORS}
    )
    def get(
        self, request: Request, instrument: str, ip_version: str, template_name: str
    ) -> Response:
        """getTemplateSignature."""
        signature = _signatures(instrument, ip_version).filter(name=template_name).first()
        if signature is None:
            raise NotFound(f"No template {template_name} in {instrument} {ip_version}.")
        return answer(shapes.signature_json(signature))


class InstrumentConstraintsView(P2View):
    @extend_schema(
        operation_id="p2_instrument_constraints",
        responses={200: out.P2InstrumentConstraintsOut, **READ_ERRORS},
    )
    def get(self, request: Request, instrument: str, ip_version: str) -> Response:
        """getInstrumentConstraints: the OB constraint set's names with their allowed values
        or ranges, as the services check them."""
        _signatures(instrument, ip_version)
        constraints: list[dict[str, Any]] = [
            {"name": theirs, "type": "number", "minimum": low, "maximum": high}
            for theirs, ours in shapes.CONSTRAINTS.items()
            if ours in RANGES
            for low, high in [RANGES[ours]]
        ]
        constraints.append(
            {"name": "skyTransparency", "type": "string", "allowed": SkyTransparency.values}
        )
        return answer(
            {"instrument": instrument, "ipVersion": ip_version, "constraints": constraints}
        )


# ---------------------------------------------------------------------------------------------
# What p2 has and we do not
# ---------------------------------------------------------------------------------------------


@extend_schema(exclude=True)
class UnsupportedView(P2View):
    """Any other p2 path (the run's readme, exports, ...): 501."""

    def _unsupported(self, request: Request, unsupported: str) -> Response:
        return Response(
            {"error": f"{request.method} /{unsupported} is not supported by this server."},
            status=501,
        )

    get = post = put = delete = _unsupported
