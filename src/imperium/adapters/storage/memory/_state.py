"""``MemoryState``: one in-memory database, shared by the in-memory area stores, and the
copies that keep what is stored apart from what callers hold.

JSON values go through a JSON round trip (so unserialisable payloads fail here as they do
in SQL), and nothing returned aliases what is stored (the scheduler mutates its ``Task``
objects).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Container, Sequence
from typing import Any

import orjson

from imperium.domain.auth import ApiKey
from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.feedback import Feedback
from imperium.domain.learning import Insight, LearningCycle, ModelReport
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.proposals import Proposal
from imperium.domain.teams import TeamRun
from imperium.ports import LearningLog, LockInfo, TaskSnapshot

_SNAPSHOT_FIELDS = tuple(f for f in TaskSnapshot._fields if f != "id")


def json_copy(value: Any) -> Any:
    """A copy of ``value`` as it would come back from a JSON column."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


@dataclasses.dataclass(slots=True)
class LearningColumns:
    """The learning columns of an ``agent_metrics`` row, with the columns' defaults."""

    learning_score: float = 0.0
    success_rate: float = 0.0
    failure_rate: float = 0.0
    total_learning_cycles: int = 0
    last_learning_cycle: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    learning_patterns: list[Any] = dataclasses.field(default_factory=list)
    improvement_suggestions: list[Any] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class MemoryState:
    """Every table, as dicts and lists; one instance is one database."""

    tasks: dict[str, Task] = dataclasses.field(default_factory=dict)
    cancel_requested_at: dict[str, float] = dataclasses.field(default_factory=dict)
    executions: dict[tuple[str, int], Execution] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    learning: list[LearningLog] = dataclasses.field(default_factory=list)
    agents: dict[str, AgentSpec] = dataclasses.field(default_factory=dict)
    agent_learning: dict[str, LearningColumns] = dataclasses.field(default_factory=dict)
    cycles: dict[str, LearningCycle] = dataclasses.field(default_factory=dict)
    insights: list[tuple[str, Insight]] = dataclasses.field(default_factory=list)
    models: dict[str, ModelReport] = dataclasses.field(default_factory=dict)
    custody: dict[str, CustodyRecord] = dataclasses.field(default_factory=dict)
    custody_results: dict[str, CustodyResult] = dataclasses.field(default_factory=dict)
    proposals: dict[str, Proposal] = dataclasses.field(default_factory=dict)
    teams: dict[str, TeamRun] = dataclasses.field(default_factory=dict)
    keys: dict[str, ApiKey] = dataclasses.field(default_factory=dict)
    feedback: list[Feedback] = dataclasses.field(default_factory=list)
    lock: LockInfo | None = None
    _in_unit: bool = False

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """What the block writes stays only if it ends without raising (a copy of every
        table is taken first and put back on failure; nested blocks join the outer one).
        Writes that other coroutines make meanwhile are rolled back with it: a test stub."""
        if self._in_unit:
            yield
            return
        saved = {f.name: copy.deepcopy(getattr(self, f.name)) for f in _TABLES}
        self._in_unit = True
        try:
            yield
        except BaseException:
            for name, value in saved.items():
                setattr(self, name, value)
            raise
        finally:
            self._in_unit = False

    def store_task(self, task: Task, snap: TaskSnapshot) -> None:
        stored = copy_task(task)
        set_snapshot(stored, snap)
        self.tasks[task.id] = stored


_TABLES = tuple(f for f in dataclasses.fields(MemoryState) if f.name != "_in_unit")


class MemoryArea:
    """The base of every in-memory area store: the shared state (a fresh one by default)."""

    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()


def duplicates(keys: Sequence[Any], stored: Container[Any]) -> list[Any]:
    """Keys already in ``stored`` or repeated within ``keys``."""
    seen: set[Any] = set()
    clashes = []
    for key in keys:
        if key in stored or key in seen:
            clashes.append(key)
        seen.add(key)
    return clashes


def set_snapshot(task: Task, snap: TaskSnapshot) -> None:
    for name in _SNAPSHOT_FIELDS:
        setattr(task, name, getattr(snap, name))
    task.result = json_copy(snap.result)


def copy_task(task: Task) -> Task:
    return dataclasses.replace(
        task,
        payload=json_copy(task.payload),
        resources=json_copy(task.resources),
        result=json_copy(task.result),
    )


def copy_execution(execution: Execution) -> Execution:
    return execution._replace(resources=json_copy(execution.resources))


def copy_event(event: Event) -> Event:
    return event._replace(data=json_copy(event.data))


def copy_agent(spec: AgentSpec) -> AgentSpec:
    return dataclasses.replace(
        spec, resources=json_copy(spec.resources), config=json_copy(spec.config)
    )
