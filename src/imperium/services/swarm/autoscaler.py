"""``Autoscaler``: applies :mod:`autoscale`'s decisions to agents' pools.

One per runtime: it remembers each pool's last change (the cooldown) and how long it has
been underused, so the periodic routine, ``/swarm/scale`` and ``/swarm/optimize`` share
one cooldown. A change goes through the agent registry (stored, then applied to the
engine, which only lowers the slots for new attempts: running ones are never cancelled)
and is a ``swarm.scaled`` event with the numbers behind it.

Only active in-process agents with an ``autoscale`` config are scaled; a remote agent's
capacity is its workers'.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from imperium.domain.autoscale import (
    Decision,
    Memory,
    Policy,
    Reading,
    decide,
    policy_of,
    readings,
)
from imperium.domain.errors import ImperiumError, ValidationError
from imperium.domain.models import JSON, AgentState, Event
from imperium.ports import AgentStore, EventSink
from imperium.services.agents import MAX_CONCURRENCY_LIMIT, AgentService
from imperium.services.engine import Engine
from imperium.services.routines import Routine

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class Scaled:
    """A change made to a pool: what ``swarm.scaled`` records."""

    agent_id: str
    decision: Decision
    reading: Reading
    trigger: str
    """``autoscale``, ``manual`` (``/swarm/scale``) or ``optimize``."""
    at: float

    def data(self, policy: Policy) -> dict[str, JSON]:
        return {
            "action": self.decision.action,
            "before": self.decision.before,
            "after": self.decision.after,
            "reason": self.decision.reason,
            "trigger": self.trigger,
            "backlog": self.reading.backlog,
            "wait": round(self.reading.wait, 3),
            "running": self.reading.running,
            "min": policy.minimum,
            "max": policy.maximum,
        }


@dataclass(frozen=True, slots=True)
class Pool:
    """One autoscaled agent as ``/swarm/status`` shows it."""

    agent_id: str
    policy: Policy | None
    error: str | None
    reading: Reading | None
    cooldown_until: float | None
    last: Scaled | None


@dataclass(frozen=True, slots=True)
class Planned:
    """What the autoscaler would do for one agent now (``/swarm/optimize``)."""

    agent_id: str
    policy: Policy
    reading: Reading
    decision: Decision


class Autoscaler:
    def __init__(
        self, engine: Engine, agents: AgentService, store: AgentStore, events: EventSink | None
    ) -> None:
        self._engine = engine
        self._agents = agents
        self._store = store
        self._events = events
        self._memory: dict[str, Memory] = {}
        self._last: dict[str, Scaled] = {}
        self._bad_config: dict[str, str] = {}

    def policy(self, agent: AgentState) -> Policy | None:
        """The agent's policy; None when it is not autoscaled or its config is malformed
        (logged once, shown in the status)."""
        try:
            policy = policy_of(agent.spec.config, MAX_CONCURRENCY_LIMIT)
        except ValidationError as exc:
            if self._bad_config.get(agent.spec.id) != str(exc):
                log.warning("agent %s is not autoscaled: %s", agent.spec.id, exc)
            self._bad_config[agent.spec.id] = str(exc)
            return None
        self._bad_config.pop(agent.spec.id, None)
        return policy

    def _scalable(self) -> list[tuple[AgentState, Policy]]:
        out = []
        for agent in self._engine.snapshot().agents:
            if agent.remote or not agent.accepting:
                memory = self._memory.get(agent.spec.id)
                if memory is not None:  # paused: its idle time starts again on resume
                    self._memory[agent.spec.id] = replace(memory, underused_since=None)
                continue
            policy = self.policy(agent)
            if policy is not None:
                out.append((agent, policy))
        return out

    def _readings(self) -> dict[str, Reading]:
        live = self._engine.snapshot()
        return readings(live.agents, live.ready_tasks(), live.at)

    def plan(self) -> list[Planned]:
        """The decision for every autoscaled agent now, changing nothing."""
        scalable = self._scalable()
        if not scalable:
            return []
        now, found = self._engine.clock.now(), self._readings()
        planned = []
        for agent, policy in scalable:
            reading = found[agent.spec.id]
            memory = self._memory.get(agent.spec.id, Memory())
            decision, _ = decide(policy, reading, memory, now)
            planned.append(Planned(agent.spec.id, policy, reading, decision))
        return planned

    async def run(self) -> dict[str, object]:
        """One round: decide for every autoscaled agent and apply the changes (the
        routine's action)."""
        scalable = self._scalable()
        if not scalable:  # nothing to decide: skip the pass over the ready queues
            return {"status": "ok", "autoscaled_agents": 0, "changes": []}
        now, found = self._engine.clock.now(), self._readings()
        changed: list[str] = []
        failed: list[str] = []
        for agent, policy in scalable:
            memory = self._memory.get(agent.spec.id, Memory())
            reading = found[agent.spec.id]
            decision, self._memory[agent.spec.id] = decide(policy, reading, memory, now)
            if not decision.changes:
                continue
            try:
                await self._commit(agent.spec.id, policy, decision, reading, "autoscale")
            except ImperiumError as exc:  # e.g. retired or removed meanwhile: the others go on
                log.warning("autoscaling agent %s failed: %s", agent.spec.id, exc)
                failed.append(f"{agent.spec.id}: {exc}")
                continue
            changed.append(f"{agent.spec.id} {decision.before}->{decision.after}")
        status = "ok" if not failed else "partial"
        return {"status": status, "autoscaled_agents": len(scalable), "changes": changed,
                "failed": failed}  # fmt: skip

    async def set_size(self, agent_id: str, target: int, trigger: str, reason: str) -> Decision:
        """Set an autoscaled agent's pool to ``target`` within its bounds, and start its
        cooldown. Raises ValidationError for an agent that is not autoscaled."""
        agent = self._engine.snapshot().agent(agent_id)
        policy = self.policy(agent) if agent is not None else None
        if agent is None or policy is None:
            raise ValidationError(f"agent '{agent_id}' has no autoscale config")
        reading = self._readings().get(agent_id) or Reading(agent.spec.max_concurrency,
                                                            agent.running, 0.0, 0.0)  # fmt: skip
        size = agent.spec.max_concurrency
        after = policy.clamp(target)
        if after != target:
            reason += f" ({target} asked; kept within {policy.minimum}..{policy.maximum})"
        action = "grow" if after > size else "shrink" if after < size else "hold"
        decision = Decision(action, size, after, reason)
        await self._commit(agent_id, policy, decision, reading, trigger)
        return decision

    async def _commit(
        self, agent_id: str, policy: Policy, decision: Decision, reading: Reading, trigger: str
    ) -> None:
        now = self._engine.clock.now()
        if decision.changes:
            await self._agents.update(agent_id, {"max_concurrency": decision.after})
        underused = now if decision.action == "shrink" else None
        self._memory[agent_id] = Memory(
            last_change=now, underused_since=underused, last_size=decision.after
        )
        scaled = Scaled(agent_id, decision, reading, trigger, now)
        self._last[agent_id] = scaled
        event = Event("swarm.scaled", now, agent_id=agent_id, data=scaled.data(policy))
        await self._store.log_event(event)
        if self._events is not None:
            self._events.publish([event])
        log.info(
            "agent %s pool %d -> %d (%s): %s", agent_id, decision.before, decision.after,
            trigger, decision.reason,
            extra={"action": "swarm.scaled", "agent_id": agent_id, "slots": decision.after},
        )  # fmt: skip

    def is_autoscaled(self, agent_id: str) -> bool:
        agent = self._engine.snapshot().agent(agent_id)
        return agent is not None and not agent.remote and self.policy(agent) is not None

    def bounds(self) -> dict[str, tuple[int, int]]:
        """Autoscaled in-process agents' ``(min, max)``, for dividing a target among them."""
        out = {}
        for agent in self._engine.snapshot().agents:
            policy = None if agent.remote else self.policy(agent)
            if policy is not None:
                out[agent.spec.id] = (policy.minimum, policy.maximum)
        return out

    def pools(self) -> list[Pool]:
        """Every agent with an ``autoscale`` config (also malformed, paused or remote)."""
        live = self._engine.snapshot()
        found = readings(live.agents, live.ready_tasks(), live.at)
        out = []
        for agent in live.agents:
            if "autoscale" not in agent.spec.config:
                continue
            policy = self.policy(agent)
            memory = self._memory.get(agent.spec.id, Memory())
            until = None
            if policy is not None and memory.last_change is not None:
                until = memory.last_change + policy.cooldown
            error = self._bad_config.get(agent.spec.id)
            if error is None and agent.remote:
                error = "remote agent: its capacity is set by its workers, not autoscaled"
            reading = found.get(agent.spec.id)
            out.append(Pool(agent.spec.id, policy, error, reading, until,
                            self._last.get(agent.spec.id)))  # fmt: skip
        return out


def autoscale_routine(autoscaler: Autoscaler, interval: float = DEFAULT_INTERVAL) -> Routine:
    """The routine that runs :meth:`Autoscaler.run` every ``interval`` seconds."""
    return Routine(
        "autoscale",
        interval,
        autoscaler.run,
        "agents with an autoscale config: pools grow with their backlog and queue wait, "
        "and shrink when idle, within their bounds",
        first_delay=interval,
    )
