"""/api/v1/l20: the seed's "L20" planning routes, served from the engine's real state.

- ``prioritize``: ranks tasks with the engine's own priority score (the mapping of seed
  fields is in ``services/planning/priority.py``).
- ``strategize``: decomposes an objective into phases the registered agents can do.
- ``coordinate``: runs one task per domain (domain = capability) as a workflow.
- ``optimize-resources``: allocates cpu/memory/gpu highest priority first.
- ``metrics``: counts available now, and the learning figures (router, cycles, model).

Seed routes answer 200 (the seed's clients expect it), and keep the seed's field names;
fields Imperium adds are documented on each response model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
)

from imperium.domain.errors import ValidationError
from imperium.domain.states import PriorityLevel, TaskState
from imperium.interfaces.api.deps import Runtime
from imperium.interfaces.api.limits import (
    MAX_CPU,
    MAX_GPU,
    MAX_MEMORY_MB,
    MAX_OBJECTIVE_CHARS,
    MAX_TASKS_PER_REQUEST,
)
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.records import iso
from imperium.interfaces.specs import parse_deadline
from imperium.runtime import Imperium
from imperium.services.planning.allocation import RESOURCES, Amounts, NotPlaced, Request
from imperium.services.planning.coordination import Coordination, seed_status
from imperium.services.planning.priority import SeedTask, parse_priority
from imperium.services.planning.service import PlanningService, ResourcePlan, StrategyReport
from imperium.services.planning.strategy import Phase
from imperium.services.swarm.snapshot import Snapshot

router = APIRouter(prefix="/api/v1/l20", tags=["l20"])

MAX_TASKS = MAX_TASKS_PER_REQUEST
MAX_WAIT_SECONDS = 60.0


def get_planning(runtime: Runtime) -> PlanningService:
    return PlanningService(runtime.engine, runtime.agents, runtime.store)


Planning = Annotated[PlanningService, Depends(get_planning)]


# ---------------------------------------------------------------------------- inputs
def _known_priority(value: object) -> object:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(
            f"priority must be a level name or a number 1 (critical) to 5 (background), "
            f"not {value!r}"
        )
    try:
        parse_priority(value)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None
    return value


PriorityIn = Annotated[StrictStr | StrictInt, BeforeValidator(_known_priority)]
"""A level name (critical, high, normal or medium, low, background) or 1..5 (1 = critical)."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number (not a string or a boolean), finite."""
Cpu = Annotated[Number, Field(ge=0, le=MAX_CPU, description="CPU cores")]
Memory = Annotated[Number, Field(ge=0, le=MAX_MEMORY_MB, description="MB")]
Gpu = Annotated[Number, Field(ge=0, le=MAX_GPU, description="GPUs")]
Time = Number | Annotated[str, Field(max_length=100)]
Ident = StrictStr | StrictInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourcesIn(_Strict):
    """What a task needs: CPU cores, memory in MB, GPUs (0 when left out)."""

    cpu: Cpu = 0.0
    memory: Memory = 0.0
    gpu: Gpu = 0.0


class AvailableIn(_Strict):
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


class PrioritizeIn(_Strict):
    tasks: list[SeedTaskIn] = Field(max_length=MAX_TASKS)


class StrategizeIn(_Strict):
    objective: str = Field(min_length=1, max_length=MAX_OBJECTIVE_CHARS)
    constraints: dict[str, Any] = Field(
        default_factory=dict,
        description="Echoed back; they do not change the phases (see the answer's notes).",
    )


Domain = Annotated[str, Field(min_length=1, max_length=200)]


class CoordinateIn(_Strict):
    domains: list[Domain] = Field(min_length=1, max_length=1000)
    task_specs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per domain, the task's payload; 'depends_on' (or 'dependencies') "
        "lists the domains that must succeed first.",
    )


class OptimizeResourcesIn(_Strict):
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


class MetricsOut(BaseModel):
    timestamp: str | None
    tasks: dict[str, Any]
    queued_by_priority: dict[str, int]
    scheduler: dict[str, int]
    agents: dict[str, Any]
    executions: dict[str, Any]
    learning: dict[str, Any]


# ---------------------------------------------------------------------------- routes
@router.post("/prioritize", response_model=PrioritizeOut, responses=problems(422))
async def prioritize(body: PrioritizeIn, planning: Planning) -> dict[str, Any]:
    """Rank tasks as the engine would dispatch them, highest first."""
    now = planning.now()
    seeds = [t.to_seed(now, f"tasks[{i}]") for i, t in enumerate(body.tasks)]
    ranked = []
    for r in planning.prioritize(seeds):
        item = body.tasks[r.index].echo()
        item["priority_score"] = round(r.score, 2)
        item["priority_level"] = str(r.level)
        item["priority_points"] = {name: round(p, 4) for name, p in r.points.items()}
        ranked.append(item)
    return {"prioritized_tasks": ranked, "total_tasks": len(ranked)}


@router.post("/strategize", response_model=StrategizeOut, responses=problems(422))
async def strategize(body: StrategizeIn, planning: Planning) -> dict[str, Any]:
    """Phases for the objective from the registered agents; nothing is stored or run."""
    report = await planning.strategize(body.objective)
    strategy = report.strategy
    return {
        "strategy_id": report.strategy_id,
        "objective": body.objective,
        "constraints": body.constraints,
        "created_at": iso(report.created_at),
        "phases": [_phase(p, report) for p in strategy.phases],
        "estimated_complexity": strategy.complexity,
        "complexity_basis": {
            "phases": len(strategy.phases),
            "dependency_edges": strategy.dependency_edges,
            "stages": strategy.stages,
            "unassigned_phases": sum(1 for p in strategy.phases if p.capability is None),
        },
        "recommended_intelligences": [
            {
                "agent_id": r.agent_id,
                "capabilities": list(r.capabilities),
                "phases": list(r.phases),
                "executions": r.executions,
                "success_rate": r.success_rate,
            }
            for r in report.recommended
        ],
        "notes": _strategy_notes(body),
    }


def _strategy_notes(body: StrategizeIn) -> list[str]:
    notes = [
        "phases come from matching the objective's words against registered agents' "
        "capabilities and descriptions; recommended_intelligences lists registered agents "
        "(Imperium has no built-in 'intelligences')",
        "estimated_complexity = phases + dependencies between them",
        "estimated_duration: median run time of recent succeeded tasks whose type is the "
        "phase's capability",
    ]
    if body.constraints:
        notes.append(
            "constraints are echoed but do not change the plan: there is no cost or "
            "timeline model to plan against yet"
        )
    return notes


def _phase(phase: Phase, report: StrategyReport) -> dict[str, Any]:
    estimate = report.durations.get(phase.capability or "")
    if phase.capability is None:
        note: str | None = (
            "no registered agent offers this work; register one whose capability or "
            "description names it"
        )
    elif not phase.executable:
        note = "every agent offering it is unable to take work now (see unavailable_agents)"
    else:
        note = estimate.note if estimate is not None else None
    return {
        "phase_id": phase.phase_id,
        "type": phase.capability or "unassigned",
        "description": phase.description,
        "estimated_duration": estimate.seconds if estimate is not None else None,
        "dependencies": list(phase.dependencies),
        "capability": phase.capability,
        "executable": phase.executable,
        "agents": list(phase.agents),
        "unavailable_agents": [{"agent_id": a, "reason": r} for a, r in phase.unavailable],
        "matched_by": phase.match,
        "matched_terms": list(phase.matched_terms),
        "duration_samples": estimate.samples if estimate is not None else 0,
        "note": note,
    }


Wait = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="Wait up to this many seconds for every domain's task to end; those "
        "still active are reported with their state and id (status 'running').",
    ),
]


@router.post("/coordinate", response_model=CoordinateOut, responses=problems(409, 422, 503))
async def coordinate(body: CoordinateIn, planning: Planning, wait: Wait = 30.0) -> dict[str, Any]:
    """Run one task per domain (type and capability = the domain), dependencies first."""
    run = await planning.coordinate(body.domains, body.task_specs, wait)
    return {
        "coordination_id": run.workflow_id,
        "domains": body.domains,
        "task_specs": body.task_specs,
        "execution_order": list(run.plan.execution_order),
        "dependencies": run.plan.dependencies,
        "timestamp": iso(planning.now()),
        "results": [_domain_result(run, d) for d in run.plan.execution_order],
        "status": run.status,
    }


def _domain_result(run: Coordination, domain: str) -> dict[str, Any]:
    task = run.tasks[domain]
    out: dict[str, Any] = {
        "domain": domain,
        "task_id": task.id,
        "status": seed_status(task.state),
        "task_state": task.state,
    }
    if task.state is TaskState.SUCCEEDED:
        out["result"] = task.result
    elif task.state.is_terminal:
        out["error"] = task.error_message or str(task.state)
        out["error_kind"] = task.error_kind
    return out


@router.post("/optimize-resources", response_model=OptimizeResourcesOut, responses=problems(422))
async def optimize_resources(
    planning: Planning, body: OptimizeResourcesIn | None = None
) -> dict[str, Any]:
    """Allocate resources highest priority first; a plan, nothing is reserved."""
    body = body or OptimizeResourcesIn()
    now = planning.now()
    available = body.available_resources
    capacity = Amounts(available.cpu, available.memory, available.gpu) if available else None
    pending = None
    if body.pending_tasks is not None:
        pending = [t.to_seed(now, f"pending_tasks[{i}]") for i, t in enumerate(body.pending_tasks)]
    result = planning.optimize_resources(capacity, pending)
    stamp = iso(result.at)
    return {
        "timestamp": stamp,
        "available_resources": _amounts(result.capacity),
        "task_count": len(result.plan.allocations) + len(result.plan.unallocated),
        "allocations": [_allocation(r, stamp) for r in result.plan.allocations],
        "unallocated": [_unallocated(u) for u in result.plan.unallocated],
        "remaining_resources": _amounts(result.plan.remaining),
        "sources": {
            "resources": result.capacity_from,
            "tasks": result.tasks_from,
            "counted_agents": list(result.counted_agents),
            "undeclared_agents": list(result.undeclared_agents),
        },
        "notes": _resource_notes(result),
    }


def _amounts(a: Amounts) -> dict[str, float]:
    return {name: a.get(name) for name in RESOURCES}


def _allocation(r: Request, stamp: str | None) -> dict[str, Any]:
    return {
        "task_id": r.task_id,
        "allocated_cpu": r.wants.cpu,
        "allocated_memory": r.wants.memory,
        "allocated_gpu": r.wants.gpu,
        "priority_score": round(r.score, 2),
        "timestamp": stamp,
    }


def _unallocated(u: NotPlaced) -> dict[str, Any]:
    return {
        "task_id": u.request.task_id,
        "priority_score": round(u.request.score, 2),
        "requested": _amounts(u.request.wants),
        "shortfalls": [
            {
                "resource": s.resource,
                "requested": s.requested,
                "available": s.available,
                "short_by": s.short_by,
            }
            for s in u.shortfalls
        ],
        "reason": u.reason,
    }


def _resource_notes(result: ResourcePlan) -> list[str]:
    notes = [
        "a plan only: nothing is reserved; memory is in MB (memory_mb on tasks and agents); "
        "only cpu, memory and gpu are allocated"
    ]
    if result.undeclared_agents:
        notes.append(
            f"agents {', '.join(result.undeclared_agents)} declare no resources; the engine "
            "does not limit theirs, so none of theirs is counted in available_resources"
        )
    return notes


@router.get("/metrics", response_model=MetricsOut)
async def metrics(planning: Planning, runtime: Runtime) -> dict[str, Any]:
    """Counts available now: tasks by state (database), queued tasks by priority and
    active work (scheduler), agents by condition, recorded attempts by outcome; and
    learning: the router's mode and decisions, completed cycles, the last cycle's learning
    value and the current model's held-out accuracy."""
    snap = await planning.metrics()
    return {**metrics_dict(snap), "learning": await learning_figures(runtime)}


async def learning_figures(runtime: Imperium) -> dict[str, Any]:
    from imperium.domain.learning import CycleStatus
    from imperium.interfaces.records import model_report_dict

    learner = runtime.learner
    store = runtime.store
    last = await store.list_cycles(1)
    report = learner.predictor.report
    return {
        "mode": learner.mode,
        "router_decisions": learner.router.decisions,
        "drift_alarms": learner.router.alarms_raised,
        "cycles_completed": await store.count_cycles(CycleStatus.COMPLETED),
        "last_cycle": (
            {
                "cycle_id": last[0].cycle_id,
                "status": last[0].status.value,
                "end_time": iso(last[0].end_time),
                "total_learning_value": last[0].total_learning_value,
                "insights_generated": last[0].insights_generated,
            }
            if last
            else None
        ),
        "model": model_report_dict(report) if report else None,
    }


def metrics_dict(snap: Snapshot) -> dict[str, Any]:
    by_state = tasks_by_state(snap)
    conditions: dict[str, int] = {}
    for agent in snap.agents:
        conditions[agent.condition] = conditions.get(agent.condition, 0) + 1
    return {
        "timestamp": iso(snap.at),
        "tasks": {"by_state": by_state, "total": sum(by_state.values())},
        "queued_by_priority": queued_by_priority(snap),
        "scheduler": {
            "queued": sum(snap.queued.values()),
            "pending": snap.pending,
            "running": snap.running,
        },
        "agents": {"total": len(snap.agents), "by_condition": conditions},
        "executions": executions_dict(snap),
    }


def tasks_by_state(snap: Snapshot) -> dict[str, int]:
    return {str(s): snap.task_counts.get(s, 0) for s in TaskState}


def queued_by_priority(snap: Snapshot) -> dict[str, int]:
    return {str(level): snap.queued[level] for level in PriorityLevel}


def executions_dict(snap: Snapshot) -> dict[str, Any]:
    executions = snap.executions
    return {
        "by_outcome": {str(o): n for o, n in executions.by_outcome.items()},
        "succeeded": executions.succeeded,
        "failed": executions.failed,
        "total": executions.total,
        "success_rate": executions.success_rate,
    }
