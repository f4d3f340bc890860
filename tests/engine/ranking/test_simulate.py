"""The night simulator: sequence, groups, time-links, concatenations, weather, leftovers."""

from __future__ import annotations

import datetime

import astropy.units as u
import numpy as np
from astropy.time import Time

from dataflow.astro.nights import night_boundaries
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from scheduling.engine.ranking.model import (
    ConcatenationMembership,
    Conditions,
    ConstraintSet,
    GroupMembership,
    TimeLinkMembership,
)
from scheduling.engine.ranking.simulate import simulate_night
from tests.engine.ranking.conftest import GOOD, ob

DATE = datetime.date(2025, 11, 20)
NIGHT = night_boundaries(PARANAL, DATE)


def midnight_lst() -> float:
    mid = NIGHT.sunset + (NIGHT.sunrise - NIGHT.sunset) / 2
    return float(sky_samples(PARANAL, mid).lst_deg[0])


def test_executions_are_sequential_inside_the_night() -> None:
    lst = midnight_lst()
    cands = [ob(f"o{i}", lst + (i - 5) * 15.0, -45.0, execution_time_s=3600.0) for i in range(10)]
    res = simulate_night(cands, site=PARANAL, date=DATE, weather=GOOD)
    assert len(res.executed) >= 6
    for a, b in zip(res.executed, res.executed[1:], strict=False):
        assert abs((b.start - a.end).to_value(u.s)) < 1e-3 or b.start > a.end
    assert res.executed[0].start >= NIGHT.sunset
    assert res.executed[-1].start < NIGHT.sunrise
    assert {e.id for e in res.executed} | {f.id for f in res.left} == {c.id for c in cands}


def test_started_group_is_finished_first() -> None:
    lst = midnight_lst()
    group = [
        ob(
            f"g{i}",
            lst + 20.0,
            -50.0,
            grade=3.0,
            execution_time_s=1200.0,
            group=GroupMembership("G", 0.25, 0.0),
        )
        for i in range(4)
    ]
    others = [ob(f"x{i}", lst + 20.0, -50.0, grade=2.9, execution_time_s=1200.0) for i in range(4)]
    res = simulate_night(others + group, site=PARANAL, date=DATE, weather=GOOD)
    ids = [e.id for e in res.executed]
    first_g = ids.index(next(i for i in ids if i.startswith("g")))
    # once the group is started, its remaining OBs come next
    assert [i[0] for i in ids[first_g : first_g + 4]] == ["g"] * 4


def test_time_link_window_opens_after_the_previous_execution() -> None:
    lst = midnight_lst()
    link = [
        ob(
            "t0",
            lst - 30.0,
            -50.0,
            execution_time_s=1800.0,
            rank_class="A",
            time_link=TimeLinkMembership("L", 0),
        ),
        ob(
            "t1",
            lst - 30.0,
            -50.0,
            execution_time_s=1800.0,
            rank_class="A",
            time_link=TimeLinkMembership("L", 1, min_delay_s=2 * 3600.0, max_delay_s=5 * 3600.0),
        ),
    ]
    filler = [
        ob(f"f{i}", lst + 15.0 * i - 60.0, -45.0, execution_time_s=1800.0, rank_class="C")
        for i in range(12)
    ]
    res = simulate_night(link + filler, site=PARANAL, date=DATE, weather=GOOD)
    got = {e.id: e for e in res.executed}
    assert "t0" in got and "t1" in got
    delay = (got["t1"].start - got["t0"].end).to_value(u.h)
    assert 2.0 <= delay <= 5.0


def test_time_link_that_cannot_be_met_is_left_with_its_reason() -> None:
    lst = midnight_lst()
    link = [
        ob("t0", lst, -50.0, rank_class="A", time_link=TimeLinkMembership("L", 0)),
        ob(
            "t1",
            lst,
            -50.0,
            rank_class="A",
            time_link=TimeLinkMembership("L", 1, min_delay_s=86400.0, max_delay_s=2 * 86400.0),
        ),
    ]
    res = simulate_night(link, site=PARANAL, date=DATE, weather=GOOD)
    left = {f.id: {r.code for r in f.reasons} for f in res.left}
    assert "time_link_not_open" in left["t1"]


def test_concatenation_runs_back_to_back() -> None:
    lst = midnight_lst()
    cc = [
        ob(
            f"c{i}",
            lst - 20.0,
            -45.0,
            grade=1.5,
            execution_time_s=1500.0,
            concatenation=ConcatenationMembership("C", i),
        )
        for i in (2, 0, 1)
    ]
    single = [ob(f"s{i}", lst - 20.0, -45.0, grade=1.4, execution_time_s=1500.0) for i in range(3)]
    res = simulate_night(cc + single, site=PARANAL, date=DATE, weather=GOOD)
    ids = [e.id for e in res.executed]
    k = ids.index("c0")
    assert ids[k : k + 3] == ["c0", "c1", "c2"]
    assert all(
        abs((res.executed[k + j + 1].start - res.executed[k + j].end).to_value(u.s)) < 1e-3
        for j in range(2)
    )


def test_weather_sequence_changes_what_is_executed() -> None:
    lst = midnight_lst()
    sharp = ConstraintSet(
        max_airmass=3.0, max_fli=1.0, min_moon_distance_deg=0.0, max_seeing_arcsec=0.7
    )
    cands = [ob(f"sharp{i}", lst + 30.0 * i - 60.0, -45.0, constraints=sharp) for i in range(5)]
    mid = NIGHT.sunset + (NIGHT.sunrise - NIGHT.sunset) / 2
    bad_then_good = [
        (NIGHT.sunset - 1 * u.h, Conditions(seeing_arcsec=1.5)),
        (mid, Conditions(seeing_arcsec=0.5)),
    ]
    res = simulate_night(cands, site=PARANAL, date=DATE, weather=bad_then_good)
    assert res.executed and all(e.start >= mid for e in res.executed)
    res_bad = simulate_night(cands, site=PARANAL, date=DATE, weather=Conditions(seeing_arcsec=1.5))
    assert res_bad.executed == []
    assert all({r.code for r in f.reasons} == {"seeing"} for f in res_bad.left)


def test_never_observable_ob_is_left_with_airmass(rng: np.random.Generator) -> None:
    # given a northern target never above airmass 1.2 at Paranal
    res = simulate_night(
        [ob("north", 0.0, 30.0, constraints=ConstraintSet(max_airmass=1.2))],
        site=PARANAL,
        date=DATE,
        weather=GOOD,
    )
    assert res.executed == []
    assert [r.code for r in res.left[0].reasons] == ["airmass"]
    assert isinstance(res.night_start, Time)
