"""Phase 2 API, writes of an OB: PUT/PATCH/DELETE of ``phase2/obs/{ob_id}/``, duplicate, move,
copy a Phase 1 target, the status commands (verify, submit, revise; staff: accept, send back,
waive the short-OB minimum) and the execution time's breakdown.

p2: saveOB (PUT), deleteOB, duplicateOB, verifyOB (our verify answers without submitting;
submit is its own command), reviseOB, executionTime. Every answer about the OB carries its
new ``ETag``; a status change bumps it.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import InvalidInput
from observations import exectime, selectors, services
from observations.api.common import (
    COMMAND_ERRORS,
    IF_MATCH_OB,
    WRITE_ERRORS,
    OBViews,
    actor,
    errors_named,
    ob_answer,
)
from observations.api.inputs import (
    OB_ERROR_KEYS,
    CopyTargetInput,
    ExecutionTimeSerializer,
    ItemMoveInput,
    OBInput,
    SendBackInput,
    VerificationSerializer,
    WaiverInput,
)
from observations.api.read import OB_ID, Phase2OBSerializer
from observations.commands import ItemRef
from observations.models import Container, ObservationBlock
from proposals.api.views import READ_ERRORS, expected_version, with_etag

OB_ANSWER = {200: Phase2OBSerializer, **WRITE_ERRORS}
OB_COMMAND = {200: Phase2OBSerializer, **COMMAND_ERRORS}


def ob_breakdown(ob: ObservationBlock) -> exectime.Breakdown:
    return selectors.ob_breakdown(ob)[0]


class OBWriteViews(OBViews):
    @extend_schema(request=OBInput, responses=OB_ANSWER, parameters=[OB_ID, IF_MATCH_OB])
    def update(self, request: Request, ob_id: str) -> Response:
        """Save the whole OB (p2's saveOB): send it as GET answers it, changed; its read-only
        fields are ignored. Service-mode OBs change only in status P or -."""
        ob = self._editable(ob_id)
        data = OBInput(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        with errors_named(OB_ERROR_KEYS):
            services.ob_update(
                ob_id=ob.pk,
                data=data.command(),
                actor=actor(request),
                expected_version=expected_version(request),
            )
        return ob_answer(request, ob.pk)

    @extend_schema(request=OBInput, responses=OB_ANSWER, parameters=[OB_ID, IF_MATCH_OB])
    def partial_update(self, request: Request, ob_id: str) -> Response:
        """Change some of the OB's fields (only those sent)."""
        return self.update(request, ob_id)

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[OB_ID, IF_MATCH_OB])
    def destroy(self, request: Request, ob_id: str) -> Response:
        """Delete an OB never executed, in status -, P or D."""
        ob = self._writable(ob_id)
        services.item_delete(
            item=ItemRef.ob(ob.pk), actor=actor(request), expected_version=expected_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={201: Phase2OBSerializer, **COMMAND_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, ob_id: str) -> Response:
        """Copy the OB to the end of its container: a new OB in status P with its templates,
        windows and finding charts (``ETag``: the copy's version)."""
        ob = self._writable(ob_id)
        copy = services.item_duplicate(
            item=ItemRef.ob(ob.pk), actor=actor(request), expected_version=expected_version(request)
        )
        return ob_answer(request, copy.pk, status.HTTP_201_CREATED)

    @extend_schema(request=ItemMoveInput, responses=OB_ANSWER, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"])
    def move(self, request: Request, ob_id: str) -> Response:
        """Move the OB to the end of another container of its run."""
        ob = self._writable(ob_id)
        data = ItemMoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        move_item(ItemRef.ob(ob.pk), data.validated_data["container_id"], request)
        return ob_answer(request, ob.pk)

    @extend_schema(request=CopyTargetInput, responses=OB_ANSWER, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"], url_path="copy-target")
    def copy_target(self, request: Request, ob_id: str) -> Response:
        """Set the OB's target from one of its run's Phase 1 targets."""
        ob = self._editable(ob_id)
        data = CopyTargetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.ob_copy_target_from_phase1(
            ob_id=ob.pk,
            target_id=data.validated_data["target_id"],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return ob_answer(request, ob.pk)

    # -- status ----------------------------------------------------------------------------------

    @extend_schema(request=None, responses={200: VerificationSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get", "post"])
    def verify(self, request: Request, ob_id: str) -> Response:
        """Verify the OB without changing it: errors block submission, warnings do not (200
        either way)."""
        ob = self._ob(ob_id)
        report = services.ob_verify(ob_id=ob.pk, actor=actor(request))
        data = {"ok": report.ok, "errors": report.errors, "warnings": report.warnings}
        return with_etag(Response(VerificationSerializer(data).data), ob.version)

    @extend_schema(request=None, responses=OB_ANSWER, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, ob_id: str) -> Response:
        """Verify and submit the OB for review (P or - to D); 400 with the verification's
        errors when it does not pass."""
        ob = self._writable(ob_id)
        services.ob_submit(
            ob_id=ob.pk, actor=actor(request), expected_version=expected_version(request)
        )
        return ob_answer(request, ob.pk)

    @extend_schema(request=None, responses=OB_COMMAND, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, ob_id: str) -> Response:
        """Take a submitted OB back for editing (D to P)."""
        ob = self._writable(ob_id)
        services.ob_revise(
            ob_id=ob.pk, actor=actor(request), expected_version=expected_version(request)
        )
        return ob_answer(request, ob.pk)

    @extend_schema(request=None, responses=OB_COMMAND, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, ob_id: str) -> Response:
        """Staff: accept a submitted OB for execution (D to +)."""
        ob = self._reviewable(ob_id)
        services.ob_accept(
            ob_id=ob.pk, actor=actor(request), expected_version=expected_version(request)
        )
        return ob_answer(request, ob.pk)

    @extend_schema(request=SendBackInput, responses=OB_ANSWER, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"], url_path="send-back")
    def send_back(self, request: Request, ob_id: str) -> Response:
        """Staff: send a submitted OB back for repair (D to -) saying what to change."""
        ob = self._reviewable(ob_id)
        data = SendBackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.ob_send_back(
            ob_id=ob.pk,
            message=data.validated_data["message"],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return ob_answer(request, ob.pk)

    @extend_schema(request=WaiverInput, responses=OB_ANSWER, parameters=[IF_MATCH_OB])
    @action(detail=True, methods=["post"], url_path="short-waiver")
    def short_waiver(self, request: Request, ob_id: str) -> Response:
        """Staff: waive (or restore) the one-hour minimum of a service-mode OB."""
        ob = self._reviewable(ob_id)
        data = WaiverInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.ob_set_short_waiver(
            ob_id=ob.pk,
            waived=data.validated_data["waived"],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return ob_answer(request, ob.pk)

    # -- execution time --------------------------------------------------------------------------

    @extend_schema(responses={200: ExecutionTimeSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get"], url_path="execution-time")
    def execution_time(self, request: Request, ob_id: str) -> Response:
        """The OB's execution time (seconds): exposures, then the overheads (preset,
        acquisition, instrument setup, readouts), line by line."""
        ob = self._ob(ob_id)
        data = ExecutionTimeSerializer(ob_breakdown(ob)).data
        return with_etag(Response(data), ob.version)


def move_item(item: ItemRef, container_id: int, request: Request) -> None:
    """Move an OB or a container; a destination that does not exist is bad input like one of
    another run (the same message: no hint about other runs' ids)."""
    try:
        with errors_named({"container": "container_id"}):
            services.item_move(
                item=item,
                to_container_id=container_id,
                actor=actor(request),
                expected_version=expected_version(request),
            )
    except Container.DoesNotExist:
        raise InvalidInput(
            "Items stay in their run.", {"container_id": ["Choose a container of this run."]}
        ) from None
