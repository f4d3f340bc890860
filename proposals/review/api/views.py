"""Review and allocation REST API (under /api/v1/review/): reviewers' assignments and grades,
panels and rankings for chairs and staff, conflicts, assignment, run decisions and the ledger.

Same conventions as the Phase 1 API (``proposals.api.views``): thin views (visibility lookup,
input serializer, exactly one service, output serializer), errors as
``{"detail", "errors"}``. Visibility: a reviewer sees only their own assignments (anything else
is 404, the PDF too); a panel and its ranking are for its chair and staff (404 otherwise);
staff-only operations answer 403 to every other user before anything is looked up, so the
answer reveals nothing about what exists. Reviewers' identities are never shown to chairs:
a proposal's grades are labelled R1, R2, ... in the ranking.
"""

import math
from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import InvalidInput, NotAllowed
from dataflow.permissions import may_manage_review, signed_in
from proposals.api.views import ERROR, ID, READ_ERRORS, PDFRenderer
from proposals.models import ObservingRun, Period, Proposal
from proposals.review import selectors as sel
from proposals.review import services
from proposals.review.api.serializers import (
    AssignmentDetailSerializer,
    AssignmentSerializer,
    ConflictSerializer,
    CountSerializer,
    LedgerSerializer,
    MoveInput,
    PanelCreateInput,
    PanelGradeInput,
    PanelGradeSerializer,
    PanelMemberInput,
    PanelRankingSerializer,
    PanelSerializer,
    PeriodRankingSerializer,
    ReasonInput,
    ReviewInput,
    ReviewProgressSerializer,
    RunDecisionInput,
    RunDecisionSerializer,
)
from proposals.review.models import Assignment, Conflict, Panel, PanelMember

# 400 bad input, 401 no token, 403 not allowed, 404 not visible, 409 refused transition.
WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}
STAFF_READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: a telescope with no time available has no pressure figure."""
    return value if value is not None and math.isfinite(value) else None


def _staff_only(request: Request, what: str) -> User:
    """Staff-only operations refuse everyone else before any lookup (nothing is revealed)."""
    user = signed_in(request.user)
    if not may_manage_review(user):
        raise NotAllowed(f"Only observatory staff {what}.")
    return user


# ---------------------------------------------------------------------------------------------
# Reviewers: their assignments
# ---------------------------------------------------------------------------------------------


def _assignment(request: Request, pk: str) -> Assignment:
    try:
        return sel.assignment_for(request.user, int(pk))
    except Assignment.DoesNotExist:
        raise NotFound("No such assignment.") from None


@extend_schema_view(
    list=extend_schema(responses={200: AssignmentSerializer, 401: ERROR}),
    retrieve=extend_schema(responses={200: AssignmentDetailSerializer, **READ_ERRORS}),
)
class AssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Assignment]
):
    """The user's review assignments (only theirs: anyone else's is 404)."""

    lookup_value_regex = ID

    def get_queryset(self) -> QuerySet[Assignment]:
        return sel.assignments_of(self.request.user)

    def get_serializer_class(self) -> type[Any]:
        return AssignmentSerializer if self.action == "list" else AssignmentDetailSerializer

    def retrieve(self, request: Request, pk: str) -> Response:
        """The assigned proposal and my review (draft or submitted); no other grades."""
        return Response(AssignmentDetailSerializer(_assignment(request, pk)).data)

    @extend_schema(request=ReviewInput, responses={200: AssignmentDetailSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["put", "patch"])
    def review(self, request: Request, pk: str) -> Response:
        """Save my review as a draft, or submit it (``submit: true``; final). PUT sends every
        field, PATCH only those to change (the others keep the draft's values)."""
        assignment = _assignment(request, pk)
        data = ReviewInput(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.review_save(
            assignment_id=assignment.pk,
            actor=signed_in(request.user),
            submit=values.pop("submit", False),
            **values,  # PATCH: only the fields sent; the service keeps the others
        )
        return Response(AssignmentDetailSerializer(_assignment(request, pk)).data)

    @extend_schema(request=ReasonInput, responses={204: None, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def conflict(self, request: Request, pk: str) -> Response:
        """Declare a conflict of interest: the assignment is dropped and the proposal is
        reassigned to another member of the panel."""
        assignment = _assignment(request, pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.conflict_declare(
            assignment_id=assignment.pk,
            reason=data.validated_data["reason"],
            actor=signed_in(request.user),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, **READ_ERRORS})
    @action(detail=True, methods=["get"], renderer_classes=[PDFRenderer, JSONRenderer])
    def pdf(self, request: Request, pk: str) -> HttpResponseBase:
        """The assigned proposal's final PDF, as submitted."""
        proposal = _assignment(request, pk).proposal
        if not proposal.final_pdf:
            raise NotFound("This proposal has no final PDF.")
        return FileResponse(
            proposal.final_pdf.open("rb"),
            content_type="application/pdf",
            filename=f"{proposal.programme_id or proposal.pk}.pdf",
        )

    @extend_schema(request=MoveInput, responses={200: AssignmentSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        """Staff: move the assignment to another member of the panel (kept on re-solve)."""
        actor = _staff_only(request, "move assignments")
        if not Assignment.objects.filter(pk=pk).exists():
            raise NotFound("No such assignment.")
        data = MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        moved = services.assignment_move(
            assignment_id=int(pk), reviewer_id=data.validated_data["reviewer"], actor=actor
        )
        assignment = Assignment.objects.select_related("proposal", "panel", "review").get(
            pk=moved.pk
        )
        return Response(AssignmentSerializer(assignment).data)


# ---------------------------------------------------------------------------------------------
# Panels: chairs and staff
# ---------------------------------------------------------------------------------------------


def _panel(request: Request, pk: str) -> Panel:
    try:
        return sel.panels_visible_to(request.user).get(pk=pk)
    except Panel.DoesNotExist:
        raise NotFound("No such panel.") from None


def _ranking_line(rank: int, row: sel.RankedProposal) -> dict[str, Any]:
    score = row.score
    grades = (
        [
            {"reviewer": f"R{i}", "raw": raw, "normalised": norm}
            for i, (raw, norm) in enumerate(zip(score.raw, score.normalised, strict=True), 1)
        ]
        if score
        else []
    )
    return {
        "rank": rank,
        "proposal": row.proposal,
        "grades": grades,
        "mean": score.mean if score else None,
        "median": score.median if score else None,
        "spread": score.spread if score else None,
        "disagreement": score.disagreement if score else False,
        "triaged": row.triaged,
        "panel_grade": row.panel_grade,
        "requested_hours": row.requested_hours,
        "submitted": row.submitted,
        "assigned": row.assigned,
    }


@extend_schema_view(
    list=extend_schema(responses={200: PanelSerializer, 401: ERROR}),
)
class PanelViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Panel]):
    """Review panels: staff see every panel, a chair their own (others are 404)."""

    serializer_class = PanelSerializer
    lookup_value_regex = ID

    def get_queryset(self) -> QuerySet[Panel]:
        members = PanelMember.objects.select_related("user")
        return sel.panels_visible_to(self.request.user).prefetch_related(
            Prefetch("members", queryset=members)
        )

    def _out(self, panel_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(PanelSerializer(self.get_queryset().get(pk=panel_id)).data, status=code)

    @extend_schema(
        request=PanelCreateInput,
        responses={201: PanelSerializer, 400: ERROR, 401: ERROR, 403: ERROR},
    )
    def create(self, request: Request) -> Response:
        """Staff: define a panel of one category (several per category are allowed)."""
        actor = _staff_only(request, "define panels")
        data = PanelCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        period = Period.objects.filter(number=values.pop("period")).first()
        if period is None:
            raise InvalidInput("No such period.", {"period": ["No such period."]})
        panel = services.panel_create(
            period_id=period.pk, actor=actor, chair_id=values.pop("chair"), **values
        )
        return self._out(panel.pk, status.HTTP_201_CREATED)

    @extend_schema(request=PanelMemberInput, responses={201: PanelSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def members(self, request: Request, pk: str) -> Response:
        """Staff: add a reviewer to the panel (optionally as chair) with their expertise."""
        panel = _panel(request, pk)  # a chair sees the panel (then 403), others 404
        actor = _staff_only(request, "compose panels")
        data = PanelMemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.panel_member_add(
            panel_id=panel.pk,
            user_id=data.validated_data["user"],
            actor=actor,
            expertise=data.validated_data.get("expertise"),
            chair=data.validated_data["chair"],
        )
        return self._out(panel.pk, status.HTTP_201_CREATED)

    @extend_schema(responses={200: PanelRankingSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def ranking(self, request: Request, pk: str) -> Response:
        """The panel's proposals ranked best first: raw and normalised grades per reviewer
        (labelled R1, R2, ...), mean, median, spread, disagreement, triage and panel grade."""
        panel = _panel(request, pk)
        rows = sel.panel_ranking(panel)
        lines = [_ranking_line(i, row) for i, row in enumerate(rows, 1)]
        return Response(PanelRankingSerializer({"panel": panel.pk, "proposals": lines}).data)


class ReviewProposalViewSet(viewsets.GenericViewSet[Proposal]):
    """Proposals under review, as their panel's chair and staff act on them."""

    lookup_value_regex = ID

    def get_serializer_class(self) -> type[Any]:
        return PanelGradeSerializer

    def get_queryset(self) -> QuerySet[Proposal]:
        if may_manage_review(self.request.user):
            return Proposal.objects.all()
        if not self.request.user.is_authenticated:
            return Proposal.objects.none()
        return Proposal.objects.filter(assignments__panel__chair=self.request.user).distinct()

    @extend_schema(request=PanelGradeInput, responses={200: PanelGradeSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["put"], url_path="panel-grade")
    def panel_grade(self, request: Request, pk: str) -> Response:
        """The chair (or staff) enters the final panel grade after the meeting."""
        if not self.get_queryset().filter(pk=pk).exists():
            raise NotFound("No such proposal.")
        data = PanelGradeInput(data=request.data)
        data.is_valid(raise_exception=True)
        grade = services.panel_grade_set(
            proposal_id=int(pk), grade=data.validated_data["grade"], actor=signed_in(request.user)
        )
        return Response(PanelGradeSerializer(grade).data)


# ---------------------------------------------------------------------------------------------
# Staff: the period's review, conflicts, decisions and the ledger
# ---------------------------------------------------------------------------------------------


class ReviewPeriodViewSet(viewsets.GenericViewSet[Period]):
    """Staff run a period's review: start it, assign reviewers, read the merged ranking."""

    lookup_field = "number"
    lookup_value_regex = r"\d+"
    serializer_class = CountSerializer

    def _period(self, request: Request, number: str, what: str) -> tuple[Period, User]:
        actor = _staff_only(request, what)
        period = Period.objects.filter(number=number).first()
        if period is None:
            raise NotFound("No such period.")
        return period, actor

    @extend_schema(request=None, responses={200: CountSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, number: str) -> Response:
        """Put the period's submitted proposals under review now; ``count``: how many moved."""
        period, actor = self._period(request, number, "start the review")
        moved = services.review_start(period_id=period.pk, actor=actor)
        return Response({"count": moved})

    @extend_schema(request=None, responses={200: CountSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, number: str) -> Response:
        """Assign reviewers to every proposal under review (optimised; hand moves kept);
        ``count``: the assignments. 400 names the proposals that cannot be covered."""
        period, actor = self._period(request, number, "assign reviewers")
        total = services.assignments_solve(period_id=period.pk, actor=actor)
        return Response({"count": total})

    @extend_schema(responses={200: PeriodRankingSerializer, **STAFF_READ_ERRORS})
    @action(detail=True, methods=["get"])
    def ranking(self, request: Request, number: str) -> Response:
        """Per telescope, the merged ranking with cumulative requested hours against the time
        available, the cut and triage lines, and the pressure per telescope and category."""
        period, _ = self._period(request, number, "read the period's ranking")
        rankings, pressure = sel.telescope_rankings(period)
        telescopes = [
            {
                "telescope": r.telescope,
                "available_hours": r.available_hours,
                "requested_hours": r.requested_hours,
                "pressure": _finite(pressure.get(r.telescope)),
                "lines": [
                    {**line.__dict__, "proposal": r.proposals[line.paper]} for line in r.lines
                ],
            }
            for r in rankings
        ]
        clean = {k: _finite(v) for k, v in pressure.items()}
        body = {"period": period.number, "telescopes": telescopes, "pressure": clean}
        return Response(PeriodRankingSerializer(body).data)

    @extend_schema(responses={200: ReviewProgressSerializer, **STAFF_READ_ERRORS})
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, number: str) -> Response:
        """Review progress: open and submitted reviews, late ones (past their panel's
        deadline) and the distributed-review teams that did not deliver."""
        period, _ = self._period(request, number, "follow the review")
        progress = sel.review_progress(period)
        body = {
            "period": period.number,
            "open": progress.open,
            "submitted": progress.submitted,
            "late": [
                {
                    "assignment": a.pk,
                    "proposal": a.proposal_id,
                    "programme_id": a.proposal.programme_id,
                    "reviewer": a.reviewer.username,
                    "panel": a.panel.name if a.panel else None,
                    "deadline": a.panel.deadline if a.panel else None,
                }
                for a in progress.late
            ],
            "teams_in_debt": [str(p) for p in progress.teams_in_debt],
        }
        return Response(ReviewProgressSerializer(body).data)


class ConflictFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(
        field_name="proposal__period__number", help_text="Period number"
    )

    class Meta:
        model = Conflict
        fields = ["period"]


@extend_schema_view(
    list=extend_schema(responses={200: ConflictSerializer, 400: ERROR, 401: ERROR, 403: ERROR}),
)
class ConflictViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Conflict]):
    """Staff: every conflict of interest, detected or declared, overridden or not."""

    serializer_class = ConflictSerializer
    filterset_class = ConflictFilter
    lookup_value_regex = ID

    def get_queryset(self) -> QuerySet[Conflict]:
        return Conflict.objects.select_related("proposal", "reviewer", "overridden_by")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _staff_only(request, "read conflicts")
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ReasonInput, responses={200: ConflictSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def override(self, request: Request, pk: str) -> Response:
        """Lift a conflict with a logged reason (the row stays)."""
        actor = _staff_only(request, "override conflicts")
        if not Conflict.objects.filter(pk=pk).exists():
            raise NotFound("No such conflict.")
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.conflict_override(
            conflict_id=int(pk), reason=data.validated_data["reason"], actor=actor
        )
        return Response(ConflictSerializer(self.get_queryset().get(pk=pk)).data)


class RunViewSet(viewsets.GenericViewSet[ObservingRun]):
    """Staff: decisions on observing runs and their time ledger (integer seconds)."""

    lookup_value_regex = ID

    def get_serializer_class(self) -> type[Any]:
        return RunDecisionSerializer

    def _run(self, request: Request, pk: str, what: str) -> tuple[ObservingRun, User]:
        actor = _staff_only(request, what)
        run = ObservingRun.objects.filter(pk=pk).first()
        if run is None:
            raise NotFound("No such run.")
        return run, actor

    @extend_schema(request=RunDecisionInput, responses={200: RunDecisionSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def decision(self, request: Request, pk: str) -> Response:
        """Approve (SM: rank class and hours; VM: whole nights) or reject the run; the time
        goes to the ledger in integer seconds."""
        run, actor = self._run(request, pk, "allocate time")
        data = RunDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.run_decide(run_id=run.pk, actor=actor, **data.validated_data)
        return Response(RunDecisionSerializer(decision).data)

    @extend_schema(responses={200: LedgerSerializer, **STAFF_READ_ERRORS})
    @action(detail=True, methods=["get"])
    def ledger(self, request: Request, pk: str) -> Response:
        """The run's ledger entries (seconds) and balance."""
        run, _ = self._run(request, pk, "read the ledger")
        entries = list(run.ledger.all())
        body = {
            "run": run.pk,
            "entries": entries,
            "balance_seconds": sum(e.seconds for e in entries),
        }
        return Response(LedgerSerializer(body).data)


def register(router: Any) -> None:
    """The review resources, under ``review/`` of the API router."""
    router.register("review/assignments", AssignmentViewSet, basename="review-assignment")
    router.register("review/panels", PanelViewSet, basename="review-panel")
    router.register("review/proposals", ReviewProposalViewSet, basename="review-proposal")
    router.register("review/periods", ReviewPeriodViewSet, basename="review-period")
    router.register("review/conflicts", ConflictViewSet, basename="review-conflict")
    router.register("review/runs", RunViewSet, basename="review-run")
