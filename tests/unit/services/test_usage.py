"""UsageService over the in-memory usage store: grouping by agent, task type and UTC
day within the last N days, validation, and budgets read from agents' configs."""

from __future__ import annotations

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.usage import MemoryUsageStore
from imperium.domain.errors import ValidationError
from imperium.domain.learning import CycleStatus, LearningCycle
from imperium.domain.models import AgentSpec, Execution
from imperium.domain.states import Outcome
from imperium.services.usage import UsageService

NOW = 1_765_000_000.0  # 2025-12-06 05:46:40 UTC


class Clock:
    def now(self) -> float:
        return NOW

    def monotonic(self) -> float:
        return 0.0


def attempt(task: str, agent: str, task_type: str, tokens: int | None, cost: float | None,
            at: float) -> Execution:  # fmt: skip
    return Execution(task, 1, agent, task_type, 1.0, at - 1, at, Outcome.SUCCEEDED, 1,
                     tokens=tokens, cost=cost)  # fmt: skip


def cycle(cycle_id: str, start: float) -> LearningCycle:
    return LearningCycle(cycle_id, start, start + 5, (), None, 0, 0, 0, CycleStatus.COMPLETED, {})


@pytest.fixture
async def service() -> UsageService:
    store = MemoryStore()
    for cycle_id, start in (("c1", NOW - 10 * 86_400), ("c2", NOW - 3600), ("c3", NOW + 60)):
        await store.save_cycle(cycle(cycle_id, start))
    await store.import_executions([
        attempt("t1", "a", "chat", 10, 0.1, NOW),
        attempt("t2", "a", "sum", 5, None, NOW - 86_400),  # yesterday
        attempt("t3", "b", "chat", None, None, NOW),
        attempt("t4", "b", "chat", 99, 9.0, NOW - 8 * 86_400),  # outside 7 days
    ])  # fmt: skip
    await store.insert_agent(AgentSpec("a", "echo", config={"budget": {"tokens_per_day": 10}}))
    await store.insert_agent(AgentSpec("b", "echo"))
    return UsageService(MemoryUsageStore(store.state), store, Clock(), cycles=store)


async def test_usage_by_day_agent_and_type(service: UsageService) -> None:
    by_day = await service.usage("day", 7)
    assert [(r.key, r.attempts, r.reported, r.tokens) for r in by_day.rows] == [
        ("2025-12-05", 1, 1, 5), ("2025-12-06", 2, 1, 10)]  # fmt: skip
    by_agent = await service.usage("agent", 1)
    assert [(r.key, r.tokens, r.cost) for r in by_agent.rows] == [("a", 10, 0.1), ("b", 0, 0.0)]
    assert (await service.usage("task_type", 30)).total.tokens == 114


@pytest.mark.parametrize(("by", "days"), [("week", 7), ("agent", 0), ("agent", 400)])
async def test_bad_requests_are_refused(service: UsageService, by: str, days: int) -> None:
    with pytest.raises(ValidationError):
        await service.usage(by, days)


async def test_budgets_report_todays_spend(service: UsageService) -> None:
    [budget] = await service.budgets()
    assert (budget.agent_id, budget.tokens_spent, budget.held) == ("a", 10, True)
    assert budget.resets_at == 1_765_065_600.0  # 2025-12-07 00:00 UTC


async def test_usage_per_learning_cycle_counts_what_each_cycle_learned_from(
    service: UsageService,
) -> None:
    c3, c2 = await service.by_cycle(10)  # newest first; c1 has no cycle before it
    assert (c3.cycle_id, c3.usage.attempts, c3.usage.tokens) == ("c3", 2, 10)  # t1, t3
    assert (c2.cycle_id, c2.usage.attempts, c2.usage.tokens) == ("c2", 2, 104)  # t2, t4
    assert c2.since == NOW - 10 * 86_400
    assert c2.until == c3.since == NOW - 3600
    assert [c.cycle_id for c in await service.by_cycle(1)] == ["c3"]


async def test_recent_usage_per_task_type_and_day(service: UsageService) -> None:
    by_type, by_day = await service.recent(3)  # the newest 3 of the 4 attempts
    assert [(r.key, r.attempts, r.reported, r.tokens) for r in by_type.rows] == [
        ("chat", 2, 1, 10), ("sum", 1, 1, 5)]  # fmt: skip
    assert [(r.key, r.tokens) for r in by_day.rows] == [("2025-12-05", 5), ("2025-12-06", 10)]
    assert by_day.total.attempts == 3
