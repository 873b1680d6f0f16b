"""Token and cost usage, as recorded on every attempt, per agent, task type or UTC day; and
where each agent with a daily budget stands today.

Figures come from the stored executions only: an attempt whose agent reported no usage
counts as an attempt, not as zero tokens (``reported`` says how many did report).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from imperium.domain.budgets import DAY, budget_of, day_start, reached, utc_date
from imperium.domain.errors import ValidationError
from imperium.domain.states import AgentStatus
from imperium.ports import AgentStore, Clock, CycleStore, UsageRow, UsageStore

GROUPS = ("agent", "task_type", "day")
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class UsageReport:
    by: str
    since: float
    until: float
    rows: list[UsageRow]

    @property
    def total(self) -> UsageRow:
        return UsageRow(
            "total",
            sum(r.attempts for r in self.rows),
            sum(r.reported for r in self.rows),
            sum(r.tokens for r in self.rows),
            round(sum(r.cost for r in self.rows), 10),
        )


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    agent_id: str
    tokens_per_day: int | None
    cost_per_day: float | None
    tokens_spent: int
    cost_spent: float
    held: bool
    reason: str | None
    resets_at: float


@dataclass(frozen=True, slots=True)
class CycleUsage:
    """The attempts recorded between a learning cycle's start and the previous one's: what
    the cycle learned from, and what it cost."""

    cycle_id: str
    since: float
    until: float
    usage: UsageRow


class UsageService:
    def __init__(
        self, store: UsageStore, agents: AgentStore, clock: Clock, cycles: CycleStore | None = None
    ) -> None:
        self._store = store
        self._agents = agents
        self._cycles = cycles
        self.store = store
        """The recorded attempts' figures (intelligence metrics read them too)."""
        self._clock = clock

    async def usage(self, by: str = "agent", days: int = 7) -> UsageReport:
        """The last ``days`` UTC days (today included), grouped ``by``."""
        if by not in GROUPS:
            raise ValidationError(f"usage is grouped by one of {', '.join(GROUPS)}; got '{by}'")
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError(f"days must be from 1 to {MAX_DAYS}, got {days}")
        now = self._clock.now()
        since = day_start(now) - (days - 1) * DAY
        until = day_start(now) + DAY
        return UsageReport(by, since, until, await self._store.usage(by, since, until))

    async def recent(self, window: int) -> tuple[UsageReport, UsageReport]:
        """Per task type and per UTC day, the newest ``window`` attempts (one bounded read:
        the dashboard's panel costs the same with millions of attempts); ``since`` is 0."""
        pairs = await self._store.recent_usage(window)
        now = self._clock.now()
        by_type = _merged((kind, row) for kind, row in pairs)
        by_day = _merged((row.key, row) for _, row in pairs)
        return UsageReport("task_type", 0.0, now, by_type), UsageReport("day", 0.0, now, by_day)

    async def by_cycle(self, limit: int = 10) -> list[CycleUsage]:
        """Per learning cycle (newest first, at most ``limit``), the tokens and cost of the
        attempts recorded since the cycle before it."""
        if not 1 <= limit <= 100:
            raise ValidationError(f"limit must be from 1 to 100, got {limit}")
        if self._cycles is None:
            return []
        cycles = sorted(await self._cycles.list_cycles(limit + 1), key=lambda c: c.start_time)
        periods = []
        for before, cycle in itertools.pairwise(cycles):
            since, until = before.start_time, cycle.start_time
            rows = await self._store.usage("task_type", since, until)
            total = UsageReport("task_type", since, until, rows).total
            periods.append(CycleUsage(cycle.cycle_id, since, until, total))
        return periods[::-1]

    async def budgets(self) -> list[BudgetStatus]:
        """Each agent with a daily budget: today's spend, and whether it is held."""
        now = self._clock.now()
        budgeted = []
        for spec in await self._agents.list_agents():
            try:
                budget = budget_of(spec.config)
            except ValidationError:
                budget = None
            if budget is not None and spec.status is not AgentStatus.RETIRED:
                budgeted.append((spec, budget))
        if not budgeted:  # no read of today's attempts at all
            return []
        spent = await self._store.spent_since(day_start(now))
        statuses = []
        for spec, budget in budgeted:
            tokens, cost = spent.get(spec.id, (0, 0.0))
            limit = reached(budget, tokens, cost, now)
            statuses.append(
                BudgetStatus(
                    spec.id, budget.tokens, budget.cost, tokens, round(cost, 10),
                    limit is not None, limit.reason(spec.id) if limit else None,
                    day_start(now) + DAY,
                )
            )  # fmt: skip
        return statuses

    async def budget_source(self, since: float) -> tuple[dict[str, tuple[int, float]], set[str]]:
        """What the scheduler's budget ledger is rebuilt from at start."""
        return await self._store.spent_since(since), await self._store.budget_events_since(since)

    def today(self) -> str:
        return utc_date(self._clock.now())


def _merged(keyed: Iterable[tuple[str, UsageRow]]) -> list[UsageRow]:
    """Rows summed per key, sorted by key."""
    sums: dict[str, UsageRow] = {}
    for key, row in keyed:
        was = sums.get(key, UsageRow(key, 0, 0, 0, 0.0))
        sums[key] = UsageRow(key, was.attempts + row.attempts, was.reported + row.reported,
                             was.tokens + row.tokens, round(was.cost + row.cost, 10))  # fmt: skip
    return [sums[k] for k in sorted(sums)]
