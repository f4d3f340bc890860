"""The long-term scheduling problem: a period's nights, telescopes and approved runs.

Pure Python (numpy only, no Django, no astropy): the sky enters as per-night arrays that an
adapter (:mod:`scheduling.engine.longterm.sky`) or a hand-written test provides.

Conventions
-----------
* Nights are indexed ``0 .. D-1`` in the order of :attr:`Problem.dates` (the local date on
  which each night begins). Per-night quantities are numpy arrays of length ``D``; sets of
  particular nights (technical, closed, preferred, impossible, pins) are ``frozenset[date]``.
* A night has two halves; a *slot* is a half-night, slot ``2 * d + h`` with ``h = 0`` for the
  first half (evening) and ``h = 1`` for the second. VM runs occupy consecutive slots: a run of
  ``n`` whole nights starts on a first half and occupies ``2n`` slots; a run of ``k + 0.5``
  nights occupies ``2k + 1`` slots and may start on either half.
* Hours are float hours; the solvers work internally in tenths of an hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np

Mode = Literal["VM", "SM"]
RankClass = Literal["A", "B", "C"]
RANK_CLASSES: tuple[RankClass, ...] = ("A", "B", "C")


class ProblemError(ValueError):
    """The problem is malformed (unknown telescope, bad array shape, duplicate run id...)."""


class ScheduleConflict(ValueError):
    """Staff pins and run links cannot all be honoured; ``conflicts`` names each culprit."""

    def __init__(self, conflicts: list[str]) -> None:
        self.conflicts = conflicts
        super().__init__("; ".join(conflicts))


@dataclass(frozen=True, eq=False)
class Telescope:
    """A telescope and its calendar.

    Parameters
    ----------
    name : str
    mounted : Mapping[str, numpy.ndarray]
        Instrument name -> bool[D], True on the nights the instrument is mounted (ready).
    technical : frozenset[date]
        Technical nights (engineering, instrument commissioning): no science.
    closed : frozenset[date]
        Closed nights (maintenance shutdown, holidays): no science.
    """

    name: str
    mounted: Mapping[str, np.ndarray]
    technical: frozenset[date] = frozenset()
    closed: frozenset[date] = frozenset()


@dataclass(frozen=True, eq=False)
class Run:
    """One approved observing run.

    Parameters
    ----------
    id : str
        Unique, e.g. ``"118.C-0042(A)"``.
    telescope, instrument : str
    mode : {"VM", "SM"}
    rank_class : {"A", "B", "C"}
    grade : float
        1.0 (best) .. 5.0 (worst).
    visible_hours : numpy.ndarray
        float[D], hours per night during astronomical night in which the run's targets are
        observable below their airmass limit (for several targets: their summed hours, capped
        at the night length).
    ra_deg : float
        Representative right ascension of the targets, degrees (SM grouping, statistics).
    max_fli : float
        Largest acceptable fraction of lunar illumination at mid-night (0.4 dark, 0.7 grey,
        1.0 bright in ESO's d / g / n convention).
    nights : float
        VM only: nights requested, a positive multiple of 0.5.
    hours : float
        SM only: hours requested.
    preferred, impossible : frozenset[date]
        VM only: nights the PI prefers / cannot observe.
    min_visible_fraction : float
        A night fits the run only if ``visible_hours`` covers at least this fraction of the
        part of the night the run would use (whole night or half night).
    """

    id: str
    telescope: str
    instrument: str
    mode: Mode
    rank_class: RankClass
    grade: float
    visible_hours: np.ndarray
    ra_deg: float = 0.0
    max_fli: float = 1.0
    nights: float = 0.0
    hours: float = 0.0
    preferred: frozenset[date] = frozenset()
    impossible: frozenset[date] = frozenset()
    min_visible_fraction: float = 0.5

    @property
    def slots(self) -> int:
        """Half-nights occupied by a VM run."""
        return int(round(2 * self.nights))


@dataclass(frozen=True)
class Link:
    """A constraint between two VM runs; both are scheduled or neither is.

    ``kind="same_nights"``: both start on the same half-night (typically on two telescopes).
    ``kind="apart"``: ``start(second) - start(first)``, in nights, lies in
    ``[min_days, max_days]`` (either bound may be None); with ``ordered=False`` the absolute
    difference is bounded instead, so either run may come first.
    """

    first: str
    second: str
    kind: Literal["same_nights", "apart"] = "same_nights"
    min_days: int | None = None
    max_days: int | None = None
    ordered: bool = True

    def describe(self) -> str:
        if self.kind == "same_nights":
            return f"link {self.first} = {self.second} (same nights)"
        rel = "after" if self.ordered else "apart from"
        lo = "-" if self.min_days is None else str(self.min_days)
        hi = "-" if self.max_days is None else str(self.max_days)
        return f"link {self.second} {lo}..{hi} nights {rel} {self.first}"


@dataclass(frozen=True)
class Pin:
    """Staff decision: VM run ``run`` starts on night ``start`` (second half if asked)."""

    run: str
    start: date
    second_half: bool = False

    def describe(self) -> str:
        half = " (second half)" if self.second_half else ""
        return f"pin {self.run} on {self.start.isoformat()}{half}"


@dataclass(frozen=True, eq=False)
class Problem:
    """A period to schedule.

    Parameters
    ----------
    dates : tuple[date, ...]
        The period's nights, consecutive, by the local date on which each begins.
    dark_hours : numpy.ndarray
        float[D], length of astronomical night (sun below -18 deg), hours.
    moon_fli : numpy.ndarray
        float[D], fraction of lunar illumination at mid-night, 0..1.
    telescopes : tuple[Telescope, ...]
    runs : tuple[Run, ...]
    links : tuple[Link, ...]
    pins : tuple[Pin, ...]
    ra_bins : int
        Number of equal RA bins used to split SM capacity and statistics (12 = 2 h bins).
    """

    dates: tuple[date, ...]
    dark_hours: np.ndarray
    moon_fli: np.ndarray
    telescopes: tuple[Telescope, ...]
    runs: tuple[Run, ...]
    links: tuple[Link, ...] = ()
    pins: tuple[Pin, ...] = ()
    ra_bins: int = 12
    _index: dict[date, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        d = len(self.dates)
        object.__setattr__(self, "_index", {day: i for i, day in enumerate(self.dates)})
        _validate(self, d)

    @property
    def n_nights(self) -> int:
        return len(self.dates)

    def night_index(self, day: date) -> int:
        """Index of the night beginning on ``day``; ProblemError if outside the period."""
        try:
            return self._index[day]
        except KeyError:
            raise ProblemError(f"{day.isoformat()} is not a night of the period") from None

    def indices(self, days: frozenset[date]) -> np.ndarray:
        """Indices of those ``days`` that fall inside the period (others are ignored)."""
        return np.array(sorted(self._index[x] for x in days if x in self._index), dtype=int)

    def run(self, run_id: str) -> Run:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise ProblemError(f"unknown run {run_id!r}")

    def telescope(self, name: str) -> Telescope:
        for t in self.telescopes:
            if t.name == name:
                return t
        raise ProblemError(f"unknown telescope {name!r}")

    def unavailable(self, telescope: str) -> np.ndarray:
        """bool[D]: technical or closed nights of ``telescope``."""
        t = self.telescope(telescope)
        out = np.zeros(self.n_nights, dtype=bool)
        out[self.indices(t.technical | t.closed)] = True
        return out

    def ra_bin(self, ra_deg: float) -> int:
        return int(np.floor((ra_deg % 360.0) / (360.0 / self.ra_bins))) % self.ra_bins

    @property
    def nominal_night_hours(self) -> float:
        """Mean astronomical-night length of the period: the worth of one VM night."""
        return float(np.mean(self.dark_hours)) if self.n_nights else 0.0


def _validate(p: Problem, d: int) -> None:
    if d == 0:
        raise ProblemError("the period has no nights")
    for i in range(1, d):
        if (p.dates[i] - p.dates[i - 1]).days != 1:
            raise ProblemError(f"nights are not consecutive at {p.dates[i].isoformat()}")
    for name, arr in (("dark_hours", p.dark_hours), ("moon_fli", p.moon_fli)):
        if np.shape(arr) != (d,):
            raise ProblemError(f"{name} has shape {np.shape(arr)}, expected ({d},)")
    names = [t.name for t in p.telescopes]
    if len(set(names)) != len(names):
        raise ProblemError("duplicate telescope names")
    for t in p.telescopes:
        for inst, mask in t.mounted.items():
            if np.shape(mask) != (d,):
                raise ProblemError(f"{t.name} {inst}: mounted mask has shape {np.shape(mask)}")
    tel = {t.name: t for t in p.telescopes}
    ids = [r.id for r in p.runs]
    if len(set(ids)) != len(ids):
        raise ProblemError("duplicate run ids")
    for r in p.runs:
        if r.telescope not in tel:
            raise ProblemError(f"run {r.id}: unknown telescope {r.telescope!r}")
        if r.instrument not in tel[r.telescope].mounted:
            raise ProblemError(f"run {r.id}: {r.instrument} is not an instrument of {r.telescope}")
        if r.mode not in ("VM", "SM"):
            raise ProblemError(f"run {r.id}: mode must be VM or SM, not {r.mode!r}")
        if r.rank_class not in RANK_CLASSES:
            raise ProblemError(f"run {r.id}: rank class must be A, B or C")
        if np.shape(r.visible_hours) != (d,):
            raise ProblemError(f"run {r.id}: visible_hours has shape {np.shape(r.visible_hours)}")
        if r.mode == "VM":
            if r.nights <= 0 or abs(2 * r.nights - round(2 * r.nights)) > 1e-9:
                raise ProblemError(f"run {r.id}: VM nights must be a positive multiple of 0.5")
        elif r.hours <= 0:
            raise ProblemError(f"run {r.id}: SM hours must be positive")
    vm = {r.id for r in p.runs if r.mode == "VM"}
    runs = {r.id: r for r in p.runs}
    for link in p.links:
        for rid in (link.first, link.second):
            if rid not in vm:
                raise ProblemError(f"{link.describe()}: {rid} is not a VM run of the problem")
        if link.first == link.second:
            raise ProblemError(f"{link.describe()}: a run cannot be linked to itself")
        if link.kind == "same_nights" and runs[link.first].telescope == runs[link.second].telescope:
            raise ProblemError(f"{link.describe()}: both runs are on the same telescope")
    seen: set[str] = set()
    for pin in p.pins:
        if pin.run not in vm:
            raise ProblemError(f"{pin.describe()}: {pin.run} is not a VM run of the problem")
        if pin.run in seen:
            raise ProblemError(f"{pin.describe()}: {pin.run} is pinned twice")
        seen.add(pin.run)
        if pin.start not in p._index:
            raise ProblemError(f"{pin.describe()}: the night is outside the period")
