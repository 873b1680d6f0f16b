"""Bodies of the seed's ``/api/imperium`` routes: an agent's registration and a learning
event, in the seed's field names."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from imperium.ports import LearningLog


class SeedAgentIn(BaseModel):
    """The seed's registration body."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=100, examples=["my_ai_agent"])
    agent_type: str = Field(min_length=1, max_length=200, examples=["CustomAI"])
    priority: Literal["high", "medium", "low"] = "medium"
    capabilities: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=1000
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("agent_id")
    @classmethod
    def _usable_in_a_path(cls, value: str) -> str:
        if "/" in value or value != value.strip():
            raise ValueError("must not contain '/' nor start or end with a space")
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class LearningEventIn(BaseModel):
    """A learning event, in the seed's fields. ``event_type`` must not be in Imperium's own
    namespaces (``task.``, ``agent.``, ``scheduler.``). ``results_sample`` and ``insights``
    are kept as sent (any JSON, as in the seed's JSON columns); ``event_data`` is an
    object; ``impact_score`` null counts as 0."""

    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(min_length=1, max_length=100, examples=["internet_learning"])
    agent_id: str | None = Field(default=None, min_length=1, max_length=100)
    agent_type: str | None = Field(default=None, max_length=50)
    topic: str | None = Field(default=None, max_length=200)
    results_count: StrictInt = Field(default=0, ge=0, le=2**31 - 1)
    results_sample: Any = None
    insights: Any = None
    error_message: str | None = Field(default=None, max_length=10_000)
    processing_time: StrictFloat | None = Field(default=None, ge=0, allow_inf_nan=False)
    impact_score: StrictFloat | None = Field(default=0.0, allow_inf_nan=False)
    event_data: dict[str, Any] | None = None

    @field_validator("impact_score")
    @classmethod
    def _null_is_zero(cls, value: float | None) -> float:
        return 0.0 if value is None else value

    def to_log(self) -> LearningLog:
        return LearningLog(created_at=0.0, **self.model_dump())
