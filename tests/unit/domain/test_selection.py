"""Agent selection: capability matching, resources, capacity and the least-loaded policy."""

from __future__ import annotations

import pytest

from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.selection import (
    LeastLoaded,
    can_take_now,
    could_ever_take,
    has_capabilities,
    resources_fit,
)
from imperium.domain.states import AgentStatus


def agent(
    agent_id: str = "agent-1",
    capabilities: set[str] | None = None,
    resources: dict[str, float] | None = None,
    in_use: dict[str, float] | None = None,
    running: int = 0,
    max_concurrency: int = 2,
    priority: str = "medium",
    status: AgentStatus = AgentStatus.ACTIVE,
    online: bool = True,
) -> AgentState:
    spec = AgentSpec(
        id=agent_id,
        type="llm",
        capabilities=frozenset({"summarize"} if capabilities is None else capabilities),
        priority=priority,
        max_concurrency=max_concurrency,
        resources=resources or {},
        status=status,
    )
    return AgentState(spec, running=running, resources_in_use=in_use or {}, online=online)


def task(
    capabilities: set[str] | None = None,
    resources: dict[str, float] | None = None,
    pinned_agent: str | None = None,
    task_type: str = "summarize",
) -> Task:
    return Task(
        id="task-1",
        type=task_type,
        created_at=0.0,
        capabilities=frozenset(capabilities or set()),
        resources=resources or {},
        pinned_agent=pinned_agent,
    )


@pytest.mark.parametrize(
    ("offered", "required", "expected"),
    [
        ({"summarize", "translate"}, {"summarize"}, True),
        ({"summarize", "translate"}, {"summarize", "translate"}, True),
        ({"summarize"}, {"summarize", "translate"}, False),
        (set(), {"summarize"}, False),
    ],
)
def test_agent_needs_every_required_capability(
    offered: set[str], required: set[str], expected: bool
) -> None:
    assert has_capabilities(agent(capabilities=offered), task(capabilities=required)) is expected


@pytest.mark.parametrize(("offered", "expected"), [({"summarize"}, True), ({"translate"}, False)])
def test_task_without_capabilities_requires_its_type(offered: set[str], expected: bool) -> None:
    assert has_capabilities(agent(capabilities=offered), task(task_type="summarize")) is expected


def test_pinned_task_matches_only_its_agent() -> None:
    pinned = task(pinned_agent="agent-2")
    assert has_capabilities(agent("agent-2"), pinned)
    assert not has_capabilities(agent("agent-1"), pinned)
    assert not can_take_now(agent("agent-1"), pinned)
    assert not could_ever_take(agent("agent-1"), pinned)


@pytest.mark.parametrize(
    ("offered", "in_use", "requested", "expected"),
    [
        ({}, {}, {"gpu": 8.0}, True),  # no declared resources: only max_concurrency limits
        ({"gpu": 2.0}, {}, {"gpu": 2.0}, True),
        ({"gpu": 2.0}, {"gpu": 1.0}, {"gpu": 1.0}, True),
        ({"gpu": 2.0}, {"gpu": 1.5}, {"gpu": 1.0}, False),  # over what is left
        ({"gpu": 2.0}, {}, {"gpu": 3.0}, False),  # over capacity
        ({"gpu": 2.0}, {}, {"memory_mb": 512.0}, False),  # resource not offered
        ({"gpu": 2.0}, {}, {"memory_mb": 0.0}, True),  # zero requests are ignored
        ({"gpu": 2.0, "cpu": 4.0}, {"cpu": 4.0}, {"gpu": 1.0}, True),
    ],
)
def test_resources_fit(
    offered: dict[str, float], in_use: dict[str, float], requested: dict[str, float], expected: bool
) -> None:
    assert resources_fit(agent(resources=offered, in_use=in_use), requested) is expected


@pytest.mark.parametrize(
    ("offered", "in_use", "requested", "expected"),
    [
        ({}, {}, {"gpu": 8.0}, True),
        ({"gpu": 2.0}, {"gpu": 2.0}, {"gpu": 2.0}, True),  # busy now, but could later
        ({"gpu": 2.0}, {}, {"gpu": 3.0}, False),
        ({"gpu": 2.0}, {}, {"memory_mb": 512.0}, False),
    ],
)
def test_could_ever_take_ignores_what_is_in_use(
    offered: dict[str, float], in_use: dict[str, float], requested: dict[str, float], expected: bool
) -> None:
    candidate = agent(resources=offered, in_use=in_use)
    assert could_ever_take(candidate, task(resources=requested)) is expected


def test_could_ever_take_needs_capabilities() -> None:
    assert not could_ever_take(agent(capabilities={"translate"}), task())


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (agent(), True),
        (agent(running=1, max_concurrency=2), True),
        (agent(running=2, max_concurrency=2), False),  # full
        (agent(status=AgentStatus.PAUSED), False),
        (agent(status=AgentStatus.RETIRED), False),
        (agent(online=False), False),
        (agent(capabilities={"translate"}), False),
        (agent(resources={"gpu": 1.0}, in_use={"gpu": 1.0}), False),  # resources taken
    ],
)
def test_can_take_now(candidate: AgentState, expected: bool) -> None:
    assert can_take_now(candidate, task(resources={"gpu": 1.0})) is expected


@pytest.mark.parametrize(
    ("candidates", "chosen"),
    [
        # lowest running/max_concurrency wins, whatever the order given
        ([agent("a", running=1, max_concurrency=2), agent("b", running=1, max_concurrency=4)], "b"),
        ([agent("b", running=0, priority="low"), agent("a", running=1, priority="high")], "b"),
        # equal load: agent priority high < medium < low
        (
            [
                agent("a", priority="low"),
                agent("b", priority="medium"),
                agent("c", priority="high"),
            ],
            "c",
        ),
        ([agent("a", priority="low"), agent("b", priority="medium")], "b"),
        # equal load and priority: lowest id
        ([agent("c"), agent("a"), agent("b")], "a"),
    ],
)
def test_least_loaded_choice(candidates: list[AgentState], chosen: str) -> None:
    assert LeastLoaded().choose(task(), candidates).spec.id == chosen
    assert LeastLoaded().choose(task(), candidates[::-1]).spec.id == chosen
