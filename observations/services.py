"""Every write of Phase 2: the run's tree of containers, its OBs, their templates and status.

Each service runs in one transaction and locks the run's row first: all Phase 2 writes of a
run are serialised by that lock (positions in a container, versions and moves between
containers cannot race), then it locks the rows it changes. It decides who may act with
``observations.access``, checks ``expected_version`` (the API's If-Match: a stale one raises
``StaleVersion``, 412), applies the rules (``observations.status`` for statuses and
editability), bumps ``version`` of every object it changes (an OB's also when its templates
or status change; a container's when its items change) and writes one ``Phase2Event``.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion, TransitionNotAllowed
from observations import access, parameters, rules, selectors
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
    Phase2Event,
    SiderealWindow,
    Template,
    TemplateSignature,
    TemplateType,
)
from proposals.models import Mode, ObservingRun, Target
from proposals.review.models import RunDecision


class EventKind:
    """``Phase2Event.kind`` values."""

    CREATE = "create"
    EDIT = "edit"
    RENAME = "rename"
    MOVE = "move"
    REORDER = "reorder"
    DUPLICATE = "duplicate"
    DELETE = "delete"
    STATUS = "status"
    TEMPLATE = "template"
    WAIVER = "waiver"


# --------------------------------------------------------------------------------------------
# Locks, versions, events
# --------------------------------------------------------------------------------------------


def _lock_run(run_id: int) -> ObservingRun:
    # of=("self",): only the run's row; PostgreSQL refuses FOR UPDATE on the nullable side of
    # the outer join to the decision.
    return (
        ObservingRun.objects.select_for_update(of=("self",))
        .select_related("proposal", "instrument", "decision")
        .get(pk=run_id)
    )


def _lock_ob(ob_id: int) -> tuple[ObservationBlock, ObservingRun]:
    run_id = ObservationBlock.objects.filter(pk=ob_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise ObservationBlock.DoesNotExist(f"No OB {ob_id}.")
    run = _lock_run(run_id)  # an OB never changes run, so this is its run's lock
    ob = (
        ObservationBlock.objects.select_for_update(of=("self",))
        .select_related("container")
        .get(pk=ob_id)
    )
    return ob, run


def _lock_container(container_id: int) -> tuple[Container, ObservingRun]:
    run_id = Container.objects.filter(pk=container_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise Container.DoesNotExist(f"No container {container_id}.")
    run = _lock_run(run_id)
    return Container.objects.select_for_update().get(pk=container_id), run


def _check_version(obj: ObservationBlock | Container, expected_version: int | None) -> None:
    """If-Match: refuse a write based on a stale copy (None: the client did not ask)."""
    if expected_version is not None and expected_version != obj.version:
        what = f"OB {obj.pk}" if isinstance(obj, ObservationBlock) else f"Container {obj.pk}"
        raise StaleVersion(
            f"{what} was changed since you loaded it (version {obj.version}, yours "
            f"{expected_version}): reload it and try again."
        )


def _bump(obj: ObservationBlock | Container, *fields: str) -> None:
    """Save ``fields`` and the next version (the object's new ETag)."""
    obj.version += 1
    obj.save(update_fields=[*fields, "version"])


def _event(
    run: ObservingRun,
    actor: User | None,
    kind: str,
    *,
    ob: ObservationBlock | None = None,
    container: Container | None = None,
    from_status: str = "",
    to_status: str = "",
    message: str = "",
) -> None:
    Phase2Event.objects.create(
        run=run,
        actor=actor,
        kind=kind,
        ob=ob,
        container=container,
        from_status=from_status,
        to_status=to_status,
        message=message,
    )


def ensure_may_edit_ob(ob: ObservationBlock, run: ObservingRun, actor: User) -> None:
    """Raise unless ``actor`` may change ``ob``'s content now (an investigator, and a status
    that allows edits). Services check it under the lock; views may ask first."""
    access.ensure_may_write(actor, run)
    _ensure_editable(ob, run)


def _lock_ob_for_edit(
    ob_id: int, actor: User, expected_version: int | None
) -> tuple[ObservationBlock, ObservingRun]:
    """Lock the OB and its run for a change of its content: the actor may edit it now, and
    their copy is not stale (If-Match)."""
    ob, run = _lock_ob(ob_id)
    ensure_may_edit_ob(ob, run, actor)
    _check_version(ob, expected_version)
    return ob, run


def _ensure_editable(ob: ObservationBlock, run: ObservingRun) -> None:
    if st.editable(ob.status, service_mode=run.mode == Mode.SM):
        return
    shown = f"OB {ob.pk} '{ob.name}' is {st.LABELS.get(ob.status, ob.status)} ('{ob.status}')"
    if run.mode == Mode.SM:
        hint = " Revise it first (back to 'P')." if ob.status == st.DEFINED else ""
        raise Frozen(
            f"{shown}: a service-mode OB can be changed only while partially defined ('P') or "
            f"needing repair ('-').{hint}"
        )
    raise Frozen(f"{shown}: it can no longer be changed.")


def _changed(obj: ObservationBlock | Container, values: dict[str, Any]) -> list[str]:
    """Set ``values`` on ``obj``; return the names whose value differs from the stored one."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


# --------------------------------------------------------------------------------------------
# Instrument package and positions
# --------------------------------------------------------------------------------------------


def current_ip_version(run: ObservingRun) -> str:
    """The newest instrument-package version with template signatures for the run's
    instrument ("" when the instrument has none)."""
    versions = set(
        TemplateSignature.objects.filter(instrument_id=run.instrument_id).values_list(
            "ip_version", flat=True
        )
    )
    return max(versions, key=rules.ip_version_key) if versions else ""


def _next_position(container: Container) -> int:
    """After the last item: containers and OBs of a container share one order."""
    last = [
        container.children.aggregate(m=Max("position"))["m"],
        container.obs.aggregate(m=Max("position"))["m"],
    ]
    return max((p for p in last if p is not None), default=-1) + 1


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
    changed = _changed(container, values)
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


# --------------------------------------------------------------------------------------------
# The OB
# --------------------------------------------------------------------------------------------


@transaction.atomic
def ob_update(
    *, ob_id: int, data: OBData, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Change an OB's fields (those given in ``data``), merged under its lock."""
    ob, run = _lock_ob(ob_id)
    access.ensure_may_write(actor, run)
    _check_version(ob, expected_version)
    _ensure_editable(ob, run)
    changed = _changed(ob, rules.ob_values(ob, data.sent()))
    if changed:
        _bump(ob, *changed)
        if "contribution" in changed:
            # a member's share moves its group's score, whatever the member's status: the
            # night's candidate arrays watch the containers' versions for that
            _bump(Container.objects.select_for_update().get(pk=ob.container_id))
        kind = EventKind.RENAME if changed == ["name"] else EventKind.EDIT
        _event(run, actor, kind, ob=ob, message=", ".join(changed))
    return ob


@transaction.atomic
def ob_copy_target_from_phase1(
    *, ob_id: int, target_id: int, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Set the OB's target from one of its run's Phase 1 targets (J2000, epoch 2000)."""
    ob, run = _lock_ob(ob_id)
    access.ensure_may_write(actor, run)
    _check_version(ob, expected_version)
    _ensure_editable(ob, run)
    target = Target.objects.filter(pk=target_id, runs=run).first()
    if target is None:
        names = ", ".join(f"{t.pk} ({t.name})" for t in run.targets.all()) or "none"
        raise InvalidInput(
            "Not a target of this run.",
            {"target_id": [f"Choose one of run {run}'s Phase 1 targets: {names}."]},
        )
    changed = _changed(
        ob,
        {
            "target_name": target.name,
            "ra_deg": target.ra_deg,
            "dec_deg": target.dec_deg,
            "pm_ra": target.pm_ra_mas_yr / 1000.0,  # Phase 1 stores mas/yr, p2 arcsec/yr
            "pm_dec": target.pm_dec_mas_yr / 1000.0,
            "equinox": "J2000",
            "epoch": 2000.0,
        },
    )
    if changed:
        _bump(ob, *changed)
        _event(run, actor, EventKind.EDIT, ob=ob, message=f"target from Phase 1 {target.pk}")
    return ob


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


def ob_verify(*, ob_id: int, actor: User) -> rules.Verification:
    """Verify an OB without changing it (its readers may ask)."""
    ob = ObservationBlock.objects.select_related("run__proposal", "run__decision").get(pk=ob_id)
    access.ensure_may_read(actor, ob.run)
    return rules.verify(ob)


# --------------------------------------------------------------------------------------------
# Status changes
# --------------------------------------------------------------------------------------------


def _transition(
    ob: ObservationBlock,
    run: ObservingRun,
    action: st.Action,
    actor: User,
    message: str = "",
    *,
    bump_container: bool = True,
) -> ObservationBlock:
    old = ob.status
    ob.status = st.next_status(old, action)
    _bump(ob, "status")
    if bump_container and ob.container.item_type in SCHEDULING_CONTAINERS:
        # A scheduling container's status derives from its OBs' (p2's containerStatus): its
        # ETag changes with theirs.
        _bump(Container.objects.select_for_update().get(pk=ob.container_id))
    _event(
        run, actor, EventKind.STATUS, ob=ob, from_status=old, to_status=ob.status, message=message
    )
    return ob


def _lock_for(
    ob_id: int, action: st.Action, actor: User, expected_version: int | None
) -> tuple[ObservationBlock, ObservingRun]:
    ob, run = _lock_ob(ob_id)
    if action in st.STAFF_ACTIONS:
        access.ensure_may_review(actor, run)
    else:
        access.ensure_may_write(actor, run)
    _check_version(ob, expected_version)
    st.next_status(ob.status, action)  # refuse before any verification work
    return ob, run


@transaction.atomic
def ob_submit(
    *, ob_id: int, actor: User, expected_version: int | None = None
) -> tuple[ObservationBlock, rules.Verification]:
    """Verify an OB and submit it for review (P or - to D); refused with the verification's
    errors when it does not pass."""
    ob, run = _lock_for(ob_id, st.Action.SUBMIT, actor, expected_version)
    report = rules.verify(ob)
    if not report.ok:
        raise InvalidInput("The OB does not pass verification.", {"verification": report.errors})
    return _transition(ob, run, st.Action.SUBMIT, actor), report


@transaction.atomic
def ob_revise(*, ob_id: int, actor: User, expected_version: int | None = None) -> ObservationBlock:
    """Take a submitted OB back for editing (D to P)."""
    ob, run = _lock_for(ob_id, st.Action.REVISE, actor, expected_version)
    return _transition(ob, run, st.Action.REVISE, actor)


@transaction.atomic
def ob_accept(*, ob_id: int, actor: User, expected_version: int | None = None) -> ObservationBlock:
    """Staff accept a submitted OB for execution (D to +)."""
    ob, run = _lock_for(ob_id, st.Action.ACCEPT, actor, expected_version)
    return _transition(ob, run, st.Action.ACCEPT, actor)


@transaction.atomic
def ob_send_back(
    *, ob_id: int, message: str, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Staff send a submitted OB back for repair (D to -) with a message saying what to change."""
    ob, run = _lock_for(ob_id, st.Action.SEND_BACK, actor, expected_version)
    text = message.strip() if isinstance(message, str) else ""
    if not text:
        raise InvalidInput(
            "Say what to repair.", {"message": ["Tell the astronomers what to change."]}
        )
    return _transition(ob, run, st.Action.SEND_BACK, actor, message=text)


# --------------------------------------------------------------------------------------------
# A container's OBs at once
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ContainerVerification:
    """Every OB under a container, verified: the OBs' reports by id (their container's
    consistency is part of each), and ``errors`` naming each OB that does not pass."""

    obs: dict[int, rules.Verification]
    names: dict[int, str]

    @property
    def errors(self) -> list[str]:
        return [
            f"{self.names[pk]} (OB {pk}): {error}"
            for pk, report in self.obs.items()
            for error in report.errors
        ]

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.obs.values())


def _obs_under(
    container: Container, statuses: Iterable[str] | None = None, *, lock: bool = False
) -> list[ObservationBlock]:
    """The OBs of ``container`` and of every container inside it, in tree order (``lock``:
    their rows locked, inside the writing transaction)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Container.objects.filter(run_id=container.run_id).values_list(
        "pk", "parent_id"
    ):
        children.setdefault(parent, []).append(pk)
    ids, todo = [], [container.pk]
    while todo:
        pk = todo.pop()
        ids.append(pk)
        todo.extend(children.get(pk, []))
    obs = ObservationBlock.objects.select_related("container")
    if lock:
        obs = obs.select_for_update(of=("self",))
    obs = obs.filter(container_id__in=ids).order_by("container_id", "position", "pk")
    if statuses is not None:
        obs = obs.filter(status__in=list(statuses))
    return list(obs)


def container_verify(*, container_id: int, actor: User) -> ContainerVerification:
    """Verify every OB under a container without changing anything (its readers may ask)."""
    container = Container.objects.select_related("run__proposal", "run__decision").get(
        pk=container_id
    )
    access.ensure_may_read(actor, container.run)
    obs = _obs_under(container)
    return ContainerVerification(rules.verify_many(obs), {ob.pk: ob.name for ob in obs})


def _bump_containers(obs: Sequence[ObservationBlock]) -> None:
    """A scheduling container's status derives from its OBs': one new version per container."""
    ids = {ob.container_id for ob in obs if ob.container.item_type in SCHEDULING_CONTAINERS}
    for held in Container.objects.select_for_update().filter(pk__in=ids):
        _bump(held)


def _container_transition(
    container_id: int, action: st.Action, actor: User, expected_version: int | None
) -> tuple[list[ObservationBlock], ContainerVerification]:
    container, run = _lock_container(container_id)
    if action in st.STAFF_ACTIONS:
        access.ensure_may_review(actor, run)
    else:
        access.ensure_may_write(actor, run)
    _check_version(container, expected_version)
    ready = {status for status, act in st.TRANSITIONS if act == action}
    obs = _obs_under(container, ready, lock=True)
    if not obs:
        raise TransitionNotAllowed(
            f"{container.name} holds no OB in status {', '.join(sorted(ready))} to {action}."
        )
    report = ContainerVerification({}, {})
    if action == st.Action.SUBMIT:
        report = ContainerVerification(rules.verify_many(obs), {ob.pk: ob.name for ob in obs})
        if not report.ok:
            raise InvalidInput(
                f"{len([r for r in report.obs.values() if not r.ok])} of {len(obs)} OBs do not "
                "pass verification: nothing was submitted.",
                {"verification": report.errors},
            )
    for ob in obs:
        _transition(ob, run, action, actor, bump_container=False)
    _bump_containers(obs)
    return obs, report


@transaction.atomic
def container_submit(
    *, container_id: int, actor: User, expected_version: int | None = None
) -> tuple[list[ObservationBlock], ContainerVerification]:
    """Verify and submit every OB under a container in status P or - (all or nothing:
    refused with every failing OB's errors when one does not pass)."""
    return _container_transition(container_id, st.Action.SUBMIT, actor, expected_version)


@transaction.atomic
def container_accept(
    *, container_id: int, actor: User, expected_version: int | None = None
) -> list[ObservationBlock]:
    """Staff accept every submitted (D) OB under a container."""
    obs, _ = _container_transition(container_id, st.Action.ACCEPT, actor, expected_version)
    return obs


@transaction.atomic
def container_revise(
    *, container_id: int, actor: User, expected_version: int | None = None
) -> list[ObservationBlock]:
    """Take every submitted (D) OB under a container back for editing (D to P): p2's
    reviseContainer."""
    obs, _ = _container_transition(container_id, st.Action.REVISE, actor, expected_version)
    return obs


@transaction.atomic
def ob_set_short_waiver(
    *, ob_id: int, waived: bool, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Staff waive (or restore) the one-hour minimum of a service-mode OB."""
    ob, run = _lock_ob(ob_id)
    access.ensure_may_review(actor, run)
    _check_version(ob, expected_version)
    if ob.short_ob_waived != waived:
        ob.short_ob_waived = waived
        _bump(ob, "short_ob_waived")
        _event(run, actor, EventKind.WAIVER, ob=ob, message="waived" if waived else "restored")
    return ob


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def _lock_template(template_id: int) -> tuple[Template, ObservationBlock, ObservingRun]:
    ob_id = Template.objects.filter(pk=template_id).values_list("ob_id", flat=True).first()
    if ob_id is None:
        raise Template.DoesNotExist(f"No template {template_id}.")
    ob, run = _lock_ob(ob_id)
    return Template.objects.select_related("signature").get(pk=template_id), ob, run


def _renumber(templates: list[Template]) -> None:
    for position, template in enumerate(templates):
        template.position = position
    Template.objects.bulk_update(templates, ["position"])


def _templates_changed(ob: ObservationBlock, run: ObservingRun, actor: User, message: str) -> None:
    """Any change to an OB's templates is a change of the OB: a new version, its execution
    time computed again, and an event."""
    breakdown, _ = selectors.ob_breakdown(ob, list(ob.templates.select_related("signature")))
    ob.exposure_time_s, ob.execution_time_s = breakdown.exposure_s, breakdown.execution_s
    _bump(ob, "exposure_time_s", "execution_time_s")
    _event(run, actor, EventKind.TEMPLATE, ob=ob, message=message)


@transaction.atomic
def template_add(
    *, ob_id: int, signature_name: str, actor: User, expected_version: int | None = None
) -> Template:
    """Add a template of the run's instrument (at the OB's instrument-package version) with
    its default values: an acquisition template first (at most one), others at the end."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    signatures = TemplateSignature.objects.filter(
        instrument_id=run.instrument_id, ip_version=ob.ip_version
    )
    signature = signatures.filter(name=signature_name).first()
    if signature is None:
        names = ", ".join(signatures.values_list("name", flat=True)) or "none"
        raise InvalidInput(
            "Unknown template.",
            {
                "template_name": [
                    f"{run.instrument.name} {ob.ip_version or '(no package)'} has no template "
                    f"'{signature_name}'; it has: {names}."
                ]
            },
        )
    # of=("self",): never lock the signatures, which every run of the instrument shares.
    templates = list(ob.templates.select_related("signature").select_for_update(of=("self",)))
    new = Template(ob=ob, signature=signature, values=parameters.defaults(signature.parameters))
    if signature.type == TemplateType.ACQUISITION:
        present = [t for t in templates if t.signature.type == TemplateType.ACQUISITION]
        if present:
            raise InvalidInput(
                "One acquisition template per OB.",
                {
                    "template_name": [
                        f"The OB has an acquisition template ({present[0].signature.name}): "
                        "delete it first."
                    ]
                },
            )
        templates.insert(0, new)  # the acquisition comes first
    else:
        templates.append(new)
    new.position = templates.index(new)
    new.save()
    _renumber(templates)
    _templates_changed(ob, run, actor, f"{signature.name} added")
    return new


@transaction.atomic
def template_set_values(
    *,
    template_id: int,
    values: dict[str, Any],
    actor: User,
    expected_version: int | None = None,
) -> Template:
    """Set some parameter values of a template (type, range, allowed values checked);
    ``expected_version`` is the OB's."""
    template, ob, run = _lock_template(template_id)
    ensure_may_edit_ob(ob, run, actor)
    _check_version(ob, expected_version)
    if not isinstance(values, dict):
        raise InvalidInput("Invalid values.", {"values": ["Give parameter names and values."]})
    errors = rules.template_value_errors(template.signature.parameters, values)
    if errors:
        raise InvalidInput("Invalid template values.", errors)
    merged = {**template.values, **values}
    if merged != template.values:
        template.values = merged
        template.save(update_fields=["values"])
        _templates_changed(
            ob, run, actor, f"{template.signature.name}: {', '.join(sorted(values))}"
        )
    return template


@transaction.atomic
def template_delete(*, template_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a template from its OB; ``expected_version`` is the OB's."""
    template, ob, run = _lock_template(template_id)
    ensure_may_edit_ob(ob, run, actor)
    _check_version(ob, expected_version)
    name = template.signature.name
    template.delete()
    _renumber(list(ob.templates.all()))
    _templates_changed(ob, run, actor, f"{name} removed")


@transaction.atomic
def template_reorder(
    *, ob_id: int, template_ids: Sequence[int], actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Put an OB's templates in the given order (each once; an acquisition template first)."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    locked = ob.templates.select_related("signature").select_for_update(of=("self",))
    templates = {t.pk: t for t in locked}
    given = list(template_ids)
    if len(set(given)) != len(given) or set(given) != set(templates):
        raise InvalidInput(
            "Invalid order.",
            {"template_ids": [f"Give each of the OB's templates once: {sorted(templates)}."]},
        )
    ordered = [templates[pk] for pk in given]
    if any(t.signature.type == TemplateType.ACQUISITION for t in ordered[1:]):
        raise InvalidInput(
            "The acquisition comes first.",
            {"template_ids": ["Put the acquisition template first."]},
        )
    if [t.position for t in ordered] != list(range(len(ordered))):
        _renumber(ordered)
        _templates_changed(ob, run, actor, "templates reordered")
    return ob
