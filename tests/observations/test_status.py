"""The OB status machine (ESO's codes): every (status, action) pair against the table written
out here by hand, and the sets of statuses that allow editing, window changes and deletion."""

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
}
ALL_STATUSES = ["P", "D", "+", "-", "S", "C", "M", "A", "F", "K"]
ACTIONS = ["submit", "revise", "accept", "send_back"]

statuses = sts.sampled_from(ALL_STATUSES)
actions = sts.sampled_from(ACTIONS)


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


@given(current=statuses, action=actions)
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
