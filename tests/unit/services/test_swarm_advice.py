"""Swarm recommendations: each from a rule, with its evidence; none from too little data."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.states import AgentStatus
from imperium.ports import AgentStats
from imperium.services.swarm.advice import MIN_SAMPLES, advise, wilson_upper

LIMIT = 100_000
_ids = itertools.count()


def agent(
    agent_id: str,
    *caps: str,
    size: int = 1,
    running: int = 0,
    status: AgentStatus = AgentStatus.ACTIVE,
    remote: bool = False,
    online: bool = True,
    heartbeat: float | None = None,
) -> AgentState:
    spec = AgentSpec(
        id=agent_id,
        type="remote" if remote else "echo",
        capabilities=frozenset(caps or (agent_id,)),
        max_concurrency=size,
        status=status,
    )
    return AgentState(spec, remote=remote, running=running, online=online, last_heartbeat=heartbeat)


def waiting(task_type: str, n: int) -> list[Task]:
    return [Task(id=f"t{next(_ids)}", type=task_type, created_at=0.0) for _ in range(n)]


def stats(agent_id: str, succeeded: int, failed: int) -> AgentStats:
    return AgentStats(agent_id, succeeded + failed, succeeded, failed, 1.0, None, None)


def test_a_backlog_grows_the_least_loaded_local_agent() -> None:
    agents = [agent("busy", "scan", size=2, running=2), agent("calm", "scan", size=4, running=1)]
    advice = advise(agents, {}, waiting("scan", 7), LIMIT)
    (rec,) = advice.recommendations
    assert (rec.action, rec.agent_id, rec.target_concurrency, rec.applicable) == (
        "scale_up",
        "calm",
        8,  # 7 waiting, 3 free slots: 4 more
        True,
    )
    assert rec.evidence["shortfall"] == 4
    assert rec.evidence["waiting"] == [{"work": "scan", "waiting_tasks": 7, "free_slots": 3}]


def test_no_backlog_no_recommendation_and_scale_down_is_explained() -> None:
    advice = advise([agent("a", size=5)], {}, waiting("a", 5), LIMIT)
    assert advice.recommendations == []
    assert any("scale-down is not recommended" in n for n in advice.notes)


def test_remote_only_work_asks_for_workers() -> None:
    agents = [agent("w", "gpu", remote=True, size=1, running=1, heartbeat=1.0)]
    (rec,) = advise(agents, {}, waiting("gpu", 3), LIMIT).recommendations
    assert (rec.action, rec.applicable) == ("add_workers", False)
    assert rec.evidence == {"work": "gpu", "waiting_tasks": 3, "free_slots": 0, "agents": ["w"]}


def test_work_no_agent_can_take() -> None:
    agents = [agent("p", "paint", status=AgentStatus.PAUSED)]
    recs = advise(agents, {}, waiting("paint", 2) + waiting("sing", 1), LIMIT).recommendations
    assert [(r.action, r.evidence["work"], r.applicable) for r in recs] == [
        ("resume_agent", "paint", False),
        ("register_agent", "sing", False),
    ]


def test_an_agent_at_the_limit_cannot_grow() -> None:
    (rec,) = advise(
        [agent("a", size=LIMIT, running=LIMIT)], {}, waiting("a", 1), LIMIT
    ).recommendations
    assert (rec.action, rec.applicable) == ("register_agent", False)


def test_a_proven_low_performer_is_replaced_when_others_cover_its_work() -> None:
    agents = [agent("bad", "scan"), agent("good", "scan")]
    records = {"bad": stats("bad", 2, MIN_SAMPLES), "good": stats("good", 30, 0)}
    (rec,) = advise(agents, records, [], LIMIT).recommendations
    assert (rec.action, rec.agent_id, rec.applicable) == ("replace", "bad", True)
    assert rec.evidence["executions"] == MIN_SAMPLES + 2
    assert rec.evidence["success_rate_upper_95"] < 0.5


def test_the_only_agent_for_some_work_is_not_paused_automatically() -> None:
    agents = [agent("bad", "scan", "lint"), agent("good", "scan")]
    (rec,) = advise(agents, {"bad": stats("bad", 0, 25)}, [], LIMIT).recommendations
    assert (rec.action, rec.applicable) == ("replace", False)
    assert rec.evidence["only_active_agent_for"] == ["lint"]
    assert "register a replacement first" in rec.reason


def test_too_few_samples_give_a_note_not_a_recommendation() -> None:
    advice = advise([agent("new")], {"new": stats("new", 0, 5)}, [], LIMIT)
    assert advice.recommendations == []
    assert "insufficient data (n=5, need 20)" in advice.notes[0]


def test_a_rate_that_may_still_be_fine_is_left_alone() -> None:
    # 9 of 20: 45%, but the interval reaches well above 50%
    assert advise([agent("a")], {"a": stats("a", 9, 11)}, [], LIMIT).recommendations == []


def test_agents_that_cannot_work_are_reported() -> None:
    agents = [
        agent("broken", online=False),
        agent("gone", remote=True, online=False, heartbeat=5.0),
        agent("fresh", remote=True, online=False),  # never connected: not a failure yet
    ]
    recs = advise(agents, {}, [], LIMIT).recommendations
    assert [(r.action, r.agent_id) for r in recs] == [
        ("fix_agent", "broken"),
        ("restart_worker", "gone"),
    ]


@given(st.integers(0, 500), st.integers(0, 500))
def test_wilson_upper_is_a_bound(successes: int, failures: int) -> None:
    n = successes + failures
    upper = wilson_upper(successes, n)
    assert 0.0 <= upper <= 1.0
    if n:
        assert upper >= successes / n


@pytest.mark.parametrize(("s", "n", "expected"), [(0, 20, 0.161), (10, 20, 0.701)])
def test_wilson_upper_values(s: int, n: int, expected: float) -> None:
    assert wilson_upper(s, n) == pytest.approx(expected, abs=1e-3)
