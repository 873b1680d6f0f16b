"""``SwarmService``: the seed's swarm routes over the engine and the agent registry."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from imperium.domain.errors import ConflictError, ImperiumError, ValidationError
from imperium.domain.models import JSON, Task
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import AgentStatus
from imperium.ports import QueryStore
from imperium.services.agents import MAX_CONCURRENCY_LIMIT, AgentService
from imperium.services.engine import Engine
from imperium.services.swarm.advice import Advice, Recommendation, advise
from imperium.services.swarm.autoscaler import Autoscaler, Planned
from imperium.services.swarm.scaling import distribute
from imperium.services.swarm.snapshot import Snapshot, condition, take_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Dispatch:
    dispatch_id: str
    """The workflow id the tasks were submitted under: ``GET /api/v1/tasks?workflow_id=``."""
    tasks: list[Task]
    at: float

    @property
    def assigned(self) -> int:
        """Tasks already handed to an agent when the submission had been committed (the
        engine dispatches as soon as it admits a task); the others wait in the queue."""
        return sum(1 for t in self.tasks if t.attempts > 0)


@dataclass(frozen=True, slots=True)
class Change:
    agent_id: str
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class Scaling:
    changes: list[Change]
    message: str


@dataclass(frozen=True, slots=True)
class Applied:
    action: str
    agent_id: str | None
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Optimization:
    before: Snapshot
    advice: Advice
    applied: list[Applied] | None


class SwarmService:
    def __init__(
        self, engine: Engine, agents: AgentService, queries: QueryStore, autoscaler: Autoscaler
    ) -> None:
        self._engine = engine
        self._agents = agents
        self._queries = queries
        self.autoscaler = autoscaler

    async def dispatch(self, specs: Sequence[TaskSpec], group: str = "dispatch") -> Dispatch:
        """Submit independent tasks as one workflow named ``group`` (a workflow without
        dependencies: it gives the batch an id to list it by); returns once they are
        durable."""
        named = tuple(_named(spec, i) for i, spec in enumerate(specs, start=1))
        workflow_id, tasks = await self._engine.submit_workflow(WorkflowSpec(named, group))
        return Dispatch(workflow_id, tasks, self._engine.clock.now())

    async def status(self) -> Snapshot:
        return await take_snapshot(self._engine, self._queries)

    async def scale(self, target: int, agent_id: str | None = None) -> Scaling:
        if agent_id is not None:
            return await self._scale_one(agent_id, target)
        agents = self._engine.snapshot().agents
        local = {
            a.spec.id: a.spec.max_concurrency
            for a in agents
            if not a.remote and condition(a) == "active"
        }
        remote = [a.spec.id for a in agents if a.remote and condition(a) != "retired"]
        if not local:
            raise ConflictError(
                "nothing to scale: no active in-process agent is registered. Register one "
                "(POST /api/v1/agents), resume a paused one, or scale one agent with agent_id"
            )
        bounds = self.autoscaler.bounds()
        sizes = distribute(target, local, 1, MAX_CONCURRENCY_LIMIT, bounds)
        changes = [
            await self._autoscaled(a, local[a], n)
            if a in bounds
            else await self._resize(a, local[a], n)
            for a, n in sizes.items()
        ]
        message = f"{len(local)} in-process agent(s) now have {target} slots in total"
        if bounds.keys() & local.keys():
            message += (
                "; autoscaled agents were kept within their bounds and start a cooldown "
                "before the autoscaler changes them again"
            )
        if remote:
            message += (
                f"; remote agents ({', '.join(remote)}) were left alone: their capacity is "
                "set by their workers (scale one with agent_id to change its cap)"
            )
        return Scaling(changes, message)

    async def _scale_one(self, agent_id: str, target: int) -> Scaling:
        if target > MAX_CONCURRENCY_LIMIT:
            raise ValidationError(
                f"target_size {target} is above the limit of {MAX_CONCURRENCY_LIMIT} slots "
                "per agent; register more agents, or leave out agent_id to divide the "
                "target among all in-process agents"
            )
        spec = await self._agents.get(agent_id)
        if self.autoscaler.is_autoscaled(agent_id):
            change = await self._autoscaled(agent_id, spec.max_concurrency, target)
            return Scaling(
                [change],
                f"agent {agent_id} now has {change.after} slots (autoscaled: kept within its "
                "bounds; the autoscaler leaves it alone for its cooldown)",
            )
        change = await self._resize(agent_id, spec.max_concurrency, target)
        message = f"agent {agent_id} now has {target} slots"
        state = self._engine.snapshot().agent(agent_id)
        if state is not None and state.remote:
            message += (
                "; it is a remote agent: the scheduler hands it at most that many tasks at "
                "once, and its worker's own concurrency still limits what it asks for"
            )
        return Scaling([change], message)

    async def _resize(self, agent_id: str, before: int, after: int) -> Change:
        if after != before:
            await self._agents.update(agent_id, {"max_concurrency": after})
            log.info(
                "agent %s resized from %d to %d slots",
                agent_id,
                before,
                after,
                extra={"action": "swarm.scale", "agent_id": agent_id, "slots": after},
            )
        return Change(agent_id, before, after)

    async def _autoscaled(self, agent_id: str, before: int, target: int) -> Change:
        decision = await self.autoscaler.set_size(agent_id, target, "manual", "set by /swarm/scale")
        return Change(agent_id, before, decision.after)

    async def optimize(self, apply: bool) -> Optimization:
        before = await take_snapshot(self._engine, self._queries)
        now = self._engine.clock.now()
        live = self._engine.snapshot()
        waiting = [t for t in live.queued() if t.not_before is None or t.not_before <= now]
        advice = advise(list(live.agents), before.stats, waiting, MAX_CONCURRENCY_LIMIT)
        advice = _with_autoscaling(advice, self.autoscaler.plan())
        applied = None
        if apply:
            applied = [await self._apply(r) for r in advice.recommendations if r.applicable]
        return Optimization(before, advice, applied)

    async def _apply(self, rec: Recommendation) -> Applied:
        assert rec.agent_id is not None
        try:
            if rec.evidence.get("autoscale") is True:
                assert rec.target_concurrency is not None
                decision = await self.autoscaler.set_size(
                    rec.agent_id, rec.target_concurrency, "optimize", rec.reason
                )
                detail = f"max_concurrency {decision.before} -> {decision.after}"
                return Applied(rec.action, rec.agent_id, True, detail)
            if rec.action == "scale_up":
                assert rec.target_concurrency is not None
                spec = await self._agents.get(rec.agent_id)
                change = await self._resize(
                    rec.agent_id, spec.max_concurrency, rec.target_concurrency
                )
                detail = f"max_concurrency {change.before} -> {change.after}"
                return Applied(rec.action, rec.agent_id, True, detail)
            await self._agents.set_status(rec.agent_id, AgentStatus.PAUSED)
            log.info(
                "agent %s paused as a low performer",
                rec.agent_id,
                extra={"action": "swarm.replace", "agent_id": rec.agent_id},
            )
            return Applied(
                rec.action,
                rec.agent_id,
                True,
                "paused: it receives no new tasks; register a better agent for its work",
            )
        except ImperiumError as exc:  # e.g. retired meanwhile: reported, not raised
            return Applied(rec.action, rec.agent_id, False, str(exc))


def _named(spec: TaskSpec, number: int) -> TaskSpec:
    return replace(spec, name=f"task-{number}", depends_on=())


def _with_autoscaling(advice: Advice, planned: list[Planned]) -> Advice:
    """Autoscaled agents' pools follow the autoscaler's decision function, not the
    shortfall rule: their scale_up advice is replaced by what the autoscaler would do."""
    scaled = {p.agent_id for p in planned}
    kept = [
        r for r in advice.recommendations if not (r.action == "scale_up" and r.agent_id in scaled)
    ]
    notes = list(advice.notes)
    for p in planned:
        if p.decision.changes:
            kept.append(_autoscale_recommendation(p))
        else:
            notes.append(f"agent {p.agent_id} (autoscaled {p.policy.minimum}..{p.policy.maximum}): "
                         f"holds at {p.decision.before} slots: {p.decision.reason}")  # fmt: skip
    return Advice(kept, notes)


def _autoscale_recommendation(p: Planned) -> Recommendation:
    d = p.decision
    evidence: dict[str, JSON] = {
        "autoscale": True,
        "backlog": p.reading.backlog,
        "wait": round(p.reading.wait, 3),
        "running": p.reading.running,
        "max_concurrency": d.before,
        "min": p.policy.minimum,
        "max": p.policy.maximum,
    }
    return Recommendation(
        "scale_up" if d.after > d.before else "scale_down",
        f"autoscaling: {d.reason}; {d.action} agent {p.agent_id} from {d.before} to "
        f"{d.after} slots",
        evidence,
        agent_id=p.agent_id,
        target_concurrency=d.after,
        applicable=True,
    )
