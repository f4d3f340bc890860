"""The engine pieces the night adapter stands on, without a database: ``from_columns`` lays out
the same arrays as ``build`` and validates like it; ``subset`` ranks its rows as the whole
does (same reasons, same ``observable_from``), reusing the night's apparent places; the OBs
the adapter sets aside (below their airmass limit now, or needing better weather) are ones
the engine filters for that (with no start tonight if below all night or for the weather), and
the others rank as among all."""

import datetime as dt
from dataclasses import fields, replace

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from dataflow.astro.site import PARANAL
from scheduling.engine.ranking import filters as F
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import rank, reasons_for
from scheduling.engine.ranking.model import Conditions, RankingOptions, Transparency
from scheduling.engine.ranking.synthetic import synthetic_candidates
from scheduling.night.cache import night_sky
from scheduling.night.ranking import airmass_outlook, needs_better_weather

START = Time("2026-03-11T04:00:00", scale="utc")
CONDITIONS = Conditions(seeing_arcsec=0.8, transparency=Transparency.CLEAR)


@pytest.fixture(scope="module")
def arrays() -> CandidateArrays:
    return CandidateArrays.build(synthetic_candidates(np.random.default_rng(7), 600, START))


def _columns(a: CandidateArrays) -> dict[str, object]:
    derived = {"has_abs", "has_lst", "concat_offset_s", "concat_total_s", "concat_head"}
    return {
        f.name: getattr(a, f.name) for f in fields(a) if f.name not in derived | {"active", "cache"}
    }


def test_from_columns_lays_out_what_build_does(arrays: CandidateArrays) -> None:
    # when the columns of built arrays are laid out again
    again = CandidateArrays.from_columns(**_columns(arrays))  # type: ignore[arg-type]
    # then every field is equal, the derived ones included
    for f in fields(arrays):
        if f.name == "cache":
            continue
        a, b = getattr(again, f.name), getattr(arrays, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        else:
            assert a == b, f.name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"execution_s": 0.0}, "execution_time_s must be > 0"),
        ({"rank_class": 3}, "rank class"),
        ({"dec_deg": 91.0}, "dec_deg out of range"),
    ],
)
def test_from_columns_refuses_what_build_refuses(
    arrays: CandidateArrays, change: dict[str, float], message: str
) -> None:
    # given one candidate's column made invalid
    columns = _columns(arrays)
    for name, value in change.items():
        column = np.array(columns[name], copy=True)
        column[3] = value
        columns[name] = column
    # then the layout is refused, naming the candidate
    with pytest.raises(ValueError, match=message) as refused:
        CandidateArrays.from_columns(**columns)  # type: ignore[arg-type]
    assert str(arrays.ids[3]) in str(refused.value)


def test_from_columns_refuses_columns_of_different_lengths(arrays: CandidateArrays) -> None:
    columns = _columns(arrays)
    columns["grade"] = np.asarray(columns["grade"])[:-1]
    with pytest.raises(ValueError, match="grade: shape"):
        CandidateArrays.from_columns(**columns)  # type: ignore[arg-type]


def test_a_subset_ranks_its_rows_as_the_whole_does(arrays: CandidateArrays) -> None:
    # given a ranking of all the candidates
    whole = rank(arrays, site=PARANAL, time=START, conditions=CONDITIONS)
    rows = whole.filtered_idx[::7]
    # (with the rest of their concatenations)
    concats = np.unique(arrays.concat[rows][arrays.concat[rows] >= 0])
    rows = np.union1d(rows, np.flatnonzero(np.isin(arrays.concat, concats)))
    # when the subset is ranked alone
    part = arrays.subset(rows)
    alone = rank(part, site=PARANAL, time=START, conditions=CONDITIONS)
    # then each row has the same reasons and becomes observable at the same time
    assert sorted(rows[alone.filtered_idx].tolist()) == sorted(
        set(rows.tolist()) & set(whole.filtered_idx.tolist())
    )
    frm_whole = dict(zip(whole.filtered_idx.tolist(), whole.observable_from_mjd, strict=True))
    for k, i in enumerate(alone.filtered_idx.tolist()):
        j_whole = int(np.searchsorted(whole.evaluation.idx, rows[i]))
        assert reasons_for(part, alone.evaluation, i) == reasons_for(
            arrays, whole.evaluation, j_whole
        )
        np.testing.assert_equal(alone.observable_from_mjd[k], frm_whole[int(rows[i])])


def test_a_subset_reuses_the_night_geometry(arrays: CandidateArrays) -> None:
    # given arrays ranked once (their apparent places cached)
    warm = replace(arrays, cache={})
    rank(warm, site=PARANAL, time=START, conditions=CONDITIONS)
    key, geometry = next((k, v) for k, v in warm.cache.items() if isinstance(v, F.Geometry))
    rows = np.array([5, 1, 42])
    # when a subset is taken
    part = warm.subset(rows)
    # then it holds those rows' apparent places, and the full arrays keep theirs
    sliced = part.cache[key]
    assert isinstance(sliced, F.Geometry)
    np.testing.assert_array_equal(sliced.ra_tod, geometry.ra_tod[rows])
    assert warm.cache[key] is geometry and len(part) == 3
    assert part.group_score.shape == arrays.group_score.shape


@pytest.mark.parametrize(
    ("hours", "night_left"),  # from 04:00 UTC (local midnight); astronomical dawn at 09:25 UTC
    # (8.0: the next morning, the night over; 14.0: the next afternoon, the next night ahead)
    [(-3.0, True), (0.0, True), (3.0, True), (5.5, False), (8.0, False), (14.0, True)],
)
def test_obs_set_aside_are_those_the_engine_filters_with_no_start_tonight(
    arrays: CandidateArrays, hours: float, night_left: bool
) -> None:
    # given an instant of the night (or of the next day), the sky track, mediocre
    # seeing and thin cirrus
    when = START + hours * u.hour
    sky = night_sky(PARANAL, dt.date(2026, 3, 10))
    options = RankingOptions()
    conditions = Conditions(seeing_arcsec=1.1, transparency=Transparency.THIN_CIRRUS)
    # when the OBs below their airmass limit now, and those needing better weather, are set
    # aside
    low, never = airmass_outlook(arrays, PARANAL, when, options, sky)
    weather = needs_better_weather(arrays, conditions, options)
    whole = rank(arrays, site=PARANAL, time=when, conditions=conditions, options=options, sky=sky)
    view = arrays.copy_state()
    view.active[low | weather] = False
    rest = rank(view, site=PARANAL, time=when, conditions=conditions, options=options, sky=sky)
    # then the engine filters each of them, for airmass or weather; those below their limit
    # all night, or needing better weather, it finds no start tonight for
    assert never.any() and (weather & ~low).any() and not (never & ~low).any()
    # (with night left, some of those below their limit now rise above it before dawn)
    assert (low & ~never).any() == night_left
    aside = np.flatnonzero(low | weather)
    bits = whole.evaluation.mask[np.searchsorted(whole.evaluation.idx, aside)]
    expected = np.where(low[aside], F.AIRMASS, F.SEEING | F.TRANSPARENCY)
    assert np.all(bits & expected)
    position = {int(i): k for k, i in enumerate(whole.filtered_idx)}
    hopeless = np.flatnonzero(never | weather)
    assert np.isnan([whole.observable_from_mjd[position[int(i)]] for i in hopeless]).all()
    # and the others rank exactly as among all
    np.testing.assert_array_equal(rest.order, whole.order)
    np.testing.assert_array_equal(rest.scores, whole.scores)
    assert set(rest.filtered_idx.tolist()) | set(aside.tolist()) == set(whole.filtered_idx.tolist())
