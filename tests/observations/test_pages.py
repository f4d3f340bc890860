"""The astronomers' Phase 2 pages through Django's test client: the list of open runs, a run's
tree (built from the page: create, rename, move, reorder, duplicate, delete; a stale page is
refused and changes nothing), a container's verify and submit, who sees what (404 for
outsiders, read-only for staff), and the tree of a 2,000-OB run in a constant number of
queries."""

import time

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from observations import services
from observations.commands import ContainerData, ItemRef
from observations.models import Container, ItemType, ObservationBlock, OBStatus, Phase2Event
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db

STALE = "Changed meanwhile"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _tree_url(phase2: Phase2) -> str:
    return reverse("phase2:run", kwargs={"phase2_run_id": phase2.sm.pk})


def _action_url(phase2: Phase2) -> str:
    return reverse("phase2:tree_action", kwargs={"phase2_run_id": phase2.sm.pk})


def _ob(phase2: Phase2, name: str = "OB 1", container: Container | None = None) -> ObservationBlock:
    holder = container or phase2.root(phase2.sm)
    return services.ob_create(container_id=holder.pk, name=name, actor=phase2.pi)


def _folder(phase2: Phase2, name: str, kind: str = ItemType.FOLDER) -> Container:
    return services.container_create(
        parent_id=phase2.root(phase2.sm).pk, item_type=kind, name=name, actor=phase2.pi
    )


def _complete(phase2: Phase2, ob: ObservationBlock) -> ObservationBlock:
    """A target, an acquisition and an hour-long science template: it passes verification."""
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk,
        values={"INS.FILT": "R_SPECIAL", "DET.DIT": 3600.0},
        actor=phase2.pi,
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def _sel(item: ObservationBlock | Container) -> str:
    kind = "ob" if isinstance(item, ObservationBlock) else "container"
    item.refresh_from_db()
    return f"{kind}:{item.pk}:{item.version}"


def _order(container: Container) -> list[str]:
    obs = [(o.position, "ob", o.name) for o in container.obs.all()]
    children = [(c.position, "c", c.name) for c in container.children.all()]
    return [name for _, _, name in sorted(obs + children)]


def _snapshot(phase2: Phase2) -> list[tuple[object, ...]]:
    obs = ObservationBlock.objects.filter(run=phase2.sm).order_by("pk")
    containers = Container.objects.filter(run=phase2.sm).order_by("pk")
    return [
        *obs.values_list("pk", "name", "container_id", "position", "version", "status"),
        *containers.values_list("pk", "name", "parent_id", "position", "version"),
    ]


# -- the list and the links ----------------------------------------------------------------------


def test_the_phase2_list_shows_the_users_open_runs(phase2: Phase2) -> None:
    # when
    mine = _client(phase2.coi).get(reverse("phase2:runs"))
    theirs = _client(phase2.outsider).get(reverse("phase2:runs"))
    # then
    assert mine.status_code == theirs.status_code == 200
    assert _tree_url(phase2) in mine.content.decode()
    assert _tree_url(phase2) not in theirs.content.decode()
    assert "No open run" in theirs.content.decode()


def test_the_approved_proposal_links_each_approved_run_to_its_phase2_page(phase2: Phase2) -> None:
    # when
    page = _client(phase2.pi).get(reverse("proposals:detail", args=[phase2.proposal.pk]))
    # then
    html = page.content.decode()
    assert 'id="phase2-links"' in html
    assert f'href="{_tree_url(phase2)}"' in html
    vm_url = reverse("phase2:run", kwargs={"phase2_run_id": phase2.vm.pk})
    assert f'href="{vm_url}"' in html


# -- who sees what -------------------------------------------------------------------------------


def _pages(phase2: Phase2) -> list[str]:
    ob = _ob(phase2)
    root = phase2.root(phase2.sm)
    return [
        _tree_url(phase2),
        reverse("phase2:container", kwargs={"container_id": root.pk}),
        reverse("phase2:container_verify", kwargs={"container_id": root.pk}),
        reverse("phase2:ob", kwargs={"ob_id": ob.pk}),
        reverse("phase2:ob_verify", kwargs={"ob_id": ob.pk}),
    ]


@pytest.mark.parametrize("who", ["pi", "coi", "staff"])
def test_every_page_renders_for_the_team_and_staff(phase2: Phase2, who: str) -> None:
    # given
    pages = _pages(phase2)
    client = _client(getattr(phase2, who))
    # when
    statuses = [client.get(url).status_code for url in pages]
    # then
    assert statuses == [200] * len(pages)


def test_every_page_is_a_404_for_an_outsider(phase2: Phase2) -> None:
    # given
    pages = _pages(phase2)
    client = _client(phase2.outsider)
    # when
    statuses = [client.get(url).status_code for url in pages]
    # then
    assert statuses == [404] * len(pages)


def test_staff_read_the_tree_without_any_form_and_cannot_write(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _snapshot(phase2)
    staff = _client(phase2.staff)
    # when
    page = staff.get(_tree_url(phase2)).content.decode()
    refused = staff.post(_action_url(phase2), {"action": "delete", "item": _sel(ob)})
    # then
    assert "Read only" in page
    assert 'id="create-form"' not in page and 'name="item"' not in page
    assert refused.status_code == 403
    assert _snapshot(phase2) == before


# -- building the tree ---------------------------------------------------------------------------


def test_creating_an_ob_from_the_tree_page_opens_its_editor(phase2: Phase2) -> None:
    # when
    response = _client(phase2.pi).post(
        reverse("phase2:item_create", kwargs={"phase2_run_id": phase2.sm.pk}),
        {"item_type": "OB", "name": "M 83 deep", "parent": phase2.root(phase2.sm).pk},
    )
    # then
    ob = ObservationBlock.objects.get(run=phase2.sm, name="M 83 deep")
    assert response.status_code == 302
    assert response["Location"] == reverse("phase2:ob", kwargs={"ob_id": ob.pk})
    assert ob.status == OBStatus.PARTIAL


def test_creating_a_group_in_a_folder_shows_it_in_the_tree(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    client = _client(phase2.pi)
    # when
    response = client.post(
        reverse("phase2:item_create", kwargs={"phase2_run_id": phase2.sm.pk}),
        {"item_type": "Group", "name": "Mosaic", "parent": folder.pk},
        follow=True,
    )
    # then
    group = Container.objects.get(run=phase2.sm, name="Mosaic")
    assert (group.item_type, group.parent_id) == (ItemType.GROUP, folder.pk)
    assert f'id="item-container-{group.pk}"' in response.content.decode()


def test_a_bad_new_item_shows_the_field_messages_and_creates_nothing(phase2: Phase2) -> None:
    # given
    before = _snapshot(phase2)
    url = reverse("phase2:item_create", kwargs={"phase2_run_id": phase2.vm.pk})
    # when: no name; then a Group in a visitor-mode run, which only has folders and OBs
    empty = _client(phase2.pi).post(url, {"item_type": "OB", "name": ""})
    group = _client(phase2.pi).post(url, {"item_type": "Group", "name": "G"})
    # then
    assert empty.status_code == group.status_code == 200
    assert "This field is required." in empty.content.decode()
    assert "Select a valid choice. Group is not one of the available choices." in (
        group.content.decode()
    )
    assert _snapshot(phase2) == before
    assert not Container.objects.filter(run=phase2.vm, name="G").exists()


def test_a_container_in_a_group_is_refused_next_to_its_field(phase2: Phase2) -> None:
    # given
    group = _folder(phase2, "G", ItemType.GROUP)
    # when
    response = _client(phase2.pi).post(
        reverse("phase2:item_create", kwargs={"phase2_run_id": phase2.sm.pk}),
        {"item_type": "Folder", "name": "Inner", "parent": group.pk},
    )
    # then
    assert response.status_code == 200
    assert "holds OBs only" in response.content.decode()
    assert not Container.objects.filter(name="Inner").exists()


def test_renaming_an_item_from_the_tree(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "rename", "item": _sel(folder), "name": "Night A"}
    )
    # then
    assert response.status_code == 302
    folder.refresh_from_db()
    assert folder.name == "Night A"


def test_renaming_needs_exactly_one_ticked_item_and_a_name(phase2: Phase2) -> None:
    # given
    a, b = _ob(phase2, "A"), _ob(phase2, "B")
    before = _snapshot(phase2)
    client = _client(phase2.pi)
    # when
    two = client.post(
        _action_url(phase2), {"action": "rename", "item": [_sel(a), _sel(b)], "name": "C"}
    )
    none = client.post(_action_url(phase2), {"action": "rename", "name": "C"})
    nameless = client.post(_action_url(phase2), {"action": "rename", "item": _sel(a), "name": ""})
    # then
    assert "Tick exactly one item to rename." in two.content.decode()
    assert "Tick the items to act on first." in none.content.decode()
    assert "Give the new name." in nameless.content.decode()
    assert _snapshot(phase2) == before


def test_a_stale_tree_page_is_refused_and_changes_nothing(phase2: Phase2) -> None:
    # given: the page showed the OB at its version, then a co-investigator renamed it
    ob = _ob(phase2, "A")
    shown = _sel(ob)
    services.item_rename(item=ItemRef.ob(ob.pk), name="B", actor=phase2.coi)
    before = _snapshot(phase2)
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "rename", "item": shown, "name": "C"}
    )
    # then
    assert response.status_code == 200
    assert STALE in response.content.decode()
    assert _snapshot(phase2) == before


def test_moving_items_into_a_folder(phase2: Phase2) -> None:
    # given
    a, b = _ob(phase2, "A"), _ob(phase2, "B")
    folder = _folder(phase2, "Night 1")
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2),
        {"action": "move", "item": [_sel(a), _sel(b)], "to": folder.pk},
    )
    # then
    assert response.status_code == 302
    assert _order(folder) == ["A", "B"]


def test_moving_needs_a_destination(phase2: Phase2) -> None:
    # given
    a = _ob(phase2, "A")
    before = _snapshot(phase2)
    # when
    response = _client(phase2.pi).post(_action_url(phase2), {"action": "move", "item": _sel(a)})
    # then
    assert "Choose the container to move the items to." in response.content.decode()
    assert _snapshot(phase2) == before


def test_moving_a_folder_with_its_ob_ticked_too(phase2: Phase2) -> None:
    # given: a folder holding an OB, both ticked, moved into another folder
    outer = _folder(phase2, "Outer")
    inner = _folder(phase2, "Inner")
    ob = _ob(phase2, "A", container=inner)
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2),
        {"action": "move", "item": [_sel(ob), _sel(inner)], "to": outer.pk},
    )
    # then: both end up in the outer folder (the OB was moved last, out of the inner one)
    assert response.status_code == 302
    assert _order(outer) == ["Inner", "A"]


def test_moving_items_up_and_down(phase2: Phase2) -> None:
    # given
    root = phase2.root(phase2.sm)
    a, b, c = _ob(phase2, "A"), _ob(phase2, "B"), _ob(phase2, "C")
    client = _client(phase2.pi)
    root.refresh_from_db()
    # when
    up = client.post(
        _action_url(phase2),
        {"action": "up", "item": _sel(c), "cv": f"{root.pk}:{root.version}"},
    )
    after_up = _order(root)
    root.refresh_from_db()
    down = client.post(
        _action_url(phase2),
        {"action": "down", "item": _sel(a), "cv": f"{root.pk}:{root.version}"},
    )
    # then
    assert up.status_code == down.status_code == 302
    assert after_up == ["A", "C", "B"]
    assert _order(root) == ["C", "A", "B"]
    assert b.pk  # untouched


def test_reordering_a_stale_container_is_refused(phase2: Phase2) -> None:
    # given: the page showed the root folder before another OB was created in it
    root = phase2.root(phase2.sm)
    _ob(phase2, "A")
    b = _ob(phase2, "B")
    root.refresh_from_db()
    shown = f"{root.pk}:{root.version}"
    _ob(phase2, "C")
    before = _snapshot(phase2)
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "up", "item": _sel(b), "cv": shown}
    )
    # then
    assert STALE in response.content.decode()
    assert _snapshot(phase2) == before


def test_duplicating_an_ob_from_the_tree(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2, "A"))
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "duplicate", "item": _sel(ob)}
    )
    # then
    copies = ObservationBlock.objects.filter(run=phase2.sm, name="A").exclude(pk=ob.pk)
    assert response.status_code == 302
    assert copies.count() == 1
    assert copies.get().templates.count() == 2


def test_deleting_items_from_the_tree(phase2: Phase2) -> None:
    # given: an OB in a folder, both ticked
    folder = _folder(phase2, "Night 1")
    ob = _ob(phase2, "A", container=folder)
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "delete", "item": [_sel(folder), _sel(ob)]}
    )
    # then
    assert response.status_code == 302
    assert not ObservationBlock.objects.filter(pk=ob.pk).exists()
    assert not Container.objects.filter(pk=folder.pk).exists()


def test_a_refused_delete_deletes_nothing_of_the_ticked_items(phase2: Phase2) -> None:
    # given: an OB and a folder holding another OB that is not ticked
    lone = _ob(phase2, "Lone")
    folder = _folder(phase2, "Night 1")
    _ob(phase2, "Kept", container=folder)
    before = _snapshot(phase2)
    # when
    response = _client(phase2.pi).post(
        _action_url(phase2), {"action": "delete", "item": [_sel(lone), _sel(folder)]}
    )
    # then: all or nothing
    assert response.status_code == 200
    assert "holds 1 items: move or delete them first." in response.content.decode()
    assert _snapshot(phase2) == before


# -- what the tree shows -------------------------------------------------------------------------


def test_the_tree_shows_status_execution_time_and_the_last_send_back_message(
    phase2: Phase2,
) -> None:
    # given: an OB submitted, sent back twice by staff (with a revision in between)
    ob = _complete(phase2, _ob(phase2, "A"))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    services.ob_send_back(ob_id=ob.pk, message="Old note.", actor=phase2.staff)
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    services.ob_send_back(ob_id=ob.pk, message="Use a shorter DIT.", actor=phase2.staff)
    ob.refresh_from_db()
    # when
    html = _client(phase2.pi).get(_tree_url(phase2)).content.decode()
    # then
    row = html[html.index(f'id="item-ob-{ob.pk}"') :].split("</tr>")[0]
    assert 'title="needs repair">-</span>' in row
    assert "Sent back: Use a shorter DIT." in row
    assert "Old note." not in row
    hours, rest = divmod(int(round(ob.execution_time_s)), 3600)
    assert f"{hours}:{rest // 60:02d}:{rest % 60:02d}" in row


def test_names_from_the_database_are_escaped_in_the_tree(phase2: Phase2) -> None:
    # given
    _ob(phase2, '<script>alert("x")</script>')
    # when
    html = _client(phase2.pi).get(_tree_url(phase2)).content.decode()
    # then
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


# -- a container: verify and submit --------------------------------------------------------------


def test_verifying_a_container_lists_what_to_change_per_ob(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    _complete(phase2, _ob(phase2, "Good", container=folder))
    bad = _ob(phase2, "Bad", container=folder)
    # when
    html = (
        _client(phase2.coi)
        .get(reverse("phase2:container_verify", kwargs={"container_id": folder.pk}))
        .content.decode()
    )
    # then
    assert "Not every OB passes" in html
    assert f'id="verify-ob-{bad.pk}"' in html
    assert "Set the target&#x27;s RA and Dec (or copy a Phase 1 target)." in html


def test_submitting_a_container_submits_all_its_obs(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    obs = [_complete(phase2, _ob(phase2, name, container=folder)) for name in ("A", "B")]
    folder.refresh_from_db()
    # when
    response = _client(phase2.pi).post(
        reverse("phase2:container_submit", kwargs={"container_id": folder.pk}),
        {"version": folder.version},
        follow=True,
    )
    # then
    assert "Submitted 2 OBs for review" in response.content.decode()
    assert {o.status for o in ObservationBlock.objects.filter(pk__in=[o.pk for o in obs])} == {
        OBStatus.DEFINED
    }


def test_a_container_with_one_failing_ob_submits_none(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    good = _complete(phase2, _ob(phase2, "Good", container=folder))
    _ob(phase2, "Bad", container=folder)
    folder.refresh_from_db()
    # when
    response = _client(phase2.pi).post(
        reverse("phase2:container_submit", kwargs={"container_id": folder.pk}),
        {"version": folder.version},
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "nothing was submitted" in html
    assert "Bad (OB" in html and "Set the target&#x27;s RA and Dec" in html
    good.refresh_from_db()
    assert good.status == OBStatus.PARTIAL


def test_a_stale_container_page_submits_nothing(phase2: Phase2) -> None:
    # given
    folder = _folder(phase2, "Night 1")
    ob = _complete(phase2, _ob(phase2, "A", container=folder))
    folder.refresh_from_db()
    shown = folder.version
    services.container_update(
        container_id=folder.pk, data=ContainerData(name="Night B"), actor=phase2.coi
    )
    # when
    response = _client(phase2.pi).post(
        reverse("phase2:container_submit", kwargs={"container_id": folder.pk}),
        {"version": shown},
    )
    # then
    assert STALE in response.content.decode()
    ob.refresh_from_db()
    assert ob.status == OBStatus.PARTIAL


def test_renaming_a_container_on_its_page(phase2: Phase2) -> None:
    # given
    group = _folder(phase2, "G", ItemType.GROUP)
    url = reverse("phase2:container_edit", kwargs={"container_id": group.pk})
    # when
    bad = _client(phase2.pi).post(
        url, {"version": group.version, "name": "G2", "group_priority": "0"}
    )
    good = _client(phase2.pi).post(
        url, {"version": group.version, "name": "G2", "group_priority": "3"}
    )
    # then
    assert "Ensure this value is greater than or equal to 1." in bad.content.decode()
    assert good.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.group_priority) == ("G2", 3)


# -- a survey run: the tree in a constant number of queries --------------------------------------


def _survey(phase2: Phase2, count: int) -> None:
    """``count`` OBs in ten folders, created in bulk (test setup only)."""
    root = phase2.root(phase2.sm)
    folders = [
        Container.objects.create(
            run=phase2.sm, parent=root, item_type=ItemType.FOLDER, name=f"F{i}", position=i
        )
        for i in range(10)
    ]
    ObservationBlock.objects.bulk_create(
        ObservationBlock(
            run=phase2.sm,
            container=folders[i % 10],
            position=i,
            name=f"Field {i}",
            target_name=f"T{i}",
            status=OBStatus.REPAIR if i % 100 == 0 else OBStatus.PARTIAL,
            execution_time_s=3700.0,
        )
        for i in range(count)
    )
    repair = ObservationBlock.objects.filter(run=phase2.sm, status=OBStatus.REPAIR)
    Phase2Event.objects.bulk_create(
        Phase2Event(run=phase2.sm, ob=ob, kind="status", to_status="-", message="Fix it.")
        for ob in repair
    )


def _tree_queries(phase2: Phase2, client: Client) -> tuple[int, float, str]:
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(_tree_url(phase2))
        elapsed = time.perf_counter() - start
    assert response.status_code == 200
    return len(queries), elapsed, response.content.decode()


def test_the_tree_of_a_survey_run_takes_as_many_queries_for_2000_obs_as_for_20(
    phase2: Phase2,
) -> None:
    # given
    client = _client(phase2.pi)
    _survey(phase2, 20)
    small, _, _ = _tree_queries(phase2, client)
    ObservationBlock.objects.filter(run=phase2.sm).delete()
    Container.objects.filter(run=phase2.sm, parent__isnull=False).delete()
    _survey(phase2, 2000)
    # when
    large, elapsed, html = _tree_queries(phase2, client)
    # then
    assert large == small <= 10
    assert html.count('name="item" value="ob:') == 2000
    assert html.count("Sent back: Fix it.") == 20
    print(f"tree of 2000 OBs: {large} queries, {elapsed * 1000:.0f} ms")
    assert elapsed < 3.0  # generous on SQLite under load; ~0.1 s measured
