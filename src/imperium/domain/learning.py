"""The vocabulary of learning: which executions count, what a prediction and a model
version are. The maths lives beside it (routing, prediction, insights); nothing here
imports a machine-learning library."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imperium.domain.models import Execution
from imperium.domain.states import Outcome

LEARNED_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST})
"""Attempts that say something about an agent. A cancelled attempt or one interrupted by
a graceful shutdown was stopped from outside and teaches nothing."""


SCHEDULER_RESTART = "scheduler_restart"
"""error_kind of an attempt lost because the scheduler itself died (recovery)."""


def counts(execution: Execution) -> bool:
    """True when the execution is evidence about its agent (see LEARNED_OUTCOMES); an
    attempt lost to a scheduler crash is not (a remote worker's expired lease is)."""
    return (
        execution.agent_id is not None
        and execution.outcome in LEARNED_OUTCOMES
        and not (execution.outcome is Outcome.LOST and execution.error_kind == SCHEDULER_RESTART)
    )


def succeeded(execution: Execution) -> bool:
    return execution.outcome is Outcome.SUCCEEDED


class RouterMode(StrEnum):
    """How far the learned router is trusted (the seed's gradual roll-out)."""

    OBSERVE = "observe"
    """Learn from every outcome; dispatch stays least-loaded; nothing is recommended."""
    RECOMMEND = "recommend"
    """Learn and expose recommendations (predict, API); dispatch stays least-loaded."""
    AUTONOMOUS = "autonomous"
    """The router picks the agent for every task that does not pin one."""


@dataclass(frozen=True, slots=True)
class Query:
    """What a prediction is asked about: one agent on one kind of task."""

    task_type: str
    complexity: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class Prediction:
    """Probability of success and expected duration (seconds; None when nothing is known)."""

    success: float
    duration: float | None
    samples: int
    """How many recorded executions of this (task type, agent) pair stand behind it."""


@dataclass(frozen=True, slots=True)
class ModelReport:
    """A trained model version and its accuracy on held-out data (the newest executions,
    not used for fitting). ``None`` scores mean the held-out data could not measure it
    (e.g. only one class among the outcomes); ``fallback_reason`` says why the simple
    per-pair estimator is in use instead of the fitted model."""

    version: str
    kind: str
    trained_at: float
    train_samples: int
    held_out: int
    auc: float | None
    brier: float | None
    mae_log_duration: float | None
    baseline_brier: float | None
    fallback_reason: str | None = None

    @property
    def brier_skill(self) -> float | None:
        """1 - brier/baseline_brier: how much better than always predicting the overall
        success rate (the base rate) on held-out data; None when not measurable."""
        if self.brier is None or self.baseline_brier is None or self.baseline_brier <= 0:
            return None
        return 1.0 - self.brier / self.baseline_brier


class InsightType(StrEnum):
    BEST_COMBO = "best_combo"
    AVOID_PATTERN = "avoid_pattern"
    BOTTLENECK = "bottleneck"
    DRIFT = "drift"
    FEEDBACK = "feedback"
    """An agent's share of positive user ratings on a task type (domain/feedback.py)."""
    KNOWLEDGE = "knowledge"
    """Attempts of a task type that used the knowledge base against those that did not
    (services/knowledge)."""


@dataclass(frozen=True, slots=True)
class Insight:
    """A pattern found in recorded executions, with the evidence behind it.

    ``confidence`` is in [0, 1] and comes from an interval or a test (each generator says
    which); ``sample_size`` is the number of executions it rests on; ``data`` holds the
    figures (rates, counts, durations, the most common error, …) as JSON.
    """

    insight_type: InsightType
    task_type: str
    agents: tuple[str, ...]
    description: str
    confidence: float
    sample_size: int
    data: dict[str, object]
    created_at: float


@dataclass(frozen=True, slots=True)
class AgentFigures:
    """An agent's learning columns of ``agent_metrics``, derived from its executions."""

    agent_id: str
    executions: int
    success_rate: float
    failure_rate: float
    learning_score: float
    """0-100: 100 x the lower bound of the 95% Wilson interval of its success rate, so an
    agent scores high only with both a high rate and enough attempts to show it."""
    last_success: float | None
    last_failure: float | None
    learning_patterns: list[dict[str, object]]
    """Per task type: attempts, success rate, typical duration."""
    improvement_suggestions: list[str]
    """Plain sentences derived from its insights (e.g. what it should stop taking)."""


class CycleStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LearningCycle:
    """One learning cycle: a row of ``learning_cycles``.

    ``total_learning_value`` is the held-out Brier skill score of the success model (how
    much better than the base rate it predicts; None when it could not be measured).
    ``metadata`` holds the model version, its held-out scores, the number of executions
    read, the drift alarms and, for a failed cycle, the error.
    """

    cycle_id: str
    start_time: float
    end_time: float | None
    participating_agents: tuple[str, ...]
    total_learning_value: float | None
    success_count: int
    failure_count: int
    insights_generated: int
    status: CycleStatus
    metadata: dict[str, object]
    trigger: str = "manual"
    """"schedule", "manual" (API or CLI) — also kept in metadata for the seed's clients."""
