"""Task states: terminal set and legal transitions."""

from __future__ import annotations

import pytest

from dcos_core.model.task import LEGAL_TRANSITIONS, TERMINAL, TaskState, can_transition


def test_wire_spelling() -> None:
    """States are spelled as on the Mesos wire."""
    assert TaskState("TASK_RUNNING") is TaskState.RUNNING
    assert TaskState.GONE_BY_OPERATOR.value == "TASK_GONE_BY_OPERATOR"


def test_terminal_states() -> None:
    """FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE, GONE_BY_OPERATOR are terminal."""
    assert {s.name for s in TaskState if s.terminal} == {
        "FINISHED",
        "FAILED",
        "KILLED",
        "ERROR",
        "LOST",
        "DROPPED",
        "GONE",
        "GONE_BY_OPERATOR",
    }
    assert not TaskState.UNREACHABLE.terminal
    assert not TaskState.KILLING.terminal


def test_every_state_has_a_transition_entry() -> None:
    """The table covers every state."""
    assert set(LEGAL_TRANSITIONS) == set(TaskState)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (TaskState.STAGING, TaskState.STARTING),
        (TaskState.STAGING, TaskState.RUNNING),
        (TaskState.STARTING, TaskState.RUNNING),
        (TaskState.RUNNING, TaskState.RUNNING),  # repeated update (e.g. health change)
        (TaskState.RUNNING, TaskState.KILLING),
        (TaskState.KILLING, TaskState.KILLED),
        (TaskState.RUNNING, TaskState.FINISHED),
        (TaskState.RUNNING, TaskState.UNREACHABLE),
        (TaskState.UNREACHABLE, TaskState.RUNNING),  # agent came back
        (TaskState.LOST, TaskState.RUNNING),  # partitioned agent re-registered
        (TaskState.STAGING, TaskState.ERROR),
    ],
)
def test_legal(old: TaskState, new: TaskState) -> None:
    """Moves Mesos allows."""
    assert can_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (TaskState.RUNNING, TaskState.STAGING),
        (TaskState.RUNNING, TaskState.STARTING),
        (TaskState.KILLING, TaskState.RUNNING),
        (TaskState.FINISHED, TaskState.RUNNING),
        (TaskState.FINISHED, TaskState.FINISHED),  # a terminal state is never repeated
        (TaskState.KILLED, TaskState.FAILED),
    ],
)
def test_illegal(old: TaskState, new: TaskState) -> None:
    """Moves back to earlier states or out of final states are refused."""
    assert not can_transition(old, new)


@pytest.mark.parametrize("state", sorted(TERMINAL - {TaskState.LOST}))
def test_final_states_allow_nothing(state: TaskState) -> None:
    """Terminal states other than LOST (not always terminal in Mesos) have no way out."""
    assert not any(can_transition(state, s) for s in TaskState)
