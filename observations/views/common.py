"""What the Phase 2 pages share: who may see and change what (through ``observations.access``
and the selectors: an object someone may not read is a 404, a reader who may not write gets a
403 before any input is read), and the page-shaped reads that are not a service's business
(the last send-back message, events, the breakdown of the execution time, the tree as rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.safestring import SafeString, mark_safe

from dataflow.permissions import signed_in
from observations import access, exectime, selectors
from observations import status as st
from observations.models import (
    Container,
    FindingChart,
    ItemType,
    ObservationBlock,
    Phase2Event,
    Template,
)
from observations.selectors import OBItem, TreeContainer
from proposals.models import ObservingRun

WRITE_REFUSED = "Only the PI and co-investigators of the run change its Phase 2 material."

# Status codes as CSS class names ("+" and "-" are not valid in class names).
STATUS_CLASS = {
    st.PARTIAL: "st-p",
    st.DEFINED: "st-d",
    st.ACCEPTED: "st-acc",
    st.REPAIR: "st-rep",
    st.STARTED: "st-s",
    st.COMPLETED: "st-c",
    st.MUST_REPEAT: "st-m",
    st.ABORTED: "st-a",
    st.FAILED: "st-f",
    st.CANCELLED: "st-k",
}


def actor(request: HttpRequest) -> User:
    return signed_in(request.user)


def visible_run(request: HttpRequest, pk: int) -> ObservingRun:
    """An open run the user may read (``observations.access.readable_runs_q``)."""
    try:
        return (
            ObservingRun.objects.filter(access.readable_runs_q(request.user))
            .select_related("proposal__period", "telescope", "instrument", "decision")
            .get(pk=pk)
        )
    except ObservingRun.DoesNotExist as exc:
        raise Http404("No such run.") from exc


def visible_ob(request: HttpRequest, pk: int) -> ObservationBlock:
    try:
        return selectors.visible_ob(request.user, pk)
    except ObservationBlock.DoesNotExist as exc:
        raise Http404("No such OB.") from exc


def visible_container(request: HttpRequest, pk: int) -> Container:
    try:
        return selectors.visible_container(request.user, pk)
    except Container.DoesNotExist as exc:
        raise Http404("No such container.") from exc


def ensure_writer(request: HttpRequest, run: ObservingRun) -> None:
    """Writes are for the run's investigators: readers who are not (staff) get a 403 before
    the form is read (the service would refuse them too)."""
    if not access.may_write(request.user, run):
        raise PermissionDenied(WRITE_REFUSED)


def hms(seconds: float) -> str:
    """A duration as h:mm:ss."""
    total = int(round(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


# --------------------------------------------------------------------------------------------
# Send-back messages, events, container paths
# --------------------------------------------------------------------------------------------


def send_back_notes(run_id: int) -> dict[int, str]:
    """The last send-back message of every OB of the run (one query)."""
    rows = (
        Phase2Event.objects.filter(run_id=run_id, to_status=st.REPAIR, ob__isnull=False)
        .order_by("at", "pk")
        .values_list("ob_id", "message")
    )
    return {ob_id: message for ob_id, message in rows if ob_id is not None}


def last_send_back(ob: ObservationBlock) -> Phase2Event | None:
    return (
        Phase2Event.objects.filter(ob=ob, to_status=st.REPAIR)
        .select_related("actor")
        .order_by("-at", "-pk")
        .first()
    )


def ob_events(ob: ObservationBlock, limit: int = 30) -> list[Phase2Event]:
    return list(
        Phase2Event.objects.filter(ob=ob).select_related("actor").order_by("-at", "-pk")[:limit]
    )


@dataclass(frozen=True, slots=True)
class Crumb:
    id: int
    name: str
    item_type: str


def container_path(run_id: int, container_id: int) -> list[Crumb]:
    """The containers from the root folder down to ``container_id`` (one query)."""
    rows = Container.objects.filter(run_id=run_id).values_list(
        "pk", "parent_id", "name", "item_type"
    )
    nodes = {pk: (parent, name, kind) for pk, parent, name, kind in rows}
    path: list[Crumb] = []
    node: int | None = container_id
    while node is not None and node in nodes and len(path) <= len(nodes):
        parent, name, kind = nodes[node]
        path.append(Crumb(node, name, kind))
        node = parent
    return path[::-1]


def charts(ob: ObservationBlock) -> list[FindingChart]:
    """The OB's finding charts without their content."""
    return list(FindingChart.objects.filter(ob=ob).only("id", "name", "size", "ob"))


# --------------------------------------------------------------------------------------------
# Templates and the execution time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    breakdown: exectime.Breakdown
    overheads_known: bool


def templates_and_timing(
    ob: ObservationBlock, run: ObservingRun
) -> tuple[list[selectors.TemplateView], Timing]:
    """The OB's templates with their parameters, and its execution time line by line
    (``observations.exectime``, as the services compute it): two queries."""
    templates = list(Template.objects.filter(ob=ob).select_related("signature"))
    views = [selectors.template_view(t) for t in templates]
    breakdown, known = selectors.ob_breakdown(ob, templates)
    return views, Timing(breakdown, known)


# --------------------------------------------------------------------------------------------
# The tree as rows
# --------------------------------------------------------------------------------------------


def _badge(status: str) -> str:
    label = escape(st.LABELS.get(status, ""))
    return (
        f'<span class="badge ob-status {STATUS_CLASS.get(status, "")}" title="{label}">'
        f"{escape(status)}</span>"
    )


_BADGES = {status: _badge(status) for status in st.STATUSES}


def tree_rows_html(
    root: TreeContainer,
    notes: dict[int, str],
    *,
    ob_url: str,
    container_url: str,
    selectable: bool,
) -> SafeString:
    """Every item below the root folder as a table row, in page order, indented by depth;
    ``ob_url``/``container_url``: URL prefixes the id is appended to; ``selectable``: with
    the checkboxes of the tree's actions (``kind:id:version``).

    Formatted here rather than in a template loop: Django's template engine resolves each
    variable through the context stack, about a second for the 40,000 lookups of a 2,000-OB
    run, where this takes milliseconds. Every text from the database is escaped. No
    recursion: folders may nest deeply."""
    out: list[str] = []
    stack: list[tuple[TreeContainer | OBItem, int]] = [(item, 0) for item in reversed(root.items)]
    while stack:
        item, depth = stack.pop()
        name = escape(item.name)
        status = item.status or ""
        if isinstance(item, OBItem):
            kind, item_type, url = "ob", "OB", f"{ob_url}{item.id}/"
            extra = ""
            if status == st.REPAIR and item.id in notes:
                extra = (
                    f'<div class="sendback" role="note">Sent back: {escape(notes[item.id])}</div>'
                )
            target, seconds = escape(item.target_name), item.execution_time_s
        else:
            kind, item_type, url = "container", escape(item.item_type), f"{container_url}{item.id}/"
            n = item.total_obs
            extra = f' <span class="small muted">{n} OB{"" if n == 1 else "s"}</span>'
            target, seconds = "", item.total_execution_time_s
            stack.extend((child, depth + 1) for child in reversed(item.items))
        box = (
            f'<input type="checkbox" name="item" value="{kind}:{item.id}:{item.version}" '
            f'id="sel-{kind}-{item.id}" aria-label="Select {name}">'
            if selectable
            else ""
        )
        out.append(
            f'<tr id="item-{kind}-{item.id}" class="{kind} {STATUS_CLASS.get(status, "")}" '
            f'data-depth="{depth}"><td class="sel">{box}</td>'
            f'<td class="name" style="--d:{depth}"><span class="kind kind-{item_type}">'
            f'{item_type}</span> <a href="{url}">{name}</a>{extra}</td>'
            f"<td>{_BADGES.get(status, '') if status else ''}</td><td>{target}</td>"
            f'<td class="num mono">{hms(seconds)}</td></tr>\n'
        )
    return mark_safe("".join(out))  # built from escaped parts above


def containers_of(root: TreeContainer | None) -> list[TreeContainer]:
    """Every container of the tree, the root folder first, in page order."""
    if root is None:
        return []
    found: list[TreeContainer] = []
    stack = [root]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(item for item in reversed(node.items) if isinstance(item, TreeContainer))
    return found


def container_choices(root: TreeContainer | None) -> list[tuple[int, str]]:
    """(id, label) of every container for the page's selects, indented by depth."""
    depth: dict[int, int] = {}
    choices = []
    for node in containers_of(root):
        level = 0 if node.parent_id is None else depth.get(node.parent_id, 0) + 1
        depth[node.id] = level
        label = "the run's root folder" if node.parent_id is None else node.name
        kind = "" if node.item_type == ItemType.FOLDER else f" ({node.item_type})"
        choices.append((node.id, f"{'— ' * level}{label}{kind}"))
    return choices


def parents_of(root: TreeContainer | None) -> dict[tuple[str, int], int]:
    """(kind, id) of every item -> the id of the container holding it."""
    out: dict[tuple[str, int], int] = {}
    for node in containers_of(root):
        for item in node.items:
            kind = "ob" if isinstance(item, OBItem) else "container"
            out[(kind, item.id)] = node.id
    return out


def find_container(root: TreeContainer | None, pk: int) -> TreeContainer | None:
    return next((c for c in containers_of(root) if c.id == pk), None)


def sort_for_delete(
    refs: Iterable[tuple[str, int]], root: TreeContainer | None
) -> list[tuple[str, int]]:
    """OBs first, then containers deepest first: a container is empty when its turn comes."""
    depth: dict[int, int] = {}
    for node in containers_of(root):
        depth[node.id] = 0 if node.parent_id is None else depth.get(node.parent_id, 0) + 1
    return sorted(refs, key=lambda r: (r[0] != "ob", -depth.get(r[1], 0)))
