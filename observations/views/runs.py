"""The astronomers' Phase 2 pages for runs and containers: the list of their open runs, a
run's tree (built, renamed, moved, reordered, duplicated and deleted from there), and a
container's page (rename, verify and submit every OB under it).

Thin: visibility through the selectors (404), writes for the run's investigators only (403 for
other readers), every write through a service whose refusal goes back onto the page's form and
changes nothing. The tree page renders from ``selectors.run_tree`` (two queries however many
OBs) plus one query for the send-back messages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dataflow.errors import DomainError, InvalidInput
from observations import access, selectors, services
from observations import status as st
from observations.commands import ContainerData, ItemKind, ItemRef
from observations.forms import (
    GONE_MESSAGE,
    ContainerForm,
    CreateItemForm,
    TreeActionForm,
    VersionForm,
    put_errors,
)
from observations.models import Container, ItemType
from observations.selectors import OBItem, TreeContainer
from observations.views.common import (
    STATUS_CLASS,
    actor,
    container_choices,
    container_path,
    containers_of,
    ensure_writer,
    find_container,
    hms,
    parents_of,
    send_back_notes,
    sort_for_delete,
    tree_rows_html,
    visible_container,
    visible_run,
)
from proposals.models import Mode, ObservingRun

# --- the list of runs ---------------------------------------------------------------------


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    """The open runs the user may read (their own; staff: all)."""
    return render(request, "observations/runs.html", {"runs": selectors.phase2_runs(request.user)})


# --- a run's tree ---------------------------------------------------------------------------


def _tree_url(run: ObservingRun) -> str:
    return reverse("phase2:run", kwargs={"phase2_run_id": run.pk})


def _tree_page(
    request: HttpRequest,
    run: ObservingRun,
    tree: TreeContainer | None,
    **overrides: Any,
) -> HttpResponse:
    may_write = access.may_write(request.user, run)
    choices = container_choices(tree)
    rows_html = (
        tree_rows_html(
            tree,
            send_back_notes(run.pk),
            ob_url=reverse("phase2:ob", kwargs={"ob_id": 0}).removesuffix("0/"),
            container_url=reverse("phase2:container", kwargs={"container_id": 0}).removesuffix(
                "0/"
            ),
            selectable=may_write,
        )
        if tree is not None
        else ""
    )
    context: dict[str, Any] = {
        "run": run,
        "tree": tree,
        "has_items": bool(tree and tree.items),
        "rows_html": rows_html,
        "may_write": may_write,
        "total_execution": hms(tree.total_execution_time_s) if tree else hms(0),
        "create_form": CreateItemForm(containers=choices, visitor_mode=run.mode == Mode.VM),
        "action_form": TreeActionForm(containers=choices),
        "container_versions": [(c.id, c.version) for c in containers_of(tree)],
    }
    context.update(overrides)
    return render(request, "observations/tree.html", context)


@login_required
def run_tree(request: HttpRequest, phase2_run_id: int) -> HttpResponse:
    run = visible_run(request, phase2_run_id)
    return _tree_page(request, run, selectors.run_tree(run))


@login_required
@require_POST
def item_create(request: HttpRequest, phase2_run_id: int) -> HttpResponse:
    """A new OB (then its editor) or container (then the tree) at the end of a container."""
    run = visible_run(request, phase2_run_id)
    ensure_writer(request, run)
    tree = selectors.run_tree(run)
    form = CreateItemForm(
        request.POST, containers=container_choices(tree), visitor_mode=run.mode == Mode.VM
    )
    if form.is_valid():
        data = form.cleaned_data
        user = actor(request)
        try:
            parent_id = data["parent"]
            if parent_id is None:
                parent_id = services.root_folder(run=run, actor=user).pk
            if data["item_type"] == ItemType.OB:
                ob = services.ob_create(container_id=parent_id, name=data["name"], actor=user)
            else:
                container = services.container_create(
                    parent_id=parent_id, item_type=data["item_type"], name=data["name"], actor=user
                )
        except DomainError as exc:
            put_errors(form, exc, {"item_type": "item_type", "parent": "parent"})
        except ObjectDoesNotExist:
            form.add_error(None, GONE_MESSAGE)
        else:
            if data["item_type"] == ItemType.OB:
                messages.success(request, f"OB '{ob.name}' created: define it below.")
                return redirect("phase2:ob", ob_id=ob.pk)
            messages.success(request, f"{container.item_type} '{container.name}' created.")
            return redirect(f"{_tree_url(run)}#item-container-{container.pk}")
    return _tree_page(request, run, tree, create_form=form)


def _reordered(items: list[ItemRef], chosen: set[ItemRef], up: bool) -> list[ItemRef]:
    """Each chosen item one place up (or down), past an unchosen neighbour."""
    order = list(items) if up else list(reversed(items))
    for i in range(1, len(order)):
        if order[i] in chosen and order[i - 1] not in chosen:
            order[i - 1], order[i] = order[i], order[i - 1]
    return order if up else list(reversed(order))


def _apply(form: TreeActionForm, tree: TreeContainer | None, request: HttpRequest) -> str:
    """Run the form's action on every ticked item; the caller's transaction makes it all or
    nothing. Returns the success message."""
    user = actor(request)
    action = form.cleaned_data["action"]
    selected = form.selected
    parents = parents_of(tree)
    # The first write checks its posted version and locks the run until the end of the
    # transaction; the containers our own earlier writes changed (a move's source and
    # destination, a parent) are then checked no more against what the page showed.
    touched: set[int] = set()

    def version(kind: ItemKind, pk: int, posted: int) -> int | None:
        return None if kind == ItemKind.CONTAINER and pk in touched else posted

    def parent(ref: ItemRef) -> int:
        found = parents.get((ref.kind.value, ref.id))
        if found is None:
            raise ObjectDoesNotExist(f"{ref.kind} {ref.id}")
        return found

    count = len(selected)
    noun = f"{count} item{'' if count == 1 else 's'}"
    if action == "rename":
        item = selected[0]
        services.item_rename(
            item=item.ref,
            name=form.cleaned_data["name"],
            actor=user,
            expected_version=item.version,
        )
        return f"Renamed to '{form.cleaned_data['name'].strip()}'."
    if action == "move":
        to = form.cleaned_data["to"]
        # Containers first, each before those inside it (page order): moving a folder
        # changes neither the versions of the items in it nor their containers.
        order = {c.id: i for i, c in enumerate(containers_of(tree))}
        for item in sorted(
            selected, key=lambda s: (s.ref.kind != ItemKind.CONTAINER, order.get(s.ref.id, 0))
        ):
            source = parent(item.ref)
            services.item_move(
                item=item.ref,
                to_container_id=to,
                actor=user,
                expected_version=version(item.ref.kind, item.ref.id, item.version),
            )
            touched.update({source, to})
        target = find_container(tree, to)
        where = (
            "the run's root folder"
            if target and target.parent_id is None
            else (f"'{target.name}'" if target else "the container")
        )
        return f"Moved {noun} to {where}."
    if action in ("up", "down"):
        chosen = {s.ref for s in selected}
        by_parent: dict[int, set[ItemRef]] = {}
        for item in selected:
            by_parent.setdefault(parent(item.ref), set()).add(item.ref)
        moved = False
        for container_id in by_parent:
            node = find_container(tree, container_id)
            assert node is not None
            items = [
                ItemRef.ob(i.id) if i.item_type == ItemType.OB else ItemRef.container(i.id)
                for i in node.items
            ]
            reordered = _reordered(items, chosen, up=action == "up")
            if reordered != items:
                services.items_reorder(
                    container_id=container_id,
                    items=reordered,
                    actor=user,
                    expected_version=form.container_versions.get(container_id),
                )
                moved = True
        if not moved:
            edge = "first" if action == "up" else "last"
            raise InvalidInput(f"Already {edge} in their container: nothing to move.")
        return f"Moved {noun} {action}."
    if action == "duplicate":
        for item in selected:
            source = parent(item.ref)
            services.item_duplicate(
                item=item.ref,
                actor=user,
                expected_version=version(item.ref.kind, item.ref.id, item.version),
            )
            touched.add(source)
        return f"Duplicated {noun}: the copies are at the end of their containers, OBs as 'P'."
    # delete
    versions = {(s.ref.kind.value, s.ref.id): s.version for s in selected}
    for kind, pk in sort_for_delete(versions, tree):
        ref = ItemRef(ItemKind(kind), pk)
        source = parent(ref)
        services.item_delete(
            item=ref, actor=user, expected_version=version(ref.kind, pk, versions[(kind, pk)])
        )
        touched.add(source)
    return f"Deleted {noun}."


@login_required
@require_POST
def tree_action(request: HttpRequest, phase2_run_id: int) -> HttpResponse:
    """Rename, move, reorder, duplicate or delete the items ticked on the tree page."""
    run = visible_run(request, phase2_run_id)
    ensure_writer(request, run)
    tree = selectors.run_tree(run)
    form = TreeActionForm(request.POST, containers=container_choices(tree))
    if form.is_valid():
        try:
            with transaction.atomic():
                done = _apply(form, tree, request)
        except DomainError as exc:
            put_errors(form, exc, {"container": "to", "name": "name"})
        except ObjectDoesNotExist:
            form.add_error(None, GONE_MESSAGE)
        else:
            messages.success(request, done)
            return redirect(_tree_url(run))
        tree = selectors.run_tree(run)  # as it is now: nothing of the refused action was kept
    return _tree_page(request, run, tree, action_form=form)


# --- a container ----------------------------------------------------------------------------


def _container_page(request: HttpRequest, container: Container, **overrides: Any) -> HttpResponse:
    run = container.run
    may_write = access.may_write(request.user, run)
    items = selectors.container_items(container)
    obs_statuses = [i.status for i in items if isinstance(i, OBItem)]
    status = selectors.container_status(container.item_type, obs_statuses) or ""
    rows = [
        {
            "item": i,
            "kind": "ob" if i.item_type == ItemType.OB else "container",
            "status_class": STATUS_CLASS.get(i.status or "", ""),
            "status_label": st.LABELS.get(i.status or "", ""),
            "execution": hms(i.execution_time_s) if isinstance(i, OBItem) else "",
        }
        for i in items
    ]
    form = ContainerForm(
        initial={
            "name": container.name,
            "group_priority": container.group_priority,
            "version": container.version,
        },
        item_type=container.item_type,
    )
    if not may_write or container.parent_id is None:
        for field in form.fields.values():
            field.disabled = True
    context: dict[str, Any] = {
        "run": run,
        "container": container,
        "path": container_path(run.pk, container.pk),
        "status": status,
        "status_class": STATUS_CLASS.get(status, ""),
        "status_label": st.LABELS.get(status, ""),
        "rows": rows,
        "may_write": may_write,
        "form": form,
        "submit_form": VersionForm(initial={"version": container.version}),
        "verification": None,
        "submit_errors": [],
    }
    context.update(overrides)
    report = context["verification"]
    if report is not None:
        context["verification_rows"] = [
            (pk, report.names.get(pk, f"OB {pk}"), r)
            for pk, r in report.obs.items()
            if r.errors or r.warnings
        ]
    return render(request, "observations/container.html", context)


def _container_url(container: Container) -> str:
    return reverse("phase2:container", kwargs={"container_id": container.pk})


@login_required
def container_detail(request: HttpRequest, container_id: int) -> HttpResponse:
    return _container_page(request, visible_container(request, container_id))


@login_required
@require_POST
def container_edit(request: HttpRequest, container_id: int) -> HttpResponse:
    """Rename a container (and a Group's priority)."""
    container = visible_container(request, container_id)
    ensure_writer(request, container.run)
    form = ContainerForm(request.POST, item_type=container.item_type)
    if form.is_valid():
        try:
            services.container_update(
                container_id=container.pk,
                data=ContainerData(**form.sent()),
                actor=actor(request),
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, "Container saved.")
            return redirect(_container_url(container))
    return _container_page(request, container, form=form)


@login_required
def container_verify(request: HttpRequest, container_id: int) -> HttpResponse:
    """Verify every OB under the container (nothing changes)."""
    container = visible_container(request, container_id)
    report = services.container_verify(container_id=container.pk, actor=actor(request))
    return _container_page(request, container, verification=report)


@login_required
@require_POST
def container_submit(request: HttpRequest, container_id: int) -> HttpResponse:
    """Submit every OB under the container in P or -: all of them, or none."""
    container = visible_container(request, container_id)
    ensure_writer(request, container.run)
    form = VersionForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            submitted, report = services.container_submit(
                container_id=container.pk,
                actor=actor(request),
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            errors = exc.errors.get("verification", [])
            if errors:
                form.add_error(None, exc.message)
            else:
                put_errors(form, exc)
        else:
            warned = sum(1 for r in report.obs.values() if r.warnings)
            note = f" ({warned} with warnings: see each OB's verification)" if warned else ""
            messages.success(
                request,
                f"Submitted {len(submitted)} OB{'' if len(submitted) == 1 else 's'} for review: "
                f"now defined ('D'){note}.",
            )
            return redirect(_container_url(container))
    return _container_page(request, container, submit_form=form, submit_errors=errors)
