"""``SqlFeedbackStore``: the ``FeedbackStore`` port — people's ratings in ``task_feedback``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import task_feedback
from imperium.domain.errors import ConflictError
from imperium.domain.feedback import Feedback

_COLUMNS = [
    task_feedback.c.id,
    task_feedback.c.task_id,
    task_feedback.c.attempt,
    task_feedback.c.agent_id,
    task_feedback.c.task_type,
    task_feedback.c.success,
    task_feedback.c.score,
    task_feedback.c.comment,
    task_feedback.c.given_by,
    task_feedback.c.created_at,
]


class SqlFeedbackStore(SqlArea):
    async def add_feedback(self, feedback: Feedback) -> None:
        row = {
            "id": feedback.feedback_id,
            "task_id": feedback.task_id,
            "attempt": feedback.attempt,
            "agent_id": feedback.agent_id,
            "task_type": feedback.task_type,
            "success": feedback.success,
            "score": feedback.score,
            "comment": feedback.comment,
            "given_by": feedback.given_by,
            "created_at": feedback.created_at,
        }
        try:
            async with self._db.transaction() as conn:
                await conn.execute(sa.insert(task_feedback), [row])
        except IntegrityError as exc:
            raise ConflictError(f"feedback {feedback.feedback_id} is already recorded") from exc

    async def feedback_for(self, task_id: str) -> list[Feedback]:
        query = (
            sa.select(*_COLUMNS)
            .where(task_feedback.c.task_id == task_id)
            .order_by(task_feedback.c.created_at, task_feedback.c.id)
        )
        return [_feedback(row) for row in await self._db.fetch(query)]

    async def recent_feedback(self, limit: int) -> list[Feedback]:
        query = (
            sa.select(*_COLUMNS)
            .order_by(task_feedback.c.created_at.desc(), task_feedback.c.id.desc())
            .limit(limit)
        )
        return [_feedback(row) for row in reversed(await self._db.fetch(query))]


def _feedback(row: Any) -> Feedback:
    return Feedback(
        feedback_id=row.id,
        task_id=row.task_id,
        attempt=row.attempt,
        agent_id=row.agent_id,
        task_type=row.task_type,
        success=bool(row.success),
        score=float(row.score),
        comment=row.comment,
        given_by=row.given_by,
        created_at=float(row.created_at),
    )
