"""What the swarm looks like now: slots per agent, queues by priority, execution totals.

Active tasks and agents' slots come from the engine's memory (the scheduler runs in this
process); task totals by state and execution figures come from the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imperium.domain.models import AgentState, Task
from imperium.domain.states import AgentStatus, Outcome, PriorityLevel, TaskState
from imperium.ports import AgentStats, QueryStore
from imperium.services.engine import Engine

# The seed had four queues; Imperium has five levels. Background shares the lowest.
QUEUE_BUCKETS: Mapping[PriorityLevel, str] = {
    PriorityLevel.CRITICAL: "priority_1",
    PriorityLevel.HIGH: "priority_2",
    PriorityLevel.NORMAL: "priority_3",
    PriorityLevel.LOW: "priority_4",
    PriorityLevel.BACKGROUND: "priority_4",
}
UNSUCCESSFUL_STATES = (TaskState.FAILED, TaskState.DEAD, TaskState.TIMED_OUT)
# Attempt outcomes that count against an agent (as in the store's agent figures);
# cancelled and interrupted attempts say nothing about it.
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST)


def condition(agent: AgentState) -> str:
    """``active``, ``paused``, ``retired``, ``load_failed`` (a local agent whose
    implementation could not be loaded), ``not_connected`` (a remote agent that has not
    polled yet) or ``offline`` (a remote agent past its heartbeat)."""
    if agent.spec.status is AgentStatus.RETIRED:
        return "retired"
    if agent.spec.status is AgentStatus.PAUSED:
        return "paused"
    if agent.online:
        return "active"
    if not agent.remote:
        return "load_failed"
    return "not_connected" if agent.last_heartbeat is None else "offline"


UNAVAILABLE_REASONS = {
    "load_failed": "its implementation failed to load",
    "not_connected": "remote agent that has not connected yet",
    "offline": "remote agent past its heartbeat",
}


@dataclass(frozen=True, slots=True)
class AgentSlots:
    agent_id: str
    condition: str
    remote: bool
    max_concurrency: int
    working: int
    idle: int
    maintenance: int
    failed: int

    @property
    def slots(self) -> int:
        return self.working + self.idle + self.maintenance + self.failed


def agent_slots(agent: AgentState) -> AgentSlots:
    cond = condition(agent)
    size = 0 if cond == "retired" else max(agent.spec.max_concurrency, agent.running)
    working = min(agent.running, size)
    free = size - working
    return AgentSlots(
        agent_id=agent.spec.id,
        condition=cond,
        remote=agent.remote,
        max_concurrency=agent.spec.max_concurrency,
        working=working,
        idle=free if cond == "active" else 0,
        maintenance=free if cond == "paused" else 0,
        failed=free if cond in UNAVAILABLE_REASONS else 0,
    )


def bot_status(slots: Iterable[AgentSlots]) -> dict[str, int]:
    totals = {"idle": 0, "working": 0, "failed": 0, "maintenance": 0}
    for s in slots:
        totals["idle"] += s.idle
        totals["working"] += s.working
        totals["failed"] += s.failed
        totals["maintenance"] += s.maintenance
    return totals


def queued_by_level(tasks: Iterable[Task]) -> dict[PriorityLevel, int]:
    """Tasks in state ``queued`` (ready, waiting out a retry backoff, or waiting for an
    agent that can take them) by declared priority."""
    counts = dict.fromkeys(PriorityLevel, 0)
    for task in tasks:
        if task.state is TaskState.QUEUED:
            counts[task.priority] += 1
    return counts


def queue_lengths(by_level: Mapping[PriorityLevel, int]) -> dict[str, int]:
    lengths = dict.fromkeys(sorted(set(QUEUE_BUCKETS.values())), 0)
    for level, count in by_level.items():
        lengths[QUEUE_BUCKETS[level]] += count
    return lengths


@dataclass(frozen=True, slots=True)
class ExecutionTotals:
    """Attempts recorded in ``agent_task_executions`` by outcome. The success rate is
    over attempts that succeeded or failed (failed, timed out, lost): cancelled and
    interrupted attempts say nothing about how well the work went."""

    by_outcome: dict[Outcome, int]

    @property
    def succeeded(self) -> int:
        return self.by_outcome.get(Outcome.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        return sum(self.by_outcome.get(o, 0) for o in FAILED_OUTCOMES)

    @property
    def total(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def success_rate(self) -> float | None:
        judged = self.succeeded + self.failed
        return self.succeeded / judged if judged else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    agents: tuple[AgentSlots, ...]
    task_counts: dict[TaskState, int]
    queued: dict[PriorityLevel, int]
    pending: int
    running: int
    stats: dict[str, AgentStats]
    executions: ExecutionTotals

    @property
    def bot_status(self) -> dict[str, int]:
        return bot_status(self.agents)

    @property
    def total_bots(self) -> int:
        return sum(a.slots for a in self.agents)

    @property
    def queue_lengths(self) -> dict[str, int]:
        return queue_lengths(self.queued)

    @property
    def utilisation(self) -> float | None:
        """Working slots over all slots; None when there are no slots."""
        total = self.total_bots
        return self.bot_status["working"] / total if total else None

    def count(self, *states: TaskState) -> int:
        return sum(self.task_counts.get(s, 0) for s in states)


async def take_snapshot(engine: Engine, queries: QueryStore) -> Snapshot:
    counts = await queries.count_tasks_by_state()
    stats = await queries.agent_stats()
    outcomes = await queries.count_executions_by_outcome()
    live = engine.snapshot()  # after the awaits: the scheduler as it is now
    census = live.census
    return Snapshot(
        at=live.at,
        agents=tuple(agent_slots(a) for a in live.agents),
        task_counts=counts,
        queued=dict(census.queued_by_level),
        pending=census.pending,
        running=census.running,
        stats=stats,
        executions=ExecutionTotals(dict(outcomes)),
    )
