"""Phase 2 REST API under ``/api/v1/phase2/``: the read side (``read``) and the writes, each
a module extending the read side's viewset of its resource (``containers``; ``obs``,
``templates`` and ``parts`` for an OB), joined here into one viewset per resource."""

from typing import Any

from observations.api.containers import ContainerViews
from observations.api.executions import ExecutionViews
from observations.api.obs import OBWriteViews
from observations.api.parts import PartViews
from observations.api.read import (
    InstrumentPackageViewSet,
    Phase2ContainerItemSerializer,
    Phase2OBItemSerializer,
    Phase2RunViewSet,
    Phase2TreeSerializer,
    container_item_data,
    ob_item_data,
    tree_data,
)
from observations.api.templates import TemplateViews

__all__ = [
    "Phase2ContainerItemSerializer",
    "Phase2OBItemSerializer",
    "Phase2TreeSerializer",
    "container_item_data",
    "ob_item_data",
    "register",
    "tree_data",
]


class Phase2OBViewSet(OBWriteViews, TemplateViews, PartViews, ExecutionViews):
    """An Observation Block: read, saved, deleted, duplicated, moved, verified, submitted,
    revised, reviewed; its templates, time windows and finding charts; its executions at
    night. ``ETag``: the OB's version (every write bumps it, a status change and any change of
    its parts included)."""


def register(router: Any) -> None:
    """The Phase 2 resources, under ``phase2/`` of the API router."""
    router.register("phase2/runs", Phase2RunViewSet, basename="phase2-run")
    router.register("phase2/containers", ContainerViews, basename="phase2-container")
    router.register("phase2/obs", Phase2OBViewSet, basename="phase2-ob")
    router.register(
        "phase2/instrument-packages", InstrumentPackageViewSet, basename="phase2-package"
    )
