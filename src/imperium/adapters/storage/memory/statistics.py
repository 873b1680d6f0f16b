"""``MemoryStatisticsStore``: the ``StatisticsStore`` port in memory."""

from __future__ import annotations

import math
from collections import Counter

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.states import Outcome, TaskState
from imperium.ports import WORKFLOW_SCAN, OutcomeCount, WorkflowSummary


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
