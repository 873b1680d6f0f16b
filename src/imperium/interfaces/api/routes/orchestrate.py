"""/api/v1/orchestrate, /api/v1/health and /api/v1/status: the seed's gateway routes.

``orchestrate`` submits the tasks as one group (a workflow without dependencies, so the
batch can be listed with ``GET /api/v1/tasks?workflow_id=``); each task's ``params`` is
its payload and ``type`` the capability it needs. It answers once the tasks are durable,
with their ids and states then; poll ``GET /api/v1/tasks/{id}`` for results.
``health`` is ``/api/health``'s own handler, served here too (``health_alias``: the
application passes it in, as route modules do not import each other); ``status`` a short
summary of the scheduler and counts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from imperium import __version__
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import Scheduler, Swarm
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.orchestrate import (
    GatewayStatusOut,
    OrchestrateIn,
    OrchestrateOut,
)
from imperium.interfaces.records import iso
from imperium.services.planning.priority import parse_priority

router = APIRouter(prefix="/api/v1", tags=["orchestrate"])

HealthCheck = Callable[..., Awaitable[JSONResponse]]
"""A route handler: its parameters are its dependencies, resolved as for its own route."""


@router.post("/orchestrate", response_model=OrchestrateOut, responses=problems(422, 503))
async def orchestrate(body: OrchestrateIn, swarm: Swarm) -> dict[str, Any]:
    """Submit the tasks with one priority; answers once they are durable."""
    level = parse_priority(body.priority)
    specs = [TaskSpec(type=t.type, payload=t.params, priority=level) for t in body.tasks]
    batch = await swarm.dispatch(specs, group="orchestrate")
    return {
        "orchestration_id": batch.dispatch_id,
        "status": "submitted",
        "priority": str(level),
        "tasks": [{"task_id": t.id, "type": t.type, "state": t.state} for t in batch.tasks],
        "timestamp": iso(batch.at),
    }


def health_alias(check: HealthCheck) -> APIRouter:
    """``GET /api/v1/health``, answered by ``check`` (``/api/health``'s handler)."""
    alias = APIRouter(prefix="/api/v1", tags=["orchestrate"])
    alias.add_api_route(
        "/health",
        check,
        methods=["GET"],
        name="health",
        description="The same answer as ``/api/health``: 200 when healthy, 503 otherwise.",
    )
    return alias


@router.get("/status", response_model=GatewayStatusOut)
async def status(engine: Scheduler, swarm: Swarm) -> dict[str, Any]:
    snap = await swarm.status()
    running = not engine.failed.is_set() and not engine.stopped.is_set()
    return {
        "status": "running" if running else "stopped",
        "version": __version__,
        "scheduler": {
            "owner": engine.lock.owner,
            "queued": sum(snap.queued.values()),
            "pending": snap.pending,
            "running": snap.running,
        },
        "tasks": {str(s): snap.task_counts.get(s, 0) for s in TaskState},
        "agents": {
            "registered": len(snap.agents),
            "active": sum(1 for a in snap.agents if a.condition == "active"),
        },
        "timestamp": iso(snap.at),
    }
