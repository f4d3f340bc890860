"""Hand-made long-term problems from explicit per-night arrays (no astropy)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from scheduling.engine.longterm.problem import Link, Pin, Problem, Run, Telescope

START = date(2026, 4, 1)


def day(i: int) -> date:
    return START + timedelta(days=i)


def days(*indices: int) -> frozenset[date]:
    return frozenset(day(i) for i in indices)


def telescope(
    name: str = "UT1",
    n: int = 10,
    instruments: dict[str, np.ndarray] | None = None,
    technical: tuple[int, ...] = (),
    closed: tuple[int, ...] = (),
) -> Telescope:
    mounted = instruments if instruments is not None else {"FORS2": np.ones(n, dtype=bool)}
    return Telescope(name, mounted, technical=days(*technical), closed=days(*closed))


def vm(
    rid: str,
    nights: float = 1.0,
    *,
    n: int = 10,
    telescope: str = "UT1",
    instrument: str = "FORS2",
    rank_class: str = "B",
    grade: float = 2.0,
    max_fli: float = 1.0,
    visible: np.ndarray | float = 8.0,
    preferred: frozenset[date] = frozenset(),
    impossible: frozenset[date] = frozenset(),
    ra_deg: float = 90.0,
) -> Run:
    hours = np.broadcast_to(np.asarray(visible, dtype=float), (n,)).copy()
    return Run(
        id=rid,
        telescope=telescope,
        instrument=instrument,
        mode="VM",
        rank_class=rank_class,  # type: ignore[arg-type]
        grade=grade,
        visible_hours=hours,
        ra_deg=ra_deg,
        max_fli=max_fli,
        nights=nights,
        preferred=preferred,
        impossible=impossible,
    )


def sm(
    rid: str,
    hours: float,
    *,
    n: int = 10,
    telescope: str = "UT1",
    instrument: str = "FORS2",
    rank_class: str = "B",
    grade: float = 2.0,
    max_fli: float = 1.0,
    visible: np.ndarray | float = 10.0,
    ra_deg: float = 90.0,
) -> Run:
    vis = np.broadcast_to(np.asarray(visible, dtype=float), (n,)).copy()
    return Run(
        id=rid,
        telescope=telescope,
        instrument=instrument,
        mode="SM",
        rank_class=rank_class,  # type: ignore[arg-type]
        grade=grade,
        visible_hours=vis,
        ra_deg=ra_deg,
        max_fli=max_fli,
        hours=hours,
    )


def problem(
    runs: list[Run],
    *,
    n: int = 10,
    telescopes: list[Telescope] | None = None,
    moon: np.ndarray | None = None,
    dark: float = 10.0,
    links: tuple[Link, ...] = (),
    pins: tuple[Pin, ...] = (),
) -> Problem:
    return Problem(
        dates=tuple(day(i) for i in range(n)),
        dark_hours=np.full(n, dark),
        moon_fli=np.zeros(n) if moon is None else np.asarray(moon, dtype=float),
        telescopes=tuple(telescopes if telescopes is not None else [telescope(n=n)]),
        runs=tuple(runs),
        links=links,
        pins=pins,
    )


def nights_of(start: int, nights: float) -> list[int]:
    """Night indices a VM run starting at slot ``start`` uses."""
    return sorted({s // 2 for s in range(start, start + int(round(2 * nights)))})
