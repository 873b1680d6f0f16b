"""Protocols the core needs from the outside world. Adapters implement them; unit tests use
the in-memory stores in ``adapters/storage/memory/``.

Storage is one port per area (``SchedulerStore`` — all the engine depends on —,
``QueryStore``, ``AgentStore``, ``LearningStore``, ``CycleStore``, ``CustodyStore``,
``ProposalStore``, ``TeamStore``, ``KeyStore``) over one database; a ``UnitOfWork`` lets
the caller own the transaction across areas."""

from imperium.ports.agents import AgentLoad, AgentStats, AgentStore
from imperium.ports.artefacts import ArtefactStore, RetentionReport
from imperium.ports.cache import ResultCacheStore
from imperium.ports.clock import Clock, Rng
from imperium.ports.custody import CustodyStore
from imperium.ports.cycles import CycleStore
from imperium.ports.events import EventSink
from imperium.ports.executors import Attempt, AttemptReporter, Executor
from imperium.ports.feedback import FeedbackStore
from imperium.ports.keys import KeyStore
from imperium.ports.learning import (
    LEARNING_FIELDS,
    AgentLearning,
    LearningAnalytics,
    LearningFilter,
    LearningLog,
    LearningStore,
    LearningTotals,
    OutcomePredictor,
)
from imperium.ports.models import ChatModel, ImageModel
from imperium.ports.proposals import ProposalStore
from imperium.ports.queries import QueryStore, TaskFilter
from imperium.ports.scheduler import LockInfo, SchedulerStore, TaskSnapshot, WriteBatch
from imperium.ports.statistics import (
    WORKFLOW_SCAN,
    AgentWindow,
    DecisionCount,
    OutcomeCount,
    StatisticsStore,
    WorkflowSummary,
)
from imperium.ports.store import Store, UnitOfWork
from imperium.ports.teams import TeamStore
from imperium.ports.usage import TypeFigures, UsageRow, UsageStore

__all__ = [
    "LEARNING_FIELDS",
    "WORKFLOW_SCAN",
    "AgentLearning",
    "AgentLoad",
    "AgentStats",
    "AgentStore",
    "AgentWindow",
    "ArtefactStore",
    "Attempt",
    "AttemptReporter",
    "ChatModel",
    "Clock",
    "CustodyStore",
    "CycleStore",
    "DecisionCount",
    "EventSink",
    "Executor",
    "FeedbackStore",
    "ImageModel",
    "KeyStore",
    "LearningAnalytics",
    "LearningFilter",
    "LearningLog",
    "LearningStore",
    "LearningTotals",
    "LockInfo",
    "OutcomeCount",
    "OutcomePredictor",
    "ProposalStore",
    "QueryStore",
    "ResultCacheStore",
    "RetentionReport",
    "Rng",
    "SchedulerStore",
    "StatisticsStore",
    "Store",
    "TaskFilter",
    "TaskSnapshot",
    "TeamStore",
    "TypeFigures",
    "UnitOfWork",
    "UsageRow",
    "UsageStore",
    "WorkflowSummary",
    "WriteBatch",
]
