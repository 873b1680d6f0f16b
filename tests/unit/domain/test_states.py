"""The task state machine and priority level parsing."""

from __future__ import annotations

import re

import pytest

from imperium.domain.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    PriorityLevel,
    TaskState,
    can_transition,
)

S = TaskState


def targets(state: TaskState) -> set[TaskState]:
    return {new for new in TaskState if can_transition(state, new)}


@pytest.mark.parametrize("state", [S.SUCCEEDED, S.CANCELLED])
def test_final_states_have_no_way_out(state: TaskState) -> None:
    assert targets(state) == set()


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        # retried by hand: queued, or pending on dependencies (which may have failed)
        (S.DEAD, {S.QUEUED, S.PENDING, S.FAILED}),
        (S.TIMED_OUT, {S.QUEUED, S.PENDING, S.FAILED}),
        (S.FAILED, {S.QUEUED, S.PENDING}),
    ],
)
def test_failed_states_can_only_be_retried(state: TaskState, allowed: set[TaskState]) -> None:
    assert targets(state) == allowed


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.SUBMITTED, S.PENDING),
        (S.SUBMITTED, S.QUEUED),
        (S.PENDING, S.QUEUED),
        (S.PENDING, S.FAILED),  # a dependency failed
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.SUCCEEDED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.QUEUED),  # retry, or lease lost
        (S.RUNNING, S.DEAD),
        (S.RUNNING, S.TIMED_OUT),
        (S.RUNNING, S.CANCELLED),
    ],
)
def test_lifecycle_transitions_are_allowed(current: TaskState, new: TaskState) -> None:
    assert can_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [(S.PENDING, S.RUNNING), (S.QUEUED, S.SUCCEEDED), (S.SUBMITTED, S.RUNNING)],
)
def test_steps_cannot_be_skipped(current: TaskState, new: TaskState) -> None:
    assert not can_transition(current, new)


def test_no_self_transitions_and_nothing_returns_to_submitted() -> None:
    for state in TaskState:
        assert state not in targets(state)
        assert not can_transition(state, S.SUBMITTED)


def test_terminal_and_active_states_partition_all_states() -> None:
    assert set(TaskState) == TERMINAL_STATES | ACTIVE_STATES
    assert not TERMINAL_STATES & ACTIVE_STATES
    assert {s for s in TaskState if s.is_terminal} == TERMINAL_STATES
    assert {s for s in TaskState if s.is_dead_letter} == {S.DEAD, S.TIMED_OUT}


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("medium", PriorityLevel.NORMAL),
        (" Medium ", PriorityLevel.NORMAL),
        ("normal", PriorityLevel.NORMAL),
        ("CRITICAL", PriorityLevel.CRITICAL),
        ("high", PriorityLevel.HIGH),
        ("low", PriorityLevel.LOW),
        ("background", PriorityLevel.BACKGROUND),
    ],
)
def test_priority_level_parse(text: str, level: PriorityLevel) -> None:
    assert PriorityLevel.parse(text) is level


@pytest.mark.parametrize("text", ["urgent", "", "med", "1"])
def test_priority_level_parse_rejects_unknown_levels(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        PriorityLevel.parse(text)
