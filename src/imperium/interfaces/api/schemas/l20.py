"""Bodies of ``/api/v1/l20`` (the seed's planning routes): seed tasks in (the fields that
feed the priority score, see ``services/planning/priority.py``; any other field is kept
and echoed back), plans out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from imperium.domain.errors import ValidationError
from imperium.domain.states import TaskState
from imperium.interfaces.api.limits import MAX_CPU, MAX_GPU, MAX_MEMORY_MB, MAX_OBJECTIVE_CHARS
from imperium.interfaces.api.schemas.common import MAX_TASKS, PriorityIn, Strict
from imperium.interfaces.specs import parse_deadline
from imperium.services.planning.priority import SeedTask, parse_priority

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number (not a string or a boolean), finite."""
Cpu = Annotated[Number, Field(ge=0, le=MAX_CPU, description="CPU cores")]
Memory = Annotated[Number, Field(ge=0, le=MAX_MEMORY_MB, description="MB")]
Gpu = Annotated[Number, Field(ge=0, le=MAX_GPU, description="GPUs")]
Time = Number | Annotated[str, Field(max_length=100)]
Ident = StrictStr | StrictInt


class ResourcesIn(Strict):
    """What a task needs: CPU cores, memory in MB, GPUs (0 when left out)."""

    cpu: Cpu = 0.0
    memory: Memory = 0.0
    gpu: Gpu = 0.0


class AvailableIn(Strict):
    """Capacity to allocate from: CPU cores, memory in MB, GPUs."""

    cpu: Cpu
    memory: Memory
    gpu: Gpu


def _time(value: float | str, now: float, field: str) -> float:
    try:
        return parse_deadline(value, now)
    except ValueError as exc:
        raise ValidationError(f"{field}: {exc}") from None


class SeedTaskIn(BaseModel):
    """A task as the seed's clients send it. The fields below feed the priority score
    (see ``services/planning/priority.py``); any other field is kept and echoed back.
    ``deadline`` and ``created_at``: epoch seconds or an ISO time (deadline also +5m)."""

    model_config = ConfigDict(extra="allow")

    id: Ident | None = None
    task_id: Ident | None = None
    priority: PriorityIn = "normal"
    deadline: Time | None = None
    created_at: Time | None = None
    estimated_duration: Number | None = Field(default=None, ge=0)
    complexity: Number | None = Field(default=None, ge=0)
    resources: ResourcesIn | None = None
    dependencies: list[Ident] | None = Field(default=None, max_length=1000)
    depends_on: list[Ident] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_of_each(self) -> SeedTaskIn:
        if self.id is not None and self.task_id is not None and str(self.id) != str(self.task_id):
            raise ValueError("id and task_id differ; give one of them")
        if self.dependencies is not None and self.depends_on is not None:
            raise ValueError("give dependencies or depends_on, not both")
        if isinstance(self.created_at, str) and self.created_at.startswith("+"):
            raise ValueError("created_at must be epoch seconds or an ISO time, not relative")
        for name in ("deadline", "created_at"):
            value = getattr(self, name)
            if value is not None:
                try:  # the format and range; the time is read with the engine's clock later
                    parse_deadline(value, 0.0)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return self

    def to_seed(self, now: float, where: str) -> SeedTask:
        ident = self.id if self.id is not None else self.task_id
        res = self.resources or ResourcesIn()
        deps = self.dependencies if self.dependencies is not None else self.depends_on or []
        return SeedTask(
            task_id=str(ident) if ident is not None else None,
            level=parse_priority(self.priority),
            created_at=_opt_time(self.created_at, now, f"{where}.created_at"),
            deadline=_opt_time(self.deadline, now, f"{where}.deadline"),
            estimated_duration=self.estimated_duration,
            cpu=res.cpu,
            memory_mb=res.memory,
            gpu=res.gpu,
            dependencies=tuple(str(d) for d in deps),
        )

    def echo(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


def _opt_time(value: float | str | None, now: float, field: str) -> float | None:
    return None if value is None else _time(value, now, field)


class PrioritizeIn(Strict):
    tasks: list[SeedTaskIn] = Field(max_length=MAX_TASKS)


class StrategizeIn(Strict):
    objective: str = Field(min_length=1, max_length=MAX_OBJECTIVE_CHARS)
    constraints: dict[str, Any] = Field(
        default_factory=dict,
        description="Echoed back; they do not change the phases (see the answer's notes).",
    )


Domain = Annotated[str, Field(min_length=1, max_length=200)]


class CoordinateIn(Strict):
    domains: list[Domain] = Field(min_length=1, max_length=1000)
    task_specs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per domain, the task's payload; 'depends_on' (or 'dependencies') "
        "lists the domains that must succeed first.",
    )


class OptimizeResourcesIn(Strict):
    available_resources: AvailableIn | None = Field(
        default=None, description="Left out: the active agents' declared free capacity."
    )
    pending_tasks: list[SeedTaskIn] | None = Field(
        default=None,
        max_length=MAX_TASKS,
        description="Left out: the engine's queued tasks.",
    )


# ---------------------------------------------------------------------------- outputs
class PrioritizeOut(BaseModel):
    """Each input task with ``priority_score`` (0-100), ``priority_level`` (the level of
    that score) and ``priority_points`` (the points behind it), highest first."""

    prioritized_tasks: list[dict[str, Any]]
    total_tasks: int


class PhaseOut(BaseModel):
    phase_id: str
    type: str
    """The capability a task of this phase needs, or "unassigned" when no agent offers it."""
    description: str
    estimated_duration: float | None
    dependencies: list[str]
    capability: str | None
    executable: bool
    agents: list[str]
    unavailable_agents: list[dict[str, str]]
    matched_by: str
    matched_terms: list[str]
    duration_samples: int
    note: str | None


class RecommendedOut(BaseModel):
    agent_id: str
    capabilities: list[str]
    phases: list[str]
    executions: int
    success_rate: float | None


class StrategizeOut(BaseModel):
    strategy_id: str
    objective: str
    constraints: dict[str, Any]
    created_at: str | None
    phases: list[PhaseOut]
    estimated_complexity: int
    complexity_basis: dict[str, int]
    recommended_intelligences: list[RecommendedOut]
    notes: list[str]


class DomainResult(BaseModel):
    domain: str
    task_id: str
    status: Literal["completed", "failed", "running"]
    """The seed's word: completed (succeeded), failed (failed, dead, timed out or
    cancelled), running (still active); the task's own state is ``task_state``."""
    task_state: TaskState
    result: Any = None
    error: str | None = None
    error_kind: str | None = None


class CoordinateOut(BaseModel):
    coordination_id: str
    domains: list[str]
    task_specs: dict[str, Any]
    execution_order: list[str]
    dependencies: dict[str, list[str]]
    timestamp: str | None
    results: list[DomainResult]
    status: Literal["completed", "failed", "running"]


class AllocationOut(BaseModel):
    task_id: str
    allocated_cpu: float
    allocated_memory: float
    allocated_gpu: float
    priority_score: float
    timestamp: str | None


class ShortfallOut(BaseModel):
    resource: str
    requested: float
    available: float
    short_by: float


class UnallocatedOut(BaseModel):
    task_id: str
    priority_score: float
    requested: dict[str, float]
    shortfalls: list[ShortfallOut]
    reason: str


class OptimizeResourcesOut(BaseModel):
    timestamp: str | None
    available_resources: dict[str, float]
    task_count: int
    allocations: list[AllocationOut]
    unallocated: list[UnallocatedOut]
    remaining_resources: dict[str, float]
    sources: dict[str, Any]
    notes: list[str]


class L20MetricsOut(BaseModel):
    timestamp: str | None
    tasks: dict[str, Any]
    queued_by_priority: dict[str, int]
    scheduler: dict[str, int]
    agents: dict[str, Any]
    executions: dict[str, Any]
    learning: dict[str, Any]
