"""Contract of ``UsageStore.recent_usage`` (the dashboard's Usage panel), on every store:
only the newest ``window`` attempts are summed, per (task type, UTC day), with the
attempts that reported no usage counted but not as tokens."""

from __future__ import annotations

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.usage import MemoryUsageStore
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.usage import SqlUsageStore
from imperium.domain.budgets import utc_date
from imperium.domain.states import Outcome
from imperium.ports import Store, UsageRow, UsageStore, WriteBatch
from tests.integration.storage.storage_factories import T0
from tests.integration.storage.storage_factories import make_execution as attempt

OWNER = "scheduler-1"
DAY = 86_400.0


def usage_of(store: Store) -> UsageStore:
    if isinstance(store, MemoryStore):
        return MemoryUsageStore(store.state)
    assert isinstance(store, SqlStore)
    return SqlUsageStore(store.database)


async def test_recent_usage_sums_only_the_newest_attempts(store: Store) -> None:
    assert await store.swap_lock(None, OWNER, T0 + 30)
    day = (T0 // DAY + 1) * DAY  # a UTC midnight after T0
    executions = [
        attempt("old", finished_at=day - 10, task_type="chat", tokens=1000, cost=1.0),
        attempt("a", finished_at=day - 5, task_type="chat", tokens=10, cost=0.5),
        attempt("b", finished_at=day + 5, task_type="chat", tokens=None, cost=None),
        attempt("c", finished_at=day + 6, task_type="image", tokens=7, cost=0.25),
    ]
    await store.apply(WriteBatch(executions=executions), OWNER, T0 + 30)
    usage = usage_of(store)

    rows = await usage.recent_usage(3)
    first, second = utc_date(day - 5), utc_date(day + 5)
    assert sorted(rows, key=lambda r: (r[0], r[1].key)) == [
        ("chat", UsageRow(first, 1, 1, 10, 0.5)),
        ("chat", UsageRow(second, 1, 0, 0, 0.0)),
        ("image", UsageRow(second, 1, 1, 7, 0.25)),
    ]
    assert sum(r.tokens for _, r in await usage.recent_usage(10)) == 1017


async def test_type_figures_leave_out_attempts_served_from_the_result_cache(store: Store) -> None:
    # An intelligence's success rate and durations describe its agents' runs: a cache
    # hit ran nothing (it took no time and did not fail), so 1 run and 3 hits were shown
    # as a 25 % success rate with a p50 of 0 s.
    assert await store.swap_lock(None, OWNER, T0 + 30)
    ran = attempt("ran", task_type="chat", outcome=Outcome.SUCCEEDED, started_at=T0,
                  finished_at=T0 + 4.0, tokens=10, cost=0.5)  # fmt: skip
    hits = [
        attempt(f"hit{i}", task_type="chat", outcome=Outcome.CACHED, started_at=T0 + 5,
                finished_at=T0 + 5, tokens=None, cost=None, error_kind=None, error_message=None)
        for i in range(3)
    ]  # fmt: skip
    await store.apply(WriteBatch(executions=[ran, *hits]), OWNER, T0 + 30)
    figures = await usage_of(store).type_figures("chat", T0 - 1, 10)
    assert (figures.attempts, figures.succeeded, figures.tokens) == (1, 1, 10)
    assert figures.durations == [4.0]
