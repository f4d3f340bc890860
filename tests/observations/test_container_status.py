"""A container's OBs at once: verify every OB under it, submit them all or none, staff accept
the submitted ones; one event per OB, one new version per scheduling container."""

import pytest

from dataflow.errors import InvalidInput, NotAllowed, StaleVersion, TransitionNotAllowed
from observations import services
from observations.models import Container, ItemType, ObservationBlock, OBStatus, Phase2Event
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db


def _complete_ob(phase2: Phase2, container: Container, name: str) -> ObservationBlock:
    ob = services.ob_create(container_id=container.pk, name=name, actor=phase2.pi)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk, values={"INS.FILT": "R_SPECIAL"}, actor=phase2.pi
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def _folder_with_group(phase2: Phase2) -> tuple[Container, Container, list[ObservationBlock]]:
    """A folder holding one OB and a group of two OBs."""
    root = phase2.root(phase2.sm)
    folder = services.container_create(
        parent_id=root.pk, item_type=ItemType.FOLDER, name="Field 1", actor=phase2.pi
    )
    group = services.container_create(
        parent_id=folder.pk, item_type=ItemType.GROUP, name="Mosaic", actor=phase2.pi
    )
    obs = [
        _complete_ob(phase2, folder, "single"),
        _complete_ob(phase2, group, "tile 1"),
        _complete_ob(phase2, group, "tile 2"),
    ]
    return folder, group, obs


def _statuses(obs: list[ObservationBlock]) -> list[str]:
    return [ObservationBlock.objects.get(pk=ob.pk).status for ob in obs]


def test_a_folder_is_verified_with_every_ob_inside_it(phase2: Phase2) -> None:
    folder, _, obs = _folder_with_group(phase2)
    report = services.container_verify(container_id=folder.pk, actor=phase2.coi)
    assert set(report.obs) == {ob.pk for ob in obs}
    assert report.ok and report.errors == []


def test_submitting_a_folder_submits_every_ob_inside_with_one_event_each(phase2: Phase2) -> None:
    folder, group, obs = _folder_with_group(phase2)
    group_version = Container.objects.get(pk=group.pk).version
    version = Container.objects.get(pk=folder.pk).version  # its items changed it
    submitted, report = services.container_submit(
        container_id=folder.pk, actor=phase2.pi, expected_version=version
    )
    assert report.ok and {ob.pk for ob in submitted} == {ob.pk for ob in obs}
    assert _statuses(obs) == [OBStatus.DEFINED] * 3
    assert Phase2Event.objects.filter(kind="status", to_status="D").count() == 3
    assert Container.objects.get(pk=group.pk).version == group_version + 1


def test_one_failing_ob_stops_the_whole_submission_and_is_named(phase2: Phase2) -> None:
    folder, _, obs = _folder_with_group(phase2)
    ObservationBlock.objects.filter(pk=obs[2].pk).update(execution_time_s=600.0)
    with pytest.raises(InvalidInput) as refused:
        services.container_submit(container_id=folder.pk, actor=phase2.pi)
    [error] = refused.value.errors["verification"]
    assert error.startswith(f"tile 2 (OB {obs[2].pk}): ") and "at least one hour" in error
    assert _statuses(obs) == [OBStatus.PARTIAL] * 3
    assert not Phase2Event.objects.filter(kind="status").exists()


def test_a_stale_container_version_submits_nothing(phase2: Phase2) -> None:
    folder, _, obs = _folder_with_group(phase2)
    stale = Container.objects.get(pk=folder.pk).version - 1
    with pytest.raises(StaleVersion):
        services.container_submit(container_id=folder.pk, actor=phase2.pi, expected_version=stale)
    assert _statuses(obs) == [OBStatus.PARTIAL] * 3


def test_a_container_with_nothing_to_submit_is_refused(phase2: Phase2) -> None:
    folder, _, obs = _folder_with_group(phase2)
    services.container_submit(container_id=folder.pk, actor=phase2.pi)
    with pytest.raises(TransitionNotAllowed):
        services.container_submit(container_id=folder.pk, actor=phase2.pi)


def test_staff_accept_the_submitted_obs_of_a_container_and_only_those(phase2: Phase2) -> None:
    folder, group, obs = _folder_with_group(phase2)
    services.container_submit(container_id=group.pk, actor=phase2.pi)  # the two tiles
    with pytest.raises(NotAllowed):
        services.container_accept(container_id=folder.pk, actor=phase2.pi)
    accepted = services.container_accept(container_id=folder.pk, actor=phase2.staff)
    assert {ob.pk for ob in accepted} == {obs[1].pk, obs[2].pk}
    assert _statuses(obs) == [OBStatus.PARTIAL, OBStatus.ACCEPTED, OBStatus.ACCEPTED]


def test_outsiders_can_neither_verify_nor_submit_a_container(phase2: Phase2) -> None:
    folder, _, obs = _folder_with_group(phase2)
    with pytest.raises(NotAllowed):
        services.container_verify(container_id=folder.pk, actor=phase2.outsider)
    with pytest.raises(NotAllowed):
        services.container_submit(container_id=folder.pk, actor=phase2.outsider)
    assert _statuses(obs) == [OBStatus.PARTIAL] * 3
