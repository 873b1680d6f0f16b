"""/api/v1/l20: the seed's "L20" planning routes, served from the engine's real state.

- ``prioritize``: ranks tasks with the engine's own priority score (the mapping of seed
  fields is in ``services/planning/priority.py``).
- ``strategize``: decomposes an objective into phases the registered agents can do.
- ``coordinate``: runs one task per domain (domain = capability) as a workflow.
- ``optimize-resources``: allocates cpu/memory/gpu highest priority first.
- ``metrics``: counts available now, and the learning figures (router, cycles, model).

Seed routes answer 200 (the seed's clients expect it), and keep the seed's field names;
fields Imperium adds are documented on each response model (``schemas/l20.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import Learning, LearningRecords, Planning
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.l20 import (
    CoordinateIn,
    CoordinateOut,
    L20MetricsOut,
    OptimizeResourcesIn,
    OptimizeResourcesOut,
    PrioritizeIn,
    PrioritizeOut,
    StrategizeIn,
    StrategizeOut,
)
from imperium.interfaces.api.views.swarm import executions_dict, queued_by_priority, tasks_by_state
from imperium.interfaces.records import iso
from imperium.ports import CycleStore
from imperium.services.learning.service import Learner
from imperium.services.planning.allocation import RESOURCES, Amounts, NotPlaced, Request
from imperium.services.planning.coordination import Coordination, seed_status
from imperium.services.planning.service import ResourcePlan, StrategyReport
from imperium.services.planning.strategy import Phase
from imperium.services.swarm.snapshot import Snapshot

router = APIRouter(prefix="/api/v1/l20", tags=["l20"])

MAX_WAIT_SECONDS = 60.0


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


@router.get("/metrics", response_model=L20MetricsOut)
async def metrics(
    planning: Planning, learner: Learning, records: LearningRecords
) -> dict[str, Any]:
    """Counts available now: tasks by state (database), queued tasks by priority and
    active work (scheduler), agents by condition, recorded attempts by outcome; and
    learning: the router's mode and decisions, completed cycles, the last cycle's learning
    value and the current model's held-out accuracy."""
    snap = await planning.metrics()
    return {**_metrics_dict(snap), "learning": await _learning_figures(learner, records)}


async def _learning_figures(learner: Learner, store: CycleStore) -> dict[str, Any]:
    from imperium.domain.learning import CycleStatus
    from imperium.interfaces.records import model_report_dict

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


def _metrics_dict(snap: Snapshot) -> dict[str, Any]:
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
