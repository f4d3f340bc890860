"""Grade normalisation, paper scores, cut and triage lines, pressure, quartiles (no database).

The expected numbers are worked out by hand in the comments, so a reader can redo them.
"""

from __future__ import annotations

import math
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proposals.review.grades import (
    Grade,
    RankedLine,
    Request,
    normalise,
    pressure,
    quartile,
    rank_requests,
    score_papers,
)

# Three reviewers (10, 20, 30) grade the same four papers (1..4).
#   reviewer 10: 1.8 2.4 2.6 3.2   sum 10.0  m_r = 2.5  deviations -0.7 -0.1 +0.1 +0.7
#                                  s_r = sqrt((0.49 + 0.01 + 0.01 + 0.49) / 4) = sqrt(0.25) = 0.5
#   reviewer 20: 2.7 3.5 2.7 3.5   sum 12.4  m_r = 3.1  deviations -0.4 +0.4 -0.4 +0.4  s_r = 0.4
#   reviewer 30: 2.6 2.6 4.2 4.2   sum 13.6  m_r = 3.4  deviations -0.8 -0.8 +0.8 +0.8  s_r = 0.8
# Panel: sum 36.0 over 12 grades -> m = 3.0. Squared deviations from 3.0:
#   reviewer 10: 1.44 + 0.36 + 0.16 + 0.04 = 2.00
#   reviewer 20: 0.09 + 0.25 + 0.09 + 0.25 = 0.68
#   reviewer 30: 0.16 + 0.16 + 1.44 + 1.44 = 3.20
#   (2.00 + 0.68 + 3.20) / 12 = 5.88 / 12 = 0.49 -> s = 0.7
# g' = m + (g - m_r) * s / s_r:
#   reviewer 10: s / s_r = 1.4 -> 3.0 + 1.4 * (-0.7, -0.1, 0.1, 0.7) = 2.02 2.86 3.14 3.98
#   reviewer 20: s / s_r = 1.75 -> 3.0 + 1.75 * (-0.4, 0.4, ...)    = 2.30 3.70 2.30 3.70
#   reviewer 30: s / s_r = 0.875 -> 3.0 + 0.875 * (-0.8, 0.8, ...)  = 2.30 2.30 3.70 3.70
PANEL = {
    10: {1: 1.8, 2: 2.4, 3: 2.6, 4: 3.2},
    20: {1: 2.7, 2: 3.5, 3: 2.7, 4: 3.5},
    30: {1: 2.6, 2: 2.6, 3: 4.2, 4: 4.2},
}
PANEL_NORMALISED = {
    10: {1: 2.02, 2: 2.86, 3: 3.14, 4: 3.98},
    20: {1: 2.30, 2: 3.70, 3: 2.30, 4: 3.70},
    30: {1: 2.30, 2: 2.30, 3: 3.70, 4: 3.70},
}


def grades_of(table: dict[int, dict[int, float]]) -> list[Grade]:
    """``{reviewer: {paper: value}}`` as Grade rows."""
    return [
        Grade(paper=paper, reviewer=reviewer, value=value)
        for reviewer, row in table.items()
        for paper, value in row.items()
    ]


def test_normalisation_matches_the_hand_computation() -> None:
    # given the 3-reviewer x 4-paper panel worked out above
    grades = grades_of(PANEL)
    # when
    result = normalise(grades)
    # then
    expected = {
        (paper, reviewer): value
        for reviewer, row in PANEL_NORMALISED.items()
        for paper, value in row.items()
    }
    assert result == pytest.approx(expected, abs=1e-12)


def test_lenient_and_harsh_reviewers_of_the_same_order_end_equal() -> None:
    # given a lenient and a harsh reviewer ranking four papers the same way
    # (harsh = 2 * lenient + 0.2: another level and another spread, same opinion)
    lenient = {1: 1.2, 2: 1.5, 3: 1.8, 4: 2.4}
    harsh = {paper: round(2 * value + 0.2, 1) for paper, value in lenient.items()}
    assert harsh == {1: 2.6, 2: 3.2, 3: 3.8, 4: 5.0}
    # when
    result = normalise(grades_of({1: lenient, 2: harsh}))
    # then each paper gets the same normalised grade from both
    for paper in lenient:
        assert result[(paper, 1)] == pytest.approx(result[(paper, 2)], abs=1e-12)
    # and a paper's mean is that common grade, while its raw mean is halfway between
    first = {p.paper: p for p in score_papers(grades_of({1: lenient, 2: harsh}))}[1]
    assert first.mean == pytest.approx(result[(1, 1)])
    assert first.raw_mean == pytest.approx((1.2 + 2.6) / 2)


def test_reviewer_with_fewer_than_min_grades_is_left_unchanged() -> None:
    # given the hand-computed panel plus reviewer 40 with two grades (below min_grades = 3)
    grades = grades_of(PANEL) + grades_of({40: {1: 4.8, 2: 4.9}})
    # when
    result = normalise(grades)
    # then reviewer 40's grades are raw
    assert result[(1, 40)] == 4.8
    assert result[(2, 40)] == 4.9
    # and with min_grades = 2 they are normalised (shifted towards the panel, scaled up)
    assert normalise(grades, min_grades=2)[(1, 40)] < 4.8


def test_min_grades_counts_a_reviewer_at_the_threshold() -> None:
    # given reviewer 10 with exactly three grades, min_grades = 3
    grades = grades_of({10: {1: 1.0, 2: 2.0, 3: 3.0}, 20: {1: 3.0, 2: 4.0, 3: 5.0}})
    # when
    result = normalise(grades, min_grades=3)
    # then both are normalised: panel m = 3.0, s = sqrt((4+1+0+0+1+4)/6) = sqrt(10/6);
    # each reviewer has s_r = sqrt(2/3), so their three grades become 3.0 + (-1, 0, 1) * s / s_r
    scale = math.sqrt(10 / 6) / math.sqrt(2 / 3)  # = sqrt(2.5)
    assert result[(1, 10)] == pytest.approx(3.0 - scale)
    assert result[(2, 10)] == pytest.approx(3.0)
    assert result[(3, 20)] == pytest.approx(3.0 + scale)


def test_reviewer_with_equal_grades_is_shifted_to_the_panel_mean() -> None:
    # given the panel (m = 3.0) plus reviewer 40 who gave 2.3 to three papers: m_r = 2.3 and
    # s_r = 0 (numpy may compute 4e-16: float noise must not be read as a spread)
    grades = grades_of(PANEL) + grades_of({40: {1: 2.3, 2: 2.3, 3: 2.3}})
    # when
    result = normalise(grades)
    # then g' = g - m_r + m = the new panel mean (36.0 + 6.9) / 15 = 2.86
    for paper in (1, 2, 3):
        assert result[(paper, 40)] == pytest.approx(2.86, abs=1e-12)


def test_normalised_grades_are_clipped_to_the_scale() -> None:
    # given reviewer 1 who gives 1.0 1.0 1.0 3.0 and reviewer 2 who gives 5.0 5.0 5.0 3.0
    # panel: sum 24 over 8 -> m = 3.0; squared deviations 6 x 4 + 2 x 0 = 24, s = sqrt(3)
    # reviewer 1: m_r = 1.5, s_r = sqrt((3 x 0.25 + 2.25) / 4) = sqrt(3) / 2, s / s_r = 2
    #   3.0 -> 3.0 + 1.5 x 2 = 6.0 -> 5.0 ;  1.0 -> 3.0 - 0.5 x 2 = 2.0
    # reviewer 2: m_r = 4.5, the mirror image
    #   3.0 -> 3.0 - 1.5 x 2 = 0.0 -> 1.0 ;  5.0 -> 3.0 + 0.5 x 2 = 4.0
    grades = grades_of({1: {1: 1.0, 2: 1.0, 3: 1.0, 4: 3.0}, 2: {5: 5.0, 6: 5.0, 7: 5.0, 8: 3.0}})
    # when
    result = normalise(grades)
    # then
    assert result[(4, 1)] == 5.0
    assert result[(1, 1)] == pytest.approx(2.0)
    assert result[(8, 2)] == 1.0
    assert result[(5, 2)] == pytest.approx(4.0)


def test_normalise_rejects_bad_input() -> None:
    # given a grade off the scale, a duplicate pair and a zero min_grades
    # when / then
    with pytest.raises(ValueError, match="outside"):
        normalise([Grade(paper=1, reviewer=1, value=5.5)])
    with pytest.raises(ValueError, match="outside"):
        normalise([Grade(paper=1, reviewer=1, value=math.nan)])
    with pytest.raises(ValueError, match="twice"):
        normalise([Grade(paper=1, reviewer=1, value=2.0), Grade(paper=1, reviewer=1, value=3.0)])
    with pytest.raises(ValueError, match="min_grades"):
        normalise([], min_grades=0)
    assert normalise([]) == {}


def test_paper_scores_of_the_hand_panel() -> None:
    # given the hand-computed panel
    # when
    scores = score_papers(grades_of(PANEL))
    # then raw and normalised sit side by side in reviewer order (10, 20, 30)
    by_paper = {p.paper: p for p in scores}
    p2 = by_paper[2]
    assert p2.raw == (2.4, 3.5, 2.6)
    assert p2.normalised == pytest.approx((2.86, 3.70, 2.30))
    # paper means: 1: (2.02 + 2.30 + 2.30) / 3 = 2.2067   2: (2.86 + 3.70 + 2.30) / 3 = 2.9533
    #              3: (3.14 + 2.30 + 3.70) / 3 = 3.0467   4: (3.98 + 3.70 + 3.70) / 3 = 3.7933
    assert [p.paper for p in scores] == [1, 2, 3, 4]
    assert [p.mean for p in scores] == pytest.approx([6.62 / 3, 8.86 / 3, 9.14 / 3, 11.38 / 3])
    # raw means: 2: (2.4 + 3.5 + 2.6) / 3 = 8.5 / 3; median of (2.30, 2.86, 3.70) is 2.86
    assert p2.raw_mean == pytest.approx(8.5 / 3)
    assert p2.median == pytest.approx(2.86)


def test_mean_median_and_spread_of_a_paper_by_hand() -> None:
    # given one paper graded by four reviewers who grade nothing else (one grade each is below
    # min_grades, so the grades stay raw): 1.0 1.8 1.8 4.2
    grades = [
        Grade(paper=7, reviewer=r, value=v) for r, v in ((1, 1.0), (2, 1.8), (3, 1.8), (4, 4.2))
    ]
    # when
    (score,) = score_papers(grades)
    # then mean = 8.8 / 4 = 2.2; median = (1.8 + 1.8) / 2 = 1.8;
    # deviations -1.2 -0.4 -0.4 +2.0 -> (1.44 + 0.16 + 0.16 + 4.0) / 4 = 1.44 -> spread 1.2
    assert score.normalised == score.raw == (1.0, 1.8, 1.8, 4.2)
    assert score.mean == pytest.approx(2.2)
    assert score.median == pytest.approx(1.8)
    assert score.spread == pytest.approx(1.2)
    assert score.raw_mean == pytest.approx(2.2)


def test_a_single_grade_has_no_spread() -> None:
    # given
    grades = [Grade(paper=1, reviewer=1, value=2.5)]
    # when
    (score,) = score_papers(grades)
    # then
    assert (score.mean, score.median, score.spread, score.disagreement) == (2.5, 2.5, 0.0, False)


@pytest.mark.parametrize(
    ("low", "high", "flagged"),
    [
        (2.0, 3.5, True),  # exactly the range
        (1.3, 2.8, True),  # 2.8 - 1.3 = 1.4999999999999998 in floats: still the range
        (2.0, 3.4, False),  # 1.4
        (1.0, 5.0, True),
    ],
)
def test_disagreement_flag_at_the_range(low: float, high: float, flagged: bool) -> None:
    # given three reviewers, one grade each (so raw is kept), spanning low .. high
    grades = [
        Grade(paper=1, reviewer=1, value=low),
        Grade(paper=1, reviewer=2, value=high),
        Grade(paper=1, reviewer=3, value=low),
    ]
    # when
    (score,) = score_papers(grades)
    # then
    assert score.disagreement is flagged


def test_disagreement_range_is_configurable() -> None:
    # given grades 2.0 and 3.0 (range 1.0)
    grades = [Grade(paper=1, reviewer=1, value=2.0), Grade(paper=1, reviewer=2, value=3.0)]
    # when / then
    assert score_papers(grades)[0].disagreement is False
    assert score_papers(grades, disagreement_range=1.0)[0].disagreement is True


def test_papers_with_equal_means_are_ordered_by_id() -> None:
    # given papers 9 and 3 with the same grade, paper 5 better
    grades = [
        Grade(paper=9, reviewer=1, value=2.0),
        Grade(paper=3, reviewer=2, value=2.0),
        Grade(paper=5, reviewer=3, value=1.5),
    ]
    # when
    scores = score_papers(grades)
    # then
    assert [p.paper for p in scores] == [5, 3, 9]


# A small hand-made period: two telescopes, papers ranked 3, 1, 4, 2, 5 (best first).
# UT1: 10 h available, triage line at 1.5 x 10 = 15 h
#   paper 3: 4 h          cumulative  4   above cut, above triage
#   paper 1: 3 h + 2 h    cumulative  9   above cut, above triage (two runs, one line)
#   paper 4: 2 h          cumulative 11   straddles the line (9 -> 11 > 10): below cut;
#                                         above triage
#   paper 2: 3 h          cumulative 14   below cut, above triage
#   paper 5: 2 h          cumulative 16   below cut, below triage (16 > 15)
# UT2: 6 h available, triage line at 9 h (both met exactly: equality fits)
#   paper 1: 2 h          cumulative  2   above cut, above triage
#   paper 2: 4 h          cumulative  6   above cut (6 <= 6), above triage
#   paper 5: 3 h          cumulative  9   below cut, above triage (9 <= 9)
ORDER = [3, 1, 4, 2, 5]
REQUESTS = [
    Request(paper=3, key="UT1", hours=4.0),
    Request(paper=1, key="UT1", hours=3.0),
    Request(paper=1, key="UT1", hours=2.0),
    Request(paper=4, key="UT1", hours=2.0),
    Request(paper=2, key="UT1", hours=3.0),
    Request(paper=5, key="UT1", hours=2.0),
    Request(paper=1, key="UT2", hours=2.0),
    Request(paper=2, key="UT2", hours=4.0),
    Request(paper=5, key="UT2", hours=3.0),
]
AVAILABLE = {"UT1": 10.0, "UT2": 6.0}


def rows(lines: list[RankedLine]) -> list[tuple[int, int, float, float, bool, bool]]:
    return [
        (
            line.paper,
            line.rank,
            line.hours,
            line.cumulative_hours,
            line.above_cut,
            line.above_triage,
        )
        for line in lines
    ]


def test_cut_and_triage_lines_of_a_hand_made_period() -> None:
    # given the period above
    # when
    lines = rank_requests(ORDER, REQUESTS, AVAILABLE, triage_share=1.5)
    # then
    # (paper, rank, hours, cumulative hours, above cut, above triage)
    assert rows(lines["UT1"]) == [
        (3, 1, 4.0, 4.0, True, True),
        (1, 2, 5.0, 9.0, True, True),
        (4, 3, 2.0, 11.0, False, True),
        (2, 4, 3.0, 14.0, False, True),
        (5, 5, 2.0, 16.0, False, False),
    ]
    assert rows(lines["UT2"]) == [
        (1, 1, 2.0, 2.0, True, True),
        (2, 2, 4.0, 6.0, True, True),
        (5, 3, 3.0, 9.0, False, True),
    ]
    assert lines["UT2"][0] == RankedLine(
        paper=1, rank=1, hours=2.0, cumulative_hours=2.0, above_cut=True, above_triage=True
    )


def test_a_straddling_paper_is_below_the_cut_and_so_are_later_small_ones() -> None:
    # given 5 h available: paper 1 takes 4 h, paper 2 (3 h) straddles the line at 5 h,
    # paper 3 (0.5 h) would fit in the hour left but comes after paper 2
    requests = [
        Request(paper=1, key="UT3", hours=4.0),
        Request(paper=2, key="UT3", hours=3.0),
        Request(paper=3, key="UT3", hours=0.5),
    ]
    # when
    lines = rank_requests([1, 2, 3], requests, {"UT3": 5.0}, triage_share=1.0)["UT3"]
    # then
    assert [(line.paper, line.above_cut, line.above_triage) for line in lines] == [
        (1, True, True),
        (2, False, False),
        (3, False, False),
    ]


def test_float_sums_of_hours_still_fit_exactly() -> None:
    # given 0.1 h + 0.2 h against 0.3 h (0.1 + 0.2 = 0.30000000000000004 in floats)
    requests = [Request(paper=1, key="UT4", hours=0.1), Request(paper=2, key="UT4", hours=0.2)]
    # when
    lines = rank_requests([1, 2], requests, {"UT4": 0.3})["UT4"]
    # then
    assert [line.above_cut for line in lines] == [True, True]


def test_rank_requests_lists_every_available_key_and_rejects_what_it_cannot_rank() -> None:
    # given a telescope with time but no requests
    # when
    lines = rank_requests(ORDER, REQUESTS, {**AVAILABLE, "UT4": 8.0})
    # then it has an empty list
    assert lines["UT4"] == []
    # and a requesting proposal missing from the order, a key without available time and an
    # id twice in the order are errors, not silent drops
    with pytest.raises(ValueError, match=r"not in the order: \[5\]"):
        rank_requests([3, 1, 4, 2], REQUESTS, AVAILABLE)
    with pytest.raises(ValueError, match="UT2"):
        rank_requests(ORDER, REQUESTS, {"UT1": 10.0})
    with pytest.raises(ValueError, match="twice"):
        rank_requests([*ORDER, 3], REQUESTS, AVAILABLE)
    with pytest.raises(ValueError, match="hours"):
        rank_requests([1], [Request(paper=1, key="UT1", hours=-1.0)], AVAILABLE)


def test_pressure_per_telescope() -> None:
    # given the period above: UT1 4 + 5 + 2 + 3 + 2 = 16 h for 10 h, UT2 2 + 4 + 3 = 9 h for 6 h
    # when
    result = pressure(REQUESTS, AVAILABLE)
    # then
    assert result == pytest.approx({"UT1": 1.6, "UT2": 1.5})


def test_pressure_per_category() -> None:
    # given the same kind of requests counted against categories (key = category)
    requests = [
        Request(paper=1, key="cosmology", hours=5.0),
        Request(paper=2, key="cosmology", hours=7.0),
        Request(paper=3, key="stars", hours=5.0),
        Request(paper=4, key="planets", hours=2.0),
    ]
    available = {"cosmology": 8.0, "stars": 5.0, "planets": 0.0, "solar system": 3.0}
    # when
    result = pressure(requests, available)
    # then 12 / 8, 5 / 5, requested against nothing, nothing requested
    assert result == {"cosmology": 1.5, "stars": 1.0, "planets": math.inf, "solar system": 0.0}


@pytest.mark.parametrize(
    ("total", "quartiles"),
    [
        (8, [1, 1, 2, 2, 3, 3, 4, 4]),
        (4, [1, 2, 3, 4]),
        (10, [1, 1, 1, 2, 2, 3, 3, 3, 4, 4]),  # 1 + floor(4 * (rank - 1) / 10)
        (3, [1, 2, 3]),
        (1, [1]),
    ],
)
def test_quartile_boundaries(total: int, quartiles: list[int]) -> None:
    # given a ranked list of `total` proposals
    # when
    result = [quartile(rank, total) for rank in range(1, total + 1)]
    # then
    assert result == quartiles


def test_quartile_rejects_a_rank_outside_the_list() -> None:
    # given / when / then
    for rank, total in ((0, 4), (5, 4), (1, 0)):
        with pytest.raises(ValueError, match="not within"):
            quartile(rank, total)


@st.composite
def panels(draw: st.DrawFn) -> list[Grade]:
    """Up to 6 reviewers grading some of 12 papers, grades in steps of 0.1."""
    pairs = draw(
        st.lists(
            st.tuples(st.integers(1, 6), st.integers(1, 12)), min_size=1, max_size=50, unique=True
        )
    )
    return [
        Grade(paper=paper, reviewer=reviewer, value=draw(st.integers(10, 50)) / 10)
        for reviewer, paper in pairs
    ]


@settings(max_examples=200, deadline=None)
@given(grades=panels(), min_grades=st.integers(1, 4))
def test_normalisation_keeps_each_reviewers_order_of_papers(
    grades: list[Grade], min_grades: int
) -> None:
    # given any panel
    # when
    result = normalise(grades, min_grades=min_grades)
    # then every normalised grade is on the scale
    assert all(1.0 <= value <= 5.0 for value in result.values())
    # and within a reviewer, a better raw grade stays better; only clipping may tie two
    for a, b in combinations(grades, 2):
        if a.reviewer != b.reviewer:
            continue
        lo, hi = (a, b) if a.value <= b.value else (b, a)
        n_lo, n_hi = result[(lo.paper, lo.reviewer)], result[(hi.paper, hi.reviewer)]
        if lo.value == hi.value:
            assert n_lo == n_hi
        else:
            assert n_lo < n_hi or (n_lo == n_hi and n_hi in (1.0, 5.0))
