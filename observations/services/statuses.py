"""Status changes of an OB, or of a container's OBs at once (all or nothing), and the
staff's waiver of the service-mode minimum."""

import dataclasses
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import User
from django.db import transaction

from dataflow.errors import InvalidInput, TransitionNotAllowed
from observations import access, rules
from observations import status as st
from observations.models import (
    SCHEDULING_CONTAINERS,
    Container,
    ObservationBlock,
)
from observations.services.base import (
    EventKind,
    _bump,
    _check_version,
    _event,
    _lock_container,
    _lock_ob,
)
from proposals.models import ObservingRun

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
