"""The storage ports in memory, for unit tests of the core and an API without a database.

One :class:`MemoryState` is one database; each area store (``MemorySchedulerStore``,
``MemoryTaskStore``, ``MemoryAgentStore``, ``MemoryLearningStore``, ``MemoryCycleStore``,
``MemoryCustodyStore``, ``MemoryProposalStore``, ``MemoryTeamStore``, ``MemoryKeyStore``)
works on the state it is given, so several can share one. ``MemoryStore`` is all of them
over one state, as ``SqlStore`` is over one ``Database``.

They keep the SQL stores' semantics, including their failures (duplicates refused as
``ConflictError``, JSON round trips), and a unit of work that puts the state back when its
block raises. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from imperium.adapters.storage.memory._state import MemoryState
from imperium.adapters.storage.memory.agents import MemoryAgentStore
from imperium.adapters.storage.memory.custody import MemoryCustodyStore
from imperium.adapters.storage.memory.cycles import MemoryCycleStore
from imperium.adapters.storage.memory.feedback import MemoryFeedbackStore
from imperium.adapters.storage.memory.keys import MemoryKeyStore
from imperium.adapters.storage.memory.learning import MemoryLearningStore
from imperium.adapters.storage.memory.proposals import MemoryProposalStore
from imperium.adapters.storage.memory.scheduler import MemorySchedulerStore
from imperium.adapters.storage.memory.statistics import MemoryStatisticsStore
from imperium.adapters.storage.memory.tasks import MemoryTaskStore
from imperium.adapters.storage.memory.teams import MemoryTeamStore

__all__ = [
    "MemoryAgentStore",
    "MemoryCustodyStore",
    "MemoryCycleStore",
    "MemoryFeedbackStore",
    "MemoryKeyStore",
    "MemoryLearningStore",
    "MemoryProposalStore",
    "MemorySchedulerStore",
    "MemoryState",
    "MemoryStatisticsStore",
    "MemoryStore",
    "MemoryTaskStore",
    "MemoryTeamStore",
]


class MemoryStore(
    MemorySchedulerStore,
    MemoryTaskStore,
    MemoryAgentStore,
    MemoryLearningStore,
    MemoryCycleStore,
    MemoryCustodyStore,
    MemoryProposalStore,
    MemoryTeamStore,
    MemoryKeyStore,
    MemoryStatisticsStore,
    MemoryFeedbackStore,
):
    """Every area store over one ``MemoryState`` (a fresh one unless given)."""

    def unit_of_work(self) -> AbstractAsyncContextManager[None]:
        return self.state.unit_of_work()

    async def close(self) -> None:
        pass
