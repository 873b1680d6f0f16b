"""Request and response bodies, one module per resource: this one holds those of the
native ``/api/v1`` routes (agents, tasks, workflows, problems) that ``interfaces/specs.py``
does not already define; ``l20``, ``swarm``, ``orchestrate``, ``imperium`` (the seed's
``/api/imperium``) and ``proposals`` hold theirs, ``common`` what several of them share.
Route modules import their bodies from here, never from each other.

Requests are strict (unknown fields are refused, so a typo is a 422 rather than a silently
ignored setting). Responses mirror the dicts of ``interfaces/records.py``, which the CLI's
``--json`` output shares; they are here so the OpenAPI document describes them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec
from imperium.domain.specs import MAX_ATTEMPTS_LIMIT, TaskSpec, WorkflowSpec
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.interfaces.specs import TaskIn, WorkflowIn
from imperium.services.agents import MAX_CONCURRENCY_LIMIT

Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Capability = Annotated[str, Field(min_length=1, max_length=200)]
AgentPriority = Literal["high", "medium", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- requests
class AgentIn(_Strict):
    """An agent to register. Capabilities default to the agent's id."""

    agent_id: str = Field(min_length=1, max_length=100, examples=["summariser-1"])
    type: str = Field(
        min_length=1,
        max_length=200,
        description="An installed type (echo), module:function, or remote.",
        examples=["echo"],
    )
    capabilities: list[Capability] = Field(default_factory=list, max_length=1000)
    priority: AgentPriority = "medium"
    max_concurrency: StrictInt = Field(default=1, ge=1, le=MAX_CONCURRENCY_LIMIT)
    resources: dict[str, Amount] = Field(default_factory=dict, examples=[{"cpu": 4}])
    config: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=2000)

    @field_validator("agent_id")
    @classmethod
    def _usable_in_a_path(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("must not contain '/', as it names the agent in URLs")
        return value

    def to_spec(self) -> AgentSpec:
        return AgentSpec(
            id=self.agent_id,
            type=self.type,
            capabilities=frozenset(self.capabilities),
            priority=self.priority,
            max_concurrency=self.max_concurrency,
            resources=self.resources,
            config=self.config,
            description=self.description,
        )


class AgentPatch(_Strict):
    """The fields to change; those left out keep their value."""

    capabilities: list[Capability] | None = Field(default=None, min_length=1, max_length=1000)
    priority: AgentPriority | None = None
    max_concurrency: StrictInt | None = Field(default=None, ge=1, le=MAX_CONCURRENCY_LIMIT)
    resources: dict[str, Amount] | None = None
    config: dict[str, Any] | None = Field(default=None, description="Replaces the old config.")
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


def task_spec(body: TaskIn, now: float) -> TaskSpec:
    """The domain spec of a validated body; a deadline that cannot be read is a 422."""
    try:
        return body.to_spec(now)
    except ValueError as exc:
        raise ValidationError(f"the task is invalid: {exc}") from None


def workflow_spec(body: WorkflowIn, now: float) -> WorkflowSpec:
    try:
        return body.to_spec(now)
    except ValueError as exc:
        raise ValidationError(f"the workflow is invalid: {exc}") from None


class RetryIn(_Strict):
    attempts: StrictInt = Field(
        default=1, ge=1, le=MAX_ATTEMPTS_LIMIT, description="How many more attempts to allow."
    )


# ---------------------------------------------------------------------------- responses
class TaskOut(BaseModel):
    id: str
    type: str
    name: str | None
    workflow_id: str | None
    state: TaskState
    priority: PriorityLevel
    score: float
    payload: Any
    capabilities: list[str]
    pinned_agent: str | None
    complexity: float
    resources: dict[str, float]
    depends_on: list[str]
    attempts: int
    max_attempts: int
    restarts: int  # attempts lost to the scheduler's own crashes, not charged
    agent_id: str | None
    deadline: str | None
    timeout: float | None
    result: Any
    error_kind: str | None
    error_message: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class TaskPage(BaseModel):
    items: list[TaskOut]
    limit: int
    offset: int


class ExecutionOut(BaseModel):
    attempt: int
    agent_id: str | None
    outcome: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float
    error_kind: str | None
    error_message: str | None
    tokens: int | None
    cost: float | None


class ExecutionList(BaseModel):
    items: list[ExecutionOut]


class EventOut(BaseModel):
    event_type: str
    at: str | None
    agent_id: str | None
    data: dict[str, Any] | None


class EventList(BaseModel):
    items: list[EventOut]


class WorkflowOut(BaseModel):
    workflow_id: str
    tasks: list[TaskOut]


class AgentOut(BaseModel):
    agent_id: str
    agent_type: str
    status: AgentStatus
    priority: str
    capabilities: list[str]
    max_concurrency: int
    resources: dict[str, float]
    config: dict[str, Any]
    description: str
    executions: int
    succeeded: int
    failed: int
    success_rate: float | None
    mean_duration_seconds: float | None
    last_success: str | None
    last_failure: str | None
    created_at: str | None
    updated_at: str | None
    loaded: bool | None = None
    """None until a scheduler tried to load the agent's code (and for remote agents)."""
    load_error: str | None = None
    """Why the scheduler could not load it (``loaded`` false)."""
    load_checked_at: str | None = None


class AgentList(BaseModel):
    items: list[AgentOut]
    total: int


class Problem(BaseModel):
    """An RFC 9457 problem; ``errors`` lists each invalid field of a 422 (``where``,
    ``message``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


_DESCRIPTIONS = {
    403: "The API key may not do this, or the agent is not eligible (custody).",
    404: "The task, agent or dependency does not exist.",
    409: "The request conflicts with the current state.",
    422: "The request is invalid; the detail says what to fix.",
    503: "The scheduler has stopped.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem statuses a route can answer (the schema is
    inlined: FastAPI would file a ``model`` under ``application/json``)."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }
