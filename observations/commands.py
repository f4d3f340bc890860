"""Typed inputs of the Phase 2 services.

The same ``UNSET`` sentinel as Phase 1 (``proposals.commands``): a field left at ``UNSET`` was
not sent and keeps its stored value; the services merge the sent fields with the stored OB
under its lock, so a PATCH, a whole-OB PUT (p2's saveOB) and a page form share one path.
"""

import enum
from dataclasses import dataclass

from proposals.commands import UNSET, Maybe, _Command

__all__ = ["UNSET", "ContainerData", "ItemKind", "ItemRef", "Maybe", "OBData"]


class ItemKind(enum.StrEnum):
    """Containers and OBs have separate ids (p2's containerId and obId)."""

    CONTAINER = "container"
    OB = "ob"


@dataclass(frozen=True)
class ItemRef:
    """One item of a container: a child container or an OB."""

    kind: ItemKind
    id: int

    @classmethod
    def ob(cls, pk: int) -> "ItemRef":
        return cls(ItemKind.OB, pk)

    @classmethod
    def container(cls, pk: int) -> "ItemRef":
        return cls(ItemKind.CONTAINER, pk)


@dataclass(frozen=True, kw_only=True)
class OBData(_Command):
    """An OB's own fields. ``ra``/``dec`` in sexagesimal (``"08:41:32.4"``, ``"-32:56:33"``)
    or degrees (``None`` clears them); proper motions in arcsec/yr; ``sky_transparency`` by
    p2's names (Photometric, Clear, Thin, Variable); delays in seconds."""

    name: Maybe[str] = UNSET
    # target
    target_name: Maybe[str] = UNSET
    ra: Maybe[str | float | None] = UNSET
    dec: Maybe[str | float | None] = UNSET
    pm_ra: Maybe[float] = UNSET
    pm_dec: Maybe[float] = UNSET
    equinox: Maybe[str] = UNSET
    epoch: Maybe[float] = UNSET
    # constraint set
    max_airmass: Maybe[float] = UNSET
    seeing_arcsec: Maybe[float] = UNSET
    sky_transparency: Maybe[str] = UNSET
    max_fli: Maybe[float] = UNSET
    min_moon_distance_deg: Maybe[float] = UNSET
    twilight_min: Maybe[float] = UNSET
    water_vapour_mm: Maybe[float] = UNSET
    # description and scheduling
    user_priority: Maybe[int] = UNSET
    user_comments: Maybe[str] = UNSET
    contribution: Maybe[float] = UNSET  # in a Group
    min_delay_s: Maybe[int] = UNSET  # in a TimeLink, after the previous OB's execution
    max_delay_s: Maybe[int | None] = UNSET


@dataclass(frozen=True, kw_only=True)
class ContainerData(_Command):
    name: Maybe[str] = UNSET
    group_priority: Maybe[int] = UNSET  # Groups only: 1 is executed first
