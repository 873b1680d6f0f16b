"""/api/v1/workflows: submit tasks with dependencies between them, referred to by name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from imperium.interfaces.api.deps import Scheduler
from imperium.interfaces.api.schemas import WorkflowOut, problems, workflow_spec
from imperium.interfaces.records import task_dict
from imperium.interfaces.specs import WorkflowIn

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


@router.post("", status_code=201, response_model=WorkflowOut, responses=problems(404, 409, 422))
async def submit_workflow(body: WorkflowIn, engine: Scheduler) -> dict[str, Any]:
    """Submit a workflow; it returns once every task is durable. A dependency cycle or an
    unknown name is refused (422) and nothing is stored."""
    workflow_id, tasks = await engine.submit_workflow(workflow_spec(body, engine.clock.now()))
    return {"workflow_id": workflow_id, "tasks": [task_dict(t) for t in tasks]}
