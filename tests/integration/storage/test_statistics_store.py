"""Contract of ``StatisticsStore`` (the dashboard's aggregates) and of the task listing's
time range, id prefix and keyset pages, on every store."""

from __future__ import annotations

import pytest

from imperium.domain.models import Execution
from imperium.domain.states import Outcome, TaskState
from imperium.ports import DecisionCount, OutcomeCount, Store, TaskFilter, WriteBatch
from tests.integration.storage.storage_factories import T0, inserting, make_event, make_task
from tests.integration.storage.storage_factories import make_execution as attempt

OWNER = "scheduler-1"


@pytest.fixture
async def locked(store: Store) -> Store:
    assert await store.swap_lock(None, OWNER, T0 + 30)
    return store


async def test_outcomes_are_counted_per_bucket_from_since(locked: Store) -> None:
    base = 1_800_000_000.0  # a multiple of 60
    executions = [
        attempt("a", 1, finished_at=base + 5, outcome=Outcome.SUCCEEDED),
        attempt("b", 1, finished_at=base + 59, outcome=Outcome.SUCCEEDED),
        attempt("c", 1, finished_at=base + 61, outcome=Outcome.FAILED),
        attempt("c", 2, finished_at=base + 70, outcome=Outcome.SUCCEEDED),
        attempt("d", 1, finished_at=base - 1, outcome=Outcome.SUCCEEDED),  # before since
    ]
    await locked.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    series = await locked.outcome_series(base, 60.0)

    assert sorted(series, key=lambda p: (p.start, p.outcome)) == [
        OutcomeCount(base, Outcome.SUCCEEDED, 2),
        OutcomeCount(base + 60, Outcome.FAILED, 1),
        OutcomeCount(base + 60, Outcome.SUCCEEDED, 1),
    ]
    assert await locked.outcome_series(base + 3600, 60.0) == []


async def test_decisions_are_counted_per_bucket_and_agent_for_one_type(locked: Store) -> None:
    base = 1_800_000_000.0  # a multiple of 60

    def run(
        task_id: str, agent_id: str | None, at: float, outcome: Outcome, kind: str = "summarise"
    ) -> Execution:
        return attempt(task_id, 1, agent_id=agent_id, task_type=kind,
                       finished_at=base + at, outcome=outcome)  # fmt: skip

    executions = [
        run("a", "fast", 5, Outcome.SUCCEEDED),
        run("b", "fast", 30, Outcome.FAILED),
        run("c", "slow", 59, Outcome.TIMED_OUT),
        run("d", "fast", 61, Outcome.CANCELLED),  # an attempt, neither succeeded nor failed
        run("e", "slow", 70, Outcome.SUCCEEDED),
        run("f", "slow", 80, Outcome.LOST),
        run("g", "fast", -1, Outcome.SUCCEEDED),  # before since
        run("h", "fast", 10, Outcome.SUCCEEDED, kind="translate"),  # another type
        run("i", None, 10, Outcome.SUCCEEDED),  # no agent
    ]
    await locked.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    series = await locked.decisions_series("summarise", base, 60.0)

    assert sorted(series, key=lambda p: (p.start, p.agent_id)) == [
        DecisionCount(base, "fast", attempts=2, succeeded=1, failed=1),
        DecisionCount(base, "slow", attempts=1, succeeded=0, failed=1),
        DecisionCount(base + 60, "fast", attempts=1, succeeded=0, failed=0),
        DecisionCount(base + 60, "slow", attempts=2, succeeded=1, failed=1),
    ]
    assert await locked.decisions_series("translate", base, 60.0) == [
        DecisionCount(base, "fast", attempts=1, succeeded=1, failed=0)
    ]
    assert await locked.decisions_series("summarise", base + 3600, 60.0) == []
    assert await locked.decisions_series("no-such-type", base - 3600, 60.0) == []


async def test_dead_tasks_are_counted_by_their_event_time(locked: Store) -> None:
    events = [
        make_event("a", "task.dead", created_at=T0 + 10),
        make_event("b", "task.dead", created_at=T0 + 20),
        make_event("c", "task.failed", created_at=T0 + 20),
        make_event("d", "task.dead", created_at=T0 - 10),
    ]
    await locked.apply(WriteBatch(events=events), OWNER, T0 + 30)

    assert await locked.count_dead_since(T0) == 2
    assert await locked.count_dead_since(T0 + 15) == 1


async def test_the_listing_takes_a_time_range_an_id_prefix_and_keyset_pages(locked: Store) -> None:
    tasks = [
        make_task(id=f"{prefix}-{n}", created_at=T0 + n, state=TaskState.QUEUED)
        for n, prefix in enumerate(["ab", "ab", "cd", "ab", "ab"])
    ]
    await locked.apply(inserting(*tasks), OWNER, T0 + 30)

    def ids(found: list) -> list[str]:  # type: ignore[type-arg]
        return [t.id for t in found]

    in_range = await locked.list_tasks(TaskFilter(created_after=T0 + 1, created_before=T0 + 4))
    assert ids(in_range) == ["ab-3", "cd-2", "ab-1"]
    assert ids(await locked.list_tasks(TaskFilter(id_prefix="ab-"))) == [
        "ab-4", "ab-3", "ab-1", "ab-0"
    ]  # fmt: skip
    first = await locked.list_tasks(TaskFilter(limit=2))
    assert ids(first) == ["ab-4", "ab-3"]
    second = await locked.list_tasks(TaskFilter(limit=2, after=(first[-1].created_at, "ab-3")))
    assert ids(second) == ["cd-2", "ab-1"]
    last = await locked.list_tasks(TaskFilter(limit=2, after=(second[-1].created_at, "ab-1")))
    assert ids(last) == ["ab-0"]


async def test_recent_workflows_are_newest_first_with_counts_per_state(locked: Store) -> None:
    tasks = [
        make_task(id="old-1", workflow_id="wf-old", created_at=T0 + 1, state=TaskState.SUCCEEDED),
        make_task(id="old-2", workflow_id="wf-old", created_at=T0 + 2, state=TaskState.FAILED),
        make_task(id="new-1", workflow_id="wf-new", created_at=T0 + 3, state=TaskState.QUEUED),
        make_task(id="new-2", workflow_id="wf-new", created_at=T0 + 4, state=TaskState.PENDING),
        make_task(id="new-3", workflow_id="wf-new", created_at=T0 + 5, state=TaskState.PENDING),
        make_task(id="alone", workflow_id=None, created_at=T0 + 6, state=TaskState.QUEUED),
    ]
    await locked.apply(inserting(*tasks), OWNER, T0 + 30)

    found = await locked.recent_workflows(10)

    assert [w.workflow_id for w in found] == ["wf-new", "wf-old"]
    assert found[0].states == {TaskState.QUEUED: 1, TaskState.PENDING: 2}
    assert found[0].created_at == T0 + 3
    assert found[0].tasks == 3
    assert found[1].states == {TaskState.SUCCEEDED: 1, TaskState.FAILED: 1}
    assert [w.workflow_id for w in await locked.recent_workflows(1)] == ["wf-new"]


async def test_agent_window_counts_the_newest_attempts_with_nearest_rank_percentiles(
    locked: Store,
) -> None:
    executions = [
        attempt(f"t{i}", 1, agent_id="a", started_at=T0, finished_at=T0 + i, tokens=10, cost=0.5,
                outcome=Outcome.SUCCEEDED if i % 2 else Outcome.FAILED,
                task_type="echo" if i <= 5 else "review")
        for i in range(1, 11)
    ] + [
        attempt("c", 1, agent_id="a", started_at=T0, finished_at=T0 + 11,
                outcome=Outcome.CANCELLED),
        attempt("b", 1, agent_id="b", started_at=T0, finished_at=T0 + 12, tokens=None, cost=None,
                outcome=Outcome.SUCCEEDED),
        attempt("old", 1, agent_id="old", started_at=T0, finished_at=T0 - 50),
    ]  # fmt: skip
    await locked.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    found = await locked.agent_window(12)  # the oldest is outside the window

    assert set(found) == {"a", "b"}
    a = found["a"]
    assert (a.attempts, a.succeeded, a.success_rate) == (10, 5, 0.5)
    assert a.by_type == {"echo": (5, 3), "review": (5, 2)}
    assert found["b"].by_type == {"summarise": (1, 1)}
    assert (a.p50, a.p95) == (5.0, 10.0)
    assert a.tokens == 100
    assert a.cost == pytest.approx(5.0)
    b = found["b"]
    assert (b.attempts, b.succeeded, b.p50, b.p95, b.tokens, b.cost) == (
        1,
        1,
        12.0,
        12.0,
        None,
        None,
    )


async def test_a_hex_id_prefix_is_a_range_that_carries(locked: Store) -> None:
    """The hex range's upper bound is the next hex string (ab9 -> aba, abf -> ac, ff -> none):
    ids just beyond it must not be listed, ids just inside must."""
    stored = [
        "ab8f",
        "ab90",
        "ab9f",
        "aba0",
        "abef",
        "abf0",
        "abff",
        "ac00",
        "fe00",
        "ff00",
        "ffff",
    ]
    tasks = [
        make_task(id=i, created_at=T0 + n, state=TaskState.QUEUED) for n, i in enumerate(stored)
    ]
    await locked.apply(inserting(*tasks), OWNER, T0 + 30)

    async def starting(prefix: str) -> list[str]:
        return sorted(t.id for t in await locked.list_tasks(TaskFilter(id_prefix=prefix)))

    assert await starting("ab9") == ["ab90", "ab9f"]
    assert await starting("abf") == ["abf0", "abff"]
    assert await starting("ab") == [i for i in stored if i.startswith("ab")]
    assert await starting("ff") == ["ff00", "ffff"]
    assert await starting("f") == ["fe00", "ff00", "ffff"]
    assert await starting("abff") == ["abff"]
    assert await starting("AB") == []  # ids are lower case: no range, an exact comparison
