"""The store of feedback on executions."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.feedback import Feedback


class FeedbackStore(Protocol):
    """People's ratings of tasks' results (``task_feedback``)."""

    async def add_feedback(self, feedback: Feedback) -> None:
        """Raises ConflictError when its id exists."""
        ...

    async def feedback_for(self, task_id: str) -> list[Feedback]:
        """The task's ratings, oldest first."""
        ...

    async def recent_feedback(self, limit: int) -> list[Feedback]:
        """The ``limit`` newest ratings, oldest first (the order they are replayed in)."""
        ...
