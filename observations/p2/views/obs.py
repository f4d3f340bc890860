"""p2 OBs: read and save, verify, revise, duplicate, execution time, scheduling info,
executions by night, templates."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import InvalidInput
from observations import night_selectors, selectors, services
from observations.commands import ItemRef
from observations.models import (
    ObservationBlock,
    Template,
)
from observations.p2 import schema as out
from observations.p2 import shapes
from observations.p2.transport import (
    ERROR,
    IF_MATCH,
    NO_CONTENT,
    READ_ERRORS,
    WRITE_ERRORS,
    P2View,
    answer,
    checked_id,
    expected_version,
    no_content,
)
from observations.p2.views.common import (
    COMMAND_ERRORS,
    NIGHT,
    _actor,
    _container,
    _named,
    _ob,
    _valid,
    _writable_ob,
    ob_answer,
)

# ---------------------------------------------------------------------------------------------


class OBView(P2View):
    @extend_schema(operation_id="p2_ob", responses={200: out.P2OBOut, **READ_ERRORS})
    def get(self, request: Request, ob_id: int) -> Response:
        """getOB."""
        return ob_answer(request, ob_id)

    @extend_schema(
        operation_id="p2_ob_save",
        request=shapes.P2OBInput,
        parameters=[IF_MATCH],
        responses={200: out.P2OBOut, **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> Response:
        """saveOB: the whole OB as getOB answered it, changed (read-only fields ignored)."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2OBInput(data=request.data))
        try:
            services.ob_update(
                ob_id=ob.pk,
                data=shapes.ob_command(data, shapes.ob_json(ob)),
                actor=_actor(request),
                expected_version=expected_version(request),
            )
        except InvalidInput as exc:
            raise _named(shapes.OB_ERROR_KEYS, exc) from exc
        return ob_answer(request, ob.pk)

    @extend_schema(
        operation_id="p2_ob_delete",
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **COMMAND_ERRORS},
    )
    def delete(self, request: Request, ob_id: int) -> HttpResponse:
        """deleteOB: never executed, in status -, P or D."""
        ob = _writable_ob(request, ob_id)
        services.item_delete(
            item=ItemRef.ob(ob.pk),
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return no_content()


class OBVerifyView(P2View):
    @extend_schema(
        operation_id="p2_ob_verify",
        request=shapes.P2VerifyInput,
        parameters=[IF_MATCH],
        responses={200: out.P2VerifyOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """verifyOB: ``observable`` and the messages; with ``submit`` and a pass, the OB goes
        to D (its ETag changes)."""
        ob = _ob(request, ob_id)
        submit = _valid(shapes.P2VerifyInput(data=request.data))["submit"]
        actor = _actor(request)
        if not submit:
            report = services.ob_verify(ob_id=ob.pk, actor=actor)
            observable, messages = report.ok, [*report.errors, *report.warnings]
        else:
            try:
                _, report = services.ob_submit(
                    ob_id=ob.pk, actor=actor, expected_version=expected_version(request)
                )
                observable, messages = True, list(report.warnings)
            except InvalidInput as exc:
                if "verification" not in exc.errors:
                    raise
                observable, messages = False, exc.errors["verification"]
        ob.refresh_from_db()
        return answer({"observable": observable, "messages": messages}, ob.version)


class OBReviseView(P2View):
    @extend_schema(
        operation_id="p2_ob_revise",
        request=None,
        parameters=[IF_MATCH],
        responses={200: out.P2OBOut, **COMMAND_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """reviseOB: D back to P."""
        ob = _writable_ob(request, ob_id)
        services.ob_revise(
            ob_id=ob.pk, actor=_actor(request), expected_version=expected_version(request)
        )
        return ob_answer(request, ob.pk)


class OBDuplicateView(P2View):
    @extend_schema(
        operation_id="p2_ob_duplicate",
        request=shapes.P2DuplicateInput,
        responses={201: out.P2OBOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """duplicateOB: a new OB in status P with the templates, windows and finding charts,
        at the end of the OB's container or of ``containerId`` (of the same run)."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2DuplicateInput(data=request.data or {}))
        actor = _actor(request)
        target = data.get("containerId")
        if target is not None:
            _container(request, target)  # someone else's container names nothing
        with transaction.atomic():
            copy = services.item_duplicate(item=ItemRef.ob(ob.pk), actor=actor)
            if target is not None and target != ob.container_id:
                try:
                    services.item_move(
                        item=ItemRef.ob(copy.pk), to_container_id=target, actor=actor
                    )
                except InvalidInput as exc:
                    raise _named({"container": "containerId"}, exc) from exc
        return ob_answer(request, copy.pk, 201)


def execution_time_answer(ob: ObservationBlock) -> dict[str, Any]:
    breakdown, _ = selectors.ob_breakdown(ob)
    return {
        "obId": ob.pk,
        "exposureTime": round(breakdown.exposure_s),
        "executionTime": round(breakdown.execution_s),
        "overheads": round(breakdown.overhead_s),
        "numberOfExposures": breakdown.n_exposures,
    }


class OBExecutionTimeView(P2View):
    @extend_schema(
        operation_id="p2_ob_execution_time",
        request=None,
        responses={200: out.P2ExecutionTimeOut, **READ_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """executionTime: exposures and overheads of the OB, seconds."""
        ob = _ob(request, ob_id)
        return answer(execution_time_answer(ob), ob.version)


class OBScheduleView(P2View):
    @extend_schema(
        operation_id="p2_ob_schedule", responses={200: out.P2OBScheduleOut, **READ_ERRORS}
    )
    def get(self, request: Request, ob_id: int) -> Response:
        """getOBSchedulingInfo: its contribution in a Group, its delays in a TimeLink."""
        ob = _ob(request, ob_id)
        return answer(shapes.ob_schedule_json(ob), ob.version)

    @extend_schema(
        operation_id="p2_ob_schedule_save",
        request=shapes.P2OBScheduleInput,
        parameters=[IF_MATCH],
        responses={200: out.P2OBScheduleOut, **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> Response:
        """saveOBSchedulingInfo."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2OBScheduleInput(data=request.data))
        try:
            ob = services.ob_update(
                ob_id=ob.pk,
                data=shapes.schedule_command(data),
                actor=_actor(request),
                expected_version=expected_version(request),
            )
        except InvalidInput as exc:
            keys = {"contribution": "groupContribution", "min_delay_s": "minDelay"}
            raise _named({**keys, "max_delay_s": "maxDelay"}, exc) from exc
        return answer(shapes.ob_schedule_json(ob), ob.version)


class OBExecutionsView(P2View):
    @extend_schema(
        operation_id="p2_ob_executions",
        parameters=[NIGHT],
        responses={200: out.P2ExecutionOut(many=True), 400: ERROR, **READ_ERRORS},
    )
    def get(self, request: Request, ob_id: int) -> Response:
        """getOBExecutions: the OB's executions of that night (every night without one)."""
        ob = _ob(request, ob_id)
        raw = request.query_params.get("night")
        night = None
        if raw is not None:
            try:
                night = dt.date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput(
                    "Invalid night.", {"night": ["Give it as YYYY-MM-DD."]}
                ) from None
        executions = night_selectors.ob_executions(ob.pk, night)
        return answer(
            [
                {
                    "executionId": e.pk,
                    "obId": e.ob_id,
                    "night": e.visit.night.isoformat(),
                    "from": e.visit.started_at.isoformat(),
                    "to": e.ended_at.isoformat() if e.ended_at else None,
                    "grade": e.grade,
                    "aborted": e.aborted,
                    "reason": e.reason,
                    "comment": e.comment,
                    "seeing": e.visit.seeing_arcsec,
                    "skyTransparency": e.visit.transparency,
                }
                for e in executions
            ],
            ob.version,
        )


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def _template(request: Request, ob_id: int, template_id: int, *, write: bool = False) -> Template:
    ob = _writable_ob(request, ob_id) if write else _ob(request, ob_id)
    return Template.objects.select_related("signature").get(ob=ob, pk=checked_id(template_id))


class TemplatesView(P2View):
    @extend_schema(
        operation_id="p2_templates", responses={200: out.P2TemplateOut(many=True), **READ_ERRORS}
    )
    def get(self, request: Request, ob_id: int) -> Response:
        """getTemplates. ``ETag``: the OB's (any change of a template changes it)."""
        ob = _ob(request, ob_id)
        return answer([shapes.template_json(t) for t in selectors.ob_templates(ob)], ob.version)

    @extend_schema(
        operation_id="p2_template_create",
        request=shapes.P2NewTemplateInput,
        parameters=[IF_MATCH],
        responses={201: out.P2TemplateOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """createTemplate: the template with its parameters at their defaults (an acquisition
        template goes first; one per OB)."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2NewTemplateInput(data=request.data))
        try:
            template = services.template_add(
                ob_id=ob.pk,
                signature_name=data["templateName"],
                actor=_actor(request),
                expected_version=expected_version(request),
            )
        except InvalidInput as exc:
            raise _named({"template_name": "templateName"}, exc) from exc
        ob.refresh_from_db()
        return answer(shapes.template_json(selectors.template_view(template)), ob.version, 201)

    @extend_schema(
        operation_id="p2_templates_reorder",
        request=shapes.P2TemplateRefInput(many=True),
        parameters=[IF_MATCH],
        responses={200: out.P2TemplateOut(many=True), **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> Response:
        """reorderTemplates: the same templates, in a new order."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2TemplateRefInput(data=request.data, many=True))
        services.template_reorder(
            ob_id=ob.pk,
            template_ids=[t["templateId"] for t in data],
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return self.get(request, ob.pk)


class TemplateView(P2View):
    @extend_schema(operation_id="p2_template", responses={200: out.P2TemplateOut, **READ_ERRORS})
    def get(self, request: Request, ob_id: int, template_id: int) -> Response:
        """getTemplate. ``ETag``: the OB's."""
        template = _template(request, ob_id, template_id)
        return answer(shapes.template_json(selectors.template_view(template)), template.ob.version)

    @extend_schema(
        operation_id="p2_template_save",
        request=shapes.P2TemplateInput,
        parameters=[IF_MATCH],
        responses={200: out.P2TemplateOut, **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int, template_id: int) -> Response:
        """saveTemplate (setTemplateParams): only parameter values change, each checked
        against its definition."""
        template = _template(request, ob_id, template_id, write=True)
        data = _valid(shapes.P2TemplateInput(data=request.data))
        values = shapes.changed_values(selectors.template_view(template), data["parameters"])
        services.template_set_values(
            template_id=template.pk,
            ob_id=ob_id,
            values=values,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return self.get(request, ob_id, template_id)

    @extend_schema(
        operation_id="p2_template_delete",
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **COMMAND_ERRORS},
    )
    def delete(self, request: Request, ob_id: int, template_id: int) -> HttpResponse:
        """deleteTemplate."""
        template = _template(request, ob_id, template_id, write=True)
        services.template_delete(
            template_id=template.pk,
            ob_id=ob_id,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return no_content(ObservationBlock.objects.get(pk=template.ob_id).version)


# ---------------------------------------------------------------------------------------------
# Time windows
