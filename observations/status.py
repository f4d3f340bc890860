"""The OB status machine of Phase 2 with ESO's codes, as data (pure Python, no Django).

An action of the astronomer or of staff moves an OB from one status to the next in Phase 2;
the night statuses (``S C M A F K``) are reached only by the night's actions (operators and
staff, ``observations.night``), never by the Phase 2 ones. The tables below also say in which
statuses an OB may be edited or deleted, so that services, pages and the API ask the same sets.

The night: an accepted OB (``+``), or one to be executed again (``M`` must repeat, ``A``
aborted), is started (``S``); its QC grade closes it (:data:`GRADE_ACTIONS`: A, B and D
complete it, ``C``; C means it must be repeated, ``M``) or the operator aborts it (``A``). A
time-link OB whose window passed before it was executed fails (``F``, final). ``K``
(cancelled) stays reserved: no action reaches it yet.
"""

import enum
from collections.abc import Mapping

from dataflow.errors import TransitionNotAllowed

PARTIAL, DEFINED, ACCEPTED, REPAIR = "P", "D", "+", "-"
STARTED, COMPLETED, MUST_REPEAT, ABORTED, FAILED, CANCELLED = "S", "C", "M", "A", "F", "K"

STATUSES: tuple[str, ...] = (
    PARTIAL, DEFINED, ACCEPTED, REPAIR,
    STARTED, COMPLETED, MUST_REPEAT, ABORTED, FAILED, CANCELLED,
)  # fmt: skip
NIGHT_STATUSES = frozenset({STARTED, COMPLETED, MUST_REPEAT, ABORTED, FAILED, CANCELLED})

LABELS: Mapping[str, str] = {
    PARTIAL: "partially defined",
    DEFINED: "defined (awaiting review)",
    ACCEPTED: "accepted",
    REPAIR: "needs repair",
    STARTED: "started",
    COMPLETED: "completed",
    MUST_REPEAT: "must repeat",
    ABORTED: "aborted",
    FAILED: "failed",
    CANCELLED: "cancelled",
}


class Action(enum.StrEnum):
    SUBMIT = "submit"  # the astronomer, after verification passes
    REVISE = "revise"  # the astronomer takes a submitted OB back
    ACCEPT = "accept"  # staff
    SEND_BACK = "send_back"  # staff, with a message saying what to repair
    # the night (operators and staff; observations.night)
    START = "start"
    COMPLETE = "complete"  # QC grade A, B or D
    REPEAT = "repeat"  # QC grade C: executed out of constraints, to be done again
    ABORT = "abort"
    FAIL = "fail"  # a time-link window passed (no one's choice: observations.night expires it)


STAFF_ACTIONS = frozenset({Action.ACCEPT, Action.SEND_BACK})
NIGHT_ACTIONS = frozenset({Action.START, Action.COMPLETE, Action.REPEAT, Action.ABORT, Action.FAIL})

# An execution's QC grade -> the action closing its OB (DOMAIN.md): A all constraints met and
# B slightly out (within 10 %) complete it; C out of constraints, it must be repeated; D out
# of constraints but closed as completed anyway.
GRADES: tuple[str, ...] = ("A", "B", "C", "D")
GRADE_ACTIONS: Mapping[str, Action] = {
    "A": Action.COMPLETE,
    "B": Action.COMPLETE,
    "C": Action.REPEAT,
    "D": Action.COMPLETE,
}

# (status, action) -> the next status; a pair not listed is refused.
TRANSITIONS: Mapping[tuple[str, Action], str] = {
    (PARTIAL, Action.SUBMIT): DEFINED,
    (REPAIR, Action.SUBMIT): DEFINED,
    (DEFINED, Action.REVISE): PARTIAL,
    (DEFINED, Action.ACCEPT): ACCEPTED,
    (DEFINED, Action.SEND_BACK): REPAIR,
    # the night
    (ACCEPTED, Action.START): STARTED,
    (MUST_REPEAT, Action.START): STARTED,
    (ABORTED, Action.START): STARTED,
    (STARTED, Action.COMPLETE): COMPLETED,
    (STARTED, Action.REPEAT): MUST_REPEAT,
    (STARTED, Action.ABORT): ABORTED,
    (ACCEPTED, Action.FAIL): FAILED,
    (MUST_REPEAT, Action.FAIL): FAILED,
    (ABORTED, Action.FAIL): FAILED,
}

# A service-mode OB is frozen once submitted: staff review exactly what was submitted.
SM_EDITABLE = frozenset({PARTIAL, REPAIR})
# Visitors prepare and adapt their OBs up to the night; only a started or finished OB is frozen.
VM_EDITABLE = frozenset({PARTIAL, DEFINED, ACCEPTED, REPAIR, MUST_REPEAT, ABORTED})
# Absolute windows may still move after submission (e.g. staff ask for other dates).
ABSOLUTE_WINDOWS_EDITABLE = frozenset({REPAIR, PARTIAL, DEFINED, ACCEPTED, ABORTED, MUST_REPEAT})
# An OB that was ever executed keeps its record, whatever its status says.
DELETABLE = frozenset({REPAIR, PARTIAL, DEFINED})

_VERBS: Mapping[Action, str] = {
    Action.SUBMIT: "submitted",
    Action.REVISE: "revised",
    Action.ACCEPT: "accepted",
    Action.SEND_BACK: "sent back",
    Action.START: "started",
    Action.COMPLETE: "completed",
    Action.REPEAT: "marked to repeat",
    Action.ABORT: "aborted",
    Action.FAIL: "failed",
}


def next_status(current: str, action: Action | str) -> str:
    """The status after ``action`` on an OB in ``current``; ``TransitionNotAllowed`` (saying
    from which statuses the action is possible) for any other pair."""
    try:
        act = Action(action)
    except ValueError:
        raise TransitionNotAllowed(
            f"Unknown OB action '{action}': use one of {', '.join(a.value for a in Action)}."
        ) from None
    found = TRANSITIONS.get((current, act))
    if found is not None:
        return found
    sources = [src for (src, a) in TRANSITIONS if a == act]
    shown = LABELS.get(current, "unknown")
    raise TransitionNotAllowed(
        f"An OB in status '{current}' ({shown}) cannot be {_VERBS[act]}: only from "
        + " or ".join(f"'{s}' ({LABELS[s]})" for s in sources)
        + "."
    )


def sources(action: Action) -> frozenset[str]:
    """The statuses from which ``action`` is possible (START's: the OB awaits execution)."""
    return frozenset(src for (src, act) in TRANSITIONS if act == action)


def grade_action(grade: str) -> Action:
    """The action closing a started OB with QC ``grade``; ``TransitionNotAllowed`` for an
    unknown grade."""
    try:
        return GRADE_ACTIONS[grade]
    except (KeyError, TypeError):
        raise TransitionNotAllowed(
            f"Unknown QC grade '{grade}': use one of {', '.join(GRADES)}."
        ) from None


def editable(status: str, *, service_mode: bool) -> bool:
    """May the OB's content (target, constraints, templates, ...) change in ``status``?"""
    return status in (SM_EDITABLE if service_mode else VM_EDITABLE)


def absolute_windows_editable(status: str) -> bool:
    return status in ABSOLUTE_WINDOWS_EDITABLE


def deletable(status: str, *, executed: bool) -> bool:
    return status in DELETABLE and not executed
