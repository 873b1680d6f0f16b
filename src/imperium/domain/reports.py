"""The weekly report's figures (pure): what the database counted over a period, and what
the report says from it.

A store aggregates stored rows over ``[since, until)`` into :class:`PeriodFigures` (attempts
per day, task type, agent and outcome with their recorded tokens and cost; tasks ended per
state; ratings per agent and type; drift alarms; learning cycles per status). From those
alone, :func:`build_report` computes throughput, success per task type, the best and the
worst agents with 95% Wilson intervals, cost, and feedback. Nothing is estimated: an agent
with fewer than ``min_attempts`` counted attempts is left out of the ranking, and a report
without attempts, ratings or cost says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from imperium.domain.learning import Insight
from imperium.domain.stats import wilson_interval

DAY = 86_400.0
SUCCEEDED = "succeeded"
FAILED_OUTCOMES = frozenset({"failed", "timed_out", "lost"})
"""Attempts that count against an agent (cancelled and interrupted ones say nothing)."""
MIN_ATTEMPTS = 5
"""Fewer counted attempts than this in the period: an agent is not ranked."""
RANKED = 3
"""How many agents the best and the worst lists show."""
ENDED_STATES = ("succeeded", "failed", "dead", "timed_out", "cancelled")
DRIFT_EVENT = "agent.drift"


@dataclass(frozen=True, slots=True)
class AttemptCount:
    """Attempts finished on UTC day ``day`` (days since the epoch) of ``task_type`` by
    ``agent_id`` with ``outcome``, and the tokens and cost the rows recorded (sums over
    the rows that recorded any; ``*_rows``: how many did)."""

    day: int
    task_type: str
    agent_id: str | None
    outcome: str
    attempts: int
    tokens: int = 0
    token_rows: int = 0
    cost: float = 0.0
    cost_rows: int = 0


@dataclass(frozen=True, slots=True)
class RatingCount:
    """Ratings given in the period of one agent's results on one task type."""

    agent_id: str
    task_type: str
    ratings: int
    positive: int
    score_sum: float


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """A drift alarm the router raised (from its ``agent.drift`` events)."""

    agent_id: str
    task_type: str
    at: float
    before_rate: float | None
    recent_rate: float | None
    direction: str | None


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    since: float
    until: float
    attempts: tuple[AttemptCount, ...]
    tasks_ended: dict[str, int]
    ratings: tuple[RatingCount, ...]
    drift: tuple[DriftRecord, ...]
    cycles: dict[str, int]
    """Learning cycles started in the period, per status."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``succeeded`` of ``attempts`` counted (succeeded or failed), with the 95% Wilson
    interval; ``rate`` and the interval are None without counted attempts."""

    attempts: int
    succeeded: int

    @property
    def rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.succeeded, self.attempts) if self.attempts else None

    def as_json(self) -> dict[str, object]:
        interval = self.interval
        return {
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "success_rate": _round(self.rate),
            "interval": None if interval is None else [_round(v) for v in interval],
        }


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    rate: Rate
    tokens: int | None
    cost: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            **self.rate.as_json(),
            "tokens": self.tokens,
            "cost": _round(self.cost, 6),
        }


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    agent_id: str
    ratings: int
    positive: int
    mean_score: float

    def as_json(self) -> dict[str, object]:
        low, high = wilson_interval(self.positive, self.ratings)
        return {
            "agent_id": self.agent_id,
            "ratings": self.ratings,
            "positive": self.positive,
            "positive_rate": _round(self.positive / self.ratings),
            "positive_interval": [_round(low), _round(high)],
            "mean_score": _round(self.mean_score),
        }


@dataclass(frozen=True, slots=True)
class Report:
    since: float
    until: float
    period_days: float
    generated_at: float
    attempts_by_outcome: dict[str, int]
    per_day: list[tuple[int, int, int]]
    """(day, succeeded, failed) for every UTC day the period touches, empty days too."""
    tasks_ended: dict[str, int]
    by_type: dict[str, Rate]
    agents: list[AgentRow]
    best: list[AgentRow]
    worst: list[AgentRow]
    unranked: list[str]
    """Agents with counted attempts but fewer than ``min_attempts``."""
    min_attempts: int
    tokens: int | None
    cost: float | None
    feedback: list[FeedbackRow]
    ratings: int
    drift: list[DriftRecord]
    cycles: dict[str, int]
    insights: list[Insight] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the report could not say, and why (no attempts, no cost recorded, ...)."""

    @property
    def counted(self) -> Rate:
        return Rate(
            sum(r.attempts for r in self.by_type.values()),
            sum(r.succeeded for r in self.by_type.values()),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since,
            "until": self.until,
            "period_days": self.period_days,
            "generated_at": self.generated_at,
            "throughput": {
                "attempts": sum(self.attempts_by_outcome.values()),
                "attempts_by_outcome": dict(sorted(self.attempts_by_outcome.items())),
                "tasks_ended": dict(sorted(self.tasks_ended.items())),
                "per_day": [
                    {"day_start": day * DAY, "succeeded": ok, "failed": bad}
                    for day, ok, bad in self.per_day
                ],
                **{"overall": self.counted.as_json()},
            },
            "success_by_type": {t: r.as_json() for t, r in sorted(self.by_type.items())},
            "agents": [a.as_json() for a in self.agents],
            "best_agents": [a.as_json() for a in self.best],
            "worst_agents": [a.as_json() for a in self.worst],
            "unranked_agents": self.unranked,
            "min_attempts": self.min_attempts,
            "cost": {"tokens": self.tokens, "cost": _round(self.cost, 6)},
            "feedback": {
                "ratings": self.ratings,
                "agents": [f.as_json() for f in self.feedback],
            },
            "drift_alarms": [
                {
                    "agent_id": d.agent_id,
                    "task_type": d.task_type,
                    "at": d.at,
                    "before_rate": _round(d.before_rate),
                    "recent_rate": _round(d.recent_rate),
                    "direction": d.direction,
                }
                for d in self.drift
            ],
            "learning_cycles": dict(sorted(self.cycles.items())),
            "insights": [
                {
                    "type": str(i.insight_type),
                    "task_type": i.task_type,
                    "agents": list(i.agents),
                    "description": i.description,
                    "confidence": _round(i.confidence),
                    "sample_size": i.sample_size,
                    "created_at": i.created_at,
                }
                for i in self.insights
            ],
            "notes": self.notes,
        }


def build_report(
    figures: PeriodFigures,
    generated_at: float,
    insights: Sequence[Insight] = (),
    min_attempts: int = MIN_ATTEMPTS,
    ranked: int = RANKED,
) -> Report:
    """The report of ``figures`` (see the module docstring)."""
    by_outcome: dict[str, int] = {}
    days: dict[int, list[int]] = {}
    by_type: dict[str, list[int]] = {}
    by_agent: dict[str, list[int]] = {}
    spend: dict[str, list[float]] = {}  # agent -> tokens, token rows, cost, cost rows
    for a in figures.attempts:
        by_outcome[a.outcome] = by_outcome.get(a.outcome, 0) + a.attempts
        if a.agent_id is not None:
            s = spend.setdefault(a.agent_id, [0, 0, 0.0, 0])
            s[0], s[1], s[2], s[3] = (
                s[0] + a.tokens,
                s[1] + a.token_rows,
                s[2] + a.cost,
                s[3] + a.cost_rows,
            )
        ok = a.attempts if a.outcome == SUCCEEDED else 0
        bad = a.attempts if a.outcome in FAILED_OUTCOMES else 0
        if not ok and not bad:
            continue
        day = days.setdefault(a.day, [0, 0])
        day[0], day[1] = day[0] + ok, day[1] + bad
        t = by_type.setdefault(a.task_type, [0, 0])
        t[0], t[1] = t[0] + ok + bad, t[1] + ok
        if a.agent_id is not None:
            g = by_agent.setdefault(a.agent_id, [0, 0])
            g[0], g[1] = g[0] + ok + bad, g[1] + ok
    agents = sorted(
        (
            AgentRow(
                agent_id, Rate(n, ok), _tokens(spend.get(agent_id)), _cost(spend.get(agent_id))
            )
            for agent_id, (n, ok) in by_agent.items()
        ),
        key=lambda r: (-(r.rate.rate or 0.0), -r.rate.attempts, r.agent_id),
    )
    eligible = [a for a in agents if a.rate.attempts >= min_attempts]
    best = sorted(eligible, key=lambda r: (-_bound(r, 0), -r.rate.attempts, r.agent_id))[:ranked]
    rest = [a for a in eligible if a not in best]
    worst = sorted(rest, key=lambda r: (_bound(r, 1), -r.rate.attempts, r.agent_id))[:ranked]
    token_rows = sum(a.token_rows for a in figures.attempts)
    cost_rows = sum(a.cost_rows for a in figures.attempts)
    tokens = sum(a.tokens for a in figures.attempts) if token_rows else None
    cost = sum(a.cost for a in figures.attempts) if cost_rows else None
    feedback = _feedback(figures.ratings)
    first, last = int(figures.since // DAY), int((figures.until - 1e-9) // DAY)
    per_day = [(d, *days.get(d, [0, 0])) for d in range(first, last + 1)]
    report = Report(
        since=figures.since,
        until=figures.until,
        period_days=round((figures.until - figures.since) / DAY, 6),
        generated_at=generated_at,
        attempts_by_outcome=by_outcome,
        per_day=[(d, ok, bad) for d, ok, bad in per_day],
        tasks_ended=dict(figures.tasks_ended),
        by_type={t: Rate(n, ok) for t, (n, ok) in by_type.items()},
        agents=agents,
        best=best,
        worst=worst,
        unranked=sorted(a.agent_id for a in agents if a.rate.attempts < min_attempts),
        min_attempts=min_attempts,
        tokens=tokens,
        cost=cost,
        feedback=feedback,
        ratings=sum(r.ratings for r in figures.ratings),
        drift=sorted(figures.drift, key=lambda d: (d.at, d.agent_id, d.task_type)),
        cycles=dict(figures.cycles),
        insights=list(insights),
    )
    report.notes.extend(_notes(report, eligible))
    return report


def _notes(report: Report, eligible: Sequence[AgentRow]) -> list[str]:
    notes = []
    if not report.attempts_by_outcome:
        notes.append("no attempt finished in this period")
    elif not eligible:
        notes.append(
            f"no agent has {report.min_attempts} or more counted attempts in this period: "
            "none is ranked"
        )
    if report.tokens is None and report.cost is None:
        notes.append("no cost recorded: no attempt in this period recorded tokens or cost")
    if not report.ratings:
        notes.append("no feedback: nobody rated a result in this period")
    if not report.drift:
        notes.append("no drift alarm in this period")
    if not report.insights:
        notes.append("no insight: no learning cycle stored insights in this period")
    return notes


def _bound(row: AgentRow, which: int) -> float:
    interval = row.rate.interval
    return interval[which] if interval is not None else 0.0


def _tokens(spend: list[float] | None) -> int | None:
    return int(spend[0]) if spend is not None and spend[1] else None


def _cost(spend: list[float] | None) -> float | None:
    return spend[2] if spend is not None and spend[3] else None


def _feedback(ratings: Sequence[RatingCount]) -> list[FeedbackRow]:
    per_agent: dict[str, list[float]] = {}
    for r in ratings:
        s = per_agent.setdefault(r.agent_id, [0, 0, 0.0])
        s[0], s[1], s[2] = s[0] + r.ratings, s[1] + r.positive, s[2] + r.score_sum
    rows = [
        FeedbackRow(agent_id, int(n), int(pos), total / n)
        for agent_id, (n, pos, total) in per_agent.items()
        if n
    ]
    return sorted(rows, key=lambda f: (-f.ratings, f.agent_id))


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
