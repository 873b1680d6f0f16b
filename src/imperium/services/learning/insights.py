"""The insights in force: those of the newest completed learning cycle."""

from __future__ import annotations

from imperium.domain.learning import CycleStatus, Insight, InsightType
from imperium.ports import CycleStore


async def latest_insights(
    store: CycleStore, limit: int, insight_type: InsightType | None = None
) -> list[Insight]:
    """The insights of the newest completed cycle, most confident first (each cycle
    re-derives all of them from the history it read, so older cycles' are superseded)."""
    for cycle in await store.list_cycles(20):
        if cycle.status is CycleStatus.COMPLETED:
            return await store.list_insights(limit, insight_type, cycle.cycle_id)
    return []
