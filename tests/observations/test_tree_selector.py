"""The read side of a run's tree: nesting and order, derived container statuses, subtree
totals, and a number of queries that does not grow with the tree.

Rows are made with the ORM (the write services are tested on their own): a root folder as
approval makes it, then folders, scheduling containers and OBs at chosen positions."""

from collections.abc import Callable
from typing import Any

import pytest

from observations.models import Container, ItemType, ObservationBlock, OBStatus
from observations.selectors import (
    ContainerItem,
    OBItem,
    TreeContainer,
    container_items,
    container_status,
    run_tree,
)
from proposals.models import ObservingRun
from tests.factories import RunFactory
from tests.observations.conftest import Phase2

Counter = Callable[..., Any]  # pytest-django's django_assert_num_queries


def container(
    parent: Container, name: str, position: int, kind: str = ItemType.FOLDER
) -> Container:
    return Container.objects.create(
        run=parent.run, parent=parent, item_type=kind, name=name, position=position
    )


def ob(
    parent: Container,
    name: str,
    position: int,
    status: str = OBStatus.PARTIAL,
    seconds: float = 600.0,
) -> ObservationBlock:
    return ObservationBlock.objects.create(
        run=parent.run,
        container=parent,
        name=name,
        position=position,
        status=status,
        execution_time_s=seconds,
    )


def many_obs(parent: Container, count: int) -> None:
    ObservationBlock.objects.bulk_create(
        ObservationBlock(run=parent.run, container=parent, name=f"OB {i}", position=i)
        for i in range(count)
    )


def names(items: list[Any]) -> list[str]:
    return [item.name for item in items]


def test_the_tree_nests_containers_and_orders_items_by_position(phase2: Phase2) -> None:
    # given: containers and OBs of the root interleaved by position, created out of order
    root = phase2.root(phase2.sm)
    survey = container(root, "Survey", 2)
    ob(root, "Standard star", 1)
    group = container(root, "Group", 0, ItemType.GROUP)
    ob(group, "G2", 1)
    ob(group, "G1", 0)
    link = container(survey, "Monitoring", 1, ItemType.TIMELINK)
    ob(link, "Epoch 1", 0)
    ob(link, "Epoch 2", 1)
    ob(survey, "Field A", 0)
    # when
    tree = run_tree(phase2.sm)
    # then
    assert tree is not None and tree.id == root.id and tree.item_type == ItemType.FOLDER
    assert names(tree.items) == ["Group", "Standard star", "Survey"]
    first, second, third = tree.items
    assert isinstance(first, TreeContainer) and first.item_type == ItemType.GROUP
    assert names(first.items) == ["G1", "G2"]
    assert isinstance(second, OBItem) and second.item_type == ItemType.OB
    assert isinstance(third, TreeContainer) and names(third.items) == ["Field A", "Monitoring"]
    monitoring = third.items[1]
    assert isinstance(monitoring, TreeContainer) and monitoring.item_type == ItemType.TIMELINK
    assert names(monitoring.items) == ["Epoch 1", "Epoch 2"]


def test_the_tree_carries_status_execution_time_and_version_of_each_ob(phase2: Phase2) -> None:
    # given
    root = phase2.root(phase2.sm)
    made = ob(root, "Deep field", 0, OBStatus.ACCEPTED, seconds=4200.0)
    ObservationBlock.objects.filter(pk=made.pk).update(version=7)
    # when
    tree = run_tree(phase2.sm)
    # then
    assert tree is not None
    (item,) = tree.items
    assert isinstance(item, OBItem)
    assert (item.id, item.status, item.execution_time_s, item.version) == (made.pk, "+", 4200.0, 7)


def test_subtree_totals_count_every_ob_below_a_container(phase2: Phase2) -> None:
    # given: two OBs in a folder's concatenation and one in the root
    root = phase2.root(phase2.sm)
    concatenation = container(container(root, "F", 0), "C", 0, ItemType.CONCATENATION)
    ob(concatenation, "A", 0, seconds=1000.0)
    ob(concatenation, "B", 1, seconds=2000.0)
    ob(root, "C", 1, seconds=500.0)
    # when
    tree = run_tree(phase2.sm)
    # then
    assert tree is not None
    folder = tree.items[0]
    assert isinstance(folder, TreeContainer)
    assert (tree.total_obs, tree.total_execution_time_s) == (3, 3500.0)
    assert (folder.total_obs, folder.total_execution_time_s, folder.ob_count) == (2, 3000.0, 0)
    inner = folder.items[0]
    assert isinstance(inner, TreeContainer) and (tree.ob_count, inner.ob_count) == (1, 2)


def test_a_scheduling_container_has_the_status_of_its_least_advanced_ob(phase2: Phase2) -> None:
    # given: a group with an accepted OB and one sent back, an empty concatenation, a folder
    root = phase2.root(phase2.sm)
    group = container(root, "G", 0, ItemType.GROUP)
    ob(group, "accepted", 0, OBStatus.ACCEPTED)
    ob(group, "sent back", 1, OBStatus.REPAIR)
    container(root, "C", 1, ItemType.CONCATENATION)
    folder = container(root, "F", 2)
    ob(folder, "defined", 0, OBStatus.DEFINED)
    # when
    tree = run_tree(phase2.sm)
    # then
    assert tree is not None
    assert [item.status for item in tree.items] == ["-", "P", None]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["+", "D", "P"], "P"),
        (["+", "D"], "D"),
        (["+", "C"], "+"),
        (["C", "C"], "C"),
        (["C", "K"], "C"),
        (["-", "P"], "-"),
        ([], "P"),
    ],
)
def test_container_status_orders_the_codes(statuses: list[str], expected: str) -> None:
    assert container_status(ItemType.GROUP, statuses) == expected
    assert container_status(ItemType.FOLDER, statuses) is None


def test_a_run_without_a_root_folder_has_no_tree(db: None) -> None:
    # given: a run never approved
    run: ObservingRun = RunFactory.create()
    # then
    assert run_tree(run) is None


def test_the_tree_of_a_large_run_costs_the_queries_of_a_small_one(
    phase2: Phase2, django_assert_num_queries: Counter
) -> None:
    # given: the SM run with 10 OBs in a group, the VM run with 300 OBs in two folders
    small_root, large_root = phase2.root(phase2.sm), phase2.root(phase2.vm)
    many_obs(container(small_root, "G", 0, ItemType.GROUP), 10)
    many_obs(container(large_root, "F1", 0), 150)
    many_obs(container(container(large_root, "F2", 1), "F3", 0), 150)
    # when / then: the same two queries (containers, OBs) at both sizes
    with django_assert_num_queries(2):
        small = run_tree(phase2.sm)
    with django_assert_num_queries(2):
        large = run_tree(phase2.vm)
    assert small is not None and large is not None
    assert (small.total_obs, large.total_obs) == (10, 300)


def test_folders_nested_deeper_than_the_recursion_limit_still_make_a_tree(
    phase2: Phase2,
) -> None:
    # given: 1,200 folders, each inside the previous one, an OB at the bottom
    parent = phase2.root(phase2.sm)
    for depth in range(1200):
        parent = container(parent, f"level {depth}", 0)
    ob(parent, "deep", 0, seconds=60.0)
    # when
    tree = run_tree(phase2.sm)
    # then
    assert tree is not None and (tree.total_obs, tree.total_execution_time_s) == (1, 60.0)


def test_container_items_merge_child_containers_and_obs_by_position(
    phase2: Phase2, django_assert_num_queries: Counter
) -> None:
    # given
    root = phase2.root(phase2.sm)
    ob(root, "second", 1)
    link = container(root, "first", 0, ItemType.TIMELINK)
    ob(link, "epoch", 0, OBStatus.DEFINED)
    ob(root, "third", 2)
    # when: three queries (child containers, OBs, the child containers' OB statuses)
    with django_assert_num_queries(3):
        items = container_items(root)
    # then
    assert names(items) == ["first", "second", "third"]
    first = items[0]
    assert isinstance(first, ContainerItem) and (first.status, first.ob_count) == ("D", 1)
    assert [item.item_type for item in items] == ["TimeLink", "OB", "OB"]


def test_container_items_query_count_does_not_grow_with_the_items(
    phase2: Phase2, django_assert_num_queries: Counter
) -> None:
    # given: a folder of 3 groups of 2 OBs, another of 30 groups of 10 OBs
    root = phase2.root(phase2.sm)
    small, large = container(root, "small", 0), container(root, "large", 1)
    for parent, groups, size in ((small, 3, 2), (large, 30, 10)):
        for g in range(groups):
            many_obs(container(parent, f"G{g}", g, ItemType.GROUP), size)
    # when / then
    with django_assert_num_queries(3):
        assert len(container_items(small)) == 3
    with django_assert_num_queries(3):
        assert len(container_items(large)) == 30
