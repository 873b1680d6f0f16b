"""Bodies of the seed's gateway routes: ``/api/v1/orchestrate`` and ``/api/v1/status``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from imperium.domain.states import TaskState
from imperium.interfaces.api.schemas.common import MAX_TASKS, PriorityIn, Strict


class OrchestrateTaskIn(Strict):
    type: str = Field(min_length=1, max_length=200)
    params: Any = None


class OrchestrateIn(Strict):
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


class GatewayStatusOut(BaseModel):
    status: str
    version: str
    scheduler: dict[str, Any]
    tasks: dict[str, int]
    agents: dict[str, int]
    timestamp: str | None
