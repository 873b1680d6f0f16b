"""The autoscaler's decision function: grow on a burst within max, shrink after idling
within min, cooldown respected, no flapping at the boundary; the config it reads."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.autoscale import Memory, Policy, Reading, decide, policy_of, readings
from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec, AgentState, Task

POLICY = Policy(minimum=1, maximum=8, cooldown=10.0, target_wait=5.0, idle=20.0)


def run(readings_over_time: list[tuple[float, Reading]], policy: Policy = POLICY) -> list[int]:
    """The pool size after each tick, feeding each decision's size into the next reading."""
    memory, size, sizes = Memory(), None, []
    for now, reading in readings_over_time:
        if size is not None:
            reading = Reading(size, reading.running, reading.backlog, reading.wait)
        decision, memory = decide(policy, reading, memory, now)
        size = decision.after
        sizes.append(size)
    return sizes


@pytest.mark.parametrize(
    ("reading", "action", "after"),
    [
        (Reading(1, 1, 19, 0.0), "grow", 8),  # burst: a slot per waiting task, capped at max
        (Reading(2, 2, 3, 0.0), "grow", 5),  # backlog per slot >= 1
        (Reading(4, 4, 1, 6.0), "grow", 5),  # one task, but it waited past the target
        (Reading(4, 4, 1, 1.0), "hold", 4),  # one task, briefly: no growth
        (Reading(8, 8, 50, 60.0), "hold", 8),  # at max: holds
        (Reading(12, 3, 0, 0.0), "shrink", 8),  # above max (bounds changed): at once
        (Reading(1, 0, 0, 0.0), "hold", 1),  # idle at min
    ],
)
def test_table(reading: Reading, action: str, after: int) -> None:
    decision, _ = decide(POLICY, reading, Memory(), now=100.0)
    assert (decision.action, decision.after) == (action, after)


def test_a_pool_below_its_minimum_grows_even_in_cooldown() -> None:
    policy = Policy(minimum=3, maximum=8, cooldown=10.0)
    decision, _ = decide(policy, Reading(1, 0, 0, 0.0), Memory(last_change=99.0), now=100.0)
    assert (decision.action, decision.after) == ("grow", 3)


def test_cooldown_holds_after_a_change_then_grows_again() -> None:
    memory = Memory(last_change=95.0)
    held, memory = decide(POLICY, Reading(2, 2, 10, 30.0), memory, now=100.0)
    assert held.action == "hold"
    assert "cooldown" in held.reason
    grown, memory = decide(POLICY, Reading(2, 2, 10, 30.0), memory, now=105.0)
    assert (grown.action, grown.after) == ("grow", 8)
    assert memory.last_change == 105.0


def test_shrinks_only_after_idling_for_a_while_and_steps_down_to_min() -> None:
    idle = Reading(8, 0, 0, 0.0)
    ticks = [(float(t), idle) for t in range(0, 100, 5)]
    sizes = run(ticks)
    assert sizes[:4] == [8, 8, 8, 8]  # 0..15 s: not idle long enough
    assert sizes[4] == 4  # 20 s idle: halved
    assert sizes[-1] == 1  # then down to min, never below
    assert min(sizes) == 1
    assert all(b <= a for a, b in itertools.pairwise(sizes))  # never up again


def test_never_shrinks_below_what_runs_nor_while_half_the_pool_is_busy() -> None:
    decision, _ = decide(POLICY, Reading(8, 3, 0, 0.0), Memory(underused_since=0.0), now=100.0)
    assert (decision.action, decision.after) == ("shrink", 4)
    decision, _ = decide(POLICY, Reading(8, 5, 0, 0.0), Memory(underused_since=0.0), now=100.0)
    assert decision.action == "hold"  # more than half busy: not underused


def test_a_busy_tick_restarts_the_idle_clock() -> None:
    idle, busy = Reading(8, 0, 0, 0.0), Reading(8, 8, 0, 0.0)
    sizes = run([(0.0, idle), (15.0, idle), (16.0, busy), (30.0, idle), (45.0, idle)])
    assert sizes == [8, 8, 8, 8, 8]  # idle 0..15, busy at 16, idle again from 30 (15 s)


def test_no_flapping_at_the_boundary() -> None:
    """A pool at max with a steady backlog, and a pool at min idling, hold every tick; a
    pool right after growing does not shrink while its new slots fill."""
    at_max = [(float(t), Reading(8, 8, 5, 30.0)) for t in range(0, 200, 5)]
    assert set(run(at_max)) == {8}
    at_min = [(float(t), Reading(1, 0, 0, 0.0)) for t in range(0, 200, 5)]
    assert set(run(at_min)) == {1}
    # grows to 4 on a burst, whose 4 tasks then keep the new slots busy
    burst = [(0.0, Reading(1, 1, 3, 0.0))] + [
        (float(t), Reading(4, 4, 0, 0.0)) for t in range(5, 60, 5)
    ]
    sizes = run(burst)
    assert sizes == [4] * len(sizes)


@given(
    size=st.integers(1, 20),
    running=st.integers(0, 20),
    backlog=st.integers(0, 100),
    wait=st.floats(0, 1000),
    last_change=st.none() | st.floats(0, 200),
    underused_since=st.none() | st.floats(0, 200),
    low=st.integers(1, 10),
    span=st.integers(0, 10),
)
def test_never_outside_bounds_and_never_below_what_runs(
    size: int,
    running: int,
    backlog: int,
    wait: float,
    last_change: float | None,
    underused_since: float | None,
    low: int,
    span: int,
) -> None:
    policy = Policy(low, low + span, cooldown=10.0, target_wait=5.0, idle=20.0)
    memory = Memory(last_change, underused_since)
    decision, after = decide(policy, Reading(size, running, backlog, wait), memory, now=200.0)
    assert policy.minimum <= decision.after <= policy.maximum
    if decision.action == "shrink" and policy.minimum <= size <= policy.maximum:
        assert decision.after >= min(size, running)
        assert backlog == 0
    if decision.changes:
        assert after.last_change == 200.0
    elif size == policy.clamp(size):
        assert after.last_change == last_change


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"autoscale": {"min": 1, "max": 4}}, Policy(1, 4, 30.0, 5.0, 30.0)),
        (
            {
                "autoscale": {
                    "min": 2,
                    "max": 9,
                    "cooldown_seconds": 3,
                    "target_wait_seconds": 0.5,
                    "idle_seconds": 7,
                }
            },
            Policy(2, 9, 3.0, 0.5, 7.0),
        ),
    ],
)
def test_policy_from_config(config: dict[str, object], expected: Policy | None) -> None:
    assert policy_of(config, 100) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 4], "must be an object"),
        ({"min": 1}, "autoscale.max must be a whole number"),
        ({"min": 5, "max": 2}, "1 <= min <= max <= 100"),
        ({"min": 1, "max": 200}, "1 <= min <= max <= 100"),
        ({"min": 1, "max": 2, "cooldown_seconds": -1}, "cooldown_seconds must be a number"),
        ({"min": 1, "max": 2, "size": 3}, "unknown autoscale keys: size"),
    ],
)
def test_malformed_config_says_what_to_fix(raw: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy_of({"autoscale": raw}, 100)


def test_readings_share_a_task_among_the_agents_able_to_take_it() -> None:
    def agent(agent_id: str, caps: set[str], running: int) -> AgentState:
        state = AgentState(AgentSpec(agent_id, "echo", frozenset(caps), max_concurrency=2))
        state.running = running
        return state

    a, b = agent("a", {"x", "y"}, 2), agent("b", {"x"}, 1)
    tasks = [
        Task("t1", "x", created_at=0.0, ready_at=90.0),  # a or b
        Task("t2", "y", created_at=0.0, ready_at=99.0),  # a only
    ]
    found = readings([a, b], tasks, now=100.0)
    assert found["a"] == Reading(2, 2, 1.5, 10.0)
    assert found["b"] == Reading(2, 1, 0.5, 10.0)


def test_a_pool_resized_by_hand_is_left_alone_for_a_cooldown() -> None:
    """An operator raises an idle pool ahead of a burst (agents update): the autoscaler
    does not halve it at its next tick, only after the cooldown and the idle time."""
    policy = Policy(minimum=2, maximum=8, cooldown=10.0, target_wait=5.0, idle=20.0)
    idle = Reading(2, 0, 0.0, 0.0)
    memory = Memory()
    for now in (0.0, 30.0):  # idle at its minimum for a long time
        decision, memory = decide(policy, idle, memory, now)
        assert decision.action == "hold"
    by_hand = Reading(8, 0, 0.0, 0.0)
    decision, memory = decide(policy, by_hand, memory, 31.0)
    assert (decision.action, decision.after) == ("hold", 8)
    assert decision.reason.startswith("cooldown")
    decision, memory = decide(policy, by_hand, memory, 31.0 + policy.cooldown + 1)
    assert decision.action == "hold"  # the idle clock started again at the change
    decision, _ = decide(policy, by_hand, memory, 31.0 + policy.idle + 1)
    assert (decision.action, decision.after) == ("shrink", 4)


def test_a_size_out_of_bounds_set_by_hand_is_corrected_at_once() -> None:
    _, memory = decide(POLICY, Reading(2, 0, 0.0, 0.0), Memory(), 0.0)
    decision, _ = decide(POLICY, Reading(50, 0, 0.0, 0.0), memory, 1.0)
    assert (decision.action, decision.after) == ("shrink", 8)
