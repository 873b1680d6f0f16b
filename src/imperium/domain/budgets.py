"""Per-agent daily budgets: tokens or money an agent may spend per UTC day.

An agent's config may hold ``"budget": {"tokens_per_day": 200000, "cost_per_day": 5.0}``
(either or both). Spend is what its attempts reported (``Output.tokens``/``Output.cost``,
the llm agent's from the provider's usage). Once a day's spend reaches a limit the agent
receives nothing more until the next UTC midnight.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from imperium.domain.errors import ValidationError

DAY = 86_400.0
BUDGET_SPENT = "agent.budget_spent"


@dataclass(frozen=True, slots=True)
class DailyBudget:
    tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Spent:
    """A limit an agent reached today: which (``tokens`` or ``cost``), and the figures."""

    kind: str
    limit: float
    spent: float
    resets_at: float

    def reason(self, agent_id: str) -> str:
        what = "token" if self.kind == "tokens" else "cost"
        return (
            f"agent {agent_id} has spent its daily {what} budget ({_figure(self.spent)} of "
            f"{_figure(self.limit)}); it receives nothing until {utc_midnight(self.resets_at)}"
        )


def _figure(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def utc_midnight(at: float) -> str:
    return f"{utc_date(at)} 00:00 UTC"


def utc_date(at: float) -> str:
    """The UTC calendar date of ``at``, e.g. ``2026-12-07``."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=int(at // DAY))).isoformat()


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day (epoch seconds count UTC days of 86,400 s)."""
    return math.floor(now / DAY) * DAY


def budget_of(config: dict[str, Any]) -> DailyBudget | None:
    """The agent's daily budget from its config, or None; a malformed one is refused."""
    raw = config.get("budget")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ValidationError(
            'budget must be an object like {"tokens_per_day": 200000} or {"cost_per_day": 5}'
        )
    unknown = set(raw) - {"tokens_per_day", "cost_per_day"}
    if unknown:
        raise ValidationError(
            f"budget has unknown fields {sorted(unknown)}; use tokens_per_day and/or cost_per_day"
        )
    tokens, cost = raw.get("tokens_per_day"), raw.get("cost_per_day")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int)
                               or tokens < 1):  # fmt: skip
        raise ValidationError("budget tokens_per_day must be a whole number >= 1")
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float)
        or not math.isfinite(cost) or cost <= 0
    ):  # fmt: skip
        raise ValidationError("budget cost_per_day must be a number > 0")
    if tokens is None and cost is None:
        raise ValidationError("budget needs tokens_per_day or cost_per_day")
    return DailyBudget(tokens, None if cost is None else float(cost))


def reached(budget: DailyBudget, tokens: int, cost: float, now: float) -> Spent | None:
    """The limit ``tokens``/``cost`` spent today reach, or None (tokens checked first)."""
    resets_at = day_start(now) + DAY
    if budget.tokens is not None and tokens >= budget.tokens:
        return Spent("tokens", budget.tokens, tokens, resets_at)
    if budget.cost is not None and cost >= budget.cost - 1e-12:
        return Spent("cost", budget.cost, round(cost, 10), resets_at)
    return None
