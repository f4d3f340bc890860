"""What every Phase 2 write shares: event kinds, the locks (the run's row first), version
checks and bumps, the event row, editability."""

from django.contrib.auth.models import User
from django.db.models import Max

from dataflow.errors import Frozen, StaleVersion
from observations import access, rules
from observations import status as st
from observations.models import (
    Container,
    ObservationBlock,
    Phase2Event,
    TemplateSignature,
)
from proposals.models import Mode, ObservingRun


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
