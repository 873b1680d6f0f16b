"""/api/v1 routes for remote agents: lease tasks (long-poll), heartbeat, complete, fail.

A lease hands out a task with a fencing token. Every later call names the agent and carries
that token; a token that is no longer current (the lease expired, the task was cancelled or
already finished) or a task leased to another agent is answered 409 and changes nothing.
Times are seconds since the epoch.

An agent key leases only while its agent offers no capability beyond those the key allows
(an admin may have widened the agent's capabilities since it registered): otherwise 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from imperium.adapters.jsonvalues import json_problem
from imperium.domain.errors import StaleLeaseError, ValidationError
from imperium.domain.models import AttemptResult, Task
from imperium.domain.states import Outcome, TaskState
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Scheduler
from imperium.interfaces.api.schemas import problems
from imperium.services.engine import Engine
from imperium.services.engine.remote import Lease

router = APIRouter(prefix="/api/v1", tags=["remote"])

MAX_LEASE_WAIT = 30.0
T = TypeVar("T")


# ---------------------------------------------------------------------------- bodies
class LeaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tasks: StrictInt = Field(default=1, ge=1, le=100, description="Most tasks to take.")
    wait: float = Field(
        default=0.0,
        ge=0,
        le=MAX_LEASE_WAIT,
        allow_inf_nan=False,
        description="Seconds to wait for a task when none is ready (long-poll).",
    )


class LeaseOut(BaseModel):
    task_id: str
    type: str
    payload: Any
    attempt: int
    token: int = Field(description="The fencing token: send it back with every call.")
    expires_at: float = Field(description="When the lease ends unless a heartbeat extends it.")
    lease_seconds: float = Field(description="How long a heartbeat extends the lease.")
    complexity: float
    deadline: float | None
    timeout: float | None
    resources: dict[str, float]


class LeasesOut(BaseModel):
    leases: list[LeaseOut]


class LeaseProof(BaseModel):
    """Who holds the lease and its token."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=100)
    token: StrictInt = Field(ge=0)


class HeartbeatOut(BaseModel):
    expires_at: float


class CompleteIn(LeaseProof):
    result: Any = None
    tokens: StrictInt | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class FailIn(LeaseProof):
    error_kind: str = Field(default="agent_error", min_length=1, max_length=100)
    message: str = Field(max_length=10_000)
    retryable: StrictBool = Field(
        default=True,
        description="False fails the task at once; true retries while attempts remain.",
    )
    tokens: StrictInt | None = Field(
        default=None, ge=0, description="Spent by the attempt before it failed."
    )
    cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class OutcomeOut(BaseModel):
    task_id: str
    state: TaskState = Field(description="queued when the task will be retried.")


# ---------------------------------------------------------------------------- routes
@router.post(
    "/agents/{agent_id}/lease", response_model=LeasesOut, responses=problems(404, 409, 422, 503)
)
async def lease_tasks(
    agent_id: str,
    engine: Scheduler,
    request: Request,
    principal: CurrentPrincipal,
    body: Annotated[LeaseIn | None, Body()] = None,
) -> LeasesOut:
    """Take up to ``max_tasks`` ready tasks this remote agent can do, waiting up to ``wait``
    seconds for one. An unknown agent is 404; an in-process or retired one is 409; an agent
    key whose agent offers capabilities the key does not allow is 403."""
    principal.require_agent(agent_id)
    body = body or LeaseIn()
    agent = engine.snapshot().agent(agent_id)
    if agent is not None:  # the engine's own view: the capabilities it leases by
        principal.require_capabilities(agent.spec.capabilities)
    work = engine.lease(agent_id, body.max_tasks, body.wait)
    leases = await _while_connected(request, work) if body.wait > 0 else await work
    lease_seconds = engine.config.lease_seconds
    return LeasesOut(leases=[_lease_out(lease, lease_seconds) for lease in leases or []])


@router.post(
    "/tasks/{task_id}/heartbeat", response_model=HeartbeatOut, responses=problems(409, 422, 503)
)
async def heartbeat(
    task_id: str, body: LeaseProof, engine: Scheduler, principal: CurrentPrincipal
) -> HeartbeatOut:
    """Extend the lease by ``lease_seconds``; a stale token or another agent's task is 409."""
    principal.require_agent(body.agent_id)
    _require_holder(engine, task_id, body, "the lease was not extended")
    expires_at = await engine.heartbeat(body.agent_id, task_id, body.token)
    return HeartbeatOut(expires_at=expires_at)


@router.post(
    "/tasks/{task_id}/complete", response_model=OutcomeOut, responses=problems(409, 422, 503)
)
async def complete(
    task_id: str, body: CompleteIn, engine: Scheduler, principal: CurrentPrincipal
) -> OutcomeOut:
    """Record the attempt's result; returns once it is durable. Stale token: 409."""
    principal.require_agent(body.agent_id)
    problem = json_problem(body.result)
    if problem is not None:
        raise ValidationError(f"the result cannot be stored as JSON: {problem}")
    result = AttemptResult(
        Outcome.SUCCEEDED, result=body.result, tokens=body.tokens, cost=body.cost
    )
    return _outcome(await _finish(engine, task_id, body, result))


@router.post("/tasks/{task_id}/fail", response_model=OutcomeOut, responses=problems(409, 422, 503))
async def fail(
    task_id: str, body: FailIn, engine: Scheduler, principal: CurrentPrincipal
) -> OutcomeOut:
    """Record a failed attempt; the task is retried (state ``queued``) while attempts remain
    and the failure is retryable. Stale token: 409."""
    principal.require_agent(body.agent_id)
    result = AttemptResult(
        Outcome.FAILED,
        error_kind=body.error_kind,
        error_message=body.message,
        retryable=body.retryable,
        tokens=body.tokens,
        cost=body.cost,
    )
    return _outcome(await _finish(engine, task_id, body, result))


# ---------------------------------------------------------------------------- helpers
async def _finish(engine: Engine, task_id: str, proof: LeaseProof, result: AttemptResult) -> Task:
    _require_holder(engine, task_id, proof, "the result was not recorded")
    return await engine.complete(task_id, proof.token, result)


def _require_holder(engine: Engine, task_id: str, proof: LeaseProof, outcome: str) -> None:
    """Refuse (409) a call for a task another agent holds, before the engine checks the
    token (whose refusal describes the lease: not for another agent's eyes). Nothing is
    awaited between this and the engine's check, so the lease cannot move in between."""
    task = engine.snapshot().task(task_id)
    if task is not None and task.state is TaskState.RUNNING and task.agent_id != proof.agent_id:
        raise StaleLeaseError(
            f"task {task_id} is leased to agent {task.agent_id}, not {proof.agent_id}; {outcome}"
        )


def _outcome(task: Task) -> OutcomeOut:
    return OutcomeOut(task_id=task.id, state=task.state)


def _lease_out(lease: Lease, lease_seconds: float) -> LeaseOut:
    return LeaseOut(
        task_id=lease.task_id,
        type=lease.type,
        payload=lease.payload,
        attempt=lease.attempt,
        token=lease.token,
        expires_at=lease.expires_at,
        lease_seconds=lease_seconds,
        complexity=lease.complexity,
        deadline=lease.deadline,
        timeout=lease.timeout,
        resources=lease.resources,
    )


async def _while_connected(request: Request, work: Coroutine[Any, Any, T]) -> T | None:
    """Run ``work`` unless the client goes away first; then cancel it and return None.

    A long-poll whose client gave up (a worker stopping, a timeout) must not lease tasks
    to nobody: they would sit out a whole lease period before running elsewhere.
    """
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not job.done():
            job.cancel()
        await asyncio.gather(job, watcher, return_exceptions=True)
    return None if job.cancelled() else job.result()


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (or the response is complete)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
