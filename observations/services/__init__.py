"""Every write of Phase 2: the run's tree of containers, its OBs, their templates and status.

Each service runs in one transaction and locks the run's row first: all Phase 2 writes of a
run are serialised by that lock (positions in a container, versions and moves between
containers cannot race), then it locks the rows it changes. It decides who may act with
``observations.access``, checks ``expected_version`` (the API's If-Match: a stale one raises
``StaleVersion``, 412), applies the rules (``observations.status`` for statuses and
editability), bumps ``version`` of every object it changes (an OB's also when its templates
or status change; a container's when its items change) and writes one ``Phase2Event``.
"""

from observations.services.base import (
    EventKind,
    current_ip_version,
    ensure_may_edit_ob,
)
from observations.services.ob import (
    ob_copy_target_from_phase1,
    ob_update,
    ob_verify,
)
from observations.services.statuses import (
    ContainerVerification,
    container_accept,
    container_revise,
    container_submit,
    container_verify,
    ob_accept,
    ob_revise,
    ob_send_back,
    ob_set_short_waiver,
    ob_submit,
)
from observations.services.templates import (
    template_add,
    template_delete,
    template_reorder,
    template_set_values,
)
from observations.services.tree import (
    container_create,
    container_update,
    item_delete,
    item_duplicate,
    item_move,
    item_rename,
    items_reorder,
    ob_create,
    root_folder,
)

__all__ = [
    "EventKind",
    "ensure_may_edit_ob",
    "current_ip_version",
    "root_folder",
    "container_create",
    "container_update",
    "ob_create",
    "item_rename",
    "item_move",
    "items_reorder",
    "item_duplicate",
    "item_delete",
    "ob_update",
    "ob_copy_target_from_phase1",
    "ob_verify",
    "ob_submit",
    "ob_revise",
    "ob_accept",
    "ob_send_back",
    "ContainerVerification",
    "container_verify",
    "container_submit",
    "container_accept",
    "container_revise",
    "ob_set_short_waiver",
    "template_add",
    "template_set_values",
    "template_delete",
    "template_reorder",
]
