"""What each decision leaves: the trace line, the scores (regret, rewards, prediction
accuracy, waits) and the per-agent tallies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from imperium.domain.learning import Prediction
from imperium.domain.models import AgentState
from imperium.domain.scenario import Scenario
from imperium.domain.stats import auc, brier
from imperium.services.learning.simulation.events import Pending
from imperium.services.learning.simulation.result import AgentTally, rounded

MIN_DURATION = 1e-3
"""Durations are floored here before taking logs (of predicted and actual durations)."""

TRACE_KEYS = (
    "decision",
    "task",
    "task_type",
    "complexity",
    "chosen",
    "candidates",
    "running",
    "max_concurrency",
    "predicted_success",
    "true_success",
    "best_success",
    "succeeded",
    "predicted_duration",
    "duration",
    "wait",
)
"""The keys of every trace line (:func:`simulate`)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One task given to one agent, with the truth about it and what was predicted."""

    number: int
    item: Pending
    candidates: list[AgentState]
    chosen: AgentState
    true_success: float
    best_success: float
    ok: bool
    duration: float
    prediction: Prediction
    started_at: float

    @property
    def wait(self) -> float:
        return self.started_at - self.item.arrived_at

    def trace_line(self) -> dict[str, object]:
        """The decision as :data:`TRACE_KEYS` (``running`` as the chosen agent's now)."""
        task = self.item.task
        return {
            "decision": self.number,
            "task": self.item.index,
            "task_type": task.type,
            "complexity": round(task.complexity, 6),
            "chosen": self.chosen.spec.id,
            "candidates": [a.spec.id for a in self.candidates],
            "running": self.chosen.running,
            "max_concurrency": self.chosen.spec.max_concurrency,
            "predicted_success": round(self.prediction.success, 6),
            "true_success": round(self.true_success, 6),
            "best_success": round(self.best_success, 6),
            "succeeded": self.ok,
            "predicted_duration": rounded(self.prediction.duration),
            "duration": round(self.duration, 6),
            "wait": round(self.wait, 6),
        }


@dataclass(slots=True)
class Record:
    """The scores' running sums, over every decision."""

    predicted: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    outcome: list[bool] = field(default_factory=list)
    log_error: list[float] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    expected: float = 0.0
    best: float = 0.0
    successes: int = 0
    wait: float = 0.0

    def add(self, decision: Decision) -> None:
        self.predicted.append(decision.prediction.success)
        self.truth.append(decision.true_success)
        self.outcome.append(decision.ok)
        self.regret.append(decision.best_success - decision.true_success)
        self.expected += decision.true_success
        self.best += decision.best_success
        self.successes += decision.ok
        self.wait += decision.wait
        if decision.prediction.duration is not None:
            self.log_error.append(abs(_log(decision.prediction.duration) - _log(decision.duration)))

    def prediction_scores(self) -> dict[str, float | None]:
        """The predictor's AUC and Brier score next to those of the true probabilities on
        the same outcomes, and its mean absolute error on log-duration."""
        mae = sum(self.log_error) / len(self.log_error) if self.log_error else None
        return {
            "auc": rounded(auc(self.predicted, self.outcome)),
            "auc_true": rounded(auc(self.truth, self.outcome)),
            "brier": rounded(brier(self.predicted, self.outcome)),
            "brier_true": rounded(brier(self.truth, self.outcome)),
            "mae_log_duration": rounded(mae),
        }


def _log(duration: float) -> float:
    return math.log(max(duration, MIN_DURATION))


class AgentCounts:
    """Per agent: tasks given, successes, and the most attempts it ran at once."""

    def __init__(self, agent_ids: list[str]) -> None:
        self.chosen = dict.fromkeys(agent_ids, 0)
        self.successes = dict.fromkeys(agent_ids, 0)
        self.peak = dict.fromkeys(agent_ids, 0)

    def count(self, agent: AgentState, ok: bool) -> None:
        """``agent`` started an attempt (already counted in ``agent.running``)."""
        agent_id = agent.spec.id
        self.peak[agent_id] = max(self.peak[agent_id], agent.running)
        self.chosen[agent_id] += 1
        self.successes[agent_id] += ok

    def tallies(self, scenario: Scenario) -> dict[str, AgentTally]:
        return {
            a.id: AgentTally(
                self.chosen[a.id], self.successes[a.id], self.peak[a.id], a.max_concurrency
            )
            for a in scenario.agents
        }
