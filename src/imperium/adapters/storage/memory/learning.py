"""``MemoryLearningStore``: the ``LearningStore`` port in memory."""

from __future__ import annotations

from imperium.adapters.storage.memory._state import LearningColumns, MemoryArea, json_copy
from imperium.domain.events import is_learning_event
from imperium.domain.models import Event
from imperium.ports import (
    AgentLearning,
    LearningAnalytics,
    LearningFilter,
    LearningLog,
    LearningTotals,
)


class MemoryLearningStore(MemoryArea):
    async def log_learning(self, entry: LearningLog) -> None:
        self.state.learning.append(_copy_learning(entry))

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """As the SQL store: events logged with ``log_event`` count too, with no impact."""
        rows = [_as_learning(e) for e in self.state.events] + self.state.learning
        matching = [r for r in rows if _matches(r, flt)]
        totals: dict[tuple[str, str | None], LearningTotals] = {}
        for r in matching:
            key = (r.event_type, r.agent_id)
            seen = totals.get(key, LearningTotals(r.event_type, r.agent_id, 0, 0.0))
            totals[key] = LearningTotals(
                r.event_type, r.agent_id, seen.events + 1, seen.total_impact + r.impact_score
            )
        matching.reverse()  # ties in time: the later logged first, as the SQL store's ids
        matching.sort(key=lambda r: r.created_at, reverse=True)
        logs = [_copy_learning(r) for r in matching[: flt.limit]]
        return LearningAnalytics(list(totals.values()), logs)

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        s = self.state
        kept = [e for e in s.events if e.created_at >= before]
        learning = [e for e in s.learning if e.created_at >= before]
        deleted = len(s.events) - len(kept) + len(s.learning) - len(learning)
        s.events, s.learning = kept, learning
        return deleted

    async def agent_learning(self, agent_id: str | None = None) -> dict[str, AgentLearning]:
        return {
            key: _as_agent_learning(key, self.state.agent_learning[key])
            for key in sorted(self.state.agents)
            if agent_id is None or key == agent_id
        }


def _copy_learning(entry: LearningLog) -> LearningLog:
    return entry._replace(
        results_sample=json_copy(entry.results_sample),
        insights=json_copy(entry.insights),
        event_data=json_copy(entry.event_data),
    )


def _as_learning(event: Event) -> LearningLog:
    return LearningLog(event.event_type, event.created_at, event.agent_id, event_data=event.data)


def _matches(row: LearningLog, flt: LearningFilter) -> bool:
    return (
        is_learning_event(row.event_type)
        and (flt.agent_id is None or row.agent_id == flt.agent_id)
        and (not flt.event_types or row.event_type in flt.event_types)
        and (flt.since is None or row.created_at >= flt.since)
        and (flt.until is None or row.created_at <= flt.until)
    )


def _as_agent_learning(agent_id: str, columns: LearningColumns) -> AgentLearning:
    return AgentLearning(
        agent_id,
        columns.learning_score,
        columns.total_learning_cycles,
        columns.last_learning_cycle,
        json_copy(columns.learning_patterns),
        json_copy(columns.improvement_suggestions),
    )
