"""``MemoryUsageStore``: the ``UsageStore`` port over a ``MemoryState``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.budgets import BUDGET_SPENT, DAY, utc_date
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.ports import TypeFigures, UsageRow


def _key(group: str, e: Execution) -> str:
    if group == "agent":
        return e.agent_id or ""
    if group == "task_type":
        return e.task_type
    if group == "day":
        return utc_date(math.floor(e.finished_at / DAY) * DAY)
    raise ValueError("group must be one of ('agent', 'task_type', 'day')")


def _summed(group: str, executions: Iterable[Execution]) -> list[UsageRow]:
    sums: dict[str, list[float]] = {}
    for e in executions:
        s = sums.setdefault(_key(group, e), [0, 0, 0, 0.0])
        s[0] += 1
        s[1] += e.tokens is not None
        s[2] += e.tokens or 0
        s[3] += e.cost or 0.0
    return [
        UsageRow(key, int(n), int(reported), int(tokens), cost)
        for key, (n, reported, tokens, cost) in sorted(sums.items())
    ]


class MemoryUsageStore(MemoryArea):
    async def usage(self, group: str, since: float, until: float) -> list[UsageRow]:
        found = (e for e in self.state.executions.values() if since <= e.finished_at < until)
        return _summed(group, found)

    async def recent_usage(self, window: int) -> list[tuple[str, UsageRow]]:
        newest = sorted(self.state.executions.values(), key=lambda e: e.finished_at)[-window:]
        kinds = sorted({e.task_type for e in newest})
        return [(kind, row) for kind in kinds
                for row in _summed("day", (e for e in newest if e.task_type == kind))]  # fmt: skip

    async def spent_since(self, since: float) -> dict[str, tuple[int, float]]:
        spent: dict[str, tuple[int, float]] = {}
        for e in self.state.executions.values():
            if e.finished_at >= since and e.agent_id and (e.tokens or e.cost):
                tokens, cost = spent.get(e.agent_id, (0, 0.0))
                spent[e.agent_id] = (tokens + (e.tokens or 0), cost + (e.cost or 0.0))
        return spent

    async def budget_events_since(self, since: float) -> set[str]:
        return {
            ev.agent_id
            for ev in self.state.events
            if ev.event_type == BUDGET_SPENT and ev.created_at >= since and ev.agent_id
        }

    async def type_figures(self, task_type: str, since: float, limit: int) -> TypeFigures:
        found = sorted(
            (e for e in self.state.executions.values()
             if e.task_type == task_type and e.finished_at >= since
             and e.outcome is not Outcome.CACHED),
            key=lambda e: e.finished_at, reverse=True,
        )  # fmt: skip
        return TypeFigures(
            len(found), sum(1 for e in found if e.outcome == "succeeded"),
            sum(e.tokens or 0 for e in found), sum(e.cost or 0.0 for e in found),
            [e.duration for e in found[:limit]],
        )  # fmt: skip
