"""Recommendations: which registered agent to give a task of some type, the alternatives,
and the evidence, risks and suggestions behind each. Pure but for
:func:`probability_best`, which draws from a copy of the router's posteriors in a worker
thread; the learner reads the agents, the predictor and the insights."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.learning import Insight, InsightType, Prediction, RouterMode
from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.routing import DriftAlarm, Router
from imperium.domain.selection import could_ever_take
from imperium.domain.states import AgentStatus

MIN_EVIDENCE = 10
"""Fewer recorded attempts than this behind a recommendation is reported as a risk."""


@dataclass(frozen=True, slots=True)
class Option:
    """One candidate agent for a recommendation, with the evidence behind it."""

    agent_id: str
    expected_success: float
    expected_duration: float | None
    confidence: float
    """Probability, under the router's posteriors, that this agent has the highest success
    rate among the candidates (Monte Carlo over posterior draws)."""
    sample_size: int
    interval: tuple[float, float]
    """95% Wilson interval of its observed success rate on this task type."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    recommendation_id: str
    task_type: str
    complexity: float
    primary: Option
    alternatives: list[Option]
    risk_factors: list[str]
    optimization_suggestions: list[str]
    learning_mode: str
    model_version: str | None
    timestamp: float


def check_request(mode: RouterMode, complexity: float) -> None:
    """Raises when nothing can be recommended: the router only observes, or the
    complexity is out of range."""
    if mode is RouterMode.OBSERVE:
        raise ConflictError(
            "the router is in observe mode, which records outcomes but recommends "
            "nothing; set IMPERIUM_LEARNING_MODE=recommend (or autonomous)"
        )
    if not math.isfinite(complexity) or not 0 <= complexity <= 1000:
        raise ValidationError(f"complexity must be between 0 and 1000, got {complexity}")


def candidates(specs: Sequence[AgentSpec], task_type: str) -> list[str]:
    """The ids of the agents able to take ``task_type``; NotFoundError when there is none."""
    ids = [s.id for s in specs if able(s, task_type)]
    if not ids:
        raise NotFoundError(
            f"no registered agent can take tasks of type '{task_type}': register one "
            f"with the capability '{task_type}'"
        )
    return ids


def able(spec: AgentSpec, task_type: str) -> bool:
    """The agent could take a task of this type (capabilities, not retired)."""
    if spec.status is AgentStatus.RETIRED:
        return False
    return could_ever_take(AgentState(spec), Task(id="", type=task_type, created_at=0.0))


async def probability_best(
    router: Router, task_type: str, ids: list[str], draws: int
) -> dict[str, float]:
    """:meth:`Router.probability_best`, on a copy of ``router``'s posteriors."""
    snapshot = Router(random.Random(), router.config)  # drawn off the event loop
    snapshot.arms = dict(router.arms)
    snapshot.seen = dict(router.seen)
    return await asyncio.to_thread(snapshot.probability_best, task_type, ids, draws)


def ranked(
    router: Router,
    task_type: str,
    ids: Sequence[str],
    predictions: Sequence[Prediction],
    best: dict[str, float],
) -> list[Option]:
    """The candidates ``ids`` (``predictions`` in the same order), most likely to succeed
    first, then fastest."""
    options = []
    for agent_id, prediction in zip(ids, predictions, strict=True):
        estimate = router.estimate(task_type, agent_id)
        options.append(
            Option(
                agent_id=agent_id,
                expected_success=prediction.success,
                expected_duration=prediction.duration,
                confidence=best[agent_id],
                sample_size=estimate.samples,
                interval=(estimate.lower, estimate.upper),
            )
        )
    options.sort(
        key=lambda o: (
            -o.expected_success,
            o.expected_duration if o.expected_duration is not None else math.inf,
            o.agent_id,
        )
    )
    return options


def risks(
    task_type: str, option: Option, alarms: Sequence[DriftAlarm], insights: Sequence[Insight]
) -> list[str]:
    """What speaks against ``option``: little evidence, a low prediction, a recent drift
    alarm (``alarms``: the router's, oldest first), insights to avoid it."""
    out = []
    if option.sample_size == 0:
        out.append(
            f"no recorded attempts of '{task_type}' by {option.agent_id}: the "
            "recommendation rests on the prior and other agents' results"
        )
    elif option.sample_size < MIN_EVIDENCE:
        out.append(f"only {option.sample_size} recorded attempts of '{task_type}'")
    if option.expected_success < 0.5:
        out.append(f"predicted success is only {option.expected_success:.0%}")
    drift = _drift(task_type, option.agent_id, alarms)
    if drift is not None:
        out.append(drift)
    for insight in insights:
        if (
            insight.task_type == task_type
            and insight.agents == (option.agent_id,)  # a combination's is the team's
            and (insight.insight_type in (InsightType.AVOID_PATTERN, InsightType.BOTTLENECK))
        ):
            out.append(insight.description)
    return list(dict.fromkeys(out))


def _drift(task_type: str, agent_id: str, alarms: Sequence[DriftAlarm]) -> str | None:
    """The newest drift alarm of the pair, said as a risk."""
    for alarm in reversed(alarms):
        if (alarm.task_type, alarm.agent_id) == (task_type, agent_id):
            return (
                f"its success rate changed recently ({alarm.direction}: "
                f"{alarm.before_rate:.0%} → {alarm.recent_rate:.0%})"
            )
    return None


def suggestions(primary: Option, options: Sequence[Option]) -> list[str]:
    out = []
    for other in options:
        if other is primary or other.expected_duration is None:
            continue
        if primary.expected_duration is None:
            continue
        similar = primary.expected_success - other.expected_success <= 0.05
        speedup = primary.expected_duration / other.expected_duration
        if similar and speedup >= 1.5:
            out.append(
                f"{other.agent_id} is about {speedup:.1f}x faster with similar predicted "
                f"success ({other.expected_success:.0%} vs {primary.expected_success:.0%})"
            )
    if all(o.sample_size < MIN_EVIDENCE for o in options):
        out.append(
            "every candidate has fewer than "
            f"{MIN_EVIDENCE} recorded attempts of this type; the router keeps exploring "
            "until the evidence separates them"
        )
    return out
