"""/api/v1/tasks: submit, list, show, cancel and retry tasks; their attempts, events and
people's ratings of their results (feedback).

Reads come from the database, so they show what is durable; writes go through the engine.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from imperium.domain.errors import NotFoundError
from imperium.domain.models import Task
from imperium.domain.states import TaskState
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Queries, Ratings, Scheduler
from imperium.interfaces.api.schemas import (
    EventList,
    ExecutionList,
    RetryIn,
    TaskOut,
    TaskPage,
    problems,
    task_spec,
)
from imperium.interfaces.api.schemas.feedback import FeedbackIn, FeedbackList, FeedbackOut
from imperium.interfaces.records import event_dict, execution_dict, feedback_dict, task_dict
from imperium.interfaces.specs import TaskIn
from imperium.ports import QueryStore, TaskFilter
from imperium.services.engine import Engine

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

MAX_WAIT_SECONDS = 60.0
MAX_OFFSET = 1_000_000_000  # beyond what a database's integer accepts, a 422 not a 500

Wait = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="Wait up to this many seconds for the task to end; if it has not, the "
        "answer shows its current state.",
    ),
]


async def _stored(queries: QueryStore, task_id: str) -> Task:
    task = await queries.get_task(task_id)
    if task is None:
        raise NotFoundError(f"no task with id {task_id}; list tasks with GET /api/v1/tasks")
    return task


async def _ended_within(engine: Engine, task: Task, seconds: float) -> Task:
    try:
        return await asyncio.wait_for(engine.wait_for(task.id), seconds)
    except TimeoutError:
        return task  # the engine's live record: its current state


@router.post("", status_code=201, response_model=TaskOut, responses=problems(404, 409, 422, 503))
async def submit_task(body: TaskIn, engine: Scheduler, wait: Wait = None) -> dict[str, Any]:
    """Submit a task; it returns once the task is durable (or, with ``wait``, has ended)."""
    task = await engine.submit(task_spec(body, engine.clock.now()))
    if wait:
        task = await _ended_within(engine, task, wait)
    return task_dict(task)


@router.get("", response_model=TaskPage, responses=problems(422))
async def list_tasks(
    queries: Queries,
    state: TaskState | None = None,
    task_type: Annotated[str | None, Query(alias="type")] = None,
    agent_id: str | None = None,
    workflow_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Tasks, newest first. ``state=dead`` lists the dead-letter set."""
    flt = TaskFilter(state, task_type, agent_id, workflow_id, limit, offset)
    tasks = await queries.list_tasks(flt)
    return {"items": [task_dict(t) for t in tasks], "limit": limit, "offset": offset}


@router.get("/{task_id}", response_model=TaskOut, responses=problems(404, 422))
async def get_task(task_id: str, queries: Queries) -> dict[str, Any]:
    return task_dict(await _stored(queries, task_id))


@router.post("/{task_id}/cancel", response_model=TaskOut, responses=problems(404, 409, 422))
async def cancel_task(task_id: str, engine: Scheduler) -> dict[str, Any]:
    """Cancel a task that has not ended, and the tasks that depend on it."""
    return task_dict(await engine.cancel(task_id))


@router.post("/{task_id}/retry", response_model=TaskOut, responses=problems(404, 409, 422))
async def retry_task(
    task_id: str, engine: Scheduler, body: RetryIn | None = None
) -> dict[str, Any]:
    """Give a dead, timed-out or failed task more attempts (one unless told)."""
    attempts = body.attempts if body is not None else 1
    return task_dict(await engine.requeue(task_id, attempts))


@router.get("/{task_id}/executions", response_model=ExecutionList, responses=problems(404, 422))
async def task_executions(task_id: str, queries: Queries) -> dict[str, Any]:
    """Every attempt of the task, first first."""
    await _stored(queries, task_id)
    executions = await queries.executions_for(task_id)
    return {"items": [execution_dict(e) for e in executions]}


@router.get("/{task_id}/events", response_model=EventList, responses=problems(404, 422))
async def task_events(
    task_id: str, queries: Queries, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    """The task's first ``limit`` events, oldest first."""
    await _stored(queries, task_id)
    return {"items": [event_dict(e) for e in await queries.events_for(task_id, limit)]}


@router.post(
    "/{task_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=problems(404, 409, 422),
)
async def rate_task(
    task_id: str, body: FeedbackIn, ratings: Ratings, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Rate the result of a task that has ended: ``score`` from 0 to 1 or ``thumbs``
    up/down, and an optional comment. The rating is blended with the attempt's success in
    the router's reward (``IMPERIUM_FEEDBACK_WEIGHT``)."""
    given_by = f"api key {principal.key_id}" if principal.key_id else "api (no keys)"
    feedback = await ratings.rate(
        task_id, score=body.score, thumbs=body.thumbs, comment=body.comment, given_by=given_by
    )
    return feedback_dict(feedback)


@router.get("/{task_id}/feedback", response_model=FeedbackList, responses=problems(404, 422))
async def task_feedback(task_id: str, ratings: Ratings) -> dict[str, Any]:
    """The task's ratings, oldest first."""
    return {"items": [feedback_dict(f) for f in await ratings.for_task(task_id)]}
