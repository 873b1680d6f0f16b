"""What the learner needs from outside: a store for its cycles, the agents and their
learning rows, and a log for its learning events."""

from __future__ import annotations

from typing import Protocol

from imperium.ports import AgentStore, CycleStore, LearningLog, LearningStore


class LearnerStore(CycleStore, AgentStore, LearningStore, Protocol):
    """What the learner reads and writes."""


class EventLogger(Protocol):
    async def log(self, entry: LearningLog) -> LearningLog: ...
