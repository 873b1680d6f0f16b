"""Cross-domain coordination: each domain is a capability; its task runs on an agent that
offers it, after the domains it depends on, as one workflow of the real engine.

A domain's spec is the task's payload, except ``depends_on`` (or its seed spelling
``dependencies``): the domains that must succeed first. A domain without a spec gets an
empty payload. A domain listed twice is refused (the seed waited on one result per name,
so a repeated name hung); so are specs for unlisted domains, dependencies on them, cycles
and domains no registered agent offers.

The call waits up to ``wait`` seconds for every task to end. Tasks still active then are
reported with their state and id (status "running"), so a client can poll
``/api/v1/tasks/{id}``; nothing is cancelled.

Statuses use the seed's words (:func:`seed_status`): a domain is ``completed`` (its task
succeeded), ``failed`` (failed, dead, timed out or cancelled) or ``running`` (still
active); the coordination is ``running`` while any domain is, else ``completed`` when every
domain completed, else ``failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imperium.domain.dag import validate_workflow
from imperium.domain.errors import ConflictError, ValidationError
from imperium.domain.models import JSON, Task
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import AgentStatus, TaskState
from imperium.services.engine import Engine

DEPENDENCY_KEYS = ("depends_on", "dependencies")
COMPLETED, FAILED, RUNNING = "completed", "failed", "running"


def seed_status(state: TaskState) -> str:
    """The seed's word for a domain whose task is in ``state``."""
    if state is TaskState.SUCCEEDED:
        return COMPLETED
    return FAILED if state.is_terminal else RUNNING


@dataclass(frozen=True, slots=True)
class CoordinationPlan:
    workflow: WorkflowSpec
    execution_order: tuple[str, ...]
    dependencies: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Coordination:
    plan: CoordinationPlan
    workflow_id: str
    tasks: dict[str, Task]
    """By domain; the engine's records, showing their state when the wait ended."""
    ended: bool

    @property
    def status(self) -> str:
        """``running`` while any domain is, ``completed`` when every domain completed,
        else ``failed`` (from the same states as the domains' statuses, so the two agree)."""
        statuses = {seed_status(t.state) for t in self.tasks.values()}
        if RUNNING in statuses:
            return RUNNING
        return FAILED if FAILED in statuses else COMPLETED


def plan_coordination(
    domains: Sequence[str], task_specs: Mapping[str, Mapping[str, JSON]]
) -> CoordinationPlan:
    """Validate the request and build the workflow (no engine needed)."""
    _check_names(domains, task_specs)
    graph = {d: _dependencies(d, task_specs.get(d, {}), domains) for d in domains}
    order = validate_workflow(graph)  # a cycle is a CycleError naming it
    tasks = tuple(
        TaskSpec(
            type=domain,
            name=domain,
            payload=_payload(task_specs.get(domain, {})),
            depends_on=tuple(graph[domain]),
        )
        for domain in domains
    )
    return CoordinationPlan(WorkflowSpec(tasks, name="coordinate"), tuple(order), graph)


def _payload(spec: Mapping[str, JSON]) -> dict[str, JSON]:
    return {key: value for key, value in spec.items() if key not in DEPENDENCY_KEYS}


def _check_names(domains: Sequence[str], task_specs: Mapping[str, Mapping[str, JSON]]) -> None:
    seen: set[str] = set()
    for domain in domains:
        if domain in seen:
            raise ValidationError(
                f"domain '{domain}' is listed twice; list each domain once (one task runs "
                "per domain)"
            )
        seen.add(domain)
    extra = sorted(set(task_specs) - seen)
    if extra:
        raise ValidationError(
            f"task_specs has specs for {', '.join(extra)}, which domains does not list; "
            "add them to domains or remove their specs"
        )


def _dependencies(domain: str, spec: Mapping[str, JSON], domains: Sequence[str]) -> list[str]:
    given = [key for key in DEPENDENCY_KEYS if key in spec]
    if len(given) > 1:
        raise ValidationError(
            f"task_specs.{domain} has both depends_on and dependencies; use one of them"
        )
    if not given:
        return []
    deps = spec[given[0]]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ValidationError(f"task_specs.{domain}.{given[0]} must be a list of domain names")
    unknown = sorted(set(deps) - set(domains))
    if unknown:
        raise ValidationError(
            f"task_specs.{domain}.{given[0]} names {', '.join(unknown)}, which domains does "
            "not list; a domain can only depend on domains of the same request"
        )
    return list(dict.fromkeys(deps))


def check_offered(engine: Engine, domains: Sequence[str]) -> None:
    """Refuse domains no registered (not retired) agent offers: their task could never
    start. A domain offered only by paused agents is accepted and waits for them."""
    offered = {
        cap
        for agent in engine.snapshot().agents
        if agent.spec.status is not AgentStatus.RETIRED
        for cap in agent.spec.capabilities
    }
    missing = [d for d in domains if d not in offered]
    if missing:
        raise ConflictError(
            f"no registered agent offers {', '.join(missing)}; a domain is run by an agent "
            "with that capability. Register one (POST /api/v1/agents) or remove the domain"
        )


async def run_coordination(engine: Engine, plan: CoordinationPlan, wait: float) -> Coordination:
    check_offered(engine, [t.type for t in plan.workflow.tasks])
    workflow_id, tasks = await engine.submit_workflow(plan.workflow)
    waiters = [asyncio.ensure_future(engine.wait_for(t.id)) for t in tasks]
    try:
        _, pending = await asyncio.wait(waiters, timeout=wait)
    finally:
        for waiter in waiters:
            waiter.cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            raise result  # the scheduler stopped (JournalClosedError): a 503, not a guess
    by_domain = {t.type: t for t in tasks}
    return Coordination(plan, workflow_id, by_domain, ended=not pending)
