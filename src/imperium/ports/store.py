"""Every storage area over one database, and the unit of work a caller owns."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from imperium.ports.agents import AgentStore
from imperium.ports.custody import CustodyStore
from imperium.ports.cycles import CycleStore
from imperium.ports.feedback import FeedbackStore
from imperium.ports.keys import KeyStore
from imperium.ports.learning import LearningStore
from imperium.ports.proposals import ProposalStore
from imperium.ports.queries import QueryStore
from imperium.ports.scheduler import SchedulerStore
from imperium.ports.statistics import StatisticsStore
from imperium.ports.teams import TeamStore


class UnitOfWork(Protocol):
    """Opens a unit of work: every store method called inside the ``async with`` block, in
    whatever area, commits together when it ends, or not at all when it raises."""

    def __call__(self) -> AbstractAsyncContextManager[None]: ...


class Store(
    SchedulerStore,
    AgentStore,
    QueryStore,
    LearningStore,
    CycleStore,
    CustodyStore,
    ProposalStore,
    TeamStore,
    KeyStore,
    StatisticsStore,
    FeedbackStore,
    Protocol,
):
    """Every area over one database (``SqlStore``, ``MemoryStore``): what the composition
    root splits into the narrow ports each service takes, and what contract tests run on."""

    def unit_of_work(self) -> AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...
