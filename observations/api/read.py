"""Phase 2 REST API (under /api/v1/phase2/), read side: the open runs of the user, a run's
whole tree, containers with their items, OBs with their templates, and the instruments'
template signatures.

Our own resources, in snake_case; they map one to one onto ESO's p2 API (``P2API.md``), whose
compatibility layer renames them: ``run_id``/``container_id``/``ob_id`` are p2's ids, an item
is a child container (``container_id``, ``container_status``) or an OB (``ob_id``,
``ob_status``) with ``item_type`` one of ``Folder Group TimeLink Concatenation OB``, statuses
are ESO's codes, and ``ETag: "<version>"`` is the object's version.

Same conventions as the Phase 1 API (``proposals.api.views``): a run, container or OB is
visible to the PI and the accepted co-investigators of the run's proposal and to staff, once
Phase 2 of the run is open (``observations.access``); to anyone else it answers 404, never
403. Errors are ``{"detail", "errors"}``.

The tree and the item lists are built as plain dicts from the selectors' rows: a 2,000-OB tree
through DRF's field machinery cost more than its two queries. Their serializers below describe
the shapes for the schema (and the tests check that the dicts have exactly their fields).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from observations import selectors
from observations.models import (
    AbsoluteWindow,
    Container,
    ItemType,
    ObservationBlock,
    OBStatus,
    SiderealWindow,
    SkyTransparency,
    TemplateSignature,
    TemplateType,
)
from observations.selectors import ContainerItem, OBDetail, OBItem, TreeContainer
from proposals.api.views import ERROR, ID, READ_ERRORS, with_etag
from proposals.coordinates import format_dec, format_ra
from proposals.models import Mode, ObservingRun


def _pk(value: str) -> int:
    """A path id as a primary key; one too large for any key names nothing (404, not a crash)."""
    if len(value) > 18:
        raise NotFound("No such object.")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


class PersonNameSerializer(serializers.Serializer[Any]):
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class Phase2RunSerializer(serializers.ModelSerializer[ObservingRun]):
    run_id = serializers.IntegerField(source="pk")
    prog_id = serializers.CharField(source="__str__", help_text='e.g. "119.C-0001(A)"')
    proposal_id = serializers.IntegerField()
    title = serializers.CharField(source="proposal.title")
    period = serializers.IntegerField(source="proposal.period.number")
    telescope = serializers.CharField(source="telescope.name")
    instrument = serializers.CharField(source="instrument.name")
    mode = serializers.ChoiceField(choices=Mode.choices)
    ip_version = serializers.SerializerMethodField(
        help_text="The instrument package version of new OBs: the newest with template "
        "signatures for the run's instrument (null when none are loaded)",
    )
    container_id = serializers.IntegerField(
        source="root_container_id",
        allow_null=True,
        help_text="The run's root folder (null until its Phase 2 tree is started)",
    )
    item_count = serializers.IntegerField(help_text="Items (containers and OBs) of the root")
    ob_count = serializers.IntegerField(help_text="Every OB of the run")
    pi = PersonNameSerializer(source="proposal.pi")

    class Meta:
        model = ObservingRun
        fields = [
            "run_id", "prog_id", "proposal_id", "title", "period", "telescope", "instrument",
            "mode", "ip_version", "container_id", "item_count", "ob_count", "pi",
        ]  # fmt: skip

    def get_ip_version(self, run: ObservingRun) -> str | None:
        versions: dict[int, str] = self.context.get("ip_versions", {})
        return versions.get(run.instrument_id)


# ---------------------------------------------------------------------------------------------
# Items and the tree: shapes for the schema, data built by the functions below them
# ---------------------------------------------------------------------------------------------

ITEM_TYPE_HELP = "Folder, Group, TimeLink, Concatenation or OB"


class Phase2OBItemSerializer(serializers.Serializer[OBItem]):
    item_type = serializers.ChoiceField(choices=ItemType.choices, help_text='Always "OB"')
    ob_id = serializers.IntegerField()
    ob_status = serializers.ChoiceField(choices=OBStatus.choices, help_text="ESO's status code")
    name = serializers.CharField()
    position = serializers.IntegerField(help_text="Order among the container's items")
    version = serializers.IntegerField(help_text="The OB's ETag")
    user_priority = serializers.IntegerField()
    target_name = serializers.CharField()
    exposure_time_s = serializers.FloatField()
    execution_time_s = serializers.FloatField(help_text="As last computed, seconds")


class Phase2ContainerItemSerializer(serializers.Serializer[ContainerItem]):
    item_type = serializers.ChoiceField(
        choices=ItemType.choices, help_text="Folder, Group, TimeLink or Concatenation"
    )
    container_id = serializers.IntegerField()
    container_status = serializers.ChoiceField(
        choices=OBStatus.choices,
        allow_null=True,
        help_text="Scheduling containers: the status of their least advanced OB (- P D + "
        "then the night statuses; P when empty). Folders: null",
    )
    name = serializers.CharField()
    position = serializers.IntegerField(help_text="Order among the parent's items")
    version = serializers.IntegerField(help_text="The container's ETag")
    group_priority = serializers.IntegerField(help_text="Groups: 1 first")
    ob_count = serializers.IntegerField(help_text="OBs directly in the container")


def ob_item_data(ob: OBItem) -> dict[str, Any]:
    return {
        "item_type": ob.item_type,
        "ob_id": ob.id,
        "ob_status": ob.status,
        "name": ob.name,
        "position": ob.position,
        "version": ob.version,
        "user_priority": ob.user_priority,
        "target_name": ob.target_name,
        "exposure_time_s": ob.exposure_time_s,
        "execution_time_s": ob.execution_time_s,
    }


def container_item_data(container: ContainerItem) -> dict[str, Any]:
    return {
        "item_type": container.item_type,
        "container_id": container.id,
        "container_status": container.status,
        "name": container.name,
        "position": container.position,
        "version": container.version,
        "group_priority": container.group_priority,
        "ob_count": container.ob_count,
    }


def item_data(item: ContainerItem | OBItem) -> dict[str, Any]:
    return ob_item_data(item) if isinstance(item, OBItem) else container_item_data(item)


ITEMS = PolymorphicProxySerializer(
    component_name="Phase2Item",
    serializers=[Phase2ContainerItemSerializer, Phase2OBItemSerializer],
    resource_type_field_name=None,
    many=True,
)


def _tree_items() -> list[type[serializers.Serializer[Any]]]:
    return [Phase2TreeSerializer, Phase2OBItemSerializer]


class Phase2TreeSerializer(Phase2ContainerItemSerializer):
    total_obs = serializers.IntegerField(help_text="OBs in the whole subtree")
    total_execution_time_s = serializers.FloatField(help_text="Their execution time, seconds")
    items = PolymorphicProxySerializer(
        component_name="Phase2TreeItem",
        serializers=_tree_items,  # lazy: a tree's containers are trees themselves
        resource_type_field_name=None,
        many=True,
    )


def tree_data(root: TreeContainer) -> dict[str, Any]:
    """The tree as nested dicts, built without recursion (as the selector builds it)."""

    def node(container: TreeContainer) -> dict[str, Any]:
        return {
            **container_item_data(container),
            "total_obs": container.total_obs,
            "total_execution_time_s": container.total_execution_time_s,
            "items": [],
        }

    data = node(root)
    stack = [(root, data)]
    while stack:
        container, out = stack.pop()
        for item in container.items:
            if isinstance(item, TreeContainer):
                child = node(item)
                stack.append((item, child))
                out["items"].append(child)
            else:
                out["items"].append(ob_item_data(item))
    return data


class Phase2ContainerSerializer(serializers.ModelSerializer[Container]):
    container_id = serializers.IntegerField(source="pk")
    item_type = serializers.ChoiceField(choices=ItemType.choices, help_text=ITEM_TYPE_HELP)
    container_status = serializers.SerializerMethodField(
        help_text="As in the items of its parent: scheduling containers only"
    )
    run_id = serializers.IntegerField()
    parent_container_id = serializers.IntegerField(
        source="parent_id", allow_null=True, help_text="null for the run's root folder"
    )
    item_count = serializers.SerializerMethodField()

    class Meta:
        model = Container
        fields = [
            "container_id", "item_type", "container_status", "name", "run_id",
            "parent_container_id", "position", "version", "group_priority", "item_count",
        ]  # fmt: skip

    def _items(self) -> list[ContainerItem | OBItem]:
        items: list[ContainerItem | OBItem] = self.context.get("items", [])
        return items

    @extend_schema_field(serializers.ChoiceField(choices=OBStatus.choices, allow_null=True))
    def get_container_status(self, container: Container) -> str | None:
        statuses = [i.status for i in self._items() if isinstance(i, OBItem)]
        return selectors.container_status(container.item_type, statuses)

    def get_item_count(self, container: Container) -> int:
        return len(self._items())


# ---------------------------------------------------------------------------------------------
# OBs and templates
# ---------------------------------------------------------------------------------------------


class ParameterDefinitionSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField(help_text="number, integer, string, boolean or list")
    default = serializers.JSONField(allow_null=True)
    min = serializers.JSONField(allow_null=True)
    max = serializers.JSONField(allow_null=True)
    allowed = serializers.ListField(
        child=serializers.JSONField(), allow_null=True, help_text="The allowed values, if listed"
    )
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves fields off the class


class TemplateParameterSerializer(ParameterDefinitionSerializer):
    value = serializers.JSONField(
        allow_null=True, help_text="A number, string, boolean or list; the default until set"
    )


class Phase2TemplateSerializer(serializers.Serializer[Any]):
    template_id = serializers.IntegerField(source="id")
    template_name = serializers.CharField(source="name")
    type = serializers.ChoiceField(choices=TemplateType.choices)
    position = serializers.IntegerField()
    parameters = TemplateParameterSerializer(many=True)


class OBTargetSerializer(serializers.Serializer[ObservationBlock]):
    name = serializers.CharField(source="target_name")
    ra = serializers.SerializerMethodField(help_text="Right ascension, hh:mm:ss.ss")
    dec = serializers.SerializerMethodField(help_text="Declination, ±dd:mm:ss.s")
    ra_deg = serializers.FloatField(allow_null=True)
    dec_deg = serializers.FloatField(allow_null=True)
    equinox = serializers.CharField()
    epoch = serializers.FloatField()
    pm_ra_arcsec_yr = serializers.FloatField(source="pm_ra")
    pm_dec_arcsec_yr = serializers.FloatField(source="pm_dec")

    def get_ra(self, ob: ObservationBlock) -> str | None:
        return None if ob.ra_deg is None else format_ra(ob.ra_deg)

    def get_dec(self, ob: ObservationBlock) -> str | None:
        return None if ob.dec_deg is None else format_dec(ob.dec_deg)


class OBConstraintsSerializer(serializers.Serializer[ObservationBlock]):
    max_airmass = serializers.FloatField()
    seeing_arcsec = serializers.FloatField(help_text="Image quality or seeing")
    sky_transparency = serializers.ChoiceField(choices=SkyTransparency.choices)
    max_fli = serializers.FloatField(help_text="Fraction of lunar illumination, 0 to 1")
    min_moon_distance_deg = serializers.FloatField()
    twilight_min = serializers.FloatField(help_text="Twilight offset, minutes")
    water_vapour_mm = serializers.FloatField()


class OBSchedulingSerializer(serializers.Serializer[ObservationBlock]):
    contribution = serializers.FloatField(help_text="Groups: the OB's share")
    min_delay_s = serializers.IntegerField(help_text="Time-links: earliest after the previous")
    max_delay_s = serializers.IntegerField(allow_null=True, help_text="Time-links: latest")


class AbsoluteWindowSerializer(serializers.ModelSerializer[AbsoluteWindow]):
    class Meta:
        model = AbsoluteWindow
        fields = ["start", "end"]


class SiderealWindowSerializer(serializers.ModelSerializer[SiderealWindow]):
    start = serializers.SerializerMethodField(help_text="LST, HH:MM")
    end = serializers.SerializerMethodField(help_text="LST, HH:MM (24:00 only here)")

    class Meta:
        model = SiderealWindow
        fields = ["start", "end"]

    def get_start(self, window: SiderealWindow) -> str:
        return _hhmm(window.start_min)

    def get_end(self, window: SiderealWindow) -> str:
        return _hhmm(window.end_min)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Phase2OBSerializer(serializers.Serializer[OBDetail]):
    ob_id = serializers.IntegerField(source="ob.pk")
    item_type = serializers.ChoiceField(choices=ItemType.choices, help_text='Always "OB"')
    ob_status = serializers.ChoiceField(
        source="ob.status", choices=OBStatus.choices, help_text="ESO's status code"
    )
    name = serializers.CharField(source="ob.name")
    run_id = serializers.IntegerField(source="ob.run_id")
    parent_container_id = serializers.IntegerField(source="ob.container_id")
    position = serializers.IntegerField(source="ob.position")
    version = serializers.IntegerField(source="ob.version", help_text="The ETag")
    instrument = serializers.CharField(source="ob.run.instrument.name")
    ip_version = serializers.CharField(source="ob.ip_version")
    user_priority = serializers.IntegerField(source="ob.user_priority")
    user_comments = serializers.CharField(source="ob.user_comments")
    exposure_time_s = serializers.FloatField(source="ob.exposure_time_s")
    execution_time_s = serializers.FloatField(
        source="ob.execution_time_s", help_text="As last computed, seconds"
    )
    short_ob_waived = serializers.BooleanField(
        source="ob.short_ob_waived", help_text="Staff waived the one-hour minimum (SM)"
    )
    executed = serializers.BooleanField(source="ob.executed", help_text="Ever started at night")
    target = OBTargetSerializer(source="ob")
    constraints = OBConstraintsSerializer(source="ob")
    scheduling = OBSchedulingSerializer(source="ob")
    templates = Phase2TemplateSerializer(many=True)
    absolute_windows = AbsoluteWindowSerializer(source="absolute", many=True)
    sidereal_windows = SiderealWindowSerializer(source="sidereal", many=True)
    finding_charts = serializers.ListField(
        source="chart_names", child=serializers.CharField(), help_text="Their names, in order"
    )


# ---------------------------------------------------------------------------------------------
# Template signatures
# ---------------------------------------------------------------------------------------------


class TemplateSignatureSerializer(serializers.ModelSerializer[TemplateSignature]):
    instrument = serializers.CharField(source="instrument.name")
    type = serializers.ChoiceField(choices=TemplateType.choices)
    parameters = serializers.SerializerMethodField()

    class Meta:
        model = TemplateSignature
        fields = ["name", "type", "description", "instrument", "ip_version", "parameters"]

    @extend_schema_field(ParameterDefinitionSerializer(many=True))
    def get_parameters(self, signature: TemplateSignature) -> list[dict[str, Any]]:
        definitions = selectors.parameter_definitions(signature)
        return list(ParameterDefinitionSerializer(definitions, many=True).data)


class InstrumentPackageSerializer(serializers.Serializer[Any]):
    instrument = serializers.CharField()
    ip_versions = serializers.ListField(
        child=serializers.CharField(), help_text="Versions with template signatures, newest first"
    )


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

RUN_ID = OpenApiParameter("phase2_run_id", int, OpenApiParameter.PATH)
CONTAINER_ID = OpenApiParameter("container_id", int, OpenApiParameter.PATH)
OB_ID = OpenApiParameter("ob_id", int, OpenApiParameter.PATH)
INSTRUMENT = OpenApiParameter(
    "instrument", str, OpenApiParameter.PATH, description='The instrument\'s name, e.g. "FORS2"'
)
IP_VERSION = OpenApiParameter(
    "ip_version", str, OpenApiParameter.PATH, description="An instrument package version"
)
TEMPLATE_NAME = OpenApiParameter(
    "template_name", str, OpenApiParameter.PATH, description="The template's name"
)


@extend_schema_view(
    list=extend_schema(responses={200: Phase2RunSerializer, 401: ERROR}),
)
class Phase2RunViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[ObservingRun]):
    """The runs whose Phase 2 is open to the user: their own (PI or co-investigator), every
    one for staff."""

    lookup_url_kwarg = "phase2_run_id"
    lookup_value_regex = ID
    serializer_class = Phase2RunSerializer

    def get_queryset(self) -> QuerySet[ObservingRun]:
        return selectors.phase2_runs(self.request.user)

    def _data(self, runs: list[ObservingRun]) -> Any:
        versions = selectors.current_ip_versions(run.instrument_id for run in runs)
        return Phase2RunSerializer(runs, many=True, context={"ip_versions": versions}).data

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._data(list(page or [])))

    def _run(self, run_id: str) -> ObservingRun:
        run = self.get_queryset().filter(pk=_pk(run_id)).first()
        if run is None:
            raise NotFound("No such run with Phase 2 open to you.")
        return run

    @extend_schema(parameters=[RUN_ID], responses={200: Phase2RunSerializer, **READ_ERRORS})
    def retrieve(self, request: Request, phase2_run_id: str) -> Response:
        """The run, with ``container_id``: its root folder."""
        return Response(self._data([self._run(phase2_run_id)])[0])

    @extend_schema(parameters=[RUN_ID], responses={200: Phase2TreeSerializer, **READ_ERRORS})
    @action(detail=True, methods=["get"], pagination_class=None)
    def tree(self, request: Request, phase2_run_id: str) -> Response:
        """The run's whole tree from its root folder: folders, scheduling containers and OBs
        (status, execution time, version), each container's items in order. 404 until the
        run has a root folder."""
        root = selectors.run_tree(self._run(phase2_run_id))
        if root is None:
            raise NotFound("This run has no Phase 2 tree yet.")
        return Response(tree_data(root))


class Phase2ContainerViewSet(viewsets.GenericViewSet[Container]):
    """A folder or scheduling container of a run's tree and its items (p2's getContainer and
    getItems). ``ETag``: the container's version."""

    lookup_url_kwarg = "container_id"
    lookup_value_regex = ID
    pagination_class = None
    serializer_class = Phase2ContainerSerializer
    queryset = Container.objects.none()  # for the schema; the views look containers up

    def _container(self, container_id: str) -> Container:
        try:
            return selectors.visible_container(self.request.user, _pk(container_id))
        except Container.DoesNotExist:
            raise NotFound("No such container.") from None

    @extend_schema(responses={200: Phase2ContainerSerializer, **READ_ERRORS})
    def retrieve(self, request: Request, container_id: str) -> Response:
        """The container with its derived status and the number of its items."""
        container = self._container(container_id)
        items = selectors.container_items(container)
        data = Phase2ContainerSerializer(container, context={"items": items}).data
        return with_etag(Response(data), container.version)

    @extend_schema(parameters=[CONTAINER_ID], responses={200: ITEMS, **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def items(self, request: Request, container_id: str) -> Response:
        """The container's child containers and OBs, in order: each with ``item_type`` and
        ``container_id``/``container_status`` or ``ob_id``/``ob_status``."""
        container = self._container(container_id)
        data = [item_data(item) for item in selectors.container_items(container)]
        return with_etag(Response(data), container.version)


class Phase2OBViewSet(viewsets.GenericViewSet[ObservationBlock]):
    """An Observation Block. ``ETag``: the OB's version (every write bumps it, a status
    change and any change to its templates included)."""

    lookup_url_kwarg = "ob_id"
    lookup_value_regex = ID
    pagination_class = None
    queryset = ObservationBlock.objects.none()  # for the schema; the views look OBs up

    def get_serializer_class(self) -> type[Any]:
        return Phase2OBSerializer

    def _ob(self, ob_id: str) -> ObservationBlock:
        try:
            return selectors.visible_ob(self.request.user, _pk(ob_id))
        except ObservationBlock.DoesNotExist:
            raise NotFound("No such OB.") from None

    @extend_schema(parameters=[OB_ID], responses={200: Phase2OBSerializer, **READ_ERRORS})
    def retrieve(self, request: Request, ob_id: str) -> Response:
        """The OB: target, constraints, scheduling information, templates with their
        parameters, absolute (UTC) and sidereal (LST) windows, finding charts' names."""
        detail = selectors.ob_detail(self._ob(ob_id))
        return with_etag(Response(Phase2OBSerializer(detail).data), detail.ob.version)

    @extend_schema(responses={200: Phase2TemplateSerializer(many=True), **READ_ERRORS})
    @action(detail=True, methods=["get"])
    def templates(self, request: Request, ob_id: str) -> Response:
        """The OB's templates in order (the acquisition first), each parameter with its
        definition and value. ``ETag``: the OB's version."""
        ob = self._ob(ob_id)
        data = Phase2TemplateSerializer(selectors.ob_templates(ob), many=True).data
        return with_etag(Response(data), ob.version)


class InstrumentPackageViewSet(viewsets.GenericViewSet[TemplateSignature]):
    """Instruments as data: the template signatures of each instrument package version (p2's
    instrumentPackages), for every signed-in user."""

    lookup_url_kwarg = "instrument"
    lookup_value_regex = r"[^/]+"
    pagination_class = None
    serializer_class = TemplateSignatureSerializer
    queryset = TemplateSignature.objects.none()  # for the schema; the views read selectors

    @extend_schema(
        parameters=[INSTRUMENT], responses={200: InstrumentPackageSerializer, **READ_ERRORS}
    )
    def retrieve(self, request: Request, instrument: str) -> Response:
        """The instrument's package versions that have template signatures."""
        versions = selectors.instrument_packages(instrument)
        if not versions:
            raise NotFound("No template signatures for this instrument.")
        return Response({"instrument": instrument, "ip_versions": versions})

    @extend_schema(
        parameters=[INSTRUMENT, IP_VERSION],
        responses={200: TemplateSignatureSerializer(many=True), **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], url_path=r"(?P<ip_version>[^/]+)/signatures")
    def signatures(self, request: Request, instrument: str, ip_version: str) -> Response:
        """The templates of the version: acquisition, science and calibration, each with its
        parameter definitions (type, default, range or allowed values)."""
        found = selectors.template_signatures(instrument, ip_version)
        if not found:
            raise NotFound("No template signatures for this instrument and version.")
        return Response(TemplateSignatureSerializer(found, many=True).data)

    @extend_schema(
        parameters=[INSTRUMENT, IP_VERSION, TEMPLATE_NAME],
        responses={200: TemplateSignatureSerializer, **READ_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"(?P<ip_version>[^/]+)/signatures/(?P<template_name>[^/]+)",
    )
    def signature(
        self, request: Request, instrument: str, ip_version: str, template_name: str
    ) -> Response:
        """One template signature."""
        found = selectors.template_signatures(instrument, ip_version).filter(name=template_name)
        signature = found.first()
        if signature is None:
            raise NotFound("No such template signature.")
        return Response(TemplateSignatureSerializer(signature).data)
