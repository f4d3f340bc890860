"""Reads of Phase 2, shaped for the API and the pages.

Who reads what is decided by ``observations.access`` (:func:`readable_runs_q`): the PI and the
accepted co-investigators of an open run's proposal, and staff; every lookup here filters with
it, so a run, container or OB someone may not read is simply not found (a 404, never a 403).

A run's tree is read in two queries whatever its size (every container, then every OB of the
run, as plain tuples) and assembled in Python: a survey run with thousands of OBs costs the
same number of queries as an empty one, and no model instances are built for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from dataflow.permissions import AnyUser
from observations import exectime, parameters
from observations.access import readable_runs_q
from observations.models import (
    AbsoluteWindow,
    Container,
    FindingChart,
    ItemType,
    ObservationBlock,
    OBStatus,
    OverheadModel,
    SiderealWindow,
    Template,
    TemplateSignature,
)
from observations.rules import ip_version_key
from proposals.models import ObservingRun

# ---------------------------------------------------------------------------------------------
# Items of a container: child containers and OBs, merged by position (p2's getItems)
# ---------------------------------------------------------------------------------------------

# A container's status is that of its least advanced OB: one sent back ("-") needs the
# astronomer first, then one still partial, and so on to the night statuses. An empty
# container is partially defined. Folders have no status (p2 gives containerStatus to the
# scheduling containers, whose OBs are verified and executed together).
_STATUS_ORDER = (
    OBStatus.REPAIR, OBStatus.PARTIAL, OBStatus.DEFINED, OBStatus.ACCEPTED,
    OBStatus.MUST_REPEAT, OBStatus.ABORTED, OBStatus.FAILED, OBStatus.STARTED,
    OBStatus.COMPLETED, OBStatus.CANCELLED,
)  # fmt: skip
_STATUS_RANK = {str(status): rank for rank, status in enumerate(_STATUS_ORDER)}


def container_status(item_type: str, ob_statuses: Iterable[str]) -> str | None:
    """The derived status of a container from the statuses of the OBs directly in it."""
    if item_type == ItemType.FOLDER:
        return None
    return min(ob_statuses, key=_STATUS_RANK.__getitem__, default=str(OBStatus.PARTIAL))


_CONTAINER_COLUMNS = (
    "id",
    "parent_id",
    "item_type",
    "name",
    "position",
    "version",
    "group_priority",
)
_OB_COLUMNS = (
    "id", "container_id", "position", "name", "status", "version", "user_priority",
    "target_name", "exposure_time_s", "execution_time_s",
)  # fmt: skip


@dataclass(slots=True)
class OBItem:
    """An OB as an item of its container."""

    id: int
    container_id: int
    position: int
    name: str
    status: str
    version: int
    user_priority: int
    target_name: str
    exposure_time_s: float
    execution_time_s: float
    item_type: str = ItemType.OB.value


@dataclass(slots=True)
class ContainerItem:
    """A container as an item of its parent; ``ob_count``: the OBs directly in it."""

    id: int
    parent_id: int | None
    item_type: str
    name: str
    position: int
    version: int
    group_priority: int
    status: str | None = None
    ob_count: int = 0


@dataclass(slots=True)
class TreeContainer(ContainerItem):
    """A container with everything below it; the totals count its whole subtree."""

    items: list[TreeContainer | OBItem] = field(default_factory=list)
    total_obs: int = 0
    total_execution_time_s: float = 0.0


Item = ContainerItem | OBItem


def _order(item: Item) -> tuple[int, int, int]:
    # p2 orders containers and OBs of one container together; position ties (none once the
    # services number them) fall back to containers first, then creation order.
    return (item.position, 1 if isinstance(item, OBItem) else 0, item.id)


def _with_status(row: Sequence[Any], ob_statuses: Iterable[str]) -> ContainerItem:
    item = ContainerItem(*row)
    statuses = list(ob_statuses)
    item.status = container_status(item.item_type, statuses)
    item.ob_count = len(statuses)
    return item


def container_items(container: Container) -> list[Item]:
    """The container's child containers and OBs, merged by position (three queries)."""
    children = list(
        Container.objects.filter(parent=container).order_by().values_list(*_CONTAINER_COLUMNS)
    )
    obs = [
        OBItem(*row)
        for row in ObservationBlock.objects.filter(container=container)
        .order_by()
        .values_list(*_OB_COLUMNS)
    ]
    statuses: dict[int, list[str]] = defaultdict(list)
    if children:
        grandchildren = ObservationBlock.objects.filter(container__parent=container).order_by()
        for container_id, status in grandchildren.values_list("container_id", "status"):
            statuses[container_id].append(status)
    items: list[Item] = [_with_status(row, statuses[row[0]]) for row in children]
    items.extend(obs)
    items.sort(key=_order)
    return items


# ---------------------------------------------------------------------------------------------
# A run's whole tree
# ---------------------------------------------------------------------------------------------


def run_tree(run: ObservingRun | int) -> TreeContainer | None:
    """The run's root folder with every container and OB below it, in order (two queries);
    ``None`` while the run has no root folder yet."""
    run_id = run if isinstance(run, int) else run.pk
    rows = Container.objects.filter(run_id=run_id).order_by().values_list(*_CONTAINER_COLUMNS)
    nodes = {row[0]: TreeContainer(*row) for row in rows}
    ob_rows = ObservationBlock.objects.filter(run_id=run_id).order_by().values_list(*_OB_COLUMNS)
    statuses: dict[int, list[str]] = defaultdict(list)
    for row in ob_rows:
        ob = OBItem(*row)
        parent = nodes.get(ob.container_id)
        if parent is not None:  # an OB's container is always of its run; never crash on one
            parent.items.append(ob)
            statuses[ob.container_id].append(ob.status)
    root: TreeContainer | None = None
    for node in nodes.values():
        node.status = container_status(node.item_type, statuses[node.id])
        node.ob_count = len(statuses[node.id])
        if node.parent_id is None:
            root = node
        elif (parent := nodes.get(node.parent_id)) is not None:
            parent.items.append(node)
    if root is None:
        return None
    _finish(root)
    return root


def _finish(root: TreeContainer) -> None:
    """Sort every container's items and sum the subtree totals, without recursion (folders
    may nest deeper than Python's recursion limit)."""
    order: list[TreeContainer] = []
    stack = [root]
    while stack:
        node = stack.pop()
        node.items.sort(key=_order)
        order.append(node)
        stack.extend(item for item in node.items if isinstance(item, TreeContainer))
    for node in reversed(order):  # children before their parents
        for item in node.items:
            if isinstance(item, TreeContainer):
                node.total_obs += item.total_obs
                node.total_execution_time_s += item.total_execution_time_s
            else:
                node.total_obs += 1
                node.total_execution_time_s += item.execution_time_s


# ---------------------------------------------------------------------------------------------
# Runs, containers and OBs a user may read
# ---------------------------------------------------------------------------------------------


def _count(queryset: QuerySet[Any], key: str) -> Coalesce:
    """A correlated ``COUNT(*)`` of ``queryset`` grouped by ``key`` (0 when there is none)."""
    counted = queryset.order_by().values(key).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def phase2_runs(user: AnyUser) -> QuerySet[ObservingRun]:
    """The open runs ``user`` may read (investigators their own, staff all), newest period
    first, with the id of the root folder, the number of its items and of the run's OBs
    (``root_container_id``, ``item_count``, ``ob_count``)."""
    root = Container.objects.filter(run=OuterRef("pk"), parent__isnull=True)
    in_root = Container.objects.filter(
        run=OuterRef("pk"), parent__isnull=False, parent__parent__isnull=True
    )
    obs_in_root = ObservationBlock.objects.filter(
        run=OuterRef("pk"), container__parent__isnull=True
    )
    return (
        ObservingRun.objects.filter(readable_runs_q(user))
        .select_related("proposal__period", "proposal__pi", "telescope", "instrument")
        .annotate(
            root_container_id=Subquery(root.values("pk")[:1]),
            item_count=_count(in_root, "run") + _count(obs_in_root, "run"),
            ob_count=_count(ObservationBlock.objects.filter(run=OuterRef("pk")), "run"),
        )
        .order_by("-proposal__period__number", "proposal__programme_id", "letter", "pk")
    )


def current_ip_versions(instrument_ids: Iterable[int]) -> dict[int, str]:
    """The newest instrument package version of each instrument, as the services choose it
    for new OBs (``services.current_ip_version``), in one query for a page of runs."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = TemplateSignature.objects.filter(instrument_id__in=set(instrument_ids)).order_by()
    for instrument_id, version in rows.values_list("instrument_id", "ip_version").distinct():
        found[instrument_id].add(version)
    return {pk: max(versions, key=ip_version_key) for pk, versions in found.items()}


def _readable_runs(user: AnyUser) -> QuerySet[ObservingRun, Any]:
    return ObservingRun.objects.filter(readable_runs_q(user)).values("pk")


def visible_container(user: AnyUser, pk: int) -> Container:
    """A container of a run ``user`` may read; ``Container.DoesNotExist`` otherwise."""
    return Container.objects.select_related("run").get(pk=pk, run__in=_readable_runs(user))


def visible_ob(user: AnyUser, pk: int) -> ObservationBlock:
    """An OB of a run ``user`` may read; ``ObservationBlock.DoesNotExist`` otherwise."""
    return ObservationBlock.objects.select_related("run__instrument").get(
        pk=pk, run__in=_readable_runs(user)
    )


# ---------------------------------------------------------------------------------------------
# An OB with its templates, windows and finding charts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterDefinition:
    """A parameter of a template signature (``TemplateSignature.parameters``); keys the
    fixture leaves out are ``None`` (or the empty label)."""

    name: str
    type: str
    default: Any
    min: Any
    max: Any
    allowed: list[Any] | None
    label: str


@dataclass(frozen=True, slots=True)
class TemplateParameter(ParameterDefinition):
    """A parameter of a template: its definition and its value (the default until one is
    set; ``None`` when there is neither)."""

    value: Any = None


def parameter_definitions(signature: TemplateSignature) -> list[ParameterDefinition]:
    raw = signature.parameters if isinstance(signature.parameters, list) else []
    return [
        ParameterDefinition(
            name=str(d.get("name", "")),
            type=str(d.get("type", "string")),
            default=d.get("default"),
            min=d.get("min"),
            max=d.get("max"),
            allowed=d.get("allowed"),
            label=str(d.get("label", "")),
        )
        for d in raw
        if isinstance(d, dict)
    ]


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: int
    name: str
    type: str
    position: int
    parameters: list[TemplateParameter]


@dataclass(frozen=True, slots=True)
class OBDetail:
    item_type: ClassVar[str] = ItemType.OB.value
    ob: ObservationBlock
    templates: list[TemplateView]
    absolute: list[AbsoluteWindow]
    sidereal: list[SiderealWindow]
    chart_names: list[str]


def template_view(template: Template) -> TemplateView:
    """The template's parameters in the signature's order, each with its value."""
    values = template.values if isinstance(template.values, dict) else {}
    parameters = [
        TemplateParameter(
            name=d.name,
            type=d.type,
            default=d.default,
            min=d.min,
            max=d.max,
            allowed=d.allowed,
            label=d.label,
            value=values.get(d.name, d.default),
        )
        for d in parameter_definitions(template.signature)
    ]
    return TemplateView(
        id=template.pk,
        name=template.signature.name,
        type=template.signature.type,
        position=template.position,
        parameters=parameters,
    )


def ob_templates(ob: ObservationBlock) -> list[TemplateView]:
    """The OB's templates in order, with their parameters (one query)."""
    templates = Template.objects.filter(ob=ob).select_related("signature")
    return [template_view(t) for t in templates]


def ob_detail(ob: ObservationBlock) -> OBDetail:
    """The OB with its templates, absolute and sidereal windows and the names of its finding
    charts (not their content): four queries. Its run and instrument are read from ``ob``
    (``visible_ob`` selects them)."""
    return OBDetail(
        ob=ob,
        templates=ob_templates(ob),
        absolute=list(AbsoluteWindow.objects.filter(ob=ob)),
        sidereal=list(SiderealWindow.objects.filter(ob=ob)),
        chart_names=list(FindingChart.objects.filter(ob=ob).values_list("name", flat=True)),
    )


# ---------------------------------------------------------------------------------------------
# Instruments as data: template signatures per instrument package version
# ---------------------------------------------------------------------------------------------


def instrument_packages(instrument: str) -> list[str]:
    """The instrument package versions with template signatures, newest first."""
    versions = set(
        TemplateSignature.objects.filter(instrument__name=instrument).values_list(
            "ip_version", flat=True
        )
    )
    return sorted(versions, key=ip_version_key, reverse=True)


def template_signatures(instrument: str, ip_version: str) -> QuerySet[TemplateSignature]:
    """The templates of one instrument package version: acquisition, science, calibration."""
    return TemplateSignature.objects.select_related("instrument").filter(
        instrument__name=instrument, ip_version=ip_version
    )


def ob_breakdown(
    ob: ObservationBlock, templates: Sequence[Template] | None = None
) -> tuple[exectime.Breakdown, bool]:
    """The OB's execution time line by line from its templates (loaded with their signatures
    when not given) and its instrument package's overhead model, and whether that model
    exists (without one: exposures only). The one computation the services store and the
    pages and API show."""
    if templates is None:
        templates = list(Template.objects.filter(ob=ob).select_related("signature"))
    overheads: exectime.OverheadsLike | None = OverheadModel.objects.filter(
        instrument_id=ob.run.instrument_id, ip_version=ob.ip_version
    ).first()
    breakdown = exectime.execution_time(
        overheads or exectime.Overheads(0.0, 0.0, 0.0, 0.0),
        [
            (
                t.signature.type,
                t.signature.exposure,
                parameters.effective(t.signature.parameters, t.values),
            )
            for t in templates
        ],
        [t.signature.name for t in templates],
    )
    return breakdown, overheads is not None
