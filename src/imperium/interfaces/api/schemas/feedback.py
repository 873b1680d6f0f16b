"""Bodies of ``/api/v1/tasks/{id}/feedback``: a person's rating of a task's result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from imperium.domain.feedback import MAX_COMMENT


class FeedbackIn(BaseModel):
    """A rating: ``score`` from 0 to 1 or ``thumbs`` up/down (one of them), and a comment."""

    model_config = ConfigDict(extra="forbid")

    score: Annotated[float | None, Field(ge=0, le=1, allow_inf_nan=False)] = None
    thumbs: Literal["up", "down"] | None = None
    comment: Annotated[str | None, Field(max_length=MAX_COMMENT)] = None


class FeedbackOut(BaseModel):
    feedback_id: str
    task_id: str
    attempt: int
    agent_id: str
    task_type: str
    success: bool
    """Whether the rated attempt succeeded (what the rating is blended with)."""
    score: float
    positive: bool
    comment: str | None
    given_by: str
    created_at: float


class FeedbackList(BaseModel):
    items: list[FeedbackOut]
