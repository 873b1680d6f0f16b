"""``PlanningService``: the seed's L20 routes over the engine, the registry and the store."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imperium.domain.models import JSON, AgentState
from imperium.domain.priority import score_and_key, task_features
from imperium.domain.states import TaskState
from imperium.ports import QueryStore, TaskFilter
from imperium.services.agents import AgentService
from imperium.services.engine import Engine
from imperium.services.planning.allocation import Amounts, Plan, Request, allocate
from imperium.services.planning.coordination import (
    Coordination,
    plan_coordination,
    run_coordination,
)
from imperium.services.planning.priority import Ranked, SeedTask, rank
from imperium.services.planning.strategy import Strategy, plan_strategy
from imperium.services.swarm.snapshot import (
    UNAVAILABLE_REASONS,
    Snapshot,
    condition,
    take_snapshot,
)

DURATION_SAMPLE = 200
"""How many of the most recent succeeded tasks of a type the duration median looks at."""


@dataclass(frozen=True, slots=True)
class DurationEstimate:
    """Median run time of recent succeeded tasks whose type is the capability, or None
    with the reason when there are none."""

    seconds: float | None
    samples: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Recommended:
    agent_id: str
    capabilities: tuple[str, ...]
    phases: tuple[str, ...]
    executions: int
    success_rate: float | None


@dataclass(frozen=True, slots=True)
class StrategyReport:
    strategy_id: str
    created_at: float
    strategy: Strategy
    durations: dict[str, DurationEstimate]
    recommended: list[Recommended]


@dataclass(frozen=True, slots=True)
class ResourcePlan:
    at: float
    capacity: Amounts
    capacity_from: str
    """``request`` (available_resources) or ``agents`` (their declared free capacity)."""
    counted_agents: tuple[str, ...]
    undeclared_agents: tuple[str, ...]
    """Active agents that declare no resources: the engine does not limit theirs, so no
    amount of theirs can be counted."""
    tasks_from: str
    """``request`` (pending_tasks) or ``queued`` (the engine's queued tasks)."""
    plan: Plan


class PlanningService:
    def __init__(self, engine: Engine, agents: AgentService, queries: QueryStore) -> None:
        self._engine = engine
        self._agents = agents
        self._queries = queries

    def now(self) -> float:
        return self._engine.clock.now()

    def prioritize(self, tasks: Sequence[SeedTask]) -> list[Ranked]:
        return rank(tasks, self.now())

    async def strategize(self, objective: str) -> StrategyReport:
        specs = await self._agents.list()
        unavailable = {
            agent_id: UNAVAILABLE_REASONS[cond]
            for agent_id, state in ((a.spec.id, a) for a in self._engine.snapshot().agents)
            if (cond := condition(state)) in UNAVAILABLE_REASONS
        }
        strategy = plan_strategy(objective, specs, unavailable)
        capabilities = sorted({p.capability for p in strategy.phases if p.capability})
        durations = {c: await self._duration(c) for c in capabilities}
        stats = await self._agents.stats()
        recommended = []
        for agent_id, (caps, phases) in _recommended(strategy).items():
            s = stats.get(agent_id)
            executions = s.executions if s is not None else 0
            rate = s.succeeded / executions if s is not None and executions else None
            recommended.append(Recommended(agent_id, caps, phases, executions, rate))
        now = self._engine.clock.now()
        return StrategyReport(self._engine.new_id(), now, strategy, durations, recommended)

    async def _duration(self, capability: str) -> DurationEstimate:
        flt = TaskFilter(state=TaskState.SUCCEEDED, type=capability, limit=DURATION_SAMPLE)
        runs = [
            t.finished_at - t.started_at
            for t in await self._queries.list_tasks(flt)
            if t.started_at is not None and t.finished_at is not None
        ]
        if not runs:
            note = f"no succeeded task of type '{capability}' is recorded yet"
            return DurationEstimate(None, 0, note)
        return DurationEstimate(statistics.median(runs), len(runs))

    async def coordinate(
        self, domains: Sequence[str], task_specs: Mapping[str, Mapping[str, JSON]], wait: float
    ) -> Coordination:
        return await run_coordination(self._engine, plan_coordination(domains, task_specs), wait)

    def optimize_resources(
        self, available: Amounts | None, pending: Sequence[SeedTask] | None
    ) -> ResourcePlan:
        now = self._engine.clock.now()
        active = [a for a in self._engine.snapshot().agents if condition(a) == "active"]
        counted = tuple(a.spec.id for a in active if a.spec.resources)
        undeclared = tuple(a.spec.id for a in active if not a.spec.resources)
        capacity = available if available is not None else _free_capacity(active)
        requests = _requests(pending, now) if pending is not None else self._queued(now)
        return ResourcePlan(
            at=now,
            capacity=capacity,
            capacity_from="request" if available is not None else "agents",
            counted_agents=() if available is not None else counted,
            undeclared_agents=() if available is not None else undeclared,
            tasks_from="request" if pending is not None else "queued",
            plan=allocate(capacity, requests),
        )

    def _queued(self, now: float) -> list[Request]:
        requests = []
        for task in self._engine.snapshot().queued():
            score, key = score_and_key(task_features(task), now)
            res = task.resources
            wants = Amounts(res.get("cpu", 0.0), res.get("memory_mb", 0.0), res.get("gpu", 0.0))
            requests.append(Request(task.id, wants, key, score))
        return requests

    async def metrics(self) -> Snapshot:
        return await take_snapshot(self._engine, self._queries)


def _recommended(strategy: Strategy) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Agents able to do a phase now, in the order they first appear: their matching
    capabilities and the phases they can do."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for phase in strategy.phases:
        for agent_id in phase.agents:
            caps, phases = found.setdefault(agent_id, ([], []))
            if phase.capability is not None and phase.capability not in caps:
                caps.append(phase.capability)
            phases.append(phase.phase_id)
    return {a: (tuple(c), tuple(p)) for a, (c, p) in found.items()}


def _free_capacity(agents: Sequence[AgentState]) -> Amounts:
    """Declared resources minus those in use, summed over ``agents``."""

    def free(agent: AgentState, name: str) -> float:
        declared = agent.spec.resources.get(name, 0.0)
        return max(0.0, declared - agent.resources_in_use.get(name, 0.0))

    return Amounts(
        cpu=sum(free(a, "cpu") for a in agents),
        memory=sum(free(a, "memory_mb") for a in agents),
        gpu=sum(free(a, "gpu") for a in agents),
    )


def _requests(tasks: Sequence[SeedTask], now: float) -> list[Request]:
    """Requests in the order of :func:`rank` (its position is the key)."""
    requests = []
    for position, ranked in enumerate(rank(tasks, now)):
        task = tasks[ranked.index]
        task_id = task.task_id if task.task_id is not None else f"pending_tasks[{ranked.index}]"
        wants = Amounts(task.cpu, task.memory_mb, task.gpu)
        requests.append(Request(task_id, wants, float(-position), ranked.score))
    return requests
