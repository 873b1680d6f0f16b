"""/api/v1/swarm: the seed's swarm routes over the engine's worker slots.

"Bots" are agents' slots (``services/swarm/__init__.py`` says how each is counted). The
seed's four queues are the engine's queued tasks by declared priority: ``priority_1`` =
critical, ``priority_2`` = high, ``priority_3`` = normal, ``priority_4`` = low and
background. ``completed_tasks`` counts succeeded tasks; ``failed_tasks`` failed, dead and
timed-out ones (cancelled tasks are counted apart, in ``metrics``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import Swarm
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.swarm import (
    DispatchIn,
    DispatchOut,
    OptimizeIn,
    OptimizeOut,
    ScaleIn,
    ScaleOut,
    SwarmMetricsOut,
    SwarmStatusOut,
)
from imperium.interfaces.api.views.swarm import (
    autoscaling,
    executions_dict,
    queued_by_priority,
    tasks_by_state,
)
from imperium.interfaces.records import iso
from imperium.services.swarm.advice import Recommendation
from imperium.services.swarm.service import Applied, SwarmService
from imperium.services.swarm.snapshot import UNSUCCESSFUL_STATES, Snapshot

router = APIRouter(prefix="/api/v1/swarm", tags=["swarm"])


@router.post("/dispatch", response_model=DispatchOut, responses=problems(422, 503))
async def dispatch(body: DispatchIn, swarm: Swarm) -> dict[str, Any]:
    """Enqueue the tasks (durable when this answers); the engine starts what it can."""
    batch = await swarm.dispatch([t.to_spec() for t in body.tasks])
    assigned = batch.assigned
    return {
        "dispatch_id": batch.dispatch_id,
        "total_tasks": len(batch.tasks),
        "queued_tasks": len(batch.tasks) - assigned,
        "immediate_assignments": assigned,
        "timestamp": iso(batch.at),
        "task_ids": [t.id for t in batch.tasks],
    }


@router.get("/status", response_model=SwarmStatusOut)
async def status(swarm: Swarm) -> dict[str, Any]:
    return status_dict(await swarm.status(), swarm)


def status_dict(snap: Snapshot, swarm: SwarmService) -> dict[str, Any]:
    executions = snap.executions
    lengths = snap.queue_lengths
    return {
        "total_bots": snap.total_bots,
        "bot_status": snap.bot_status,
        "queue_lengths": lengths,
        "total_queue_length": sum(lengths.values()),
        "completed_tasks": snap.count(TaskState.SUCCEEDED),
        "failed_tasks": snap.count(*UNSUCCESSFUL_STATES),
        "metrics": {
            "utilisation": snap.utilisation,
            "running_tasks": snap.running,
            "pending_tasks": snap.pending,
            "cancelled_tasks": snap.count(TaskState.CANCELLED),
            "executions": executions.total,
            "success_rate": executions.success_rate,
        },
        "timestamp": iso(snap.at),
        "autoscaling": autoscaling(swarm.autoscaler.pools()),
    }


@router.get("/metrics", response_model=SwarmMetricsOut)
async def metrics(swarm: Swarm) -> dict[str, Any]:
    """The figures behind ``status``, per agent."""
    snap = await swarm.status()
    return {
        "timestamp": iso(snap.at),
        "total_bots": snap.total_bots,
        "bot_status": snap.bot_status,
        "utilisation": snap.utilisation,
        "queued_by_priority": queued_by_priority(snap),
        "queue_lengths": snap.queue_lengths,
        "tasks_by_state": tasks_by_state(snap),
        "executions": executions_dict(snap),
        "agents": [_agent(snap, a.agent_id) for a in snap.agents],
        "notes": [
            "throughput over the last minute or hour is not reported: the database is not "
            "queried by time window yet",
            "executions count attempts that succeeded or failed (failed, timed out, lost); "
            "cancelled and interrupted attempts are not counted",
        ],
    }


def _agent(snap: Snapshot, agent_id: str) -> dict[str, Any]:
    slots = next(a for a in snap.agents if a.agent_id == agent_id)
    stats = snap.stats.get(agent_id)
    n = stats.executions if stats else 0
    return {
        "agent_id": agent_id,
        "condition": slots.condition,
        "remote": slots.remote,
        "max_concurrency": slots.max_concurrency,
        "slots": {
            "total": slots.slots,
            "working": slots.working,
            "idle": slots.idle,
            "maintenance": slots.maintenance,
            "failed": slots.failed,
        },
        "executions": {
            "total": n,
            "succeeded": stats.succeeded if stats else 0,
            "failed": stats.failed if stats else 0,
            "success_rate": stats.succeeded / n if stats and n else None,
            "mean_duration_seconds": stats.mean_duration if stats else None,
        },
    }


@router.post("/scale", response_model=ScaleOut, responses=problems(404, 409, 422))
async def scale(body: ScaleIn, swarm: Swarm) -> dict[str, Any]:
    """Set the pool size (agents' max_concurrency), stored and applied at once."""
    result = await swarm.scale(body.target_size, body.agent_id)
    changes = [{"agent_id": c.agent_id, "from": c.before, "to": c.after} for c in result.changes]
    return {
        "status": "success",
        "message": result.message,
        "changes": changes,
        "current_status": status_dict(await swarm.status(), swarm),
    }


@router.post("/optimize", response_model=OptimizeOut, responses=problems(422))
async def optimize(swarm: Swarm, body: OptimizeIn | None = None) -> dict[str, Any]:
    """Recommendations with the numbers behind them; with ``apply`` they are carried out."""
    result = await swarm.optimize(apply=body is not None and body.apply)
    return {
        "current_state": status_dict(result.before, swarm),
        "recommendations": [_recommendation(r) for r in result.advice.recommendations],
        "notes": result.advice.notes,
        "timestamp": iso(result.before.at),
        "applied": [_applied(a) for a in result.applied] if result.applied is not None else None,
    }


def _recommendation(r: Recommendation) -> dict[str, Any]:
    return {
        "action": r.action,
        "reason": r.reason,
        "evidence": r.evidence,
        "agent_id": r.agent_id,
        "target_concurrency": r.target_concurrency,
        "applicable": r.applicable,
    }


def _applied(a: Applied) -> dict[str, Any]:
    return {"action": a.action, "agent_id": a.agent_id, "ok": a.ok, "detail": a.detail}
