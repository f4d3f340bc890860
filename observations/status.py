"""The OB status machine of Phase 2 with ESO's codes, as data (pure Python, no Django).

An action of the astronomer or of staff moves an OB from one status to the next; the night
statuses (``S C M A F K``) are reserved here and reached only by night operations, never by
these actions. The tables below also say in which statuses an OB may be edited or deleted, so
that services, pages and the API ask the same sets.
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


STAFF_ACTIONS = frozenset({Action.ACCEPT, Action.SEND_BACK})

# (status, action) -> the next status; a pair not listed is refused.
TRANSITIONS: Mapping[tuple[str, Action], str] = {
    (PARTIAL, Action.SUBMIT): DEFINED,
    (REPAIR, Action.SUBMIT): DEFINED,
    (DEFINED, Action.REVISE): PARTIAL,
    (DEFINED, Action.ACCEPT): ACCEPTED,
    (DEFINED, Action.SEND_BACK): REPAIR,
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


def editable(status: str, *, service_mode: bool) -> bool:
    """May the OB's content (target, constraints, templates, ...) change in ``status``?"""
    return status in (SM_EDITABLE if service_mode else VM_EDITABLE)


def absolute_windows_editable(status: str) -> bool:
    return status in ABSOLUTE_WINDOWS_EDITABLE


def deletable(status: str, *, executed: bool) -> bool:
    return status in DELETABLE and not executed
