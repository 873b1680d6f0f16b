"""The seed's schedule as routines: learning (30 min), security scans (15), performance
analysis (20), experiments (45), cache (60), cleanup (24 h, 30-day event retention).

Work that belongs to an agent is submitted to it as a task (one attempt: a scheduled run
that fails is reported, and the next period tries again), so it is recorded and learned
from like any other work; housekeeping runs in the server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.learning import counts
from imperium.domain.models import AgentSpec, Execution, Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, PriorityLevel
from imperium.ports import AgentStore, CycleStore, LearningStore
from imperium.services.learning.service import Learner
from imperium.services.routines import Routine, Routines

TIMINGS_PER_KEY = 1000


class Submitter(Protocol):
    async def submit(self, spec: TaskSpec) -> Task: ...


class ScheduleStore(AgentStore, CycleStore, LearningStore, Protocol):
    """What the routines read and write."""


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    learning_interval: float = 1800.0
    security_scan_interval: float = 900.0
    guardian_paths: tuple[str, ...] = ()
    performance_interval: float = 1200.0
    experiment_interval: float = 2700.0
    sandbox_experiments: tuple[str, ...] = ()
    cache_interval: float = 3600.0
    cleanup_interval: float = 86400.0
    log_retention_days: float = 30.0


def build_routines(
    config: ScheduleConfig,
    engine: Submitter,
    store: ScheduleStore,
    learner: Learner,
) -> Routines:
    async def active_agent(capability: str) -> AgentSpec | None:
        for spec in await store.list_agents():
            if spec.status is AgentStatus.ACTIVE and capability in spec.capabilities:
                return spec
        return None

    async def submit(task_type: str, payload: object) -> dict[str, object]:
        if await active_agent(task_type) is None:
            return {
                "status": "skipped",
                "reason": f"no active agent offers '{task_type}' (built-in agents off?)",
            }
        task = await engine.submit(
            TaskSpec(
                type=task_type,
                payload=payload,
                max_attempts=1,
                priority=PriorityLevel.LOW,
                name=f"scheduled {task_type}",
            )
        )
        return {"status": "submitted", "task_id": task.id}

    async def learning() -> dict[str, object]:
        if not learner.enabled:
            return {"status": "skipped", "reason": "learning is disabled"}
        if await active_agent("learning_cycle") is not None:
            return await submit("learning_cycle", {"trigger": "schedule"})
        cycle = await learner.run_cycle("schedule")  # no imperium agent: run it here
        return {"status": cycle.status.value, "cycle_id": cycle.cycle_id}

    async def security_scan() -> dict[str, object]:
        return await submit("security_scan", {"paths": list(config.guardian_paths)})

    async def performance() -> dict[str, object]:
        now = learner.clock.now()
        period = config.performance_interval or 1200.0
        executions = await store.recent_executions(learner.config.history)
        current = _timings(executions, now - period, now)
        if not current:
            return {"status": "skipped", "reason": f"no executions in the last {period:.0f} s"}
        baseline = _timings(executions, now - 2 * period, now - period)
        return await submit("performance_analysis", {"timings": current, "baseline": baseline})

    async def experiments() -> dict[str, object]:
        submitted = [await submit("run_tests", {"path": p}) for p in config.sandbox_experiments]
        return {"status": "submitted", "runs": submitted}

    async def cache() -> dict[str, object]:
        specs = await store.list_agents()
        alive = {s.id for s in specs if s.status is not AgentStatus.RETIRED}
        router = learner.router
        pruned = router.forget(router.agents() - alive)
        return {"status": "ok", "router_entries_pruned": pruned, "kept": len(router.arms)}

    async def cleanup() -> dict[str, object]:
        before = learner.clock.now() - config.log_retention_days * 86400
        deleted = await store.delete_events_before(before)
        return {
            "status": "ok",
            "events_deleted": deleted,
            "retention_days": config.log_retention_days,
        }

    def off(condition: bool, reason: str) -> str | None:
        return reason if condition else None

    routines = [
        Routine(
            "learning", config.learning_interval, learning,
            "a learning cycle, run by the imperium agent",
            off(not learner.enabled, "learning is disabled"),
        ),
        Routine(
            "security_scan", config.security_scan_interval, security_scan,
            "Guardian scans the configured paths (bandit, ruff, radon)",
            off(not config.guardian_paths, "no paths configured (IMPERIUM_GUARDIAN_PATHS)"),
        ),
        Routine(
            "performance_analysis", config.performance_interval, performance,
            "Conquest compares recent durations per task type and agent with the period "
            "before",
        ),
        Routine(
            "experiments", config.experiment_interval, experiments,
            "the Sandbox runs the configured test suites",
            off(not config.sandbox_experiments,
                "no test suites configured (IMPERIUM_SANDBOX_EXPERIMENTS)"),
        ),
        Routine(
            "cache", config.cache_interval, cache,
            "forget the router's figures for agents that were removed",
        ),
        Routine(
            "cleanup", config.cleanup_interval, cleanup,
            f"delete events older than {config.log_retention_days:g} days",
            first_delay=min(300.0, config.cleanup_interval),
        ),
    ]  # fmt: skip
    return Routines(learner.clock, routines)


def _timings(executions: Sequence[Execution], start: float, end: float) -> dict[str, list[float]]:
    """Durations of the attempts that finished in [start, end), per "type/agent"."""
    out: dict[str, list[float]] = {}
    for e in executions:
        if start <= e.finished_at < end and counts(e) and math.isfinite(e.duration):
            bucket = out.setdefault(f"{e.task_type}/{e.agent_id}", [])
            if len(bucket) < TIMINGS_PER_KEY:
                bucket.append(round(e.duration, 6))
    return out
