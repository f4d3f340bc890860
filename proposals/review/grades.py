"""Grade aggregation and ranking for proposal review: a pure core (numpy, no Django).

Grades run from 1.0 (best) to 5.0 (worst). Everything here takes frozen dataclasses and plain
numbers; the services turn querysets into ``Grade`` and ``Request`` rows and store or render
the results. Reviewer ids go in and come out (``normalise`` keys): keeping them away from PIs
is the caller's job.

Per-reviewer normalisation
--------------------------
Some reviewers grade leniently, some harshly, some use the whole scale and some a narrow
band. Each reviewer's grades are mapped linearly onto the panel's mean and spread, where the
panel is every grade passed in (pass one panel's grades per call)::

    g' = m + (g - m_r) * s / s_r          then clipped to [1.0, 5.0]

``m``, ``s``: mean and population standard deviation of all grades passed in;
``m_r``, ``s_r``: the same over reviewer r's grades. A reviewer's normalised grades therefore
have the panel's mean and spread (before clipping), and their order of papers is kept.

Two cases cannot be scaled:

- A reviewer with fewer than ``min_grades`` grades (default 3) is **left unchanged**
  (``g' = g``). With one or two grades their mean says more about the papers they happened to
  read than about their leniency; shifting would even turn a single grade into exactly the
  panel mean, erasing it.
- A reviewer with ``min_grades`` or more grades that are all equal (``s_r == 0``, up to
  ``1e-9``) is **only shifted**: ``g' = g - m_r + m``, i.e. every grade becomes ``m``. Their
  level is measured, but there is no spread to scale (the formula would divide by zero),
  and "all papers alike" is what they said.

Clipping keeps a reviewer with an extreme grade far from their own narrow band inside the
scale (it can make two of their grades equal at 1.0 or 5.0, never reverse them).

A paper's score (``score_papers``)
----------------------------------
``raw`` and ``normalised`` list the paper's grades side by side in reviewer-id order;
``mean``, ``median`` and ``spread`` (population std, 0 for one grade) are over the normalised
grades, ``raw_mean`` over the raw ones. ``disagreement`` is set when the raw grades span at
least ``disagreement_range`` (default 1.5 grade units): the panel should discuss it. Papers
are sorted best (lowest mean) first; means equal to 1e-9 are ties, broken by paper id.

Cut and triage lines (``rank_requests``)
----------------------------------------
Per key (a telescope, or a category), the requests of the papers in the given order (best
first) are accumulated: ``cumulative_hours`` of a line includes its own hours. With ``A`` the
available hours of the key:

- ``above_cut``: ``cumulative_hours <= A``. The cut line falls after the last paper whose
  cumulative time fits; a paper that straddles the line (the available time ends inside its
  request) is **below** it, and so is every paper after it.
- ``above_triage``: ``cumulative_hours <= triage_share * A`` (ESO draws the triage line where
  the cumulative request reaches a share of the available time; default 1.5): the papers
  discussed at the meeting. The same straddling rule applies.

Equality counts as fitting (to 1e-9 h, so that float sums such as 0.1 + 0.2 do not fall off).
A paper with several requests under one key (several runs on a telescope) is one line with
their sum; a paper with requests under two keys is a line in each.

``pressure`` is requested / available hours per key, ``quartile`` the quarter of a ranked
list a rank falls in (for the outcome letter).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GRADE_BEST = 1.0
GRADE_WORST = 5.0
#: Spreads below this are zero: float noise, e.g. np.std([2.3, 2.3, 2.3]) may be 4e-16.
_FLAT = 1e-9
#: Tolerance on grade ranges, means and hours (float sums such as 2.8 - 1.3 = 1.4999999999999998).
_EPS = 1e-9


@dataclass(frozen=True)
class Grade:
    """One reviewer's grade of one proposal."""

    paper: int  # proposal id
    reviewer: int  # reviewer id (never shown to PIs; the caller takes care)
    value: float  # 1.0 best .. 5.0 worst, steps of 0.1


@dataclass(frozen=True)
class PaperScore:
    """A proposal's grades, raw and normalised, and their statistics (see the module doc)."""

    paper: int
    raw: tuple[float, ...]  # the raw grades, by reviewer id order
    normalised: tuple[float, ...]  # the same grades after per-reviewer normalisation
    mean: float  # mean of normalised grades
    median: float
    spread: float  # population std of the normalised grades (0 for one grade)
    raw_mean: float
    disagreement: bool  # max - min of raw grades >= disagreement_range


@dataclass(frozen=True)
class Request:
    """Time a proposal requests, counted against a key (telescope name or category)."""

    paper: int
    key: str
    hours: float


@dataclass(frozen=True)
class RankedLine:
    """One proposal in a key's ranked list (see the module doc for the two lines)."""

    paper: int
    rank: int  # 1-based within the key
    hours: float
    cumulative_hours: float
    above_cut: bool  # cumulative_hours <= available
    above_triage: bool  # cumulative_hours <= triage_share * available (discussed)


def _check_grades(grades: Sequence[Grade]) -> None:
    seen: set[tuple[int, int]] = set()
    for g in grades:
        if not (math.isfinite(g.value) and GRADE_BEST <= g.value <= GRADE_WORST):
            raise ValueError(
                f"grade {g.value} of reviewer {g.reviewer} for proposal {g.paper} "
                f"is outside {GRADE_BEST} .. {GRADE_WORST}"
            )
        key = (g.paper, g.reviewer)
        if key in seen:
            raise ValueError(f"reviewer {g.reviewer} graded proposal {g.paper} twice")
        seen.add(key)


def normalise(grades: Sequence[Grade], *, min_grades: int = 3) -> dict[tuple[int, int], float]:
    """Per-reviewer normalisation onto the panel's mean and spread (module doc).

    Parameters
    ----------
    grades : every grade of one panel (the panel's mean and spread are taken over them)
    min_grades : reviewers with fewer grades are left unchanged

    Returns
    -------
    dict mapping ``(paper, reviewer)`` to the normalised grade, in [1.0, 5.0].

    Raises
    ------
    ValueError : a grade outside 1.0 .. 5.0 or not finite, a (paper, reviewer) pair twice,
        ``min_grades`` < 1.
    """
    if min_grades < 1:
        raise ValueError(f"min_grades must be at least 1, not {min_grades}")
    _check_grades(grades)
    if not grades:
        return {}
    values = np.array([g.value for g in grades], dtype=float)
    m = float(values.mean())
    s = float(values.std())
    by_reviewer: dict[int, list[Grade]] = defaultdict(list)
    for g in grades:
        by_reviewer[g.reviewer].append(g)
    out: dict[tuple[int, int], float] = {}
    for own in by_reviewer.values():
        if len(own) < min_grades:
            mapped = [g.value for g in own]  # too few to measure a bias: unchanged
        else:
            v = np.array([g.value for g in own], dtype=float)
            m_r, s_r = float(v.mean()), float(v.std())
            if s_r <= _FLAT:
                mapped = [g.value - m_r + m for g in own]  # level known, no spread: shift
            else:
                mapped = [m + (g.value - m_r) * s / s_r for g in own]
        for g, value in zip(own, mapped, strict=True):
            out[(g.paper, g.reviewer)] = min(GRADE_WORST, max(GRADE_BEST, value))
    return out


def score_papers(
    grades: Sequence[Grade], *, disagreement_range: float = 1.5, min_grades: int = 3
) -> list[PaperScore]:
    """Each proposal's raw and normalised grades and statistics, best (lowest mean) first.

    Parameters
    ----------
    grades : every grade of one panel (normalised together, see ``normalise``)
    disagreement_range : grade units; raw grades spanning at least this much are flagged
    min_grades : passed to ``normalise``

    Returns
    -------
    list of PaperScore, one per proposal with at least one grade, sorted by normalised mean
    (ties within 1e-9 by paper id).
    """
    if not disagreement_range > 0:
        raise ValueError(f"disagreement_range must be positive, not {disagreement_range}")
    normalised = normalise(grades, min_grades=min_grades)
    by_paper: dict[int, list[Grade]] = defaultdict(list)
    for g in grades:
        by_paper[g.paper].append(g)
    scores: list[PaperScore] = []
    for paper, own in by_paper.items():
        own.sort(key=lambda g: g.reviewer)
        raw = tuple(g.value for g in own)
        norm = tuple(normalised[(g.paper, g.reviewer)] for g in own)
        n = np.array(norm, dtype=float)
        scores.append(
            PaperScore(
                paper=paper,
                raw=raw,
                normalised=norm,
                mean=float(n.mean()),
                median=float(np.median(n)),
                spread=float(n.std()),
                raw_mean=float(np.mean(raw)),
                disagreement=max(raw) - min(raw) >= disagreement_range - _EPS,
            )
        )
    scores.sort(key=lambda p: (round(p.mean, 9), p.paper))
    return scores


def _check_available(available: Mapping[str, float]) -> None:
    for key, hours in available.items():
        if not (math.isfinite(hours) and hours >= 0):
            raise ValueError(f"available time of {key!r} must be a finite number >= 0: {hours}")


def _requested(
    requests: Sequence[Request], available: Mapping[str, float]
) -> dict[str, dict[int, float]]:
    """Hours per key per paper, summed over a paper's requests under one key."""
    out: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for r in requests:
        if not (math.isfinite(r.hours) and r.hours >= 0):
            raise ValueError(f"request of proposal {r.paper} on {r.key!r}: hours {r.hours}")
        if r.key not in available:
            raise ValueError(f"no available time given for {r.key!r} (proposal {r.paper})")
        out[r.key][r.paper] += r.hours
    return out


def rank_requests(
    order: Sequence[int],
    requests: Sequence[Request],
    available: Mapping[str, float],
    *,
    triage_share: float = 1.5,
) -> dict[str, list[RankedLine]]:
    """Per key, the ranked lines with cumulative hours, the cut line and the triage line.

    Parameters
    ----------
    order : proposal ids, best first (from ``score_papers`` or the chair's final grades)
    requests : requested hours per proposal and key; several under one key are summed
    available : hours available per key (nights minus technical and closed nights)
    triage_share : the triage line is at ``triage_share * available`` cumulative hours

    Returns
    -------
    dict from every key of ``available`` (sorted) to its lines in ``order``; a proposal
    without a request under a key has no line there.

    Raises
    ------
    ValueError : a requesting proposal missing from ``order``, an id twice in ``order``, a
        request key missing from ``available``, negative or non-finite hours,
        ``triage_share`` <= 0.
    """
    if not (math.isfinite(triage_share) and triage_share > 0):
        raise ValueError(f"triage_share must be positive, not {triage_share}")
    _check_available(available)
    if len(set(order)) != len(order):
        raise ValueError("a proposal appears twice in the order")
    requested = _requested(requests, available)
    ranked = set(order)
    # A proposal without a place in the order cannot be ranked: the caller decides (e.g.
    # ungraded proposals go last), so that none drops silently off the list.
    unranked = sorted({r.paper for r in requests} - ranked)
    if unranked:
        raise ValueError(f"proposals with requests but not in the order: {unranked}")
    out: dict[str, list[RankedLine]] = {}
    for key in sorted(available):
        hours_of = requested.get(key, {})
        cut, triage = available[key] + _EPS, triage_share * available[key] + _EPS
        lines: list[RankedLine] = []
        cumulative = 0.0
        for paper in order:
            if paper not in hours_of:
                continue
            hours = hours_of[paper]
            cumulative += hours
            lines.append(
                RankedLine(
                    paper=paper,
                    rank=len(lines) + 1,
                    hours=hours,
                    cumulative_hours=cumulative,
                    # Cumulative hours never decrease (hours >= 0): once a line is below, all
                    # later ones are, so "above" is exactly the lines before the line.
                    above_cut=cumulative <= cut,
                    above_triage=cumulative <= triage,
                )
            )
        out[key] = lines
    return out


def pressure(requests: Sequence[Request], available: Mapping[str, float]) -> dict[str, float]:
    """Requested / available hours per key of ``available``.

    ``inf`` where hours are requested and none are available; 0.0 where nothing is requested
    (also when nothing is available: no demand, no pressure, rather than 0/0). A request
    under a key missing from ``available`` raises ValueError.
    """
    _check_available(available)
    requested = _requested(requests, available)
    out: dict[str, float] = {}
    for key in sorted(available):
        asked = math.fsum(requested.get(key, {}).values())
        if asked == 0:
            out[key] = 0.0
        elif available[key] == 0:
            out[key] = math.inf
        else:
            out[key] = asked / available[key]
    return out


def quartile(rank: int, total: int) -> int:
    """The quarter (1 = top, 4 = bottom) of a ranked list of ``total`` that ``rank`` is in.

    ``1 + floor(4 * (rank - 1) / total)``: the share of proposals ranked above this one
    decides, so the best proposal is always in quartile 1, and with ``total`` divisible by 4
    each quartile holds exactly ``total / 4``. Integer arithmetic (no float boundaries).
    """
    if total < 1 or not 1 <= rank <= total:
        raise ValueError(f"rank {rank} is not within 1 .. {total}")
    return 1 + 4 * (rank - 1) // total
