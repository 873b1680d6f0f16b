"""``BudgetLedger``: the scheduler's in-memory count of what each agent spent today, and
which agents have reached their daily budget (domain/budgets.py).

The engine tells it every attempt's reported tokens and cost, so dispatch never queries
the database: whether an agent is held is a dictionary lookup. At start it is rebuilt
from the stored executions of the current UTC day (and the day's ``agent.budget_spent``
events, so that the event is written once per agent per day across restarts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from imperium.domain.budgets import DAY, DailyBudget, Spent, day_start, reached


class BudgetLedger:
    def __init__(self) -> None:
        self.day = 0.0
        self.resets_at = 0.0
        """When the day's counters and holds end (the next UTC midnight)."""
        self._tokens: dict[str, int] = {}
        self._cost: dict[str, float] = {}
        self._budgets: dict[str, DailyBudget] = {}
        self.held: dict[str, Spent] = {}
        self._announced: set[str] = set()

    def load(self, now: float, spent: Mapping[str, tuple[int, float]], announced: set[str]) -> None:
        """Today's stored spend per agent, and the agents already announced today."""
        self._new_day(now)
        for agent_id, (tokens, cost) in spent.items():
            self._tokens[agent_id], self._cost[agent_id] = tokens, cost
        self._announced = set(announced)

    def spent(self, agent_id: str) -> tuple[int, float]:
        return self._tokens.get(agent_id, 0), self._cost.get(agent_id, 0.0)

    def set_budget(self, agent_id: str, budget: DailyBudget | None, now: float) -> Spent | None:
        """The agent's budget is (now) ``budget``; returns the limit it reaches, if it
        must be announced now (reached, and not announced yet today)."""
        self.roll(now)
        if budget is None:
            self._budgets.pop(agent_id, None)
            self.held.pop(agent_id, None)
            return None
        self._budgets[agent_id] = budget
        return self._check(agent_id, now)

    def observe(self, agent_id: str, tokens: int, cost: float, now: float) -> Spent | None:
        """An attempt of ``agent_id`` spent ``tokens``/``cost``; returns the limit it
        reached, when that is news."""
        self.roll(now)
        self._tokens[agent_id] = self._tokens.get(agent_id, 0) + tokens
        self._cost[agent_id] = self._cost.get(agent_id, 0.0) + cost
        if agent_id not in self._budgets:
            return None
        return self._check(agent_id, now)

    def roll(self, now: float) -> bool:
        """At a new UTC day, forget the spend and release every hold; True when some agent
        was held (waiting work must be examined again)."""
        if now < self.resets_at:
            return False
        released = bool(self.held)
        self._new_day(now)
        return released

    def _new_day(self, now: float) -> None:
        self.day = day_start(now)
        self.resets_at = self.day + DAY
        self._tokens.clear()
        self._cost.clear()
        self.held.clear()
        self._announced.clear()

    def _check(self, agent_id: str, now: float) -> Spent | None:
        tokens, cost = self.spent(agent_id)
        limit = reached(self._budgets[agent_id], tokens, cost, now)
        if limit is None:
            self.held.pop(agent_id, None)
            return None
        self.held[agent_id] = limit
        if agent_id in self._announced:
            return None
        self._announced.add(agent_id)
        return limit


BudgetSource = Callable[[float], Awaitable[tuple[dict[str, tuple[int, float]], set[str]]]]
"""Reads each agent's tokens and cost since a time, and the agents whose
``agent.budget_spent`` event was written since then (the ledger's start)."""
