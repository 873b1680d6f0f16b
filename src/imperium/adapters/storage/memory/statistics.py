"""``MemoryStatisticsStore``: the ``StatisticsStore`` port in memory."""

from __future__ import annotations

import math
from collections import Counter

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.states import Outcome
from imperium.ports import OutcomeCount


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
