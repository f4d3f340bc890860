"""Every write of the night: weather readings, visits (an OB, or a concatenation's OBs, started
then completed with a QC grade or aborted), the time charged to and refunded on the run's
ledger, time-link windows expiring, and the night log's notes.

Each service runs in one transaction: a refusal leaves nothing written. Rows are locked in one
order everywhere, so two services never wait for each other in a cycle: the telescope (every
visit service: it serialises two operators starting OBs at once), the visit, the runs (by id;
Phase 2's services lock a run first too), then the OBs and executions. Every OB status change
goes through the table of ``observations.status``, bumps the OB's version (and its scheduling
container's) and writes a ``Phase2Event`` of kind ``"night"``.

Time is charged in integer seconds, rounded half up (``ROUND_HALF_UP``: 1799.5 s charges
1800 s): a completed execution (any grade) charges its OB's execution time with overheads; an
aborted visit charges the time elapsed since its start, at most the execution time of its OBs,
given to its OBs in their order (each at most its own execution time; later OBs get the rest,
possibly nothing). Nothing charged, no ledger entry. Staff refund a charge once (the
observatory at fault), the whole of it unless they say how many seconds.

Only night operators and staff run the night (``dataflow.permissions.may_operate``); only staff
refund.
"""

from observations.night.base import (
    CONDITION_FIELDS,
    EVENT_KIND,
    MAX_LOST_S,
    WEATHER_SOURCES,
    ConditionsData,
    TelescopeBusy,
    charge_seconds,
    elapsed_seconds,
    night_begins,
    night_of,
    split_abort_charge,
)
from observations.night.log import (
    NIGHT_CLOSED,
    night_close,
    night_note_add,
    timelinks_expire,
    weather_post,
)
from observations.night.visits import execution_refund, visit_abort, visit_complete, visit_start

__all__ = [
    "CONDITION_FIELDS",
    "EVENT_KIND",
    "MAX_LOST_S",
    "NIGHT_CLOSED",
    "WEATHER_SOURCES",
    "ConditionsData",
    "TelescopeBusy",
    "charge_seconds",
    "elapsed_seconds",
    "execution_refund",
    "night_begins",
    "night_close",
    "night_note_add",
    "night_of",
    "split_abort_charge",
    "timelinks_expire",
    "visit_abort",
    "visit_complete",
    "visit_start",
    "weather_post",
]
