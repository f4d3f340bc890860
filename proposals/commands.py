"""Typed inputs of the Phase 1 services: one frozen dataclass per kind of write.

A field left at ``UNSET`` was not sent: on create it takes the default, on update it keeps the
stored value. The services merge these with the stored object under its row lock, so a PATCH
(only some fields) and a PUT or a page form (every field) go through the same rules.
"""

import enum
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeAlias, TypeVar


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET
T = TypeVar("T")
Maybe: TypeAlias = T | Literal[_Unset.UNSET]


class _Command:
    def sent(self) -> dict[str, Any]:
        """The fields that were given, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)  # type: ignore[arg-type]  # every subclass is a dataclass
            if getattr(self, f.name) is not UNSET
        }


@dataclass(frozen=True, kw_only=True)
class ProposalData(_Command):
    """The proposal's own text fields."""

    title: Maybe[str] = UNSET
    abstract: Maybe[str] = UNSET
    category: Maybe[str] = UNSET
    proposal_type: Maybe[str] = UNSET
    scientific_justification: Maybe[str] = UNSET
    keywords: Maybe[list[str]] = UNSET


@dataclass(frozen=True, kw_only=True)
class TargetData(_Command):
    """A target; ``ra``/``dec`` as sexagesimal strings or degrees (parsed by the service)."""

    name: Maybe[str] = UNSET
    ra: Maybe[str | float | int] = UNSET
    dec: Maybe[str | float | int] = UNSET
    magnitude: Maybe[float | None] = UNSET
    pm_ra_mas_yr: Maybe[float] = UNSET
    pm_dec_mas_yr: Maybe[float] = UNSET


@dataclass(frozen=True, kw_only=True)
class RunData(_Command):
    """An observing run. ``telescope`` and ``instrument`` by id or name; ``hours`` for service
    mode, ``nights`` and dates for visitor mode (the service refuses the other mode's fields)."""

    telescope: Maybe[int | str] = UNSET
    instrument: Maybe[int | str] = UNSET
    mode: Maybe[str] = UNSET
    hours: Maybe[float | None] = UNSET
    nights: Maybe[float | None] = UNSET
    max_fli: Maybe[float] = UNSET
    max_seeing_arcsec: Maybe[float] = UNSET
    transparency: Maybe[str] = UNSET
    max_airmass: Maybe[float] = UNSET
    target_ids: Maybe[list[int]] = UNSET
    preferred_dates: Maybe[list[str] | str] = UNSET
    impossible_dates: Maybe[list[str] | str] = UNSET
