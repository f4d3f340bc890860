"""Phase 2 API, writes of a run's tree: create an item in a container (a Folder, Group,
TimeLink, Concatenation or an OB), reorder its items, rename a container or set a Group's
priority, delete an empty one, duplicate and move it, and verify, submit and accept every OB
under it at once.

p2: createItem (POST .../items {"itemType", "name"}), reorderItems (PUT .../items with the
items as GET answers them), saveContainer, deleteContainer. ``If-Match`` names the version of
the container in the path (for a new item: the container it is created in); every answer
about a container carries its ``ETag``.
"""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from observations import access, selectors, services
from observations.api.common import (
    COMMAND_ERRORS,
    IF_MATCH_CONTAINER,
    WRITE_ERRORS,
    actor,
    container_answer,
    errors_named,
    ob_answer,
)
from observations.api.inputs import (
    ContainerInput,
    ContainerVerificationSerializer,
    ItemCreateInput,
    ItemMoveInput,
    ItemRefInput,
    StatusChangeSerializer,
)
from observations.api.obs import move_item
from observations.api.read import (
    CONTAINER_ID,
    ITEMS,
    Phase2ContainerSerializer,
    Phase2ContainerViewSet,
    Phase2OBSerializer,
    item_data,
)
from observations.commands import ContainerData, ItemRef
from observations.models import Container, ItemType, OBStatus
from proposals.api.views import READ_ERRORS, expected_version, with_etag

NEW_ITEM = PolymorphicProxySerializer(
    component_name="Phase2NewItem",
    serializers=[Phase2ContainerSerializer, Phase2OBSerializer],
    resource_type_field_name=None,
)
CONTAINER_ANSWER = {200: Phase2ContainerSerializer, **WRITE_ERRORS}


class ContainerViews(Phase2ContainerViewSet):
    def _writable(self, container_id: str) -> Container:
        container = self._container(container_id)
        access.ensure_may_write(self.request.user, container.run)
        return container

    def _reviewable(self, container_id: str) -> Container:
        container = self._container(container_id)
        access.ensure_may_review(self.request.user, container.run)
        return container

    def _items_answer(self, container_id: int) -> Response:
        container = selectors.visible_container(self.request.user, container_id)
        data = [item_data(item) for item in selectors.container_items(container)]
        return with_etag(Response(data), container.version)

    # -- items -----------------------------------------------------------------------------------

    # The read side's action again, now with a POST and a PUT: one route serves them all.
    @extend_schema(parameters=[CONTAINER_ID], responses={200: ITEMS, **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def items(  # type: ignore[override]
        self, request: Request, container_id: str
    ) -> Response:
        """The container's child containers and OBs, in order: each with ``item_type`` and
        ``container_id``/``container_status`` or ``ob_id``/``ob_status``."""
        return self._items_answer(self._container(container_id).pk)

    @extend_schema(
        parameters=[CONTAINER_ID, IF_MATCH_CONTAINER],
        request=ItemCreateInput,
        responses={201: NEW_ITEM, **WRITE_ERRORS},
    )
    @items.mapping.post
    def item_create(self, request: Request, container_id: str) -> Response:
        """Create an item at the end of the container: ``item_type`` OB makes an OB (status P,
        the run's Phase 1 constraints), Folder, Group, TimeLink or Concatenation a container
        (folders hold any item; the others OBs only, and only in service mode). Answers the
        new OB or container with its ``ETag``."""
        parent = self._writable(container_id)
        data = ItemCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        kind, name = data.validated_data["item_type"], data.validated_data["name"]
        if kind == ItemType.OB:
            ob = services.ob_create(
                container_id=parent.pk,
                name=name,
                actor=actor(request),
                expected_version=expected_version(request),
            )
            return ob_answer(request, ob.pk, status.HTTP_201_CREATED)
        with errors_named({"parent": "item_type"}):
            made = services.container_create(
                parent_id=parent.pk,
                item_type=kind,
                name=name,
                actor=actor(request),
                expected_version=expected_version(request),
            )
        return container_answer(request, made.pk, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[CONTAINER_ID, IF_MATCH_CONTAINER],
        request=ItemRefInput(many=True),
        responses={200: ITEMS, **WRITE_ERRORS},
    )
    @items.mapping.put
    def items_reorder(self, request: Request, container_id: str) -> Response:
        """Put the container's items in this order (p2's reorderItems): the list GET answers,
        reordered; every item exactly once."""
        container = self._writable(container_id)
        data = ItemRefInput(data=request.data, many=True)
        data.is_valid(raise_exception=True)
        services.items_reorder(
            container_id=container.pk,
            items=[ItemRefInput.ref(attrs) for attrs in data.validated_data],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._items_answer(container.pk)

    # -- the container ---------------------------------------------------------------------------

    @extend_schema(
        request=ContainerInput, responses=CONTAINER_ANSWER, parameters=[IF_MATCH_CONTAINER]
    )
    def update(self, request: Request, container_id: str) -> Response:
        """Save the container (p2's saveContainer): ``name`` (not the root folder's) and a
        Group's ``group_priority``; other fields are read-only."""
        container = self._writable(container_id)
        data = ContainerInput(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        sent: dict[str, Any] = dict(data.validated_data)
        if (
            container.item_type != ItemType.GROUP
            and sent.get("group_priority") == container.group_priority
        ):
            # Answered for every container: sent back unchanged with the rest, not a change.
            del sent["group_priority"]
        services.container_update(
            container_id=container.pk,
            data=ContainerData(**sent),
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return container_answer(request, container.pk)

    @extend_schema(
        request=ContainerInput, responses=CONTAINER_ANSWER, parameters=[IF_MATCH_CONTAINER]
    )
    def partial_update(self, request: Request, container_id: str) -> Response:
        """Change the container's name or a Group's priority (only the fields sent)."""
        return self.update(request, container_id)

    @extend_schema(responses={204: None, **WRITE_ERRORS}, parameters=[IF_MATCH_CONTAINER])
    def destroy(self, request: Request, container_id: str) -> Response:
        """Delete an empty container (never the run's root folder)."""
        container = self._writable(container_id)
        services.item_delete(
            item=ItemRef.container(container.pk),
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={201: Phase2ContainerSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH_CONTAINER],
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, container_id: str) -> Response:
        """Copy the container with everything in it to the end of its parent (its OBs as new
        OBs in status P). Answers the copy."""
        container = self._writable(container_id)
        copy = services.item_duplicate(
            item=ItemRef.container(container.pk),
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return container_answer(request, copy.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=ItemMoveInput, responses=CONTAINER_ANSWER, parameters=[IF_MATCH_CONTAINER]
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, container_id: str) -> Response:
        """Move the container to the end of a folder of the same run (never into itself)."""
        container = self._writable(container_id)
        data = ItemMoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        move_item(ItemRef.container(container.pk), data.validated_data["container_id"], request)
        return container_answer(request, container.pk)

    # -- every OB under the container ------------------------------------------------------------

    @extend_schema(request=None, responses={200: ContainerVerificationSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get", "post"])
    def verify(self, request: Request, container_id: str) -> Response:
        """Verify every OB under the container (nested containers included) without changing
        anything; 200 whether they pass or not."""
        container = self._container(container_id)
        report = services.container_verify(container_id=container.pk, actor=actor(request))
        data = {
            "ok": report.ok,
            "errors": report.errors,
            "obs": [
                {
                    "ob_id": pk,
                    "name": report.names[pk],
                    "ok": found.ok,
                    "errors": found.errors,
                    "warnings": found.warnings,
                }
                for pk, found in report.obs.items()
            ],
        }
        return with_etag(Response(ContainerVerificationSerializer(data).data), container.version)

    @extend_schema(
        request=None,
        responses={200: StatusChangeSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH_CONTAINER],
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, container_id: str) -> Response:
        """Verify and submit every OB under the container in status P or - (to D), all or
        nothing: 400 with every failing OB's errors, and nothing submitted, when one fails."""
        container = self._writable(container_id)
        obs, _ = services.container_submit(
            container_id=container.pk,
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._changed(container, [ob.pk for ob in obs], OBStatus.DEFINED)

    @extend_schema(
        request=None,
        responses={200: StatusChangeSerializer, **COMMAND_ERRORS},
        parameters=[IF_MATCH_CONTAINER],
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, container_id: str) -> Response:
        """Staff: accept every submitted (D) OB under the container (to +)."""
        container = self._reviewable(container_id)
        obs = services.container_accept(
            container_id=container.pk,
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return self._changed(container, [ob.pk for ob in obs], OBStatus.ACCEPTED)

    def _changed(self, container: Container, ob_ids: list[int], to: str) -> Response:
        container.refresh_from_db(fields=["version"])
        data = StatusChangeSerializer({"ob_ids": ob_ids, "ob_status": to}).data
        return with_etag(Response(data), container.version)
