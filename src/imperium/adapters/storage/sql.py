"""``SqlStore``: every SQL area store over one :class:`Database`, as one object.

The area stores (``scheduler``, ``tasks``, ``agents``, ``learning``, ``cycles``,
``custody``, ``proposals``, ``teams``, ``keys``, ``statistics``) are small and
independent; each takes the
``Database`` and can be built on its own (the composition root hands the engine a
``SqlSchedulerStore`` only). ``SqlStore`` inherits them all for the CLI, which reads a bit
of everything, and for the contract tests, which run one suite over this and
``MemoryStore``.

Each method is one transaction unless the caller opened a unit of work
(:meth:`SqlStore.unit_of_work`, i.e. ``Database.unit_of_work``): then it joins it, and
what the block writes commits together. A write that would record something twice (a
task id, a task's attempt in ``agent_task_executions``, a team id, a custody result, or a
proposal identical to a live one) fails in the database; it is raised as
``ConflictError`` and the transaction writes nothing.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncEngine

from imperium.adapters.storage.agents import SqlAgentStore
from imperium.adapters.storage.custody import SqlCustodyStore
from imperium.adapters.storage.cycles import SqlCycleStore
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.feedback import SqlFeedbackStore
from imperium.adapters.storage.keys import SqlKeyStore
from imperium.adapters.storage.learning import SqlLearningStore
from imperium.adapters.storage.proposals import SqlProposalStore
from imperium.adapters.storage.scheduler import SqlSchedulerStore
from imperium.adapters.storage.statistics import SqlStatisticsStore
from imperium.adapters.storage.tasks import SqlTaskStore
from imperium.adapters.storage.teams import SqlTeamStore


class SqlStore(
    SqlSchedulerStore,
    SqlTaskStore,
    SqlAgentStore,
    SqlLearningStore,
    SqlCycleStore,
    SqlCustodyStore,
    SqlProposalStore,
    SqlTeamStore,
    SqlKeyStore,
    SqlStatisticsStore,
    SqlFeedbackStore,
):
    """The ``Store`` port; build it with :meth:`connect` or from a ``Database``."""

    @classmethod
    async def connect(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> SqlStore:
        return cls(await Database.connect(url, sqlite_synchronous=sqlite_synchronous))

    @property
    def database(self) -> Database:
        return self._db

    @property
    def engine(self) -> AsyncEngine:
        """The database's engine (tests inspect tables through it)."""
        return self._db.engine

    def unit_of_work(self) -> AbstractAsyncContextManager[None]:
        return self._db.unit_of_work()

    async def close(self) -> None:
        await self._db.close()
