"""The OB status machine (ESO's codes): every (status, action) pair against the table written
out here by hand, the night's QC grades, and the sets of statuses that allow editing, window
changes and deletion."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as sts

from dataflow.errors import TransitionNotAllowed
from observations import status as st
from observations.models import OBStatus

# The rules of ../shared/DOMAIN.md and P2API.md, independent of observations.status.
EXPECTED = {
    ("P", "submit"): "D",
    ("-", "submit"): "D",
    ("D", "revise"): "P",
    ("D", "accept"): "+",
    ("D", "send_back"): "-",
    # the night: accepted, must-repeat and aborted OBs are started; a started OB is completed,
    # marked to repeat or aborted; one awaiting execution fails when its time link's window
    # passes
    ("+", "start"): "S",
    ("M", "start"): "S",
    ("A", "start"): "S",
    ("S", "complete"): "C",
    ("S", "repeat"): "M",
    ("S", "abort"): "A",
    ("+", "fail"): "F",
    ("M", "fail"): "F",
    ("A", "fail"): "F",
}
ALL_STATUSES = ["P", "D", "+", "-", "S", "C", "M", "A", "F", "K"]
PHASE2_ACTIONS = ["submit", "revise", "accept", "send_back"]
NIGHT_ACTIONS = ["start", "complete", "repeat", "abort", "fail"]
ACTIONS = PHASE2_ACTIONS + NIGHT_ACTIONS

statuses = sts.sampled_from(ALL_STATUSES)
actions = sts.sampled_from(ACTIONS)
phase2_actions = sts.sampled_from(PHASE2_ACTIONS)


@given(current=statuses, action=actions)
def test_an_action_lands_where_the_table_says_or_is_refused(current: str, action: str) -> None:
    # given an OB in ``current``
    # when the action is applied
    if (current, action) in EXPECTED:
        # then it lands in the expected status
        assert st.next_status(current, action) == EXPECTED[(current, action)]
    else:
        # then it is refused
        with pytest.raises(TransitionNotAllowed):
            st.next_status(current, action)


@pytest.mark.parametrize(("current", "action"), list(itertools.product(ALL_STATUSES, ACTIONS)))
def test_every_pair_of_status_and_action_follows_the_table(current: str, action: str) -> None:
    # the same rule over every pair, so that each row is checked whatever hypothesis draws
    if (current, action) in EXPECTED:
        assert st.next_status(current, action) == EXPECTED[(current, action)]
    else:
        with pytest.raises(TransitionNotAllowed):
            st.next_status(current, action)


def test_the_table_holds_exactly_the_rows_written_out_here() -> None:
    assert {(src, str(act)): dst for (src, act), dst in st.TRANSITIONS.items()} == EXPECTED
    assert {str(a) for a in st.Action} == set(ACTIONS)
    assert {str(a) for a in st.NIGHT_ACTIONS} == set(NIGHT_ACTIONS)


@given(current=statuses, action=phase2_actions)
def test_night_statuses_are_never_reached_nor_left_by_phase2_actions(
    current: str, action: str
) -> None:
    try:
        after = st.next_status(current, action)
    except TransitionNotAllowed:
        return
    assert after not in {"S", "C", "M", "A", "F", "K"}
    assert current not in {"S", "C", "M", "A", "F", "K"}


def test_the_status_codes_are_the_models_and_the_night_ones_are_reserved() -> None:
    assert set(st.STATUSES) == set(OBStatus.values) == set(ALL_STATUSES)
    assert {"S", "C", "M", "A", "F", "K"} == st.NIGHT_STATUSES


@given(current=statuses, action=sts.sampled_from(NIGHT_ACTIONS))
def test_night_actions_act_on_executable_or_started_obs_only(current: str, action: str) -> None:
    # given an OB in ``current``; when a night action applies, then it starts from an OB
    # awaiting execution (+ M A) or started (S) and lands on a night status
    try:
        after = st.next_status(current, action)
    except TransitionNotAllowed:
        return
    assert current in {"+", "M", "A", "S"}
    assert after in {"S", "C", "M", "A", "F"}


@given(action=actions)
def test_failed_and_cancelled_are_final(action: str) -> None:
    for final in ("F", "K"):
        with pytest.raises(TransitionNotAllowed):
            st.next_status(final, action)


@pytest.mark.parametrize(("grade", "after"), [("A", "C"), ("B", "C"), ("C", "M"), ("D", "C")])
def test_a_qc_grade_closes_a_started_ob_as_domain_md_says(grade: str, after: str) -> None:
    # given a started OB, when it is graded, then A and B complete it, C sends it to
    # must-repeat, D closes it as completed
    assert st.next_status("S", st.grade_action(grade)) == after


@pytest.mark.parametrize("grade", ["E", "a", "", None])
def test_an_unknown_qc_grade_is_refused_with_the_known_ones(grade: str) -> None:
    with pytest.raises(TransitionNotAllowed, match="A, B, C, D"):
        st.grade_action(grade)


def test_obs_are_started_only_when_accepted_to_repeat_or_aborted() -> None:
    assert st.sources(st.Action.START) == {"+", "M", "A"}
    assert st.sources(st.Action.FAIL) == {"+", "M", "A"}


def test_only_staff_accept_and_send_back() -> None:
    assert {st.Action.ACCEPT, st.Action.SEND_BACK} == st.STAFF_ACTIONS


def test_a_refusal_says_from_which_statuses_the_action_works() -> None:
    # when an accepted OB is submitted again
    with pytest.raises(TransitionNotAllowed) as refused:
        st.next_status("+", "submit")
    # then the message names the status and where submission starts from
    assert "'+'" in refused.value.message
    assert "'P'" in refused.value.message and "'-'" in refused.value.message


def test_an_unknown_action_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TransitionNotAllowed, match="submit"):
        st.next_status("P", "execute")


@given(current=statuses)
def test_service_mode_obs_are_editable_only_partial_or_in_repair(current: str) -> None:
    assert st.editable(current, service_mode=True) == (current in {"P", "-"})


@given(current=statuses)
def test_visitor_mode_obs_are_frozen_only_when_started_or_finished(current: str) -> None:
    assert st.editable(current, service_mode=False) == (current not in {"S", "C", "F", "K"})


@given(current=statuses)
def test_absolute_windows_are_editable_in_repair_partial_defined_accepted_aborted_repeat(
    current: str,
) -> None:
    assert st.absolute_windows_editable(current) == (current in {"-", "P", "D", "+", "A", "M"})


@given(current=statuses, executed=sts.booleans())
def test_only_never_executed_obs_in_repair_partial_or_defined_are_deletable(
    current: str, executed: bool
) -> None:
    assert st.deletable(current, executed=executed) == (current in {"-", "P", "D"} and not executed)
