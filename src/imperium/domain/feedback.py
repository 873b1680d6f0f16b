"""People's ratings of a task's result, and what learning makes of them.

A rating is a score in [0, 1] (thumbs up is 1, thumbs down 0) with an optional comment,
given for a task that ended with a result, and attributed to the attempt (and agent) that
produced it. It becomes a reward: the router counts that attempt as

    reward = (1 - weight) · success + weight · mean score of the attempt's ratings

instead of its bare success (:meth:`imperium.domain.routing.Router.rate`), so a task that
"succeeded" but was rated bad counts partly against its agent. Insights report the share
of positive ratings (score ≥ 0.5) per (task type, agent) beside the success rate, only with
enough ratings behind them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.learning import Insight, InsightType, counts, succeeded
from imperium.domain.models import Execution
from imperium.domain.stats import wilson_interval

POSITIVE = 0.5
"""A rating at or above this is positive (thumbs up is 1.0, thumbs down 0.0)."""
MIN_FEEDBACK = 5
"""Fewer ratings than this for a (task type, agent) give no feedback insight."""
MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class Feedback:
    """One rating of a task's result: a row of ``task_feedback``."""

    feedback_id: str
    task_id: str
    attempt: int
    """The attempt whose result was rated (the task's last one)."""
    agent_id: str
    task_type: str
    success: bool
    """Whether that attempt succeeded: what the rating is blended with."""
    score: float
    comment: str | None
    given_by: str
    """Who rated: the API key's name and id, or ``cli`` / ``dashboard (no keys)``."""
    created_at: float

    @property
    def positive(self) -> bool:
        return self.score >= POSITIVE


def rating_score(score: float | None, thumbs: str | None) -> float:
    """The score a request gives: ``score`` in [0, 1] or ``thumbs`` "up"/"down" (one)."""
    if (score is None) == (thumbs is None):
        raise ValidationError('give either a score from 0 to 1 or thumbs "up"/"down", not both')
    if thumbs is not None:
        if thumbs not in ("up", "down"):
            raise ValidationError(f'thumbs must be "up" or "down", got {thumbs!r}')
        return 1.0 if thumbs == "up" else 0.0
    assert score is not None
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise ValidationError(f"score must be between 0 and 1, got {score}")
    return float(score)


def clean_comment(comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    if len(comment) > MAX_COMMENT or "\x00" in comment:
        raise ValidationError(f"a comment has at most {MAX_COMMENT} characters and no NUL bytes")
    return comment.strip()


def rated_attempt(executions: Sequence[Execution]) -> Execution | None:
    """The attempt whose result a rating is about: the task's last one that is evidence
    about an agent (None when no agent produced anything)."""
    learned = [e for e in executions if counts(e)]
    return max(learned, key=lambda e: e.attempt) if learned else None


# ---------------------------------------------------------------------- insights
Pair = tuple[str, str]


def feedback_insights(
    executions: Sequence[Execution],
    ratings: Iterable[Feedback],
    now: float,
    min_feedback: int = MIN_FEEDBACK,
) -> list[Insight]:
    """One insight per (task type, agent) with at least ``min_feedback`` ratings: its
    success rate over ``executions`` and its share of positive ratings, the confidence the
    lower bound of that share's 95% Wilson interval."""
    by_pair: dict[Pair, list[Feedback]] = {}
    for rating in ratings:
        by_pair.setdefault((rating.task_type, rating.agent_id), []).append(rating)
    attempts: dict[Pair, list[bool]] = {}
    for execution in executions:
        if counts(execution) and execution.agent_id is not None:
            pair = (execution.task_type, execution.agent_id)
            attempts.setdefault(pair, []).append(succeeded(execution))
    out = []
    for (task_type, agent_id), group in sorted(by_pair.items()):
        if len(group) < min_feedback:
            continue
        outcomes = attempts.get((task_type, agent_id), [])
        out.append(_insight(task_type, agent_id, group, outcomes, now))
    return out


def _insight(
    task_type: str, agent_id: str, group: Sequence[Feedback], outcomes: Sequence[bool], now: float
) -> Insight:
    n = len(group)
    positive = sum(1 for r in group if r.positive)
    lower, upper = wilson_interval(positive, n)
    success = sum(outcomes) / len(outcomes) if outcomes else None
    shown = f"{success:.0%} success, " if success is not None else ""
    return Insight(
        insight_type=InsightType.FEEDBACK,
        task_type=task_type,
        agents=(agent_id,),
        description=(
            f"{agent_id}: {shown}{positive / n:.0%} positive feedback on {task_type} ({n} ratings)"
        ),
        confidence=min(1.0, max(0.0, lower)),
        sample_size=n,
        data={
            "ratings": n,
            "positive": positive,
            "positive_rate": round(positive / n, 4),
            "positive_interval": [round(lower, 4), round(upper, 4)],
            "mean_score": round(sum(r.score for r in group) / n, 4),
            "executions": len(outcomes),
            "success_rate": None if success is None else round(success, 4),
        },
        created_at=now,
    )


def feedback_summary(ratings: Sequence[Feedback], min_feedback: int = MIN_FEEDBACK) -> str:
    """One line on how much feedback there is, saying so when it is too little."""
    if not ratings:
        return "no feedback yet: rate tasks' results to let it enter routing and insights"
    pairs: dict[Pair, int] = {}
    for rating in ratings:
        key = (rating.task_type, rating.agent_id)
        pairs[key] = pairs.get(key, 0) + 1
    enough = sum(1 for n in pairs.values() if n >= min_feedback)
    if not enough:
        return (
            f"insufficient feedback for insights (at most {max(pairs.values())} ratings for "
            f"one agent and task type, need {min_feedback})"
        )
    return f"{len(ratings)} ratings; {enough} agent/task type pairs with enough for insights"


def in_time_order(
    executions: Iterable[Execution], ratings: Iterable[Feedback]
) -> list[Execution | Feedback]:
    """Executions (by when they finished) and ratings (by when they were given) as one
    history, oldest first: how they reached the router, so a replay rebuilds its state."""
    timed: list[tuple[float, int, int, Execution | Feedback]] = [
        (e.finished_at, 0, i, e) for i, e in enumerate(executions)
    ]
    timed += [(f.created_at, 1, i, f) for i, f in enumerate(ratings)]
    timed.sort(key=lambda item: item[:3])
    return [item for *_, item in timed]
