"""Recommendations for the swarm, each with the numbers behind it.

Rules (the seed's "scale on queue length" and "replace low performers", made precise):

- **scale_up**: tasks that could run now (queued, not waiting out a retry backoff) wait
  for a kind of work whose active agents have fewer free slots than waiting tasks. The
  shortfall goes to the least-loaded in-process agent serving it (target = its size +
  shortfall, at most the per-agent limit). Served only by remote agents: **add_workers**
  (their capacity is set by their workers). No agent able to take it: **register_agent**,
  or **resume_agent** when the agents offering it are paused.
- **replace**: an active agent with at least ``MIN_SAMPLES`` recorded attempts whose
  success rate is below ``REPLACE_BELOW`` even at the upper end of its 95% Wilson
  interval. Applying it pauses the agent; it is not applied when that would leave a
  capability with no active agent (register the replacement first).
- **fix_agent** / **restart_worker**: agents whose slots are failed (implementation did
  not load; remote worker past its heartbeat).

Fewer samples give a note ("insufficient data (n=5, need 20)"), not a recommendation.
Scale-down is not recommended for agents without an ``autoscale`` config: a snapshot shows
idle slots now, not how many the next burst needs. Autoscaled agents' pools follow the
autoscaler's decision function instead (``autoscale``), which remembers how long a pool
has been idle; ``SwarmService.optimize`` puts its decisions in place of these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from imperium.domain.models import JSON, AgentState, Task
from imperium.domain.selection import has_capabilities
from imperium.domain.states import AgentStatus
from imperium.ports import AgentStats
from imperium.services.engine.queues import QueueKey, queue_key
from imperium.services.swarm.snapshot import condition

MIN_SAMPLES = 20
REPLACE_BELOW = 0.5
Z_95 = 1.959964


@dataclass(frozen=True, slots=True)
class Recommendation:
    action: str
    reason: str
    evidence: dict[str, JSON]
    agent_id: str | None = None
    target_concurrency: int | None = None
    applicable: bool = False
    """True when applying carries it out (scale_up, replace)."""


@dataclass(frozen=True, slots=True)
class Advice:
    recommendations: list[Recommendation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Wait:
    """Tasks of one kind of work waiting for slots."""

    work: str
    waiting_tasks: int
    free_slots: int

    def evidence(self) -> dict[str, JSON]:
        return {
            "work": self.work,
            "waiting_tasks": self.waiting_tasks,
            "free_slots": self.free_slots,
        }


def wilson_upper(successes: int, n: int, z: float = Z_95) -> float:
    """Upper end of the Wilson score interval of a success rate; 1.0 without data."""
    if n <= 0:
        return 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    upper = (centre + spread) / (1 + z * z / n)
    return min(1.0, max(p, upper))  # both hold exactly; this only undoes rounding


def advise(
    agents: Sequence[AgentState],
    stats: Mapping[str, AgentStats],
    waiting: Sequence[Task],
    concurrency_limit: int,
) -> Advice:
    """``waiting``: queued tasks able to run now (not in a retry backoff)."""
    advice = Advice()
    _capacity(advice, agents, waiting, concurrency_limit)
    _performance(advice, agents, stats)
    _broken(advice, agents)
    advice.notes.append(
        "scale-down is not recommended for agents without an autoscale config: idle slots "
        "of in-process agents cost nothing, and a snapshot does not show how many the next "
        "burst needs"
    )
    return advice


def _capacity(
    advice: Advice, agents: Sequence[AgentState], waiting: Sequence[Task], limit: int
) -> None:
    groups: dict[QueueKey, list[Task]] = {}
    for task in waiting:
        groups.setdefault(queue_key(task), []).append(task)
    shortfalls: dict[str, list[_Wait]] = {}
    for key, tasks in sorted(groups.items(), key=lambda g: _describe(g[0])):
        serving = [
            a
            for a in agents
            if a.spec.status is not AgentStatus.RETIRED and has_capabilities(a, tasks[0])
        ]
        accepting = [a for a in serving if a.accepting]
        free = sum(max(0, a.free_slots) for a in accepting)
        if not accepting:
            advice.recommendations.append(_no_agent(key, tasks, serving))
        elif len(tasks) > free:
            local = [a for a in accepting if not a.remote]
            entry = _Wait(_describe(key), len(tasks), free)
            if local:
                chosen = min(local, key=lambda a: (a.load, a.spec.id))
                shortfalls.setdefault(chosen.spec.id, []).append(entry)
            else:
                advice.recommendations.append(_add_workers(entry, accepting))
    by_id = {a.spec.id: a for a in agents}
    for agent_id, entries in shortfalls.items():
        advice.recommendations.append(_scale_up(by_id[agent_id], entries, limit))


def _describe(key: QueueKey) -> str:
    pinned, caps, _ = key
    return f"pinned to {pinned}" if pinned is not None else ", ".join(sorted(caps))


def _no_agent(key: QueueKey, tasks: list[Task], serving: list[AgentState]) -> Recommendation:
    paused = sorted(a.spec.id for a in serving if a.spec.status is AgentStatus.PAUSED)
    evidence: dict[str, JSON] = {
        "work": _describe(key),
        "waiting_tasks": len(tasks),
        "agents": {a.spec.id: condition(a) for a in serving},
    }
    if paused:
        return Recommendation(
            "resume_agent",
            f"{len(tasks)} task(s) for {_describe(key)} wait and only paused agents "
            f"offer it: resume {', '.join(paused)}",
            evidence,
        )
    return Recommendation(
        "register_agent",
        f"{len(tasks)} task(s) for {_describe(key)} wait and no active agent can take "
        "them: register one with that capability",
        evidence,
    )


def _add_workers(entry: _Wait, accepting: list[AgentState]) -> Recommendation:
    return Recommendation(
        "add_workers",
        f"{entry.waiting_tasks} task(s) for {entry.work} wait for {entry.free_slots} free "
        "slot(s) of remote agents, whose capacity is set by their workers: start more "
        "workers",
        {**entry.evidence(), "agents": sorted(a.spec.id for a in accepting)},
    )


def _scale_up(agent: AgentState, entries: list[_Wait], limit: int) -> Recommendation:
    shortfall = sum(e.waiting_tasks - e.free_slots for e in entries)
    current = agent.spec.max_concurrency
    target = min(limit, current + shortfall)
    evidence: dict[str, JSON] = {
        "shortfall": shortfall,
        "waiting": [e.evidence() for e in entries],
        "max_concurrency": current,
        "running": agent.running,
    }
    if target <= current:
        return Recommendation(
            "register_agent",
            f"agent {agent.spec.id} is at the limit of {limit} slots and {shortfall} more "
            "task(s) wait: register another agent with its capabilities",
            evidence,
            agent_id=agent.spec.id,
        )
    return Recommendation(
        "scale_up",
        f"{shortfall} more task(s) wait than there are free slots: grow agent "
        f"{agent.spec.id} from {current} to {target} slots",
        evidence,
        agent_id=agent.spec.id,
        target_concurrency=target,
        applicable=True,
    )


def _performance(
    advice: Advice, agents: Sequence[AgentState], stats: Mapping[str, AgentStats]
) -> None:
    active = [a for a in agents if condition(a) == "active"]
    poor = []
    for agent in active:
        s = stats.get(agent.spec.id)
        if s is None or s.executions == 0:
            continue
        if s.executions < MIN_SAMPLES:
            if s.failed:
                advice.notes.append(
                    f"agent {agent.spec.id}: {s.failed} of {s.executions} attempts failed; "
                    f"insufficient data (n={s.executions}, need {MIN_SAMPLES}) to judge it"
                )
        elif wilson_upper(s.succeeded, s.executions) < REPLACE_BELOW:
            poor.append((agent, s))
    kept = [a for a in active if a not in {p[0] for p in poor}]
    for agent, s in poor:
        advice.recommendations.append(_replace(agent, s, kept))


def _replace(agent: AgentState, s: AgentStats, kept: list[AgentState]) -> Recommendation:
    upper = wilson_upper(s.succeeded, s.executions)
    evidence: dict[str, JSON] = {
        "executions": s.executions,
        "succeeded": s.succeeded,
        "failed": s.failed,
        "success_rate": round(s.succeeded / s.executions, 4),
        "success_rate_upper_95": round(upper, 4),
        "threshold": REPLACE_BELOW,
    }
    reason = (
        f"agent {agent.spec.id} succeeded in {s.succeeded} of {s.executions} attempts; "
        f"even the upper end of its 95% interval ({upper:.2f}) is below {REPLACE_BELOW}"
    )
    others = {c for a in kept for c in a.spec.capabilities}
    alone = sorted(agent.spec.capabilities - others)
    if alone:
        evidence["only_active_agent_for"] = alone
        reason += (
            f"; not applied automatically: it is the only active agent for "
            f"{', '.join(alone)}, so register a replacement first"
        )
    return Recommendation("replace", reason, evidence, agent.spec.id, applicable=not alone)


def _broken(advice: Advice, agents: Sequence[AgentState]) -> None:
    for agent in agents:
        cond = condition(agent)
        slots = max(0, agent.spec.max_concurrency - agent.running)
        evidence: dict[str, JSON] = {"condition": cond, "failed_slots": slots}
        if cond == "load_failed":
            advice.recommendations.append(
                Recommendation(
                    "fix_agent",
                    f"agent {agent.spec.id}'s implementation failed to load (see its "
                    "agent.load_failed event); fix its type or config",
                    evidence,
                    agent.spec.id,
                )
            )
        elif cond == "offline":
            evidence["last_heartbeat"] = agent.last_heartbeat
            advice.recommendations.append(
                Recommendation(
                    "restart_worker",
                    f"remote agent {agent.spec.id} stopped polling and heart-beating; "
                    "restart its worker",
                    evidence,
                    agent.spec.id,
                )
            )
