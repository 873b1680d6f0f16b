"""``MemoryFeedbackStore``: the ``FeedbackStore`` port in memory."""

from __future__ import annotations

from collections.abc import Iterable

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.errors import ConflictError
from imperium.domain.feedback import Feedback


class MemoryFeedbackStore(MemoryArea):
    async def add_feedback(self, feedback: Feedback) -> None:
        if any(f.feedback_id == feedback.feedback_id for f in self.state.feedback):
            raise ConflictError(f"feedback {feedback.feedback_id} is already recorded")
        self.state.feedback.append(feedback)

    async def feedback_for(self, task_id: str) -> list[Feedback]:
        return _oldest_first(f for f in self.state.feedback if f.task_id == task_id)

    async def recent_feedback(self, limit: int) -> list[Feedback]:
        return _oldest_first(self.state.feedback)[-limit:] if limit > 0 else []


def _oldest_first(ratings: Iterable[Feedback]) -> list[Feedback]:
    return sorted(ratings, key=lambda f: (f.created_at, f.feedback_id))
