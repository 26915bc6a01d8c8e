"""Task states of Mesos (`mesos.v1.TaskState`), which of them are terminal, and legal moves."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class TaskState(StrEnum):
    """The Mesos task states, spelled as on the wire."""

    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    UNREACHABLE = "TASK_UNREACHABLE"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNKNOWN = "TASK_UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: Final = frozenset(
    {
        TaskState.FINISHED,
        TaskState.FAILED,
        TaskState.KILLED,
        TaskState.ERROR,
        TaskState.LOST,
        TaskState.DROPPED,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
    }
)

# States only partition-aware frameworks may see, and what older frameworks see instead.
PARTITION_AWARE_ONLY: Final = {
    TaskState.DROPPED: TaskState.LOST,
    TaskState.UNREACHABLE: TaskState.LOST,
    TaskState.GONE: TaskState.LOST,
    TaskState.GONE_BY_OPERATOR: TaskState.LOST,
    TaskState.UNKNOWN: TaskState.LOST,
}

_ACTIVE: Final = frozenset(
    {TaskState.STAGING, TaskState.STARTING, TaskState.RUNNING, TaskState.KILLING}
)

# Which state may follow which. Terminal states are final, except that an agent that comes back
# after a partition may report a LOST or UNREACHABLE task as running again (Mesos does the same).
LEGAL_TRANSITIONS: Final[dict[TaskState, frozenset[TaskState]]] = {
    TaskState.STAGING: frozenset(TaskState) - {TaskState.STAGING},
    TaskState.STARTING: frozenset(TaskState) - {TaskState.STAGING, TaskState.STARTING},
    TaskState.RUNNING: frozenset(TaskState) - {TaskState.STAGING, TaskState.STARTING},
    TaskState.KILLING: frozenset(TERMINAL | {TaskState.UNREACHABLE, TaskState.KILLING}),
    TaskState.UNREACHABLE: frozenset(_ACTIVE | TERMINAL | {TaskState.UNREACHABLE})
    - {TaskState.STAGING},
    TaskState.LOST: frozenset({TaskState.RUNNING, TaskState.STARTING, TaskState.KILLING})
    | TERMINAL,
    TaskState.FINISHED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.KILLED: frozenset(),
    TaskState.ERROR: frozenset(),
    TaskState.DROPPED: frozenset(),
    TaskState.GONE: frozenset(),
    TaskState.GONE_BY_OPERATOR: frozenset(),
    TaskState.UNKNOWN: frozenset(TaskState),
}


def can_transition(old: TaskState, new: TaskState) -> bool:
    """True if a task in `old` may move to `new` (a repeat of RUNNING etc. is allowed)."""
    return (new == old and not old.terminal) or new in LEGAL_TRANSITIONS[old]
