"""Bodies of ``/api/v1/usage``: tokens and cost per agent, task type or UTC day, and the
agents' daily budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

UsageGroup = Literal["agent", "task_type", "day"]


class UsageRowOut(BaseModel):
    key: str
    """The agent id, the task type, or the UTC date (YYYY-MM-DD)."""
    attempts: int
    reported: int
    """Attempts whose agent reported token usage (the others count as attempts only)."""
    tokens: int
    cost: float


class UsageOut(BaseModel):
    by: UsageGroup
    since: float
    until: float
    rows: list[UsageRowOut]
    total: UsageRowOut


class BudgetOut(BaseModel):
    agent_id: str
    tokens_per_day: int | None
    cost_per_day: float | None
    tokens_spent: int
    cost_spent: float
    held: bool
    """The agent reached a limit today: it receives nothing until ``resets_at``."""
    reason: str | None
    resets_at: float


class BudgetList(BaseModel):
    day: str
    items: list[BudgetOut]


class CycleUsageOut(BaseModel):
    cycle_id: str
    since: float
    """The previous cycle's start: the attempts counted are those it did not see."""
    until: float
    """This cycle's start."""
    key: str
    attempts: int
    reported: int
    tokens: int
    cost: float


class CycleUsageList(BaseModel):
    items: list[CycleUsageOut]
