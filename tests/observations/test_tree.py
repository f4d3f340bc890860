"""A run's tree: the root folder from approval, containers (refused in visitor mode; the
scheduling ones hold OBs only), create, rename, move, reorder, duplicate, delete, with versions
and an event per change."""

import datetime as dt

import pytest
from django.utils import timezone

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion
from observations import services
from observations.commands import ContainerData, ItemRef, OBData
from observations.models import (
    AbsoluteWindow,
    Container,
    FindingChart,
    ItemType,
    ObservationBlock,
    OBStatus,
    Phase2Event,
    SiderealWindow,
)
from proposals.review.services import run_decide
from tests.observations.conftest import Phase2, reviewed_proposal

pytestmark = pytest.mark.django_db


def _set_status(ob: ObservationBlock, status: str, executed: bool = False) -> None:
    ObservationBlock.objects.filter(pk=ob.pk).update(status=status, executed=executed)


def _items(container: Container) -> list[tuple[str, int]]:
    """The container's items in order, as (kind, id)."""
    rows = [(c.position, "container", c.pk) for c in container.children.all()]
    rows += [(o.position, "ob", o.pk) for o in container.obs.all()]
    return [(kind, pk) for _, kind, pk in sorted(rows)]


# -- the root folder ---------------------------------------------------------------------------


def test_approving_a_run_gives_it_one_root_folder(phase2: Phase2) -> None:
    # given runs approved through the review (the fixture)
    # then each has a root folder named after the run, and asking again returns the same one
    root = phase2.root(phase2.sm)
    assert root.item_type == ItemType.FOLDER and root.name == str(phase2.sm)
    assert services.root_folder(run=phase2.sm) == root
    assert Container.objects.filter(run=phase2.sm, parent__isnull=True).count() == 1
    assert Phase2Event.objects.filter(container=root, kind="create").count() == 1


def test_a_rejected_run_has_no_root_folder(staff, astronomer) -> None:
    # given a run that staff reject
    _, sm, vm = reviewed_proposal(astronomer)
    run_decide(run_id=sm.pk, actor=staff, approved=False, send_outcome=False)
    # then it has no tree, and none can be made for it
    assert not Container.objects.filter(run=sm).exists()
    with pytest.raises(NotAllowed):
        services.root_folder(run=sm)


def test_phase2_stays_closed_until_the_proposals_outcome_is_final(staff, astronomer) -> None:
    # given run A approved while run B is still undecided (the proposal under review)
    _, sm, vm = reviewed_proposal(astronomer)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="B", hours=5.0, send_outcome=False
    )
    root = services.root_folder(run=sm)
    # then its PI cannot build the tree yet
    with pytest.raises(NotAllowed, match="not open"):
        services.ob_create(container_id=root.pk, name="early", actor=astronomer)
    # when run B is decided, the proposal is approved and Phase 2 opens
    run_decide(run_id=vm.pk, actor=staff, approved=False, send_outcome=False)
    assert services.ob_create(container_id=root.pk, name="now", actor=astronomer).pk


# -- containers --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION])
def test_scheduling_containers_are_refused_in_visitor_mode_runs(phase2: Phase2, kind) -> None:
    root = phase2.root(phase2.vm)
    with pytest.raises(InvalidInput) as refused:
        services.container_create(parent_id=root.pk, item_type=kind, name="c", actor=phase2.pi)
    assert "visitor-mode" in refused.value.errors["item_type"][0]
    assert not root.children.exists()


def test_visitor_mode_runs_have_folders_and_obs(phase2: Phase2) -> None:
    root = phase2.root(phase2.vm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="Night 1", actor=phase2.pi
    )
    ob = services.ob_create(container_id=folder.pk, name="first", actor=phase2.pi)
    assert ob.container == folder and folder.parent == root


@pytest.mark.parametrize("kind", [ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION])
def test_scheduling_containers_hold_obs_only(phase2: Phase2, kind) -> None:
    # given a scheduling container in the SM run's root folder
    root = phase2.root(phase2.sm)
    holder = services.container_create(parent_id=root.pk, item_type=kind, name="c", actor=phase2.pi)
    # then an OB can be created in it
    services.ob_create(container_id=holder.pk, name="ob", actor=phase2.pi)
    # but no container, whether created there or moved there
    with pytest.raises(InvalidInput, match="Containers go in folders"):
        services.container_create(
            parent_id=holder.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
        )
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    with pytest.raises(InvalidInput, match="Containers go in folders"):
        services.item_move(
            item=ItemRef.container(folder.pk), to_container_id=holder.pk, actor=phase2.pi
        )
    assert not holder.children.exists()


def test_an_ob_is_not_a_container_and_unknown_types_are_refused(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    for kind in ("OB", "Bucket"):
        with pytest.raises(InvalidInput):
            services.container_create(parent_id=root.pk, item_type=kind, name="x", actor=phase2.pi)


def test_creating_an_item_appends_it_and_changes_the_parents_version(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    first = services.ob_create(
        container_id=root.pk, name="a", actor=phase2.pi, expected_version=root.version
    )
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.coi
    )
    root.refresh_from_db()
    assert _items(root) == [("ob", first.pk), ("container", group.pk)]
    assert root.version == 3
    # a stale parent version is refused
    with pytest.raises(StaleVersion):
        services.ob_create(container_id=root.pk, name="b", actor=phase2.pi, expected_version=1)


def test_outsiders_and_staff_cannot_build_the_tree(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    for actor in (phase2.outsider, phase2.staff):
        with pytest.raises(NotAllowed):
            services.container_create(
                parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=actor
            )
        with pytest.raises(NotAllowed):
            services.ob_create(container_id=root.pk, name="x", actor=actor)
    assert _items(root) == []


def test_the_root_folder_cannot_be_renamed_moved_or_deleted(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    ref = ItemRef.container(root.pk)
    with pytest.raises(InvalidInput):
        services.item_rename(item=ref, name="mine", actor=phase2.pi)
    with pytest.raises(InvalidInput):
        services.item_move(item=ref, to_container_id=folder.pk, actor=phase2.pi)
    with pytest.raises(InvalidInput, match="root folder stays"):
        services.item_delete(item=ref, actor=phase2.pi)
    empty = phase2.root(phase2.vm)
    with pytest.raises(InvalidInput, match="root folder stays"):
        services.item_delete(item=ItemRef.container(empty.pk), actor=phase2.pi)
    assert Container.objects.filter(pk=empty.pk).exists()
    root.refresh_from_db()
    assert root.name == str(phase2.sm) and root.parent_id is None


def test_renaming_a_container_changes_its_version_and_is_recorded(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    services.item_rename(
        item=ItemRef.container(group.pk), name=" Survey ", actor=phase2.pi, expected_version=1
    )
    services.container_update(
        container_id=group.pk, data=ContainerData(group_priority=2), actor=phase2.pi
    )
    group.refresh_from_db()
    assert (group.name, group.group_priority, group.version) == ("Survey", 2, 3)
    assert Phase2Event.objects.filter(container=group, kind="edit").count() == 2
    with pytest.raises(StaleVersion):
        services.item_rename(
            item=ItemRef.container(group.pk), name="x", actor=phase2.pi, expected_version=1
        )


def test_only_groups_have_a_priority(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    with pytest.raises(InvalidInput, match="Invalid container"):
        services.container_update(
            container_id=folder.pk, data=ContainerData(group_priority=2), actor=phase2.pi
        )


# -- move --------------------------------------------------------------------------------------


def test_moving_an_ob_appends_it_to_the_other_container(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    inside = services.ob_create(container_id=group.pk, name="in", actor=phase2.pi)
    ob = services.ob_create(container_id=root.pk, name="ob", actor=phase2.pi)
    versions = (root.version, group.version, ob.version)
    services.item_move(
        item=ItemRef.ob(ob.pk), to_container_id=group.pk, actor=phase2.pi, expected_version=1
    )
    ob.refresh_from_db()
    group.refresh_from_db()
    assert _items(group) == [("ob", inside.pk), ("ob", ob.pk)]
    assert (group.version, ob.version) == (versions[1] + 2, versions[2] + 1)
    assert Phase2Event.objects.filter(ob=ob, kind="move").exists()


def test_a_container_cannot_move_into_itself_or_below_itself(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    outer = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="outer", actor=phase2.pi
    )
    inner = services.container_create(
        parent_id=outer.pk, item_type=ItemType.FOLDER, name="inner", actor=phase2.pi
    )
    for target in (outer, inner):
        with pytest.raises(InvalidInput, match="inside itself"):
            services.item_move(
                item=ItemRef.container(outer.pk), to_container_id=target.pk, actor=phase2.pi
            )
    # moving the inner folder up is fine
    services.item_move(item=ItemRef.container(inner.pk), to_container_id=root.pk, actor=phase2.pi)
    inner.refresh_from_db()
    assert inner.parent_id == root.pk


def test_items_stay_in_their_run(phase2: Phase2) -> None:
    ob = services.ob_create(container_id=phase2.root(phase2.sm).pk, name="x", actor=phase2.pi)
    with pytest.raises(InvalidInput, match="stay in their run"):
        services.item_move(
            item=ItemRef.ob(ob.pk), to_container_id=phase2.root(phase2.vm).pk, actor=phase2.pi
        )


def test_an_accepted_sm_ob_moves_between_folders_but_not_in_or_out_of_a_group(
    phase2: Phase2,
) -> None:
    root = phase2.root(phase2.sm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    ob = services.ob_create(container_id=root.pk, name="x", actor=phase2.pi)
    grouped = services.ob_create(container_id=group.pk, name="y", actor=phase2.pi)
    _set_status(ob, OBStatus.ACCEPTED)
    _set_status(grouped, OBStatus.ACCEPTED)
    services.item_move(item=ItemRef.ob(ob.pk), to_container_id=folder.pk, actor=phase2.pi)
    with pytest.raises(Frozen):
        services.item_move(item=ItemRef.ob(ob.pk), to_container_id=group.pk, actor=phase2.pi)
    with pytest.raises(Frozen):
        services.item_move(item=ItemRef.ob(grouped.pk), to_container_id=root.pk, actor=phase2.pi)
    assert ObservationBlock.objects.get(pk=grouped.pk).container_id == group.pk


# -- reorder -----------------------------------------------------------------------------------


def test_reordering_puts_containers_and_obs_in_the_given_order(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    a = services.ob_create(container_id=root.pk, name="a", actor=phase2.pi)
    f = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    b = services.ob_create(container_id=root.pk, name="b", actor=phase2.pi)
    root.refresh_from_db()
    order = [ItemRef.ob(b.pk), ItemRef.ob(a.pk), ItemRef.container(f.pk)]
    services.items_reorder(
        container_id=root.pk, items=order, actor=phase2.pi, expected_version=root.version
    )
    assert _items(root) == [("ob", b.pk), ("ob", a.pk), ("container", f.pk)]
    assert Phase2Event.objects.filter(container=root, kind="reorder").count() == 1


def test_a_reorder_must_name_every_item_once_and_a_stale_one_changes_nothing(
    phase2: Phase2,
) -> None:
    root = phase2.root(phase2.sm)
    a = services.ob_create(container_id=root.pk, name="a", actor=phase2.pi)
    b = services.ob_create(container_id=root.pk, name="b", actor=phase2.pi)
    root.refresh_from_db()
    for bad in ([ItemRef.ob(b.pk)], [ItemRef.ob(b.pk), ItemRef.ob(b.pk), ItemRef.ob(a.pk)]):
        with pytest.raises(InvalidInput, match="Invalid order"):
            services.items_reorder(container_id=root.pk, items=bad, actor=phase2.pi)
    with pytest.raises(StaleVersion):
        services.items_reorder(
            container_id=root.pk,
            items=[ItemRef.ob(b.pk), ItemRef.ob(a.pk)],
            actor=phase2.pi,
            expected_version=root.version - 1,
        )
    assert _items(root) == [("ob", a.pk), ("ob", b.pk)]


def test_the_order_of_a_timelink_is_fixed_once_an_ob_in_it_is_submitted(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    link = services.container_create(
        parent_id=root.pk, item_type=ItemType.TIMELINK, name="t", actor=phase2.pi
    )
    a = services.ob_create(container_id=link.pk, name="a", actor=phase2.pi)
    b = services.ob_create(container_id=link.pk, name="b", actor=phase2.pi)
    _set_status(a, OBStatus.DEFINED)
    with pytest.raises(Frozen):
        services.items_reorder(
            container_id=link.pk, items=[ItemRef.ob(b.pk), ItemRef.ob(a.pk)], actor=phase2.pi
        )
    assert _items(link) == [("ob", a.pk), ("ob", b.pk)]


# -- duplicate ---------------------------------------------------------------------------------


def test_duplicating_an_ob_gives_a_new_partial_ob_with_its_content(phase2: Phase2) -> None:
    # given an accepted OB with a template, windows and a finding chart
    root = phase2.root(phase2.sm)
    ob = services.ob_create(container_id=root.pk, name="deep field", actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    start = timezone.now()
    AbsoluteWindow.objects.create(ob=ob, start=start, end=start + dt.timedelta(hours=2))
    SiderealWindow.objects.create(ob=ob, start_min=60, end_min=180)
    FindingChart.objects.create(ob=ob, name="fc.jpg", content=b"\xff\xd8jpeg", size=6)
    ObservationBlock.objects.filter(pk=ob.pk).update(status=OBStatus.ACCEPTED, short_ob_waived=True)
    # when it is duplicated
    copy = services.item_duplicate(item=ItemRef.ob(ob.pk), actor=phase2.pi)
    # then the copy is a new OB at the end of the container, partially defined, with the content
    assert isinstance(copy, ObservationBlock)
    assert copy.pk != ob.pk and copy.name == "deep field"
    assert (copy.status, copy.version, copy.short_ob_waived) == ("P", 1, False)
    assert _items(root) == [("ob", ob.pk), ("ob", copy.pk)]
    assert [t.signature.name for t in copy.templates.all()] == ["FORS2_img_obs"]
    assert copy.absolute.count() == copy.sidereal.count() == copy.charts.count() == 1
    assert bytes(copy.charts.get().content) == b"\xff\xd8jpeg"
    assert ob.templates.count() == 1  # the original keeps its own
    assert Phase2Event.objects.filter(ob=copy, kind="duplicate").exists()


def test_duplicating_a_container_copies_everything_in_it(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="f", actor=phase2.pi
    )
    group = services.container_create(
        parent_id=folder.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    services.ob_create(container_id=group.pk, name="a", actor=phase2.pi)
    services.ob_create(container_id=group.pk, name="b", actor=phase2.pi)
    copy = services.item_duplicate(item=ItemRef.container(folder.pk), actor=phase2.pi)
    assert isinstance(copy, Container)
    assert copy.parent_id == root.pk and copy.pk != folder.pk
    copied_group = copy.children.get()
    assert copied_group.item_type == ItemType.GROUP and copied_group.pk != group.pk
    assert [o.name for o in copied_group.obs.all()] == ["a", "b"]
    assert ObservationBlock.objects.filter(run=phase2.sm).count() == 4


# -- delete ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["P", "D", "-"])
def test_an_ob_never_executed_in_partial_defined_or_repair_can_be_deleted(
    phase2: Phase2, status: str
) -> None:
    root = phase2.root(phase2.sm)
    ob = services.ob_create(container_id=root.pk, name="x", actor=phase2.pi)
    _set_status(ob, status)
    services.item_delete(item=ItemRef.ob(ob.pk), actor=phase2.pi, expected_version=1)
    assert not ObservationBlock.objects.filter(pk=ob.pk).exists()
    assert Phase2Event.objects.filter(run=phase2.sm, kind="delete", from_status=status).exists()


@pytest.mark.parametrize("status", ["+", "S", "C", "M", "A", "F", "K"])
def test_obs_in_other_statuses_are_kept(phase2: Phase2, status: str) -> None:
    ob = services.ob_create(container_id=phase2.root(phase2.sm).pk, name="x", actor=phase2.pi)
    _set_status(ob, status)
    with pytest.raises(Frozen):
        services.item_delete(item=ItemRef.ob(ob.pk), actor=phase2.pi)
    assert ObservationBlock.objects.filter(pk=ob.pk).exists()


def test_an_executed_ob_is_kept_even_back_in_partial(phase2: Phase2) -> None:
    ob = services.ob_create(container_id=phase2.root(phase2.sm).pk, name="x", actor=phase2.pi)
    _set_status(ob, OBStatus.PARTIAL, executed=True)
    with pytest.raises(Frozen, match="executed"):
        services.item_delete(item=ItemRef.ob(ob.pk), actor=phase2.pi)


def test_a_container_is_deleted_only_when_empty(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    ob = services.ob_create(container_id=group.pk, name="x", actor=phase2.pi)
    with pytest.raises(InvalidInput, match="not empty"):
        services.item_delete(item=ItemRef.container(group.pk), actor=phase2.pi)
    services.item_delete(item=ItemRef.ob(ob.pk), actor=phase2.pi)
    services.item_delete(item=ItemRef.container(group.pk), actor=phase2.pi)
    assert not Container.objects.filter(pk=group.pk).exists()


def test_a_stale_delete_changes_nothing(phase2: Phase2) -> None:
    ob = services.ob_create(container_id=phase2.root(phase2.sm).pk, name="x", actor=phase2.pi)
    services.ob_update(ob_id=ob.pk, data=OBData(name="y"), actor=phase2.pi)
    with pytest.raises(StaleVersion):
        services.item_delete(item=ItemRef.ob(ob.pk), actor=phase2.pi, expected_version=1)
    assert ObservationBlock.objects.filter(pk=ob.pk).exists()
