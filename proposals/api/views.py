"""Phase 1 REST API: periods, telescopes, proposals and their nested commands.

Conventions (also in the OpenAPI description of each operation):

* Visibility: a proposal is visible to its PI, its linked co-investigators and staff. Anything
  not visible answers 404, never 403; 403 means visible but not allowed (a Co-I submitting).
* ETag: every proposal response, and every response about something nested in a proposal
  (targets, runs, co-investigators, figures), carries the PROPOSAL's version as ``ETag: "<n>"``;
  every write bumps it, and its response carries the new ETag.
* If-Match: every write accepts ``If-Match: "<n>"``. When present and not the current version
  the write is refused with 412 and nothing changes. When absent the write is accepted
  (last writer wins): p2-style clients send it, simple scripts need not.
* Errors: ``{"detail": "...", "errors": {field: [messages]}}`` with 400 (bad input),
  403, 404, 409 (frozen proposal, bad transition), 412 (stale If-Match).

Views are thin: look up what the user may see (selectors), check the request's shape (an input
serializer), call exactly one service, serialize the result.
"""

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import django_filters
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.accounts.api.serializers import ApiErrorSerializer
from dataflow.errors import NotAllowed, StaleVersion
from dataflow.observatory.models import Instrument, Telescope
from dataflow.permissions import may_change_proposal_status, may_create_proposal, signed_in
from proposals import services
from proposals.api import serializers as s
from proposals.commands import ProposalData, RunData, TargetData
from proposals.models import (
    Category,
    CoInvestigator,
    Figure,
    ObservingRun,
    Period,
    Proposal,
    ProposalStatus,
    Target,
)
from proposals.selectors import proposal_detail, proposals_visible_to
from proposals.verification import verify_proposal
from scheduling.api_nights import RunNightSerializer

# ---------------------------------------------------------------------------------------------
# ETag / If-Match
# ---------------------------------------------------------------------------------------------

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'The proposal\'s ETag, e.g. "7". If present and stale the write is refused with 412; '
        "if absent the write is accepted."
    ),
)


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> int | None:
    """The version named by If-Match; None when absent or ``*`` (the write is not conditional)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    try:
        return int(value.strip('"'))
    except ValueError:
        # Not one of our ETags, so it cannot match the current version.
        raise StaleVersion(
            f"If-Match {raw!r} is not an ETag of this proposal: reload it and use its ETag."
        ) from None


R = TypeVar("R", bound=HttpResponseBase)


def with_etag(response: R, version: int) -> R:
    response["ETag"] = etag(version)
    return response


class PDFRenderer(BaseRenderer):
    """Lets clients ask for ``Accept: application/pdf``; errors still go out as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset: str | None = None
    render_style = "binary"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()


class PNGRenderer(PDFRenderer):
    media_type = "image/png"
    format = "png"


class JPEGRenderer(PDFRenderer):
    media_type = "image/jpeg"
    format = "jpeg"


# ---------------------------------------------------------------------------------------------
# Error answers, as the schema declares them
# ---------------------------------------------------------------------------------------------

ERROR = OpenApiResponse(
    response=ApiErrorSerializer,
    description='{"detail": "...", "errors": {"field": ["message"]}} ("errors" for bad input)',
)
# 401: no valid token or session; 404: nothing visible to the user there.
READ_ERRORS = {401: ERROR, 404: ERROR}

# ---------------------------------------------------------------------------------------------
# Periods and telescopes (read-only)
# ---------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: s.PeriodSerializer, 401: ERROR}),
    retrieve=extend_schema(responses={200: s.PeriodSerializer, **READ_ERRORS}),
)
class PeriodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Observing periods with their call for proposals; looked up by number (``/periods/119/``)."""

    serializer_class = s.PeriodSerializer
    queryset = Period.objects.all()
    lookup_field = "number"
    lookup_value_regex = r"\d+"


@extend_schema_view(
    list=extend_schema(responses={200: s.TelescopeSerializer, 401: ERROR}),
    retrieve=extend_schema(responses={200: s.TelescopeSerializer, **READ_ERRORS}),
)
class TelescopeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Telescopes with their site and instruments (offered modes, observing modes)."""

    serializer_class = s.TelescopeSerializer
    queryset = Telescope.objects.select_related("site").prefetch_related(
        Prefetch("instruments", queryset=Instrument.objects.order_by("name"))
    )
    lookup_value_regex = r"\d+"


# ---------------------------------------------------------------------------------------------
# Proposals
# ---------------------------------------------------------------------------------------------


class ProposalFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period__number", help_text="Period number")
    status = django_filters.ChoiceFilter(choices=ProposalStatus.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)

    class Meta:
        model = Proposal
        fields = ["period", "status", "category"]


ID = r"\d+"
TARGET_ID = OpenApiParameter("target_id", int, OpenApiParameter.PATH)
RUN_ID = OpenApiParameter("run_id", int, OpenApiParameter.PATH)
COI_ID = OpenApiParameter("coi_id", int, OpenApiParameter.PATH)
FIGURE_ID = OpenApiParameter("figure_id", int, OpenApiParameter.PATH)
WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 412: ERROR}
# The nested lists answer a bare JSON array, neither paginated nor filtered. A raw schema:
# drf-spectacular describes a list serializer of this (paginated) viewset as a paginated list.
TARGET_LIST = OpenApiResponse(
    response={"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
    description="Every target of the proposal, as a bare array.",
)
RUN_LIST = OpenApiResponse(
    response={"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
    description="Every observing run of the proposal, as a bare array.",
)


@extend_schema_view(
    list=extend_schema(responses={200: s.ProposalListSerializer, 400: ERROR, 401: ERROR}),
)
class ProposalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Phase 1 proposals of the user (PI or co-investigator; staff see all).

    Every proposal response carries ``ETag: "<version>"``; writes accept ``If-Match`` (412 when
    stale, accepted when absent). Proposals not visible to the user answer 404.
    """

    filterset_class = ProposalFilter
    lookup_value_regex = ID
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Proposal]:
        return proposals_visible_to(self.request.user)

    def get_serializer_class(self) -> type[Any]:
        return s.ProposalListSerializer if self.action == "list" else s.ProposalDetailSerializer

    # -- lookups: everything goes through the visibility rules of the selectors ---------------

    def _visible(self, pk: str | int) -> Proposal:
        try:
            return proposals_visible_to(self.request.user).get(pk=pk)
        except Proposal.DoesNotExist:
            raise NotFound("No such proposal.") from None

    def _editable(self, pk: str | int) -> Proposal:
        """A visible proposal the user may edit now: 404, then 403/409, before any input is
        parsed (so the answer does not depend on the body)."""
        proposal = self._visible(pk)
        services.ensure_may_edit(proposal, signed_in(self.request.user))
        return proposal

    def _detail(self, pk: str | int) -> Proposal:
        try:
            return proposal_detail(user=self.request.user, pk=int(pk))
        except Proposal.DoesNotExist:
            raise NotFound("No such proposal.") from None

    def _version(self, pk: str | int) -> int:
        return self._visible(pk).version

    def _proposal_response(self, pk: str | int, code: int = status.HTTP_200_OK) -> Response:
        proposal = self._detail(pk)
        data = s.ProposalDetailSerializer(proposal, context={"request": self.request}).data
        return with_etag(Response(data, status=code), proposal.version)

    @staticmethod
    def _nested(model: type[Any], proposal: Proposal, item_id: str) -> Any:
        """A target, run, Co-I or figure of a visible proposal; 404 if it belongs elsewhere."""
        try:
            return model.objects.get(pk=item_id, proposal=proposal)
        except model.DoesNotExist:
            raise NotFound(f"No such {model._meta.verbose_name} in this proposal.") from None

    def _nested_response(
        self, serializer: type[Any], obj: Any, pk: str, code: int = status.HTTP_200_OK
    ) -> Response:
        data = serializer(obj, context={"request": self.request}).data
        return with_etag(Response(data, status=code), self._version(pk))

    def _no_content(self, pk: str) -> Response:
        try:
            return with_etag(Response(status=status.HTTP_204_NO_CONTENT), self._version(pk))
        except NotFound:  # a co-investigator who removed themself no longer sees the proposal
            return Response(status=status.HTTP_204_NO_CONTENT)

    # -- the proposal itself ---------------------------------------------------------------------

    @extend_schema(responses={200: s.ProposalDetailSerializer, **READ_ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        """The proposal with investigators, targets, runs, figures and status history."""
        return self._proposal_response(pk)

    @extend_schema(
        request=s.ProposalCreateInput,
        responses={201: s.ProposalDetailSerializer, 400: ERROR, 401: ERROR, 403: ERROR},
    )
    def create(self, request: Request) -> Response:
        """Open a draft in a period whose call is open; the user becomes its PI (astronomers
        only: others get 403 whatever they send)."""
        if not may_create_proposal(request.user):
            raise NotAllowed("Only astronomers can open proposals.")
        data = s.ProposalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.proposal_create(pi=signed_in(request.user), **data.validated_data)
        return self._proposal_response(proposal.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ProposalUpdateInput,
        responses={200: s.ProposalDetailSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the text fields of a draft (only those sent)."""
        self._editable(pk)
        data = s.ProposalUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.proposal_update(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            data=ProposalData(**data.validated_data),
        )
        return self._proposal_response(pk)

    # -- targets ---------------------------------------------------------------------------------

    @extend_schema(
        operation_id="v1_proposals_targets_list", responses={200: TARGET_LIST, **READ_ERRORS}
    )
    @action(detail=True, methods=["get"], url_path="targets")
    def targets(self, request: Request, pk: str) -> Response:
        """The proposal's targets."""
        proposal = self._visible(pk)
        data = s.TargetSerializer(proposal.targets.all(), many=True).data
        return with_etag(Response(data), proposal.version)

    @extend_schema(
        request=s.TargetInput,
        responses={201: s.TargetSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    @targets.mapping.post
    def target_add(self, request: Request, pk: str) -> Response:
        """Add a target; ``ra``/``dec`` as sexagesimal strings or degrees."""
        self._editable(pk)
        data = s.TargetInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = services.target_create(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            data=TargetData(**data.validated_data),
        )
        return self._nested_response(s.TargetSerializer, target, pk, status.HTTP_201_CREATED)

    @extend_schema(responses={200: s.TargetSerializer, **READ_ERRORS}, parameters=[TARGET_ID])
    @action(detail=True, methods=["get"], url_path=rf"targets/(?P<target_id>{ID})")
    def target(self, request: Request, pk: str, target_id: str) -> Response:
        """One target."""
        target = self._nested(Target, self._visible(pk), target_id)
        return self._nested_response(s.TargetSerializer, target, pk)

    @extend_schema(
        request=s.TargetInput,
        responses={200: s.TargetSerializer, **WRITE_ERRORS},
        parameters=[TARGET_ID, IF_MATCH],
    )
    @target.mapping.put
    @target.mapping.patch
    def target_change(self, request: Request, pk: str, target_id: str) -> Response:
        """Change a target: PUT sends every field, PATCH only those to change."""
        target = self._nested(Target, self._editable(pk), target_id)
        data = s.TargetInput(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        target = services.target_update(
            target_id=target.pk,
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            data=TargetData(**data.validated_data),
        )
        return self._nested_response(s.TargetSerializer, target, pk)

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[TARGET_ID, IF_MATCH])
    @target.mapping.delete
    def target_remove(self, request: Request, pk: str, target_id: str) -> Response:
        """Remove a target (also from the runs that use it)."""
        target = self._nested(Target, self._editable(pk), target_id)
        services.target_delete(
            target_id=target.pk,
            actor=signed_in(request.user),
            expected_version=expected_version(request),
        )
        return self._no_content(pk)

    # -- observing runs --------------------------------------------------------------------------

    @extend_schema(operation_id="v1_proposals_runs_list", responses={200: RUN_LIST, **READ_ERRORS})
    @action(detail=True, methods=["get"], url_path="runs")
    def runs(self, request: Request, pk: str) -> Response:
        """The proposal's observing runs."""
        proposal = self._visible(pk)
        runs = proposal.runs.select_related("telescope", "instrument").prefetch_related("targets")
        return with_etag(Response(s.RunSerializer(runs, many=True).data), proposal.version)

    @extend_schema(
        request=s.RunInput, responses={201: s.RunSerializer, **WRITE_ERRORS}, parameters=[IF_MATCH]
    )
    @runs.mapping.post
    def run_add(self, request: Request, pk: str) -> Response:
        """Add an observing run; it gets the next free letter (A, B, ...)."""
        proposal = self._editable(pk)
        data = s.RunInput(data=request.data, context={"proposal": proposal})
        data.is_valid(raise_exception=True)
        run = services.run_create(
            proposal_id=proposal.pk,
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            data=RunData(**data.validated_data),
        )
        return self._nested_response(s.RunSerializer, run, pk, status.HTTP_201_CREATED)

    @extend_schema(responses={200: s.RunSerializer, **READ_ERRORS}, parameters=[RUN_ID])
    @action(detail=True, methods=["get"], url_path=rf"runs/(?P<run_id>{ID})")
    def run(self, request: Request, pk: str, run_id: str) -> Response:
        """One observing run."""
        run = self._nested(ObservingRun, self._visible(pk), run_id)
        return self._nested_response(s.RunSerializer, run, pk)

    @extend_schema(
        request=s.RunInput,
        responses={200: s.RunSerializer, **WRITE_ERRORS},
        parameters=[RUN_ID, IF_MATCH],
    )
    @run.mapping.put
    @run.mapping.patch
    def run_change(self, request: Request, pk: str, run_id: str) -> Response:
        """Change a run: PUT sends the whole run, PATCH only the fields to change."""
        proposal = self._editable(pk)
        run = self._nested(ObservingRun, proposal, run_id)
        partial = request.method == "PATCH"
        data = s.RunInput(data=request.data, partial=partial, context={"proposal": proposal})
        data.is_valid(raise_exception=True)
        run = services.run_update(
            run_id=run.pk,
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            data=RunData(**data.validated_data),
        )
        return self._nested_response(s.RunSerializer, run, pk)

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[RUN_ID, IF_MATCH])
    @run.mapping.delete
    def run_remove(self, request: Request, pk: str, run_id: str) -> Response:
        """Remove an observing run."""
        run = self._nested(ObservingRun, self._editable(pk), run_id)
        services.run_delete(
            run_id=run.pk, actor=signed_in(request.user), expected_version=expected_version(request)
        )
        return self._no_content(pk)

    # -- co-investigators ------------------------------------------------------------------------

    @extend_schema(
        request=s.CoInvestigatorInput,
        responses={201: s.CoInvestigatorSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"], url_path="coinvestigators")
    def coinvestigators(self, request: Request, pk: str) -> Response:
        """Add a co-investigator by e-mail: linked if the user exists, invited otherwise."""
        self._editable(pk)
        data = s.CoInvestigatorInput(data=request.data)
        data.is_valid(raise_exception=True)
        coi = services.coi_add(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            expected_version=expected_version(request),
            **data.validated_data,
        )
        return self._nested_response(s.CoInvestigatorSerializer, coi, pk, status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[COI_ID, IF_MATCH])
    @action(detail=True, methods=["delete"], url_path=rf"coinvestigators/(?P<coi_id>{ID})")
    def coinvestigator(self, request: Request, pk: str, coi_id: str) -> Response:
        """Remove a co-investigator."""
        coi = self._nested(CoInvestigator, self._editable(pk), coi_id)
        services.coi_remove(
            coi_id=coi.pk, actor=signed_in(request.user), expected_version=expected_version(request)
        )
        return self._no_content(pk)

    # -- figures ---------------------------------------------------------------------------------

    @extend_schema(
        request={"multipart/form-data": s.FigureInput},
        responses={201: s.FigureSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="figures",
        parser_classes=[MultiPartParser, FormParser],
    )
    def figures(self, request: Request, pk: str) -> Response:
        """Attach a figure (multipart: ``image`` PNG/JPEG checked by content, ``caption``)."""
        self._editable(pk)
        data = s.FigureInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["image"]
        figure = services.figure_add(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            file=upload,
            size=upload.size,
            caption=data.validated_data["caption"],
            expected_version=expected_version(request),
        )
        return self._nested_response(s.FigureSerializer, figure, pk, status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            **READ_ERRORS,
        },
        parameters=[FIGURE_ID],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=rf"figures/(?P<figure_id>{ID})",
        renderer_classes=[PNGRenderer, JPEGRenderer, JSONRenderer],
    )
    def figure(self, request: Request, pk: str, figure_id: str) -> HttpResponseBase:
        """The figure's image, to those who may see the proposal (files are never public)."""
        figure = self._nested(Figure, self._visible(pk), figure_id)
        return FileResponse(figure.image.open("rb"), content_type=f"image/{figure.image_format}")

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[FIGURE_ID, IF_MATCH])
    @figure.mapping.delete
    def figure_remove(self, request: Request, pk: str, figure_id: str) -> Response:
        """Remove a figure."""
        figure = self._nested(Figure, self._editable(pk), figure_id)
        services.figure_delete(
            figure_id=figure.pk,
            actor=signed_in(request.user),
            expected_version=expected_version(request),
        )
        return self._no_content(pk)

    # -- commands --------------------------------------------------------------------------------

    @extend_schema(request=None, responses={200: s.VerificationReportSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get", "post"])
    def verify(self, request: Request, pk: str) -> Response:
        """Verify the proposal: errors block submission, warnings do not. Writes nothing."""
        proposal = self._visible(pk)
        return with_etag(Response(verify_proposal(proposal).as_dict()), proposal.version)

    @extend_schema(
        request=None,
        responses={200: s.ProposalDetailSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        """Submit (PI only, before the deadline, verification must pass): assigns the programme
        ID, e.g. ``119.C-0001``, and freezes the proposal."""
        self._visible(pk)
        services.proposal_submit(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            expected_version=expected_version(request),
        )
        return self._proposal_response(pk)

    @extend_schema(
        request=None,
        responses={200: s.ProposalDetailSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        """Withdraw a submitted proposal (PI only, before the deadline)."""
        self._visible(pk)
        services.proposal_withdraw(
            proposal_id=int(pk),
            actor=signed_in(request.user),
            expected_version=expected_version(request),
        )
        return self._proposal_response(pk)

    @extend_schema(
        request=s.ReviewDelegateInput,
        responses={200: s.ReviewDelegateSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["put"], url_path="review-delegate")
    def review_delegate(self, request: Request, pk: str) -> Response:
        """Distributed peer review: the PI names the co-investigator who reviews on the team's
        behalf (their own id: the PI reviews)."""
        from proposals.review.services import review_delegate_set, team_reviewer

        proposal = self._visible(pk)
        if not may_change_proposal_status(request.user, proposal):
            raise NotAllowed("Only the PI delegates the team's reviews.")
        data = s.ReviewDelegateInput(data=request.data)
        data.is_valid(raise_exception=True)
        delegate = review_delegate_set(
            proposal_id=proposal.pk,
            user_id=data.validated_data["user"],
            actor=signed_in(request.user),
        )
        body = {"reviewer": team_reviewer(proposal).username, "delegated": delegate is not None}
        return Response(s.ReviewDelegateSerializer(body).data)

    @extend_schema(responses={200: RunNightSerializer(many=True), **READ_ERRORS})
    @action(detail=True, methods=["get"], pagination_class=None)  # a bare array, like runs
    def nights(self, request: Request, pk: str) -> Response:
        """The nights the accepted long-term schedule gives the proposal's visitor-mode runs
        (an empty list until a schedule is accepted), by date."""
        from scheduling.selectors import team_nights

        proposal = self._visible(pk)
        data = RunNightSerializer(team_nights(proposal), many=True).data
        return with_etag(Response(data), proposal.version)

    @extend_schema(responses={200: s.OutcomeSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def outcome(self, request: Request, pk: str) -> Response:
        """The outcome letter once every run is decided (404 before): decisions, rank classes,
        allocated time, grade, quartile and the comments to the PI; never a reviewer."""
        from proposals.review.outcome import DECIDED, outcome_data, outcome_for

        proposal = self._visible(pk)
        if proposal.status not in DECIDED:
            raise NotFound("The proposal has no outcome yet.")
        data = s.OutcomeSerializer(outcome_data(outcome_for(proposal))).data
        return with_etag(Response(data), proposal.version)

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], renderer_classes=[PDFRenderer, JSONRenderer])
    def pdf(self, request: Request, pk: str) -> HttpResponseBase:
        """The proposal as PDF, as the reviewers will read it: the stored final PDF once
        submitted, rendered now for a draft."""
        # Imported here: WeasyPrint is heavy and only this endpoint needs it.
        from proposals.pdf import render_proposal_pdf

        proposal = self._visible(pk)
        name = f"{proposal.programme_id or f'proposal-{proposal.pk}'}.pdf"
        response: HttpResponseBase
        if proposal.final_pdf and proposal.status != ProposalStatus.DRAFT:
            response = FileResponse(
                proposal.final_pdf.open("rb"), content_type="application/pdf", filename=name
            )
        else:
            response = HttpResponse(
                render_proposal_pdf(proposal.pk), content_type="application/pdf"
            )
            response["Content-Disposition"] = f'inline; filename="{name}"'
        return with_etag(response, proposal.version)
