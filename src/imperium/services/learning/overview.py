"""What the dashboards show (``imperium dashboard`` and ``GET /api/imperium/dashboard``):
success over time, agents ranked by learning score, recent insights, cycles and model
accuracy, all computed from stored rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from imperium.domain.insights import agent_figures
from imperium.domain.learning import AgentFigures, Insight, LearningCycle, ModelReport, counts
from imperium.domain.learning import succeeded as was_success
from imperium.domain.models import Execution
from imperium.services.learning.insights import latest_insights
from imperium.services.learning.ports import LearnerStore


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: float
    end: float
    executions: int
    successes: int

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.executions if self.executions else None


@dataclass(frozen=True, slots=True)
class Overview:
    executions: int
    """Executions read (the newest ``history``), of which ``learned`` are evidence."""
    learned: int
    successes: int
    trend: list[TrendPoint]
    rankings: list[AgentFigures]
    insights: list[Insight]
    cycles: list[LearningCycle]
    models: list[ModelReport]

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.learned if self.learned else None


def success_trend(executions: Sequence[Execution], buckets: int = 12) -> list[TrendPoint]:
    """The evidence-bearing executions cut into ``buckets`` equal spans of time (oldest
    first), each with its attempts and successes; empty without executions."""
    learned = [e for e in executions if counts(e)]
    if not learned or buckets < 1:
        return []
    first = min(e.finished_at for e in learned)
    last = max(e.finished_at for e in learned)
    span = (last - first) / buckets or 1.0
    tallies = [[0, 0] for _ in range(buckets)]
    for e in learned:
        index = min(buckets - 1, int((e.finished_at - first) / span))
        tallies[index][0] += 1
        tallies[index][1] += was_success(e)
    return [
        TrendPoint(first + i * span, first + (i + 1) * span, n, s)
        for i, (n, s) in enumerate(tallies)
    ]


WINDOW = 10_000
"""At most this many of the newest executions feed a dashboard (it is read on demand, by
any client, so it stays cheap; learning cycles read ``IMPERIUM_LEARNING_HISTORY``)."""


async def overview(
    store: LearnerStore, history: int, *, buckets: int = 12, limit: int = 10
) -> Overview:
    executions = await store.recent_executions(min(history, WINDOW))
    agents = await store.list_agents()
    insights = await latest_insights(store, limit)
    cycles = await store.list_cycles(limit)
    models = await store.list_models(limit)
    return await asyncio.to_thread(
        _summarise, executions, [a.id for a in agents], insights, cycles, models, buckets
    )


def _summarise(
    executions: Sequence[Execution],
    agent_ids: list[str],
    insights: list[Insight],
    cycles: list[LearningCycle],
    models: list[ModelReport],
    buckets: int,
) -> Overview:
    """The CPU part, in a worker thread: the event loop also runs the scheduler."""
    figures = agent_figures(executions, agent_ids, insights)
    learned = [e for e in executions if counts(e)]
    return Overview(
        executions=len(executions),
        learned=len(learned),
        successes=sum(1 for e in learned if was_success(e)),
        trend=success_trend(executions, buckets),
        rankings=sorted(figures, key=lambda f: (-f.learning_score, -f.executions, f.agent_id)),
        insights=insights,
        cycles=cycles,
        models=models,
    )
