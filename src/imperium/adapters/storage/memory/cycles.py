"""``MemoryCycleStore``: the ``CycleStore`` port in memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from imperium.adapters.storage.memory._state import MemoryArea, copy_execution, json_copy
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import Execution


class MemoryCycleStore(MemoryArea):
    async def recent_executions(self, limit: int) -> list[Execution]:
        """By finish time, then insertion order (the SQL store's id order)."""
        if limit <= 0:
            return []
        ordered = sorted(self.state.executions.values(), key=lambda e: e.finished_at)  # stable
        return [copy_execution(e) for e in ordered[-limit:]]

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """Attempts already stored, or earlier in ``executions``, are skipped."""
        inserted = 0
        for execution in executions:
            key = (execution.task_id, execution.attempt)
            if key not in self.state.executions:
                self.state.executions[key] = copy_execution(execution)
                inserted += 1
        return inserted

    async def save_cycle(self, cycle: LearningCycle) -> None:
        self.state.cycles[cycle.cycle_id] = _copy_cycle(cycle)

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        ordered = sorted(
            self.state.cycles.values(), key=lambda c: (c.start_time, c.cycle_id), reverse=True
        )
        return [_copy_cycle(c) for c in ordered[: max(limit, 0)]]

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        cycles = self.state.cycles.values()
        return sum(1 for c in cycles if status is None or c.status is status)

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None:
        self.state.insights.extend((cycle_id, _copy_insight(i)) for i in insights)

    async def list_insights(
        self,
        limit: int,
        insight_type: InsightType | None = None,
        cycle_id: str | None = None,
    ) -> list[Insight]:
        """Newest first; within one time, in the order saved (as the SQL store's ids)."""
        matching = [
            i
            for c, i in self.state.insights
            if (insight_type is None or i.insight_type is insight_type)
            and (cycle_id is None or c == cycle_id)
        ]
        matching.sort(key=lambda i: i.created_at, reverse=True)  # stable: saved order kept
        return [_copy_insight(i) for i in matching[: max(limit, 0)]]

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None:
        self.state.models[report.version] = report

    async def list_models(self, limit: int) -> list[ModelReport]:
        ordered = sorted(
            self.state.models.values(), key=lambda m: (m.trained_at, m.version), reverse=True
        )
        return ordered[: max(limit, 0)]

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        updated = 0
        for figure in figures:
            columns = self.state.agent_learning.get(figure.agent_id)
            if columns is None:
                continue  # no longer registered
            columns.learning_score = figure.learning_score
            columns.success_rate = figure.success_rate
            columns.failure_rate = figure.failure_rate
            columns.last_success = figure.last_success
            columns.last_failure = figure.last_failure
            columns.learning_patterns = json_copy(figure.learning_patterns)
            columns.improvement_suggestions = json_copy(figure.improvement_suggestions)
            columns.total_learning_cycles += 1
            columns.last_learning_cycle = cycle_time
            updated += 1
        return updated


def _copy_cycle(cycle: LearningCycle) -> LearningCycle:
    return dataclasses.replace(
        cycle,
        participating_agents=tuple(cycle.participating_agents),
        metadata=json_copy(cycle.metadata),
    )


def _copy_insight(insight: Insight) -> Insight:
    return dataclasses.replace(insight, agents=tuple(insight.agents), data=json_copy(insight.data))
