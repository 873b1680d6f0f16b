"""Bodies of ``/api/proposals``: a proposal an agent submits, and a person's decision."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=100)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=100_000)
    diff: str | None = Field(default=None, max_length=100_000)
    action: dict[str, Any] | None = None
    evidence: list[Any] = Field(default_factory=list, max_length=1000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decided_by: str | None = Field(default=None, min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=10_000)
