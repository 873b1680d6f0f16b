"""Bodies of ``/api/v1/swarm``: micro-tasks in; slots, queues and advice out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from imperium.domain.specs import TaskSpec
from imperium.interfaces.api.schemas.common import MAX_TASKS, PriorityIn, Strict
from imperium.services.planning.priority import parse_priority

MIN_SWARM = 10
MAX_SWARM = 1_000_000


class SwarmTaskIn(Strict):
    """A micro-task: ``type`` names the work (and the capability an agent needs),
    ``data`` is its payload."""

    type: str = Field(min_length=1, max_length=200)
    priority: PriorityIn = "normal"
    data: Any = None

    def to_spec(self) -> TaskSpec:
        return TaskSpec(type=self.type, payload=self.data, priority=parse_priority(self.priority))


class DispatchIn(Strict):
    tasks: list[SwarmTaskIn] = Field(min_length=1, max_length=MAX_TASKS)


class ScaleIn(Strict):
    target_size: StrictInt = Field(ge=MIN_SWARM, le=MAX_SWARM)
    agent_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Scale this agent to target_size; left out, target_size is divided "
        "among the active in-process agents in proportion to their current size.",
    )


class OptimizeIn(Strict):
    apply: StrictBool = Field(
        default=False,
        description="Carry out the applicable recommendations: scale_up resizes the agent, "
        "replace pauses it.",
    )


class DispatchOut(BaseModel):
    dispatch_id: str
    """The workflow id of the batch: list it with GET /api/v1/tasks?workflow_id=..."""
    total_tasks: int
    queued_tasks: int
    immediate_assignments: int
    """Tasks already handed to an agent when the submission had been committed."""
    timestamp: str | None
    task_ids: list[str]


class AutoscaleDecisionOut(BaseModel):
    action: str
    before: int
    after: int
    reason: str
    trigger: str
    backlog: float
    wait_seconds: float
    running: int
    at: str | None


class AutoscalePoolOut(BaseModel):
    """An agent with an ``autoscale`` config: its bounds, its pool now and its last change."""

    agent_id: str
    min: int | None
    max: int | None
    cooldown_seconds: float | None
    target_wait_seconds: float | None
    idle_seconds: float | None
    current: int | None
    running: int | None
    backlog: float | None
    wait_seconds: float | None
    cooldown_until: str | None
    last_decision: AutoscaleDecisionOut | None
    error: str | None
    """Why it is not autoscaled (malformed config, remote agent); None when it is."""


class SwarmStatusOut(BaseModel):
    total_bots: int
    bot_status: dict[str, int]
    queue_lengths: dict[str, int]
    total_queue_length: int
    completed_tasks: int
    failed_tasks: int
    metrics: dict[str, Any]
    timestamp: str | None
    autoscaling: list[AutoscalePoolOut] = []
    """Agents with an ``autoscale`` config (an Imperium addition to the seed's fields)."""


class AgentSlotsOut(BaseModel):
    agent_id: str
    condition: str
    remote: bool
    max_concurrency: int
    slots: dict[str, int]
    executions: dict[str, Any]


class SwarmMetricsOut(BaseModel):
    timestamp: str | None
    total_bots: int
    bot_status: dict[str, int]
    utilisation: float | None
    queued_by_priority: dict[str, int]
    queue_lengths: dict[str, int]
    tasks_by_state: dict[str, int]
    executions: dict[str, Any]
    agents: list[AgentSlotsOut]
    notes: list[str]


class ScaleOut(BaseModel):
    status: str
    message: str
    changes: list[dict[str, Any]]
    current_status: SwarmStatusOut


class RecommendationOut(BaseModel):
    action: str
    reason: str
    evidence: dict[str, Any]
    agent_id: str | None
    target_concurrency: int | None
    applicable: bool


class AppliedOut(BaseModel):
    action: str
    agent_id: str | None
    ok: bool
    detail: str


class OptimizeOut(BaseModel):
    current_state: SwarmStatusOut
    recommendations: list[RecommendationOut]
    notes: list[str]
    timestamp: str | None
    applied: list[AppliedOut] | None
