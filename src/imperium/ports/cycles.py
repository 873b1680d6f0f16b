"""The store of learning cycles and their insights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import Execution


class CycleStore(Protocol):
    """What learning cycles read and write: executions to learn from, cycles, insights,
    model versions and the learning columns of ``agent_metrics``."""

    async def recent_executions(self, limit: int) -> list[Execution]:
        """The ``limit`` executions that finished last (every outcome), in the order they
        finished (imported history takes its place by time, not by when it was imported)."""
        ...

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """Insert executions not already recorded (same task id and attempt); returns how
        many were new."""
        ...

    async def save_cycle(self, cycle: LearningCycle) -> None:
        """Insert or replace the row of ``cycle.cycle_id``."""
        ...

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        """Newest first."""
        ...

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        """How many cycles are recorded (with that status, if given)."""
        ...

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None: ...

    async def list_insights(
        self,
        limit: int,
        insight_type: InsightType | None = None,
        cycle_id: str | None = None,
    ) -> list[Insight]:
        """Newest first; within one cycle in the order saved (most confident first)."""
        ...

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None: ...

    async def list_models(self, limit: int) -> list[ModelReport]:
        """Newest first."""
        ...

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        """Write the learning columns of each registered agent in ``figures`` (agents no
        longer registered are skipped), add one to its ``total_learning_cycles`` and set
        ``last_learning_cycle``; ``updated_at`` is left alone (the scheduler polls it for
        registry changes). Returns the number of rows updated."""
        ...
