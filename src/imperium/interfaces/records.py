"""Records as JSON-ready dicts: the one shape of a task, attempt, event and agent that the
CLI's ``--json`` output and the HTTP API both show. Times are ISO-8601 strings in UTC.

May import the domain, ``ports`` and the services' result types; nothing from the CLI or the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from imperium.domain.auth import ApiKey
from imperium.domain.custody import (
    CustodyRecord,
    CustodyResult,
    can_create_proposals,
    can_level_up,
    eligibility_reason,
)
from imperium.domain.feedback import Feedback
from imperium.domain.learning import Insight, LearningCycle, ModelReport
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.proposals import Proposal
from imperium.domain.teams import TeamEstimate, TeamRun
from imperium.ports import AgentLoad, AgentStats
from imperium.services.custody.service import CustodyRun
from imperium.services.learning.overview import Overview
from imperium.services.learning.service import Recommendation, model_dict


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


def task_dict(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type,
        "name": t.name,
        "workflow_id": t.workflow_id,
        "state": str(t.state),
        "priority": str(t.priority),
        "score": round(t.score, 2),
        "payload": t.payload,
        "capabilities": sorted(t.required_capabilities),
        "pinned_agent": t.pinned_agent,
        "complexity": t.complexity,
        "resources": t.resources,
        "depends_on": list(t.depends_on),
        "attempts": t.attempts,
        "max_attempts": t.max_attempts,
        "restarts": t.restarts,
        "agent_id": t.agent_id,
        "deadline": iso(t.deadline),
        "timeout": t.timeout,
        "result": t.result,
        "error_kind": t.error_kind,
        "error_message": t.error_message,
        "created_at": iso(t.created_at),
        "started_at": iso(t.started_at),
        "finished_at": iso(t.finished_at),
    }


def execution_dict(e: Execution) -> dict[str, Any]:
    return {
        "attempt": e.attempt,
        "agent_id": e.agent_id,
        "outcome": str(e.outcome),
        "started_at": iso(e.started_at),
        "finished_at": iso(e.finished_at),
        "duration_seconds": round(e.duration, 6),
        "error_kind": e.error_kind,
        "error_message": e.error_message,
        "tokens": e.tokens,
        "cost": e.cost,
    }


def event_dict(e: Event) -> dict[str, Any]:
    return {
        "event_type": e.event_type,
        "at": iso(e.created_at),
        "agent_id": e.agent_id,
        "data": e.data,
    }


def agent_dict(
    a: AgentSpec, stats: AgentStats | None, load: AgentLoad | None = None
) -> dict[str, Any]:
    """``loaded`` is None until a scheduler tried to load the agent's code (and for remote
    agents, whose code runs elsewhere); False with ``load_error`` when it failed."""
    executions = stats.executions if stats else 0
    return {
        "agent_id": a.id,
        "agent_type": a.type,
        "status": str(a.status),
        "priority": a.priority,
        "capabilities": sorted(a.capabilities),
        "max_concurrency": a.max_concurrency,
        "resources": a.resources,
        "config": a.config,
        "description": a.description,
        "executions": executions,
        "succeeded": stats.succeeded if stats else 0,
        "failed": stats.failed if stats else 0,
        "success_rate": (stats.succeeded / executions) if stats and executions else None,
        "mean_duration_seconds": stats.mean_duration if stats else None,
        "last_success": iso(stats.last_success) if stats else None,
        "last_failure": iso(stats.last_failure) if stats else None,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        **load_fields(load),
    }


def load_fields(load: AgentLoad | None) -> dict[str, Any]:
    """Whether a scheduler could load an agent's code (see ``agent_dict``)."""
    return {
        "loaded": None if load is None else load.loaded,
        "load_error": None if load is None else load.error,
        "load_checked_at": None if load is None else iso(load.at),
    }


def key_dict(k: ApiKey) -> dict[str, Any]:
    """An API key without its secret (only ``imperium keys create`` ever shows that)."""
    return {
        "id": k.id,
        "name": k.name,
        "role": k.role.value,
        "agent_id": k.agent_id,
        # agent keys: what the agent may offer (its own id unless an admin listed more)
        "capabilities": sorted(allowed) if (allowed := k.allowed_capabilities) else None,
        "active": k.active,
        "created_at": iso(k.created_at),
        "revoked_at": iso(k.revoked_at),
    }


def cycle_dict(c: LearningCycle) -> dict[str, Any]:
    """A learning cycle with the seed's field names."""
    return {
        "cycle_id": c.cycle_id,
        "start_time": iso(c.start_time),
        "end_time": iso(c.end_time),
        "participating_agents": list(c.participating_agents),
        "total_learning_value": c.total_learning_value,
        "success_count": c.success_count,
        "failure_count": c.failure_count,
        "insights_generated": c.insights_generated,
        "status": c.status.value,
        "metadata": c.metadata,
    }


def insight_dict(i: Insight) -> dict[str, Any]:
    """The seed's insight shape (insight_type, confidence, description, data) plus the
    task type, agents and sample size it rests on."""
    return {
        "insight_type": i.insight_type.value,
        "task_type": i.task_type,
        "agents": list(i.agents),
        "description": i.description,
        "confidence": round(i.confidence, 4),
        "sample_size": i.sample_size,
        "data": i.data,
        "created_at": iso(i.created_at),
    }


def model_report_dict(r: ModelReport) -> dict[str, Any]:
    """A model's report for display: the cycle's record of it, with an ISO time."""
    return {**model_dict(r), "trained_at": iso(r.trained_at)}


def overview_dict(data: Overview) -> dict[str, Any]:
    """The dashboard figures (the API's ``dashboard_metrics``, ``imperium dashboard --json``)."""

    return {
        "executions_analysed": data.executions,
        "attempts_learned_from": data.learned,
        "success_rate": data.success_rate,
        "success_trend": [
            {
                "start": iso(p.start),
                "end": iso(p.end),
                "executions": p.executions,
                "success_rate": p.success_rate,
            }
            for p in data.trend
        ],
        "agent_rankings": [
            {
                "agent_id": f.agent_id,
                "learning_score": f.learning_score,
                "success_rate": f.success_rate if f.executions else None,
                "executions": f.executions,
            }
            for f in data.rankings
        ],
        "recent_insights": [insight_dict(i) for i in data.insights],
        "models": [model_report_dict(m) for m in data.models],
    }


def recommendation_dict(r: Recommendation) -> dict[str, Any]:
    """The seed's recommendation shape (SEED-API.md), plus what it was asked about."""

    def duration(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    p = r.primary
    return {
        "primary_recommendation": {
            "agents": [p.agent_id],
            "confidence": round(p.confidence, 4),
            "expected_duration": duration(p.expected_duration),
            "expected_success": round(p.expected_success, 4),
            "sample_size": p.sample_size,
            "success_interval": [round(p.interval[0], 4), round(p.interval[1], 4)],
            "risk_factors": r.risk_factors,
            "optimization_suggestions": r.optimization_suggestions,
        },
        "alternatives": [
            {
                "agents": [o.agent_id],
                "expected_success_rate": round(o.expected_success, 4),
                "expected_duration": duration(o.expected_duration),
                "confidence": round(o.confidence, 4),
                "sample_size": o.sample_size,
            }
            for o in r.alternatives
        ],
        "learning_mode": r.learning_mode,
        "recommendation_id": r.recommendation_id,
        "timestamp": iso(r.timestamp),
        "task_type": r.task_type,
        "complexity": r.complexity,
        "model_version": r.model_version,
    }


def status_dict(record: CustodyRecord, history: list[CustodyResult]) -> dict[str, Any]:
    """The seed's ``/test/{ai_type}/status`` shape."""
    return {
        "ai_type": record.agent_id,
        "total_tests_given": record.tests,
        "total_tests_passed": record.passed,
        "total_tests_failed": record.failed,
        "pass_rate": record.pass_rate,
        "current_difficulty": record.difficulty.value,
        "custody_level": record.level,
        "custody_xp": record.xp,
        "consecutive_successes": record.consecutive_successes,
        "consecutive_failures": record.consecutive_failures,
        "can_level_up": can_level_up(record),
        "can_create_proposals": can_create_proposals(record),
        "proposal_eligibility": eligibility_reason(record),
        "last_test_date": iso(record.last_test_at),
        "test_history": [result_dict(r, brief=True) for r in history],
    }


def result_dict(r: CustodyResult, *, brief: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "result_id": r.result_id,
        "ai_type": r.agent_id,
        "test_id": r.test_id,
        "test_version": r.test_version,
        "category": r.category.value,
        "difficulty": r.difficulty.value,
        "passed": r.passed,
        "score": r.score,
        "threshold": r.threshold,
        "duration": r.duration,
        "xp_awarded": r.xp_awarded,
        "task_id": r.task_id,
        "timestamp": iso(r.created_at),
    }
    if not brief:
        out["ai_response"] = r.answer
        out["evaluation"] = r.grader_output
    return out


def run_dict(run: CustodyRun) -> dict[str, Any]:
    """The seed's ``POST /test/{ai_type}`` data."""
    r = run.result
    return {
        "ai_type": r.agent_id,
        "test_difficulty": r.difficulty.value,
        "test_category": r.category.value,
        "test_result": {
            **result_dict(r),
            "test_content": {
                "id": run.item.id,
                "version": run.item.version,
                "task_type": run.item.task_type,
                "prompt": run.item.prompt,
                "payload": run.item.payload,
            },
            "difficulty": r.difficulty.value,
            "category": r.category.value,
        },
        "level_before": run.before.level,
        "can_level_up": can_level_up(run.record),
        "can_create_proposals": can_create_proposals(run.record),
        "custody_metrics": status_dict(run.record, []),
        "timestamp": iso(r.created_at),
    }


def proposal_dict(p: Proposal) -> dict[str, Any]:
    return {
        "id": p.proposal_id,
        "ai_type": p.agent_id,
        "agent_id": p.agent_id,
        "title": p.title,
        "description": p.description,
        "diff": p.diff,
        "action": p.action,
        "evidence": p.evidence,
        "status": p.status.value,
        "created_at": iso(p.created_at),
        "decided_by": p.decided_by,
        "decided_at": iso(p.decided_at),
        "decision_note": p.decision_note,
        "applied_by": p.applied_by,
        "applied_at": iso(p.applied_at),
    }


def team_dict(run: TeamRun) -> dict[str, Any]:
    """A team task (``GET /api/v1/teams/{id}``, ``imperium teams show --json``)."""
    return {
        "id": run.team_id,
        "type": run.task_type,
        "state": run.state.value,
        "members": list(run.members),
        "task_ids": dict(zip(run.members, run.task_ids, strict=False)),  # () while stored
        "quorum": run.quorum,
        "members_succeeded": run.succeeded_members,
        "chosen_by": run.chosen_by,
        "created_at": iso(run.created_at),
        "finished_at": iso(run.finished_at),
        "member_states": dict(run.member_states),
        "results": dict(run.results),
    }


def team_estimate_dict(task_type: str, e: TeamEstimate) -> dict[str, Any]:
    """What the router learned about one combination of agents."""
    return {
        "type": task_type,
        "members": list(e.members),
        "quorum": e.quorum,
        "expected_success": round(e.success, 6),
        "prior_from_members": round(e.prior, 6),
        "success_interval": [round(e.lower, 6), round(e.upper, 6)],
        "sample_size": e.samples,
    }


def feedback_dict(feedback: Feedback) -> dict[str, object]:
    return {
        "feedback_id": feedback.feedback_id,
        "task_id": feedback.task_id,
        "attempt": feedback.attempt,
        "agent_id": feedback.agent_id,
        "task_type": feedback.task_type,
        "success": feedback.success,
        "score": feedback.score,
        "positive": feedback.positive,
        "comment": feedback.comment,
        "given_by": feedback.given_by,
        "created_at": feedback.created_at,
    }
