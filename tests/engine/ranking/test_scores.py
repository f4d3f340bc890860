"""Score components, pluggable scorers, containers (group, time-link, concatenation)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from dataflow.astro.site import PARANAL
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import rank
from scheduling.engine.ranking.model import (
    ConcatenationMembership,
    Conditions,
    ConstraintSet,
    GroupMembership,
    TimeLinkMembership,
    Transparency,
)
from scheduling.engine.ranking.scores import SCORERS, DefaultScorer, ScoreContext
from tests.engine.ranking.conftest import DARK, GOOD, codes, do_rank, lst_deg, ob, transit


def comp(result, id: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return next(x for x in result.ranked if x.id == id).components


def test_score_is_the_sum_of_its_components() -> None:
    r = do_rank([transit(DARK, "A", rank_class="A"), transit(DARK, "B")], DARK)
    for x in r.ranked:
        assert x.score == pytest.approx(sum(x.components.values()))


def test_rank_class_dominates_every_other_component() -> None:
    # given a class B OB that is best in everything else and a plain class A OB
    best_b = transit(
        DARK,
        "B",
        rank_class="B",
        grade=1.0,
        user_priority=1,
        constraints=ConstraintSet(
            max_airmass=3.0,
            max_fli=0.0,
            min_moon_distance_deg=0,
            max_seeing_arcsec=0.4,
            min_transparency=Transparency.PHOTOMETRIC,
        ),
        group=GroupMembership("G", 0.2, 0.8),
    )
    plain_a = transit(DARK, "A", rank_class="A", grade=5.0, user_priority=10)
    cond = Conditions(seeing_arcsec=0.4, transparency=Transparency.PHOTOMETRIC)
    assert [x.id for x in do_rank([best_b, plain_a], DARK, cond).ranked] == ["A", "B"]


def test_grade_then_user_priority() -> None:
    r = do_rank(
        [
            transit(DARK, "G3", grade=3.0),
            transit(DARK, "G1", grade=1.0),
            transit(DARK, "P1", grade=3.0, user_priority=1),
        ],
        DARK,
    )
    assert [x.id for x in r.ranked][0] == "G1"
    assert comp(r, "P1")["user_priority"] > comp(r, "G3")["user_priority"]
    assert comp(r, "G1")["grade"] == pytest.approx(10.0)


def test_started_group_is_preferred() -> None:
    r = do_rank(
        [
            transit(DARK, "new", group=GroupMembership("G1", 0.25, 0.0)),
            transit(DARK, "started", group=GroupMembership("G2", 0.25, 0.75)),
        ],
        DARK,
    )
    assert [x.id for x in r.ranked] == ["started", "new"]
    assert comp(r, "started")["group"] == pytest.approx(2.0 + 6.0 * 0.75)
    assert comp(r, "new")["group"] == 0.0


def test_time_link_urgency_grows_as_the_window_closes() -> None:
    def tl(late):
        return TimeLinkMembership(
            "L",
            1,
            earliest=DARK - 2 * u.d,  # noqa: E731
            latest=DARK + late,
        )

    r = do_rank(
        [
            transit(DARK, "closing", time_link=tl(1 * u.h)),
            transit(DARK, "fresh", time_link=tl(2 * u.d)),
        ],
        DARK,
    )
    assert [x.id for x in r.ranked] == ["closing", "fresh"]
    assert comp(r, "closing")["time_link_urgency"] > 7.5
    assert comp(r, "fresh")["time_link_urgency"] == pytest.approx(4.0, abs=0.1)


def test_setting_target_has_more_pressure_than_rising_one() -> None:
    lst = lst_deg(DARK)
    r = do_rank([ob("setting", lst - 50.0, -30.0), ob("rising", lst + 30.0, -30.0)], DARK)
    assert comp(r, "setting")["setting_pressure"] > comp(r, "rising")["setting_pressure"]
    assert [x.id for x in r.ranked][0] == "setting"


def test_good_seeing_goes_to_the_demanding_ob() -> None:
    demanding = ConstraintSet(
        max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=0, max_seeing_arcsec=0.6
    )
    relaxed = ConstraintSet(
        max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=0, max_seeing_arcsec=2.0
    )
    r = do_rank(
        [
            transit(DARK, "relaxed", constraints=relaxed),
            transit(DARK, "demanding", constraints=demanding),
        ],
        DARK,
        Conditions(seeing_arcsec=0.55),
    )
    assert [x.id for x in r.ranked] == ["demanding", "relaxed"]
    assert comp(r, "demanding")["seeing_demand"] == pytest.approx(3.5)


def test_survey_scorer_is_pluggable_and_favours_group_completion() -> None:
    cands = [
        transit(DARK, "top_grade", grade=1.0, user_priority=1),
        transit(DARK, "group", grade=4.0, group=GroupMembership("G", 0.2, 0.6)),
    ]
    assert [x.id for x in do_rank(cands, DARK).ranked][0] == "top_grade"
    r = rank(cands, site=PARANAL, time=DARK, conditions=GOOD, scorer="survey")
    assert [x.id for x in r.ranked][0] == "group"
    assert set(r.ranked[0].components) == {
        "rank_class",
        "group_completion",
        "setting_pressure",
        "airmass_quality",
    }


def test_custom_scorer_object() -> None:
    class ByDec:
        name = "by_dec"

        def components(self, ctx: ScoreContext) -> dict[str, np.ndarray]:
            return {"dec": ctx.arrays.dec_deg[ctx.idx]}

    lst = lst_deg(DARK)
    r = rank(
        [ob("a", lst, -50.0), ob("b", lst, -40.0)],
        site=PARANAL,
        time=DARK,
        conditions=GOOD,
        scorer=ByDec(),
    )
    assert [x.id for x in r.ranked] == ["b", "a"]
    assert set(SCORERS) == {"default", "survey"}
    assert DefaultScorer().name == "default"


def test_unknown_scorer_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown scorer"):
        rank([], site=PARANAL, time=DARK, conditions=GOOD, scorer="nope")


def test_concatenation_is_contiguous_with_a_shared_score() -> None:
    cc = lambda o: ConcatenationMembership("C", o)  # noqa: E731
    lst = lst_deg(DARK)
    r = do_rank(
        [
            ob("c2", lst, -40, concatenation=cc(1), grade=1.0),
            ob("x", lst, -40, grade=2.0),
            ob("c1", lst, -40, concatenation=cc(0), grade=3.0),
        ],
        DARK,
    )
    ids = [x.id for x in r.ranked]
    assert ids.index("c2") == ids.index("c1") + 1  # contiguous, in order
    s = {x.id: x.score for x in r.ranked}
    assert s["c1"] == pytest.approx(s["c2"])
    assert r.ranked[ids.index("c1")].concatenation == ("c1", "c2")


def test_concatenation_fits_from_now_covers_the_whole_concatenation() -> None:
    # given two 40-min members and a window closing after 60 min: each fits alone, not both
    w = ((DARK - 1 * u.h, DARK + 60 * u.min),)
    cc = lambda o: ConcatenationMembership("C", o)  # noqa: E731
    cands = [
        transit(DARK, "c1", concatenation=cc(0), execution_time_s=2400.0, absolute_windows=w),
        transit(DARK, "c2", concatenation=cc(1), execution_time_s=2400.0, absolute_windows=w),
    ]
    r = do_rank(cands, DARK)
    assert r.ranked == []
    assert codes(r, "c2") == {"absolute_window"}
    assert codes(r, "c1") == {"concatenation_member"}


def test_prebuilt_arrays_give_the_same_ranking() -> None:
    lst = lst_deg(DARK)
    cands = [ob(f"o{i}", lst + i * 7.0, -60 + i * 5.0, grade=1 + i * 0.3) for i in range(12)]
    arrays = CandidateArrays.build(cands)
    a = do_rank(cands, DARK)
    b = rank(arrays, site=PARANAL, time=DARK, conditions=GOOD)
    assert [x.id for x in a.ranked] == [x.id for x in b.ranked]
    assert [x.score for x in a.ranked] == pytest.approx([x.score for x in b.ranked])


def test_analytic_sky_gives_the_same_ranking_away_from_limits(rng: np.random.Generator) -> None:
    from scheduling.engine.ranking.synthetic import synthetic_candidates

    arrays = CandidateArrays.build(synthetic_candidates(rng, 400, DARK, containers=False))
    a = rank(arrays, site=PARANAL, time=DARK, conditions=GOOD)
    b = rank(arrays, site=PARANAL, time=DARK, conditions=GOOD, sky_method="analytic")
    # the low-precision Moon errs by ~0.2 deg: allow a handful of limit cases to differ
    diff = set(a.ranked_ids) ^ set(b.ranked_ids)
    assert len(diff) <= 4


def test_invalid_candidates_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        CandidateArrays.build([ob("a", 0.0), ob("a", 1.0)])
    with pytest.raises(ValueError, match="execution_time_s"):
        CandidateArrays.build([ob("a", 0.0, execution_time_s=0.0)])
    with pytest.raises(ValueError, match="rank class"):
        CandidateArrays.build([ob("a", 0.0, rank_class="D")])
