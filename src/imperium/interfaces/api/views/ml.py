"""Running a task of a built-in ML agent (crypto, fraud) for a route, and waiting for it:
the work is routed, recorded and learned from like any other task; the route answers
with its result, a problem named after the agent's error, or 202 while it still runs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.interfaces.api.schemas import problems
from imperium.services.engine import Engine

MAX_WAIT_SECONDS = 300.0
_DESCRIPTIONS = {
    404: "No data or no trained model for this request; the detail says how to add it.",
    413: "The upload is larger than the server accepts.",
    422: "The request or its data is invalid; the detail says what to fix.",
    502: "The agent failed the task; the detail gives its error and the task id.",
    503: "The ml extra is missing, or the scheduler has stopped.",
}


def ml_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these routes' problem statuses."""
    shapes = problems(422)[422]["content"]
    return {s: {"description": _DESCRIPTIONS[s], "content": shapes} for s in statuses}


_STATUS = {"bad_input": 422, "not_found": 404, "not_installed": 503, "not_configured": 503}


async def run_agent_task(
    engine: Engine, task_type: str, payload: dict[str, Any], wait: float
) -> dict[str, Any] | JSONResponse:
    """Submit a one-attempt task of ``task_type``; its result once it succeeds within
    ``wait`` seconds, else a 202 naming the task to poll."""
    task = await engine.submit(TaskSpec(type=task_type, payload=payload, max_attempts=1))
    try:
        task = await asyncio.wait_for(engine.wait_for(task.id), wait)
    except TimeoutError:
        return JSONResponse(
            {"task_id": task.id, "state": "running",
             "detail": f"not done within {wait:g} s; poll GET /api/v1/tasks/{task.id}"},
            status_code=202,
        )  # fmt: skip
    if task.state == TaskState.SUCCEEDED and isinstance(task.result, dict):
        return {**task.result, "task_id": task.id}
    status = _STATUS.get(task.error_kind or "", 502)
    detail = task.error_message or f"task {task.id} ended {task.state.value}"
    raise HTTPException(status, f"{detail} (task {task.id}, {task.error_kind or task.state.value})")
