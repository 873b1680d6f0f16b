"""Conversions between domain records and table rows (plain dicts in, ``Row`` out).

Lists in JSON become the domain's frozensets and tuples; state, priority and outcome
strings become enums. Timestamps are epoch seconds on both sides.
"""

from __future__ import annotations

import uuid
from typing import Any

from imperium.domain.custody import Category, CustodyRecord, CustodyResult, Difficulty
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.proposals import Proposal, ProposalStatus
from imperium.domain.states import AgentStatus, Outcome, PriorityLevel, TaskState
from imperium.ports import TaskSnapshot

Row = Any  # sqlalchemy.Row: attribute access by column name


def snapshot_values(snap: TaskSnapshot) -> dict[str, Any]:
    """The mutable task columns (everything ``apply`` updates)."""
    return {
        "state": snap.state.value,
        "attempts": snap.attempts,
        "max_attempts": snap.max_attempts,
        "restarts": snap.restarts,
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
        restarts=row.restarts,
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
    """Every column the engine's group commit writes (``_batch._execution``), floats made
    floats (asyncpg refuses an int for DOUBLE PRECISION)."""
    agent_id = execution.agent_id
    finished_at = float(execution.finished_at)
    return {
        "task_id": execution.task_id,
        "attempt": execution.attempt,
        "agent_id": agent_id,
        "agents_used": [agent_id] if agent_id is not None else [],
        "task_type": execution.task_type,
        "complexity": float(execution.complexity),
        "started_at": float(execution.started_at),
        "finished_at": finished_at,
        "duration_seconds": float(execution.duration),
        "success": execution.outcome is Outcome.SUCCEEDED,
        "outcome": execution.outcome.value,
        "error_kind": execution.error_kind,
        "error_message": execution.error_message,
        "resources": execution.resources,
        "tokens": execution.tokens,
        "cost": _float(execution.cost),
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


# -- learning cycles -----------------------------------------------------------------------


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def cycle_row(cycle: LearningCycle) -> dict[str, Any]:
    return {
        "cycle_id": cycle.cycle_id,
        "start_time": float(cycle.start_time),
        "end_time": _float(cycle.end_time),
        "participating_agents": list(cycle.participating_agents),
        "total_learning_value": _float(cycle.total_learning_value),
        "success_count": cycle.success_count,
        "failure_count": cycle.failure_count,
        "insights_generated": cycle.insights_generated,
        "status": cycle.status.value,
        "trigger": cycle.trigger,
        "metadata": cycle.metadata,
    }


def cycle_from_row(row: Row) -> LearningCycle:
    return LearningCycle(
        cycle_id=row.cycle_id,
        start_time=row.start_time,
        end_time=row.end_time,
        participating_agents=tuple(row.participating_agents),
        total_learning_value=row.total_learning_value,
        success_count=row.success_count,
        failure_count=row.failure_count,
        insights_generated=row.insights_generated,
        status=CycleStatus(row.status),
        metadata=row._mapping["metadata"],
        trigger=row.trigger,
    )


def insight_row(cycle_id: str | None, insight: Insight) -> dict[str, Any]:
    return {
        "cycle_id": cycle_id,
        "insight_type": insight.insight_type.value,
        "task_type": insight.task_type,
        "agents": list(insight.agents),
        "description": insight.description,
        "confidence": float(insight.confidence),
        "sample_size": insight.sample_size,
        "data": insight.data,
        "created_at": float(insight.created_at),
    }


def insight_from_row(row: Row) -> Insight:
    return Insight(
        insight_type=InsightType(row.insight_type),
        task_type=row.task_type,
        agents=tuple(row.agents),
        description=row.description,
        confidence=row.confidence,
        sample_size=row.sample_size,
        data=row.data,
        created_at=row.created_at,
    )


def model_row(cycle_id: str | None, report: ModelReport) -> dict[str, Any]:
    return {
        "version": report.version,
        "cycle_id": cycle_id,
        "kind": report.kind,
        "trained_at": float(report.trained_at),
        "train_samples": report.train_samples,
        "held_out": report.held_out,
        "auc": _float(report.auc),
        "brier": _float(report.brier),
        "mae_log_duration": _float(report.mae_log_duration),
        "baseline_brier": _float(report.baseline_brier),
        "fallback_reason": report.fallback_reason,
    }


def model_from_row(row: Row) -> ModelReport:
    return ModelReport(
        version=row.version,
        kind=row.kind,
        trained_at=row.trained_at,
        train_samples=row.train_samples,
        held_out=row.held_out,
        auc=row.auc,
        brier=row.brier,
        mae_log_duration=row.mae_log_duration,
        baseline_brier=row.baseline_brier,
        fallback_reason=row.fallback_reason,
    )


def figures_values(figures: AgentFigures) -> dict[str, Any]:
    """The learning columns of ``agent_metrics`` a cycle writes from an agent's figures
    (the cycle count and time are the caller's)."""
    return {
        "learning_score": float(figures.learning_score),
        "success_rate": float(figures.success_rate),
        "failure_rate": float(figures.failure_rate),
        "last_success": _float(figures.last_success),
        "last_failure": _float(figures.last_failure),
        "learning_patterns": figures.learning_patterns,
        "improvement_suggestions": figures.improvement_suggestions,
    }


# -- custody protocol and proposals --------------------------------------------------------


def custody_result_row(result: CustodyResult) -> dict[str, Any]:
    return {
        "result_id": result.result_id,
        "agent_id": result.agent_id,
        "test_id": result.test_id,
        "test_version": result.test_version,
        "category": result.category.value,
        "difficulty": result.difficulty.value,
        "task_id": result.task_id,
        "answer": result.answer,
        "score": float(result.score),
        "passed": bool(result.passed),
        "threshold": float(result.threshold),
        "grader_output": result.grader_output,
        "duration": float(result.duration),
        "xp_awarded": result.xp_awarded,
        "created_at": float(result.created_at),
    }


def custody_result_from_row(row: Row) -> CustodyResult:
    return CustodyResult(
        result_id=row.result_id,
        agent_id=row.agent_id,
        test_id=row.test_id,
        test_version=row.test_version,
        category=Category(row.category),
        difficulty=Difficulty(row.difficulty),
        task_id=row.task_id,
        answer=row.answer,
        score=row.score,
        passed=bool(row.passed),
        threshold=row.threshold,
        grader_output=row.grader_output,
        duration=row.duration,
        xp_awarded=row.xp_awarded,
        created_at=row.created_at,
    )


def custody_state_row(record: CustodyRecord, updated_at: float) -> dict[str, Any]:
    return {
        "agent_id": record.agent_id,
        "xp": record.xp,
        "level": record.level,
        "tests": record.tests,
        "passed": record.passed,
        "consecutive_successes": record.consecutive_successes,
        "consecutive_failures": record.consecutive_failures,
        "recent": [bool(outcome) for outcome in record.recent],
        "last_test_at": _float(record.last_test_at),
        "updated_at": float(updated_at),
    }


def custody_from_row(row: Row) -> CustodyRecord:
    return CustodyRecord(
        agent_id=row.agent_id,
        xp=row.xp,
        level=row.level,
        tests=row.tests,
        passed=row.passed,
        consecutive_successes=row.consecutive_successes,
        consecutive_failures=row.consecutive_failures,
        recent=tuple(bool(outcome) for outcome in row.recent),
        last_test_at=row.last_test_at,
    )


def proposal_values(proposal: Proposal) -> dict[str, Any]:
    """Every ``proposals`` column but the id."""
    return {
        "agent_id": proposal.agent_id,
        "title": proposal.title,
        "description": proposal.description,
        "diff": proposal.diff,
        "action": proposal.action,
        "evidence": list(proposal.evidence),
        "status": proposal.status.value,
        "fingerprint": proposal.fingerprint,
        "created_at": float(proposal.created_at),
        "decided_by": proposal.decided_by,
        "decided_at": _float(proposal.decided_at),
        "decision_note": proposal.decision_note,
        "applied_by": proposal.applied_by,
        "applied_at": _float(proposal.applied_at),
    }


def proposal_row(proposal: Proposal) -> dict[str, Any]:
    return {"proposal_id": proposal.proposal_id, **proposal_values(proposal)}


def proposal_from_row(row: Row) -> Proposal:
    return Proposal(
        proposal_id=row.proposal_id,
        agent_id=row.agent_id,
        title=row.title,
        description=row.description,
        diff=row.diff,
        action=row.action,
        evidence=list(row.evidence),
        status=ProposalStatus(row.status),
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        applied_by=row.applied_by,
        applied_at=row.applied_at,
    )
