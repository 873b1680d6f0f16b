"""Conversions between domain records and table rows (plain dicts in, ``Row`` out).

Lists in JSON become the domain's frozensets and tuples; state, priority and outcome
strings become enums. Timestamps are epoch seconds on both sides.
"""

from __future__ import annotations

import uuid
from typing import Any

from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.states import AgentStatus, Outcome, PriorityLevel, TaskState
from imperium.ports import TaskSnapshot

Row = Any  # sqlalchemy.Row: attribute access by column name


def snapshot_values(snap: TaskSnapshot) -> dict[str, Any]:
    """The mutable task columns (everything ``apply`` updates)."""
    return {
        "state": snap.state.value,
        "attempts": snap.attempts,
        "max_attempts": snap.max_attempts,
        "lease_token": snap.lease_token,
        "agent_id": snap.agent_id,
        "lease_expires_at": snap.lease_expires_at,
        "not_before": snap.not_before,
        "started_at": snap.started_at,
        "finished_at": snap.finished_at,
        "result": snap.result,
        "error_kind": snap.error_kind,
        "error_message": snap.error_message,
        "score": snap.score,
        "updated_at": snap.updated_at,
    }


def task_row(task: Task, snap: TaskSnapshot) -> dict[str, Any]:
    """A full ``tasks`` row: the task's immutable fields plus ``snap``'s mutable ones."""
    return {
        "id": task.id,
        "type": task.type,
        "payload": task.payload,
        "capabilities": sorted(task.capabilities),
        "priority": task.priority.value,
        "complexity": task.complexity,
        "deadline": task.deadline,
        "timeout": task.timeout,
        "resources": task.resources,
        "pinned_agent": task.pinned_agent,
        "depends_on": list(task.depends_on),
        "workflow_id": task.workflow_id,
        "name": task.name,
        "estimated_duration": task.estimated_duration,
        "dependents": task.dependents,
        "created_at": task.created_at,
        "cancel_requested_at": None,
        **snapshot_values(snap),
    }


def task_from_row(row: Row) -> Task:
    return Task(
        id=row.id,
        type=row.type,
        created_at=row.created_at,
        payload=row.payload,
        capabilities=frozenset(row.capabilities),
        priority=PriorityLevel(row.priority),
        complexity=row.complexity,
        deadline=row.deadline,
        timeout=row.timeout,
        max_attempts=row.max_attempts,
        resources=row.resources,
        pinned_agent=row.pinned_agent,
        depends_on=tuple(row.depends_on),
        workflow_id=row.workflow_id,
        name=row.name,
        estimated_duration=row.estimated_duration,
        dependents=row.dependents,
        state=TaskState(row.state),
        attempts=row.attempts,
        lease_token=row.lease_token,
        agent_id=row.agent_id,
        lease_expires_at=row.lease_expires_at,
        not_before=row.not_before,
        started_at=row.started_at,
        finished_at=row.finished_at,
        result=row.result,
        error_kind=row.error_kind,
        error_message=row.error_message,
        score=row.score,
        updated_at=row.updated_at,
    )


def execution_row(execution: Execution) -> dict[str, Any]:
    agent_id = execution.agent_id
    finished_at = execution.finished_at
    return {
        "task_id": execution.task_id,
        "attempt": execution.attempt,
        "agent_id": agent_id,
        "agents_used": [agent_id] if agent_id is not None else [],
        "task_type": execution.task_type,
        "complexity": execution.complexity,
        "started_at": execution.started_at,
        "finished_at": finished_at,
        "duration_seconds": execution.duration,
        "success": execution.outcome is Outcome.SUCCEEDED,
        "outcome": execution.outcome.value,
        "error_kind": execution.error_kind,
        "error_message": execution.error_message,
        "resources": execution.resources,
        "tokens": execution.tokens,
        "cost": execution.cost,
        "lease_token": execution.lease_token,
        # the row is written when the attempt ends; apply() takes no clock of its own
        "created_at": finished_at,
    }


def execution_from_row(row: Row) -> Execution:
    return Execution(
        task_id=row.task_id,
        attempt=row.attempt,
        agent_id=row.agent_id,
        task_type=row.task_type,
        complexity=row.complexity,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=Outcome(row.outcome),
        lease_token=row.lease_token,
        error_kind=row.error_kind,
        error_message=row.error_message,
        resources=row.resources,
        tokens=row.tokens,
        cost=row.cost,
    )


def event_row(event: Event) -> dict[str, Any]:
    return {
        "event_type": event.event_type,
        "created_at": event.created_at,
        "task_id": event.task_id,
        "agent_id": event.agent_id,
        "event_data": event.data,
    }


def event_from_row(row: Row) -> Event:
    return Event(
        event_type=row.event_type,
        created_at=row.created_at,
        task_id=row.task_id,
        agent_id=row.agent_id,
        data=row.event_data,
    )


def agent_values(spec: AgentSpec) -> dict[str, Any]:
    """The ``agent_metrics`` columns an ``AgentSpec`` owns (learning figures are not)."""
    return {
        "agent_type": spec.type,
        "capabilities": sorted(spec.capabilities),
        "priority": spec.priority,
        "max_concurrency": spec.max_concurrency,
        "resources": spec.resources,
        "config": spec.config,
        "status": spec.status.value,
        "is_active": spec.status is AgentStatus.ACTIVE,
        "description": spec.description,
        "updated_at": spec.updated_at,
    }


def agent_row(spec: AgentSpec) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "agent_id": spec.id,
        "created_at": spec.created_at,
        **agent_values(spec),
    }


def agent_from_row(row: Row) -> AgentSpec:
    return AgentSpec(
        id=row.agent_id,
        type=row.agent_type,
        capabilities=frozenset(row.capabilities),
        priority=row.priority,
        max_concurrency=row.max_concurrency,
        resources=row.resources,
        config=row.config,
        status=AgentStatus(row.status),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
