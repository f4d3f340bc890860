"""Phase 2 API, an OB's templates: add one by its signature's name, read one, set its
parameter values, delete it, put the OB's templates in order.

p2: createTemplate (POST .../templates {"templateName"}), getTemplate, saveTemplate (PUT with
``parameters: [{name, value}]``), deleteTemplate. A template has no version of its own: every
answer carries the OB's ``ETag``, and ``If-Match`` names the OB's version (any change to an
OB's templates changes the OB).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from observations import selectors, services
from observations.api.common import COMMAND_ERRORS, IF_MATCH_OB, WRITE_ERRORS, OBViews, actor
from observations.api.inputs import TemplateAddInput, TemplateOrderInput, TemplateValuesInput
from observations.api.read import Phase2TemplateSerializer, _pk
from observations.models import ObservationBlock, Template
from proposals.api.views import ID, READ_ERRORS, expected_version, with_etag

TEMPLATE_ID = OpenApiParameter("template_id", int, OpenApiParameter.PATH)


class TemplateViews(OBViews):
    def _template(self, ob: ObservationBlock, template_id: str) -> Template:
        found = Template.objects.select_related("signature").filter(pk=_pk(template_id), ob=ob)
        template = found.first()
        if template is None:
            raise NotFound("No such template in this OB.")
        return template

    def _template_answer(self, template_id: int, code: int = status.HTTP_200_OK) -> Response:
        template = Template.objects.select_related("signature", "ob").get(pk=template_id)
        data = Phase2TemplateSerializer(selectors.template_view(template)).data
        return with_etag(Response(data, status=code), template.ob.version)

    def _templates_answer(self, ob_id: str) -> Response:
        ob = self._ob(ob_id)
        data = Phase2TemplateSerializer(selectors.ob_templates(ob), many=True).data
        return with_etag(Response(data), ob.version)

    # The read side's action again, now with a POST: one route serves both methods.
    @extend_schema(responses={200: Phase2TemplateSerializer(many=True), **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def templates(  # type: ignore[override]
        self, request: Request, ob_id: str
    ) -> Response:
        """The OB's templates in order (the acquisition first), each parameter with its
        definition and value. ``ETag``: the OB's version."""
        return self._templates_answer(ob_id)

    @extend_schema(
        request=TemplateAddInput,
        responses={201: Phase2TemplateSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @templates.mapping.post
    def template_add(self, request: Request, ob_id: str) -> Response:
        """Add a template of the OB's instrument package with its default values: an
        acquisition first (at most one), any other at the end."""
        ob = self._editable(ob_id)
        data = TemplateAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = services.template_add(
            ob_id=ob.pk,
            signature_name=data.validated_data["template_name"],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._template_answer(template.pk, status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: Phase2TemplateSerializer, **READ_ERRORS}, parameters=[TEMPLATE_ID]
    )
    @action(detail=True, methods=["get"], url_path=rf"templates/(?P<template_id>{ID})")
    def template(self, request: Request, ob_id: str, template_id: str) -> Response:
        """One template with its parameters. ``ETag``: the OB's version."""
        ob = self._ob(ob_id)
        return self._template_answer(self._template(ob, template_id).pk)

    @extend_schema(
        request=TemplateValuesInput,
        responses={200: Phase2TemplateSerializer, **WRITE_ERRORS},
        parameters=[TEMPLATE_ID, IF_MATCH_OB],
    )
    @template.mapping.put
    def template_save(self, request: Request, ob_id: str, template_id: str) -> Response:
        """Set parameter values (only those sent change; ``null`` resets one to its default);
        each value is checked against its definition."""
        ob = self._editable(ob_id)
        template = self._template(ob, template_id)
        data = TemplateValuesInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.template_set_values(
            template_id=template.pk,
            ob_id=ob.pk,
            values=data.values(),
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._template_answer(template.pk)

    @extend_schema(responses={204: None, **COMMAND_ERRORS}, parameters=[TEMPLATE_ID, IF_MATCH_OB])
    @template.mapping.delete
    def template_remove(self, request: Request, ob_id: str, template_id: str) -> Response:
        """Remove the template (``ETag``: the OB's new version)."""
        ob = self._editable(ob_id)
        template = self._template(ob, template_id)
        services.template_delete(
            template_id=template.pk,
            ob_id=ob.pk,
            actor=actor(request),
            expected_version=expected_version(request),
        )
        ob.refresh_from_db(fields=["version"])
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), ob.version)

    @extend_schema(
        request=TemplateOrderInput,
        responses={200: Phase2TemplateSerializer(many=True), **WRITE_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @action(detail=True, methods=["post"], url_path="templates/reorder")
    def templates_reorder(self, request: Request, ob_id: str) -> Response:
        """Put the OB's templates in the given order: every template id once, an acquisition
        template first."""
        ob = self._editable(ob_id)
        data = TemplateOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.template_reorder(
            ob_id=ob.pk,
            template_ids=data.validated_data["template_ids"],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._templates_answer(ob_id)
