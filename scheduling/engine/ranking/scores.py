"""Scoring algorithms: the ``Scorer`` protocol, the default algorithm and a survey one.

A scorer receives a ``ScoreContext`` describing the *observable* OBs (arrays of shape (M,))
and returns named components (points); an OB's score is the sum of its components, and the
components are the rank justification shown to the operator. Higher ranks first.

Default algorithm (``DefaultScorer``, points)
---------------------------------------------
=====================  ==========  ===========================================================
component              range       meaning
=====================  ==========  ===========================================================
rank_class             100/50/0    A / B / C; larger than all others together (max 45), so
                                   the class decides first
grade                  0 .. 10     ``10 * (5 - grade) / 4``: OPC grade 1.0 best
user_priority          0 .. 5      ``5 * (10 - p) / 9``: PI priority 1 (highest) .. 10
group                  0 .. 8      started group (score > 0): ``2 + 6 * score`` (finish it)
time_link_urgency      0 .. 8      ``8 * (1 - remaining / window)`` of the time-link window
setting_pressure       0 .. 6      ``6 * (1 - hours_left / 8)``, hours_left = time the target
                                   stays within its airmass limit before setting or dawn
seeing_demand          0 .. 4      how demanding the met seeing constraint is:
                                   ``4 * (2.0 - max_seeing) / 1.6`` clipped (0.4" -> 4)
transparency_demand    0 .. 2      ``2 * min_transparency / 3`` (photometric -> 2)
moon_demand            0 .. 2      ``2 * (1 - max_fli)``: dark-time OBs while the Moon allows
=====================  ==========  ===========================================================

The three ``*_demand`` terms spend good conditions on the OBs that need them.

Survey algorithm (``SurveyScorer``): rank class as above, then group completion
(``5 * started + 20 * score``), ``setting_pressure`` (0 .. 10) and ``airmass_quality``
(0 .. 5, observe near the meridian for uniform depth); grade and user priority are ignored.

Register a new algorithm by passing any object with ``name`` and ``components(ctx)`` to
``rank(..., scorer=...)``; ``SCORERS`` maps the built-in names for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.model import Conditions

RANK_CLASS_POINTS = np.array([100.0, 50.0, 0.0])


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer may use; every array is indexed like ``idx`` (the observable OBs).

    Attributes
    ----------
    arrays : CandidateArrays
    idx : ndarray of int, indices into ``arrays``
    now_mjd : float, the ranking instant (UTC MJD)
    conditions : Conditions
    airmass_now : ndarray, the target's airmass now
    airmass_limit : ndarray, the OB's airmass limit including the operator's tolerance
    hours_left : ndarray, hours the target stays within its airmass limit tonight (to its
        setting or the end of the night, whichever first; from now)
    group_score : ndarray, current score of the OB's group (0 when not in a group)
    in_group : ndarray of bool
    link_remaining_frac : ndarray, remaining fraction of the time-link window (1 = just opened,
        0 = closing now; 1 when the OB has no window)
    """

    arrays: CandidateArrays
    idx: np.ndarray
    now_mjd: float
    conditions: Conditions
    airmass_now: np.ndarray
    airmass_limit: np.ndarray
    hours_left: np.ndarray
    group_score: np.ndarray
    in_group: np.ndarray
    link_remaining_frac: np.ndarray


class Scorer(Protocol):
    """A ranking algorithm: named point components per observable OB."""

    @property
    def name(self) -> str: ...  # read-only, so frozen dataclasses satisfy it

    def components(self, ctx: ScoreContext) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class DefaultScorer:
    """The default algorithm (see the module docstring for the table)."""

    name: str = "default"
    setting_scale_h: float = 8.0

    def components(self, ctx: ScoreContext) -> dict[str, np.ndarray]:
        a, i = ctx.arrays, ctx.idx
        started = ctx.in_group & (ctx.group_score > 0.0)
        return {
            "rank_class": RANK_CLASS_POINTS[a.rank_class[i]],
            "grade": 10.0 * np.clip((5.0 - a.grade[i]) / 4.0, 0.0, 1.0),
            "user_priority": 5.0 * np.clip((10.0 - a.user_priority[i]) / 9.0, 0.0, 1.0),
            "group": np.where(started, 2.0 + 6.0 * np.clip(ctx.group_score, 0.0, 1.0), 0.0),
            "time_link_urgency": 8.0 * (1.0 - np.clip(ctx.link_remaining_frac, 0.0, 1.0)),
            "setting_pressure": 6.0
            * np.clip(1.0 - ctx.hours_left / self.setting_scale_h, 0.0, 1.0),
            "seeing_demand": 4.0 * np.clip((2.0 - a.max_seeing_arcsec[i]) / 1.6, 0.0, 1.0),
            "transparency_demand": 2.0 * a.min_transparency[i] / 3.0,
            "moon_demand": 2.0 * np.clip(1.0 - a.max_fli[i], 0.0, 1.0),
        }


@dataclass(frozen=True)
class SurveyScorer:
    """Survey algorithm: finish groups, keep uniform depth (near-meridian airmass)."""

    name: str = "survey"
    setting_scale_h: float = 8.0

    def components(self, ctx: ScoreContext) -> dict[str, np.ndarray]:
        a, i = ctx.arrays, ctx.idx
        started = ctx.in_group & (ctx.group_score > 0.0)
        span = np.maximum(ctx.airmass_limit - 1.0, 1e-6)
        return {
            "rank_class": RANK_CLASS_POINTS[a.rank_class[i]],
            "group_completion": np.where(
                ctx.in_group, 5.0 * started + 20.0 * np.clip(ctx.group_score, 0.0, 1.0), 0.0
            ),
            "setting_pressure": 10.0
            * np.clip(1.0 - ctx.hours_left / self.setting_scale_h, 0.0, 1.0),
            "airmass_quality": 5.0 * np.clip(1.0 - (ctx.airmass_now - 1.0) / span, 0.0, 1.0),
        }


SCORERS: dict[str, Scorer] = {"default": DefaultScorer(), "survey": SurveyScorer()}
