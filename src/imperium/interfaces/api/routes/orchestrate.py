"""/api/v1/orchestrate, /api/v1/health and /api/v1/status: the seed's gateway routes.

``orchestrate`` submits the tasks as one group (a workflow without dependencies, so the
batch can be listed with ``GET /api/v1/tasks?workflow_id=``); each task's ``params`` is
its payload and ``type`` the capability it needs. It answers once the tasks are durable,
with their ids and states then; poll ``GET /api/v1/tasks/{id}`` for results.
``health`` is ``/api/health``; ``status`` a short summary of the scheduler and counts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from imperium import __version__
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import Runtime
from imperium.interfaces.api.routes import health as health_routes
from imperium.interfaces.api.routes.l20 import MAX_TASKS, PriorityIn
from imperium.interfaces.api.routes.swarm import Swarm
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.records import iso
from imperium.services.planning.priority import parse_priority

router = APIRouter(prefix="/api/v1", tags=["orchestrate"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrchestrateTaskIn(_Strict):
    type: str = Field(min_length=1, max_length=200)
    params: Any = None


class OrchestrateIn(_Strict):
    tasks: list[OrchestrateTaskIn] = Field(min_length=1, max_length=MAX_TASKS)
    priority: PriorityIn = "normal"


class SubmittedOut(BaseModel):
    task_id: str
    type: str
    state: TaskState


class OrchestrateOut(BaseModel):
    orchestration_id: str
    """The workflow id of the batch."""
    status: str
    priority: str
    tasks: list[SubmittedOut]
    timestamp: str | None


class StatusOut(BaseModel):
    status: str
    version: str
    scheduler: dict[str, Any]
    tasks: dict[str, int]
    agents: dict[str, int]
    timestamp: str | None


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


@router.get("/health")
async def health(runtime: Runtime, request: Request) -> JSONResponse:
    """The same answer as ``/api/health``: 200 when healthy, 503 otherwise."""
    return await health_routes.health(runtime, request)


@router.get("/status", response_model=StatusOut)
async def status(runtime: Runtime, swarm: Swarm) -> dict[str, Any]:
    snap = await swarm.status()
    engine = runtime.engine
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
