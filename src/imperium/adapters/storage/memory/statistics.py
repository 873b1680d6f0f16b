"""``MemoryStatisticsStore``: the ``StatisticsStore`` port in memory."""

from __future__ import annotations

import math
from collections import Counter

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.models import Execution
from imperium.domain.states import Outcome, TaskState
from imperium.ports import (
    WORKFLOW_SCAN,
    AgentWindow,
    DecisionCount,
    OutcomeCount,
    WorkflowSummary,
)

FAILED = frozenset({Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST})
COUNTED = FAILED | {Outcome.SUCCEEDED}


class MemoryStatisticsStore(MemoryArea):
    async def outcome_series(self, since: float, bucket_seconds: float) -> list[OutcomeCount]:
        counts: Counter[tuple[int, Outcome]] = Counter(
            (math.floor(e.finished_at / bucket_seconds), e.outcome)
            for e in self.state.executions.values()
            if e.finished_at >= since
        )
        return [
            OutcomeCount(index * bucket_seconds, outcome, n)
            for (index, outcome), n in sorted(counts.items())
        ]

    async def decisions_series(
        self, task_type: str, since: float, bucket_seconds: float
    ) -> list[DecisionCount]:
        counts: dict[tuple[int, str], Counter[Outcome]] = {}
        for e in self.state.executions.values():
            if e.task_type == task_type and e.finished_at >= since and e.agent_id is not None:
                key = (math.floor(e.finished_at / bucket_seconds), e.agent_id)
                counts.setdefault(key, Counter())[e.outcome] += 1
        return [
            DecisionCount(index * bucket_seconds, agent_id, c.total(),
                          c[Outcome.SUCCEEDED], sum(c[o] for o in FAILED))
            for (index, agent_id), c in sorted(counts.items())
        ]  # fmt: skip

    async def count_dead_since(self, since: float) -> int:
        return sum(
            1 for e in self.state.events if e.event_type == "task.dead" and e.created_at >= since
        )

    async def recent_workflows(self, limit: int) -> list[WorkflowSummary]:
        in_workflows = [t for t in self.state.tasks.values() if t.workflow_id is not None]
        newest = sorted(in_workflows, key=lambda t: t.created_at, reverse=True)[:WORKFLOW_SCAN]
        ids = list(dict.fromkeys(t.workflow_id for t in newest if t.workflow_id))[:limit]
        out = []
        for workflow_id in ids:
            members = [t for t in in_workflows if t.workflow_id == workflow_id]
            states: Counter[TaskState] = Counter(t.state for t in members)
            first = min(t.created_at for t in members)
            out.append(WorkflowSummary(workflow_id, first, dict(states)))
        return out

    async def agent_window(self, window: int) -> dict[str, AgentWindow]:
        newest = sorted(self.state.executions.values(), key=lambda e: e.finished_at)[-window:]
        by_agent: dict[str, list[Execution]] = {}
        for e in newest:
            if e.agent_id is not None and e.outcome in COUNTED:
                by_agent.setdefault(e.agent_id, []).append(e)
        return {agent_id: _window(agent_id, rows) for agent_id, rows in by_agent.items()}


def _window(agent_id: str, rows: list[Execution]) -> AgentWindow:
    durations = sorted(e.duration for e in rows)
    tokens = [e.tokens for e in rows if e.tokens is not None]
    costs = [e.cost for e in rows if e.cost is not None]

    def nearest_rank(percent: int) -> float:
        return durations[max(0, math.ceil(percent * len(durations) / 100) - 1)]

    return AgentWindow(
        agent_id,
        attempts=len(rows),
        succeeded=sum(1 for e in rows if e.outcome is Outcome.SUCCEEDED),
        p50=nearest_rank(50),
        p95=nearest_rank(95),
        tokens=sum(tokens) if tokens else None,
        cost=sum(costs) if costs else None,
        by_type=_by_type(rows),
    )


def _by_type(rows: list[Execution]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for e in rows:
        attempts, succeeded = counts.get(e.task_type, (0, 0))
        counts[e.task_type] = (attempts + 1, succeeded + (e.outcome is Outcome.SUCCEEDED))
    return counts
