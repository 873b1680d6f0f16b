"""What a user submits: task and workflow specifications, validated before anything runs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from imperium.domain.dag import dependents_count, validate_workflow
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import JSON, Task
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState

MAX_ATTEMPTS_LIMIT = 100


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task to submit. ``depends_on`` names task ids, or names of tasks in the same
    workflow. ``deadline`` is epoch seconds; ``timeout`` is seconds per attempt."""

    type: str
    payload: JSON = None
    capabilities: tuple[str, ...] = ()
    priority: PriorityLevel = PriorityLevel.NORMAL
    complexity: float = 1.0
    deadline: float | None = None
    timeout: float | None = None
    max_attempts: int = 3
    resources: Mapping[str, float] = field(default_factory=dict)
    pinned_agent: str | None = None
    depends_on: tuple[str, ...] = ()
    name: str | None = None
    estimated_duration: float | None = None


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """Tasks with dependencies between them, referred to by ``TaskSpec.name``."""

    tasks: tuple[TaskSpec, ...]
    name: str | None = None
    workflow_id: str | None = None
    """Given by a caller that records the workflow elsewhere first (a team task); new
    otherwise."""


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, got {value}")


def validate_task_spec(spec: TaskSpec) -> None:
    """Raise ValidationError naming the field and the fix when ``spec`` is unusable."""
    if not spec.type or not spec.type.strip():
        raise ValidationError("task type is empty; give the kind of work, e.g. 'echo'")
    if len(spec.type) > 200:
        raise ValidationError("task type is longer than 200 characters")
    _finite(spec.complexity, "complexity")
    if spec.complexity < 0:
        raise ValidationError(f"complexity must be >= 0, got {spec.complexity}")
    if not 1 <= spec.max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise ValidationError(
            f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {spec.max_attempts}"
        )
    if spec.timeout is not None:
        _finite(spec.timeout, "timeout")
        if spec.timeout <= 0:
            raise ValidationError(
                f"timeout must be a positive number of seconds, got {spec.timeout}"
            )
    if spec.deadline is not None:
        _finite(spec.deadline, "deadline")
    if spec.estimated_duration is not None:
        _finite(spec.estimated_duration, "estimated_duration")
        if spec.estimated_duration < 0:
            raise ValidationError("estimated_duration must be >= 0 seconds")
    for name, amount in spec.resources.items():
        _finite(amount, f"resource '{name}'")
        if amount < 0:
            raise ValidationError(f"resource '{name}' must be >= 0, got {amount}")
    for cap in spec.capabilities:
        if not cap or not cap.strip():
            raise ValidationError("capabilities must be non-empty strings")


def validate_workflow_spec(spec: WorkflowSpec) -> dict[str, TaskSpec]:
    """Check names are present and unique; return the tasks by name."""
    if not spec.tasks:
        raise ValidationError("a workflow needs at least one task")
    by_name: dict[str, TaskSpec] = {}
    for index, task in enumerate(spec.tasks):
        if not task.name:
            raise ValidationError(
                f"workflow task #{index + 1} has no name; every workflow task needs a unique "
                "name that dependencies can refer to"
            )
        if task.name in by_name:
            raise ValidationError(f"workflow task name '{task.name}' is used twice")
        validate_task_spec(task)
        by_name[task.name] = task
    return by_name


def build_task(
    spec: TaskSpec,
    task_id: str,
    now: float,
    depends_on: tuple[str, ...],
    workflow_id: str | None = None,
    dependents: int = 0,
) -> Task:
    return Task(
        id=task_id,
        type=spec.type,
        created_at=now,
        payload=spec.payload,
        capabilities=frozenset(spec.capabilities or (spec.type,)),
        priority=spec.priority,
        complexity=spec.complexity,
        deadline=spec.deadline,
        timeout=spec.timeout,
        max_attempts=spec.max_attempts,
        resources=dict(spec.resources),
        pinned_agent=spec.pinned_agent,
        depends_on=tuple(dict.fromkeys(depends_on)),  # a dependency listed twice counts once
        workflow_id=workflow_id,
        name=spec.name,
        estimated_duration=spec.estimated_duration,
        dependents=dependents,
        state=TaskState.SUBMITTED,  # not admitted yet: the scheduler decides where it goes
        updated_at=now,
    )


def check_dependencies(deps: Iterable[str], known: Mapping[str, TaskState]) -> None:
    """Every dependency must exist and still be able to succeed."""
    for dep in deps:
        state = known.get(dep)
        if state is None:
            raise NotFoundError(f"dependency '{dep}' is not a known task id")
        if state.is_terminal and state is not TaskState.SUCCEEDED:
            raise ConflictError(
                f"dependency '{dep}' already ended {state}; it can never succeed, so a task "
                "depending on it could never run. Retry or resubmit it first"
            )


def external_dependencies(workflow: WorkflowSpec) -> set[str]:
    names = {t.name for t in workflow.tasks}
    return {d for t in workflow.tasks for d in t.depends_on if d not in names}


@dataclass(frozen=True, slots=True)
class WorkflowPlan:
    """A workflow's tasks, dependencies first, and those of them the user named, in the
    order the workflow lists them (what a submission returns)."""

    workflow_id: str
    tasks: list[Task]
    named: list[Task]

    @property
    def named_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.named)


def plan_workflow(
    workflow: WorkflowSpec,
    known: Mapping[str, TaskState],
    new_id: Callable[[], str],
    now: float,
) -> WorkflowPlan:
    """Validate a workflow and build its tasks, dependencies first.

    ``known`` holds the states of the existing tasks it depends on. Raises CycleError
    naming the cycle, or ValidationError/NotFoundError/ConflictError for bad references.
    """
    by_name = validate_workflow_spec(workflow)
    graph = {name: list(spec.depends_on) for name, spec in by_name.items()}
    order = validate_workflow(graph, frozenset(known))
    check_dependencies((d for d in external_dependencies(workflow)), known)
    counts = dependents_count(graph)
    workflow_id = workflow.workflow_id or new_id()
    ids = {name: new_id() for name in order}
    tasks = []
    for name in order:
        spec = by_name[name]
        deps = tuple(ids.get(d, d) for d in spec.depends_on)
        tasks.append(build_task(spec, ids[name], now, deps, workflow_id, counts[name]))
    built = {t.name: t for t in tasks}
    named = [built[spec.name] for spec in workflow.tasks if spec.name]
    return WorkflowPlan(workflow_id, tasks, named)


def check_pinned_agent(spec: TaskSpec, status: AgentStatus | None) -> None:
    """Refuse a task pinned to an agent that is not registered (``status`` None) or is
    retired."""
    if spec.pinned_agent is None:
        return
    if status is None:
        raise NotFoundError(
            f"the task is pinned to agent '{spec.pinned_agent}', which is not registered; "
            "register it first or drop --agent"
        )
    if status is AgentStatus.RETIRED:
        raise ConflictError(f"the task is pinned to retired agent '{spec.pinned_agent}'")
