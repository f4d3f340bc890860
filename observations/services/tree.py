"""The run's tree: containers and OBs created, renamed, moved, reordered, duplicated,
deleted."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from dataflow.changes import set_changed
from dataflow.errors import Frozen, InvalidInput, NotAllowed
from observations import access, rules
from observations import status as st
from observations.commands import ContainerData, ItemKind, ItemRef, OBData
from observations.models import (
    SCHEDULING_CONTAINERS,
    AbsoluteWindow,
    Container,
    EphemerisFile,
    FindingChart,
    ItemType,
    ObservationBlock,
    SiderealWindow,
    Template,
)
from observations.services.base import (
    EventKind,
    _bump,
    _check_version,
    _ensure_editable,
    _event,
    _lock_container,
    _lock_ob,
    _lock_run,
    _next_position,
    current_ip_version,
)
from observations.services.ob import (
    ob_update,
)
from proposals.models import Mode, ObservingRun
from proposals.review.models import RunDecision

# --------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------


@transaction.atomic
def root_folder(*, run: ObservingRun, actor: User | None = None) -> Container:
    """The run's root folder (p2's containerId of the run), created on first use."""
    locked = _lock_run(run.pk)
    root = Container.objects.filter(run=locked, parent__isnull=True).first()
    if root is not None:
        return root
    if not RunDecision.objects.filter(run=locked, approved=True).exists():
        raise NotAllowed(f"Run {locked} is not approved: it has no Phase 2.")
    root = Container.objects.create(
        run=locked, item_type=ItemType.FOLDER, name=str(locked)[: rules.NAME_LENGTH]
    )
    _event(locked, actor, EventKind.CREATE, container=root, message="root folder")
    return root


def _container_type(item_type: str) -> str:
    if item_type == ItemType.OB:
        raise InvalidInput("Not a container.", {"item_type": ["Create OBs with ob_create."]})
    if item_type not in ItemType.values:
        raise InvalidInput(
            "Unknown item type.",
            {"item_type": [f"Choose one of {', '.join(t for t in ItemType.values if t != 'OB')}."]},
        )
    return item_type


def _ensure_scheduling_allowed(run: ObservingRun, item_type: str) -> None:
    if item_type in SCHEDULING_CONTAINERS and run.mode == Mode.VM:
        raise InvalidInput(
            "No scheduling containers in visitor mode.",
            {
                "item_type": [
                    f"Run {run} is a visitor-mode run: it has folders and OBs only (Groups, "
                    "TimeLinks and Concatenations are for service mode)."
                ]
            },
        )


@transaction.atomic
def container_create(
    *,
    parent_id: int,
    item_type: str,
    name: str,
    actor: User,
    expected_version: int | None = None,
) -> Container:
    """Create a Folder, Group, TimeLink or Concatenation at the end of a folder."""
    parent, run = _lock_container(parent_id)
    access.ensure_may_write(actor, run)
    _check_version(parent, expected_version)
    kind = _container_type(item_type)
    if parent.item_type != ItemType.FOLDER:
        raise InvalidInput(
            "Containers go in folders.",
            {"parent": [f"A {parent.item_type} holds OBs only: create the {kind} in a folder."]},
        )
    _ensure_scheduling_allowed(run, kind)
    container = Container.objects.create(
        run=run,
        parent=parent,
        item_type=kind,
        name=rules.checked_name(name),
        position=_next_position(parent),
    )
    _bump(parent)
    _event(run, actor, EventKind.CREATE, container=container, message=f"{kind} in {parent.pk}")
    return container


@transaction.atomic
def container_update(
    *, container_id: int, data: ContainerData, actor: User, expected_version: int | None = None
) -> Container:
    """Rename a container or set a Group's priority."""
    container, run = _lock_container(container_id)
    access.ensure_may_write(actor, run)
    _check_version(container, expected_version)
    sent = data.sent()
    errors: rules.Errors = {}
    values: dict[str, Any] = {}
    if "name" in sent:
        if container.parent_id is None and sent["name"] != container.name:
            errors["name"] = ["The run's root folder keeps the run's name."]
        else:
            values["name"] = rules.clean_name(sent["name"], errors)
    if "group_priority" in sent:
        if container.item_type != ItemType.GROUP:
            errors["group_priority"] = ["Only Groups have a priority."]
        else:
            values["group_priority"] = rules.clean_integer(
                sent["group_priority"], "group_priority", errors, low=1, high=1000
            )
    if errors:
        raise InvalidInput("Invalid container.", errors)
    changed = set_changed(container, values)
    if changed:
        _bump(container, *changed)
        _event(run, actor, EventKind.EDIT, container=container, message=", ".join(changed))
    return container


@transaction.atomic
def ob_create(
    *, container_id: int, name: str, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Create an OB (status P) at the end of a container, with the run's Phase 1 constraints."""
    container, run = _lock_container(container_id)
    access.ensure_may_write(actor, run)
    _check_version(container, expected_version)
    ob = ObservationBlock.objects.create(
        run=run,
        container=container,
        name=rules.checked_name(name),
        position=_next_position(container),
        ip_version=current_ip_version(run),
        **rules.phase1_constraints(run),
    )
    _bump(container)
    _event(run, actor, EventKind.CREATE, ob=ob, to_status=ob.status)
    return ob


@transaction.atomic
def item_rename(
    *, item: ItemRef, name: str, actor: User, expected_version: int | None = None
) -> ObservationBlock | Container:
    """Rename an OB (while it may be edited) or a container (not the root folder)."""
    if item.kind == ItemKind.OB:
        return ob_update(
            ob_id=item.id, data=OBData(name=name), actor=actor, expected_version=expected_version
        )
    return container_update(
        container_id=item.id,
        data=ContainerData(name=name),
        actor=actor,
        expected_version=expected_version,
    )


def _ensure_membership_editable(
    ob: ObservationBlock, run: ObservingRun, containers: Iterable[Container]
) -> None:
    """Being in a scheduling container (and where in a TimeLink or Concatenation) is part of
    an OB's definition: it changes only while the OB may be edited."""
    if any(c.item_type in SCHEDULING_CONTAINERS for c in containers):
        _ensure_editable(ob, run)


@transaction.atomic
def item_move(
    *, item: ItemRef, to_container_id: int, actor: User, expected_version: int | None = None
) -> ObservationBlock | Container:
    """Move an item to the end of another container of the same run: containers into folders
    only (never into themselves), OBs into any container."""
    moved: ObservationBlock | Container
    if item.kind == ItemKind.OB:
        moved, run = _lock_ob(item.id)
        source_id = moved.container_id
    else:
        moved, run = _lock_container(item.id)
        if moved.parent_id is None:
            raise InvalidInput("The root folder stays.", {"item": ["The root folder stays."]})
        source_id = moved.parent_id
    access.ensure_may_write(actor, run)
    _check_version(moved, expected_version)
    dest = Container.objects.select_for_update().get(pk=to_container_id)
    if dest.run_id != run.pk:
        raise InvalidInput(
            "Items stay in their run.", {"container": ["Choose a container of this run."]}
        )
    if dest.pk == source_id:
        return moved
    source = Container.objects.select_for_update().get(pk=source_id)
    if isinstance(moved, ObservationBlock):
        _ensure_membership_editable(moved, run, [source, dest])
        moved.container, moved.position = dest, _next_position(dest)
        _bump(moved, "container", "position")
        _event(run, actor, EventKind.MOVE, ob=moved, message=f"{source.pk} -> {dest.pk}")
    else:
        if dest.item_type != ItemType.FOLDER:
            raise InvalidInput(
                "Containers go in folders.",
                {
                    "container": [
                        f"A {dest.item_type} holds OBs only: move the {moved.item_type} "
                        "into a folder."
                    ]
                },
            )
        parents = dict(Container.objects.filter(run=run).values_list("pk", "parent_id"))
        node: int | None = dest.pk
        while node is not None:
            if node == moved.pk:
                raise InvalidInput(
                    "A container cannot go inside itself.",
                    {"container": [f"{dest.name} is inside {moved.name}."]},
                )
            node = parents.get(node)
        moved.parent, moved.position = dest, _next_position(dest)
        _bump(moved, "parent", "position")
        _event(run, actor, EventKind.MOVE, container=moved, message=f"{source.pk} -> {dest.pk}")
    _bump(source)
    _bump(dest)
    return moved


@transaction.atomic
def items_reorder(
    *,
    container_id: int,
    items: Sequence[ItemRef],
    actor: User,
    expected_version: int | None = None,
) -> Container:
    """Put a container's items in the given order (every item exactly once)."""
    container, run = _lock_container(container_id)
    access.ensure_may_write(actor, run)
    _check_version(container, expected_version)
    obs = {ob.pk: ob for ob in container.obs.select_for_update()}
    children = {c.pk: c for c in container.children.select_for_update()}
    current = {ItemRef.ob(pk) for pk in obs} | {ItemRef.container(pk) for pk in children}
    given = list(items)
    if len(set(given)) != len(given) or set(given) != current:
        missing = sorted(f"{r.kind} {r.id}" for r in current - set(given))
        unknown = sorted(f"{r.kind} {r.id}" for r in set(given) - current)
        problems = ["Give every item of the container exactly once."]
        problems += [f"Missing: {', '.join(missing)}."] if missing else []
        problems += [f"Not in this container: {', '.join(unknown)}."] if unknown else []
        raise InvalidInput("Invalid order.", {"items": problems})
    old_ob_order = [ob.pk for ob in sorted(obs.values(), key=lambda o: (o.position, o.pk))]
    new_ob_order = [r.id for r in given if r.kind == ItemKind.OB]
    if container.item_type in (ItemType.TIMELINK, ItemType.CONCATENATION) and (
        old_ob_order != new_ob_order
    ):
        for ob in obs.values():  # the order of execution is part of each OB's definition
            _ensure_editable(ob, run)
    changed_obs: list[ObservationBlock] = []
    changed_children: list[Container] = []
    for position, ref in enumerate(given):
        if ref.kind == ItemKind.OB and obs[ref.id].position != position:
            obs[ref.id].position = position
            changed_obs.append(obs[ref.id])
        elif ref.kind == ItemKind.CONTAINER and children[ref.id].position != position:
            children[ref.id].position = position
            changed_children.append(children[ref.id])
    if not changed_obs and not changed_children:
        return container
    ObservationBlock.objects.bulk_update(changed_obs, ["position"])
    Container.objects.bulk_update(changed_children, ["position"])
    _bump(container)
    _event(run, actor, EventKind.REORDER, container=container)
    return container


def _copy_ob(ob: ObservationBlock, container: Container, position: int) -> ObservationBlock:
    """A new OB (new id, status P, never executed) with ``ob``'s content: templates,
    windows, finding charts and ephemeris file."""
    copy = ObservationBlock.objects.get(pk=ob.pk)
    copy.pk = None
    copy._state.adding = True
    copy.container, copy.position = container, position
    copy.status, copy.version = st.PARTIAL, 1
    copy.executed = False
    copy.short_ob_waived = False  # a waiver is staff's decision on one OB
    copy.save()
    Template.objects.bulk_create(
        Template(ob=copy, signature_id=t.signature_id, position=t.position, values=t.values)
        for t in ob.templates.all()
    )
    AbsoluteWindow.objects.bulk_create(
        AbsoluteWindow(ob=copy, start=w.start, end=w.end) for w in ob.absolute.all()
    )
    SiderealWindow.objects.bulk_create(
        SiderealWindow(ob=copy, start_min=w.start_min, end_min=w.end_min) for w in ob.sidereal.all()
    )
    FindingChart.objects.bulk_create(
        FindingChart(ob=copy, name=c.name, content=c.content, size=c.size) for c in ob.charts.all()
    )
    for eph in EphemerisFile.objects.filter(ob=ob):  # at most one
        EphemerisFile.objects.create(ob=copy, file_name=eph.file_name, content=eph.content)
    return copy


def _copy_container(source: Container, parent: Container, position: int) -> Container:
    copy = Container.objects.create(
        run_id=source.run_id,
        parent=parent,
        item_type=source.item_type,
        name=source.name,
        position=position,
        group_priority=source.group_priority,
    )
    for child in source.children.all():
        _copy_container(child, copy, child.position)
    for ob in source.obs.all():
        _copy_ob(ob, copy, ob.position)
    return copy


@transaction.atomic
def item_duplicate(
    *, item: ItemRef, actor: User, expected_version: int | None = None
) -> ObservationBlock | Container:
    """Copy an item to the end of its container: an OB as a new OB in status P, a container
    with everything in it."""
    copy: ObservationBlock | Container
    if item.kind == ItemKind.OB:
        ob, run = _lock_ob(item.id)
        access.ensure_may_write(actor, run)
        _check_version(ob, expected_version)
        parent = Container.objects.select_for_update().get(pk=ob.container_id)
        copy = _copy_ob(ob, parent, _next_position(parent))
        _event(
            run, actor, EventKind.DUPLICATE, ob=copy, to_status=copy.status, message=f"of {ob.pk}"
        )
    else:
        source, run = _lock_container(item.id)
        access.ensure_may_write(actor, run)
        _check_version(source, expected_version)
        if source.parent_id is None:
            raise InvalidInput(
                "The root folder is one per run.", {"item": ["Copy its items instead."]}
            )
        parent = Container.objects.select_for_update().get(pk=source.parent_id)
        copy = _copy_container(source, parent, _next_position(parent))
        _event(run, actor, EventKind.DUPLICATE, container=copy, message=f"of {source.pk}")
    _bump(parent)
    return copy


@transaction.atomic
def item_delete(*, item: ItemRef, actor: User, expected_version: int | None = None) -> None:
    """Delete an OB never executed in status -, P or D, or an empty container."""
    if item.kind == ItemKind.OB:
        ob, run = _lock_ob(item.id)
        access.ensure_may_write(actor, run)
        _check_version(ob, expected_version)
        if not st.deletable(ob.status, executed=ob.executed):
            why = "was executed" if ob.executed else f"is in status '{ob.status}'"
            raise Frozen(
                f"OB {ob.pk} {why}: only OBs never executed, in status '-', 'P' or 'D', can be "
                "deleted."
            )
        parent = Container.objects.select_for_update().get(pk=ob.container_id)
        _event(
            run,
            actor,
            EventKind.DELETE,
            ob=ob,
            from_status=ob.status,
            message=f"OB {ob.pk} {ob.name}",
        )
        ob.delete()
    else:
        container, run = _lock_container(item.id)
        access.ensure_may_write(actor, run)
        _check_version(container, expected_version)
        if container.parent_id is None:
            raise InvalidInput("The root folder stays.", {"item": ["The run's root folder stays."]})
        held = container.children.count() + container.obs.count()
        if held:
            raise InvalidInput(
                "The container is not empty.",
                {"item": [f"{container.name} holds {held} items: move or delete them first."]},
            )
        parent = Container.objects.select_for_update().get(pk=container.parent_id)
        _event(
            run,
            actor,
            EventKind.DELETE,
            container=parent,
            message=f"{container.item_type} {container.pk} {container.name}",
        )
        container.delete()
    _bump(parent)
