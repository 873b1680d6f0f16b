"""The feedback store on memory, SQLite and PostgreSQL: ratings round trip, per task and
newest-last, and an id is recorded once."""

from __future__ import annotations

import pytest

from imperium.domain.errors import ConflictError
from imperium.domain.feedback import Feedback
from imperium.ports import Store


def rating(n: int, task_id: str, at: float, comment: str | None = None) -> Feedback:
    return Feedback(
        feedback_id=f"f{n}",
        task_id=task_id,
        attempt=2,
        agent_id="writer",
        task_type="summarise",
        success=n % 2 == 0,
        score=n / 10,
        comment=comment,
        given_by="key ops (k1)",
        created_at=at,
    )


async def test_ratings_round_trip_per_task_and_newest_last(store: Store) -> None:
    ratings = [rating(1, "t1", 30.0, "too long"), rating(2, "t2", 10.0), rating(3, "t1", 20.0)]
    for r in ratings:
        await store.add_feedback(r)
    assert await store.feedback_for("t1") == [ratings[2], ratings[0]]
    assert await store.feedback_for("none") == []
    assert await store.recent_feedback(2) == [ratings[2], ratings[0]]
    assert await store.recent_feedback(10) == [ratings[1], ratings[2], ratings[0]]


async def test_a_rating_is_recorded_once(store: Store) -> None:
    await store.add_feedback(rating(1, "t1", 1.0))
    with pytest.raises(ConflictError):
        await store.add_feedback(rating(1, "t1", 2.0))
