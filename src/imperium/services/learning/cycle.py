"""One learning cycle's rows and computation, apart from the learner's state: the row it
starts with, the CPU-heavy part (run in a worker thread), the outcomes it re-reads, and
the row and learning event it ends with, completed or failed. Pure but for the fitting,
which changes the predictor and the router it is given."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from imperium.domain.feedback import Feedback, feedback_insights, feedback_summary, in_time_order
from imperium.domain.insights import agent_figures, generate_insights, insight_order
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    LearningCycle,
    ModelReport,
    counts,
    succeeded,
)
from imperium.domain.models import Execution
from imperium.domain.prediction import since_drift
from imperium.domain.routing import DriftAlarm, Router
from imperium.ports import LearningLog, OutcomePredictor
from imperium.services.learning.summaries import alarm_dict, model_dict, rounded, type_counts


def started(cycle_id: str, now: float, trigger: str, runner: dict[str, object]) -> LearningCycle:
    """The row of a cycle that has just begun (``runner``: the process's fields)."""
    return LearningCycle(
        cycle_id=cycle_id,
        start_time=now,
        end_time=None,
        participating_agents=(),
        total_learning_value=None,
        success_count=0,
        failure_count=0,
        insights_generated=0,
        status=CycleStatus.RUNNING,
        metadata={"trigger": trigger, **runner},
        trigger=trigger,
    )


def compute(
    predictor: OutcomePredictor,
    replay: Router,
    history: tuple[Sequence[Execution], Sequence[Feedback]],
    agent_ids: list[str],
    now: float,
) -> tuple[ModelReport, list[Insight], list[AgentFigures]]:
    """The CPU-heavy part of a cycle (runs in a worker thread)."""
    executions, ratings = history
    replay.replay(in_time_order(executions, ratings))
    # the predictor forgets each pair's regime before a drift alarm (domain/prediction.py)
    report = predictor.fit(since_drift(executions, replay.alarms), now)
    insights = generate_insights(executions, now)
    if ratings:
        rated = feedback_insights(executions, ratings, now)
        insights = sorted([*insights, *rated], key=insight_order)
    figures = agent_figures(executions, agent_ids, insights)
    return report, insights, list(figures)


def merged(insights: Sequence[Insight], more: Iterable[Insight]) -> list[Insight]:
    """Both lists as one, in insight order."""
    return sorted([*insights, *more], key=insight_order)


def unread(
    observed: Iterable[Execution | Feedback],
    executions: Sequence[Execution],
    ratings: Sequence[Feedback],
) -> Iterator[Execution | Feedback]:
    """What the engine reported during the cycle that the cycle did not read itself."""
    read = {(e.task_id, e.attempt) for e in executions}
    rated = {f.feedback_id for f in ratings}
    return (
        item
        for item in observed
        if (
            item.feedback_id not in rated
            if isinstance(item, Feedback)
            else (item.task_id, item.attempt) not in read
        )
    )


def completed(
    cycle: LearningCycle,
    end: float,
    history: tuple[Sequence[Execution], Sequence[Feedback]],
    learned: tuple[ModelReport, Sequence[Insight], Sequence[DriftAlarm]],
    agents_updated: int,
) -> LearningCycle:
    """``cycle``'s row once it has learned, from ``history`` (executions, ratings), a model,
    insights and the drift alarms raised since the previous cycle."""
    executions, ratings = history
    report, insights, alarms = learned
    counted = [e for e in executions if counts(e)]
    participants = tuple(sorted({e.agent_id for e in counted if e.agent_id is not None}))
    return replace(
        cycle,
        end_time=end,
        participating_agents=participants,
        total_learning_value=rounded(report.brier_skill),
        success_count=sum(1 for e in counted if succeeded(e)),
        failure_count=sum(1 for e in counted if not succeeded(e)),
        insights_generated=len(insights),
        status=CycleStatus.COMPLETED,
        metadata={
            **cycle.metadata,
            "executions_read": len(executions),
            "executions_learned": len(counted),
            "agents_updated": agents_updated,
            "model": model_dict(report),
            "drift_alarms": [alarm_dict(a) for a in alarms],
            "insight_types": type_counts(insights),
            "feedback_read": len(ratings),
            "feedback": feedback_summary(ratings),
            "seconds": round(end - cycle.start_time, 3),
        },
    )


def announcement(
    done: LearningCycle, end: float, report: ModelReport, insights: Sequence[Insight]
) -> LearningLog:
    """The ``learning_cycle.completed`` learning event of the completed row ``done``."""
    return LearningLog(
        event_type="learning_cycle.completed",
        created_at=end,
        agent_type="imperium",
        results_count=len(insights),
        insights=[i.description for i in insights[:5]],
        processing_time=round(end - done.start_time, 3),
        impact_score=max(0.0, done.total_learning_value or 0.0),
        event_data={"cycle_id": done.cycle_id, "model_version": report.version},
    )


def failed(cycle: LearningCycle, end: float, error: str) -> LearningCycle:
    """``cycle``'s row once it has failed with ``error``."""
    return replace(
        cycle, end_time=end, status=CycleStatus.FAILED, metadata={**cycle.metadata, "error": error}
    )


def failure(cycle: LearningCycle, at: float, error: str) -> LearningLog:
    """The ``learning_cycle.failed`` learning event, so alert rules can hear it."""
    return LearningLog(
        event_type="learning_cycle.failed",
        created_at=at,
        agent_type="imperium",
        error_message=error,
        event_data={"cycle_id": cycle.cycle_id, "trigger": cycle.trigger},
    )
