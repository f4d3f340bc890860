"""p2 containers: items, append, verify, revise, execution times, scheduling info."""

from typing import Any

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import InvalidInput
from observations import selectors, services
from observations.commands import ContainerData, ItemRef
from observations.models import (
    Container,
    ItemType,
    ObservationBlock,
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
    expected_version,
    no_content,
)
from observations.p2.views.common import (
    COMMAND_ERRORS,
    _actor,
    _container,
    _named,
    _ob,
    _valid,
    _writable_container,
    container_answer,
    ob_answer,
)
from observations.p2.views.obs import execution_time_answer

# ---------------------------------------------------------------------------------------------


class ContainerView(P2View):
    @extend_schema(operation_id="p2_container", responses={200: out.P2ContainerOut, **READ_ERRORS})
    def get(self, request: Request, container_id: int) -> Response:
        """getContainer."""
        return container_answer(request, container_id)

    @extend_schema(
        operation_id="p2_container_save",
        request=shapes.P2ContainerInput,
        parameters=[IF_MATCH],
        responses={200: out.P2ContainerOut, **WRITE_ERRORS},
    )
    def put(self, request: Request, container_id: int) -> Response:
        """saveContainer: its name (a Group's ``groupPriority``); the rest is read-only."""
        container = _writable_container(request, container_id)
        data = _valid(shapes.P2ContainerInput(data=request.data))
        fields: dict[str, Any] = {}
        if "name" in data:
            fields["name"] = data["name"]
        if "groupPriority" in data and container.item_type == ItemType.GROUP:
            fields["group_priority"] = data["groupPriority"]
        services.container_update(
            container_id=container.pk,
            data=ContainerData(**fields),
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return container_answer(request, container.pk)

    @extend_schema(
        operation_id="p2_container_delete",
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **COMMAND_ERRORS, 400: ERROR},
    )
    def delete(self, request: Request, container_id: int) -> HttpResponse:
        """deleteContainer: an empty container (not the run's root folder)."""
        container = _writable_container(request, container_id)
        services.item_delete(
            item=ItemRef.container(container.pk),
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return no_content()


class ItemsView(P2View):
    @extend_schema(
        operation_id="p2_items", responses={200: out.P2ItemOut(many=True), **READ_ERRORS}
    )
    def get(self, request: Request, container_id: int) -> Response:
        """getItems: the container's OBs and containers in order. ``ETag``: the container's."""
        container = _container(request, container_id)
        items = selectors.container_items(container)
        return answer([shapes.item_json(i) for i in items], container.version)

    @extend_schema(
        operation_id="p2_items_create",
        request=shapes.P2CreateItemInput,
        responses={201: OpenApiResponse(out.P2ItemOut, "The new OB or container"), **WRITE_ERRORS},
    )
    def post(self, request: Request, container_id: int) -> Response:
        """createOB, createFolder, createGroup, createConcatenation, createTimeLink: the new
        item at the end of the container, as getOB or getContainer answers it."""
        container = _writable_container(request, container_id)
        data = _valid(shapes.P2CreateItemInput(data=request.data))
        if data["itemType"] == ItemType.OB:
            ob = services.ob_create(
                container_id=container.pk, name=data["name"], actor=_actor(request)
            )
            return ob_answer(request, ob.pk, 201)
        created = services.container_create(
            parent_id=container.pk,
            item_type=data["itemType"],
            name=data["name"],
            actor=_actor(request),
        )
        return container_answer(request, created.pk, 201)

    @extend_schema(
        operation_id="p2_items_reorder",
        request=shapes.P2ItemRefInput(many=True),
        parameters=[IF_MATCH],
        responses={200: out.P2ItemOut(many=True), **WRITE_ERRORS},
    )
    def put(self, request: Request, container_id: int) -> Response:
        """reorderItems: the same items as getItems, in a new order."""
        container = _writable_container(request, container_id)
        data = _valid(shapes.P2ItemRefInput(data=request.data, many=True))
        try:
            services.items_reorder(
                container_id=container.pk,
                items=[shapes.item_ref(d) for d in data],
                actor=_actor(request),
                expected_version=expected_version(request),
            )
        except InvalidInput as exc:
            raise _named({"items": "items"}, exc) from exc
        return self.get(request, container.pk)


class AppendView(P2View):
    @extend_schema(
        operation_id="p2_items_append",
        request=shapes.P2ItemRefInput,
        responses={200: out.P2ItemOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, container_id: int) -> Response:
        """moveOB, moveFolder, moveGroup, ...: move the item to the end of this container
        (of the same run). Answers the moved item with its new ``ETag``."""
        container = _writable_container(request, container_id)
        ref = shapes.item_ref(_valid(shapes.P2ItemRefInput(data=request.data)))
        # The item must be readable too: someone else's id names nothing.
        if ref.kind == "ob":
            _ob(request, ref.id)
        else:
            _container(request, ref.id)
        moved = services.item_move(item=ref, to_container_id=container.pk, actor=_actor(request))
        if isinstance(moved, ObservationBlock):
            return ob_answer(request, moved.pk)
        return container_answer(request, moved.pk)


class ContainerVerifyView(P2View):
    @extend_schema(
        operation_id="p2_container_verify",
        request=shapes.P2VerifyInput,
        parameters=[IF_MATCH],
        responses={200: out.P2VerifyOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, container_id: int) -> Response:
        """verifyContainer: every OB under it verified; with ``submit``, all submitted (all
        or nothing)."""
        container = _container(request, container_id)
        submit = _valid(shapes.P2VerifyInput(data=request.data))["submit"]
        if not submit:
            report = services.container_verify(container_id=container.pk, actor=_actor(request))
            messages = report.errors
            observable = report.ok
        else:
            try:
                services.container_submit(
                    container_id=container.pk,
                    actor=_actor(request),
                    expected_version=expected_version(request),
                )
                observable, messages = True, []
            except InvalidInput as exc:
                if "verification" not in exc.errors:
                    raise
                observable, messages = False, exc.errors["verification"]
        container.refresh_from_db()
        return answer({"observable": observable, "messages": messages}, container.version)


class ContainerReviseView(P2View):
    @extend_schema(
        operation_id="p2_container_revise",
        request=None,
        parameters=[IF_MATCH],
        responses={200: out.P2ContainerOut, **COMMAND_ERRORS},
    )
    def post(self, request: Request, container_id: int) -> Response:
        """reviseContainer: every submitted (D) OB under it back to P."""
        container = _writable_container(request, container_id)
        services.container_revise(
            container_id=container.pk,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return container_answer(request, container.pk)


class ContainerExecutionTimesView(P2View):
    @extend_schema(
        operation_id="p2_container_execution_times",
        request=None,
        responses={200: out.P2ExecutionTimeOut(many=True), **READ_ERRORS},
    )
    def post(self, request: Request, container_id: int) -> Response:
        """The execution time of each OB directly in the container (seconds)."""
        container = _container(request, container_id)
        obs = ObservationBlock.objects.filter(container=container).select_related("run")
        return answer([execution_time_answer(ob) for ob in obs], container.version)


class ContainerScheduleView(P2View):
    def _data(self, container: Container) -> dict[str, Any]:
        obs = ObservationBlock.objects.filter(container=container)
        data: dict[str, Any] = {
            "containerId": container.pk,
            "itemType": container.item_type,
            "obs": [shapes.ob_schedule_json(ob) for ob in obs],
        }
        if container.item_type == ItemType.GROUP:
            data["groupPriority"] = container.group_priority
        return data

    @extend_schema(
        operation_id="p2_container_schedule",
        responses={200: out.P2ContainerScheduleOut, **READ_ERRORS},
    )
    def get(self, request: Request, container_id: int) -> Response:
        """A Group's priority and its OBs' contributions; a TimeLink's OBs' delays (seconds
        after the previous OB). ``ETag``: the container's."""
        container = _container(request, container_id)
        return answer(self._data(container), container.version)

    @extend_schema(
        operation_id="p2_container_schedule_save",
        request=shapes.P2ContainerScheduleInput,
        parameters=[IF_MATCH],
        responses={200: out.P2ContainerScheduleOut, **WRITE_ERRORS},
    )
    def put(self, request: Request, container_id: int) -> Response:
        """Save them: each value goes through the same services as a page's edit (a Group's
        priority, each OB's contribution or delays), all or nothing."""
        container = _writable_container(request, container_id)
        data = _valid(shapes.P2ContainerScheduleInput(data=request.data))
        actor = _actor(request)
        held = set(container.obs.values_list("pk", flat=True))
        unknown = [i["obId"] for i in data.get("obs", []) if i["obId"] not in held]
        if unknown:
            raise InvalidInput(
                "Not in this container.", {"obs": [f"OBs {unknown} are not in {container.name}."]}
            )
        with transaction.atomic():
            # The container's ETag guards the whole save, checked first.
            services.container_update(
                container_id=container.pk,
                data=ContainerData(
                    **(
                        {"group_priority": data["groupPriority"]}
                        if "groupPriority" in data and container.item_type == ItemType.GROUP
                        else {}
                    )
                ),
                actor=actor,
                expected_version=expected_version(request),
            )
            for item in data.get("obs", []):
                try:
                    services.ob_update(
                        ob_id=item["obId"], data=shapes.schedule_command(item), actor=actor
                    )
                except InvalidInput as exc:
                    raise _named({}, exc) from exc
        container.refresh_from_db()
        return answer(self._data(container), container.version)


# ---------------------------------------------------------------------------------------------
# OBs
