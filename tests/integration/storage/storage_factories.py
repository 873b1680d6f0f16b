"""Records for the storage tests, with every field set to something other than its default
so that a column dropped or swapped on the way to the database shows up."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.states import AgentStatus, Outcome, PriorityLevel, TaskState
from imperium.ports import TaskSnapshot, WriteBatch

# fractional seconds that are not exactly representable, well after 2001 (a 10-digit epoch)
T0 = 1_731_000_000.123456
TOLERANCE = 1e-3  # timestamps must round-trip within 1 ms

_ids = itertools.count(1)


def make_task(**overrides: Any) -> Task:
    n = next(_ids)
    fields: dict[str, Any] = {
        "id": f"task-{n:06d}",
        "type": "summarise",
        "created_at": T0 + n,
        "payload": {"text": "héllo ✓", "items": [1, 2.5, None, {"deep": True}]},
        "capabilities": frozenset({"nlp", "summary"}),
        "priority": PriorityLevel.HIGH,
        "complexity": 2.5,
        "deadline": T0 + 3600.25,
        "timeout": 30.5,
        "max_attempts": 5,
        "resources": {"cpu": 2.0, "memory_mb": 512.0},
        "pinned_agent": "agent-a",
        "depends_on": ("dep-2", "dep-1"),
        "workflow_id": "wf-1",
        "name": "summarise report",
        "estimated_duration": 12.5,
        "dependents": 3,
        "state": TaskState.QUEUED,
        "attempts": 1,
        "lease_token": 7,
        "agent_id": "agent-a",
        "lease_expires_at": T0 + 15.5,
        "not_before": T0 + 2.75,
        "started_at": T0 + 1.5,
        "finished_at": None,
        "result": {"summary": "ok", "n": 3},
        "error_kind": "Timeout",
        "error_message": "took too long",
        "score": 71.25,
        "updated_at": T0 + 5.001,
    }
    fields.update(overrides)
    return Task(**fields)


def make_execution(task_id: str, attempt: int = 1, **overrides: Any) -> Execution:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "attempt": attempt,
        "agent_id": "agent-a",
        "task_type": "summarise",
        "complexity": 2.5,
        "started_at": T0 + 10.0,
        "finished_at": T0 + 12.5,
        "outcome": Outcome.FAILED,
        "lease_token": attempt,
        "error_kind": "ValueError",
        "error_message": "bad input",
        "resources": {"cpu": 1.0},
        "tokens": 1234,
        "cost": 0.0421,
    }
    fields.update(overrides)
    return Execution(**fields)


def make_event(task_id: str | None, event_type: str = "task.queued", **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "event_type": event_type,
        "created_at": T0 + 1.25,
        "task_id": task_id,
        "agent_id": "agent-a",
        "data": {"from": "pending", "to": "queued", "why": ["deps", "done"]},
    }
    fields.update(overrides)
    return Event(**fields)


def make_agent(agent_id: str = "agent-a", **overrides: Any) -> AgentSpec:
    fields: dict[str, Any] = {
        "id": agent_id,
        "type": "llm",
        "capabilities": frozenset({"nlp", "summary"}),
        "priority": "high",
        "max_concurrency": 4,
        "resources": {"cpu": 2.0, "gpu": 0.5},
        "config": {"model": "small", "temperature": 0.2, "stops": ["\n"]},
        "status": AgentStatus.PAUSED,
        "description": "summarises things",
        "created_at": T0,
        "updated_at": T0 + 100.5,
    }
    fields.update(overrides)
    return AgentSpec(**fields)


def inserting(*tasks: Task) -> WriteBatch:
    return WriteBatch(inserts=[(t, TaskSnapshot.of(t)) for t in tasks])


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= TOLERANCE
    return bool(a == b)


def assert_same(actual: Any, expected: Any) -> None:
    """Every field of two records (dataclasses or NamedTuples) equal, floats within 1 ms."""
    assert type(actual) is type(expected)
    names = getattr(expected, "_fields", None) or [f.name for f in dataclasses.fields(expected)]
    for name in names:
        got, want = getattr(actual, name), getattr(expected, name)
        assert _close(got, want), f"{name}: {got!r} != {want!r}"
