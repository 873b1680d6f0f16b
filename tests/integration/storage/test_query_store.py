"""Contract of ``QueryStore`` (reads for the API and CLI, writes from other processes)."""

from __future__ import annotations

import pytest

from imperium.domain.errors import ConflictError
from imperium.domain.models import Event, Execution
from imperium.domain.states import Outcome, TaskState
from imperium.ports import AgentStats, Store, TaskFilter, TaskSnapshot, WriteBatch
from tests.integration.storage.storage_factories import (
    T0,
    TOLERANCE,
    assert_same,
    inserting,
    make_event,
    make_execution,
    make_task,
)

OWNER = "scheduler-1"
RESUBMITTABLE = [TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED]


@pytest.fixture
async def locked(store: Store) -> Store:
    assert await store.swap_lock(None, OWNER, T0 + 30)
    return store


async def test_insert_submitted_stores_tasks_as_submitted_with_their_events(store: Store) -> None:
    task = make_task(state=TaskState.QUEUED)
    event = make_event(task.id, "task.submitted")

    await store.insert_submitted([task], [event])

    stored = await store.get_task(task.id)
    assert stored is not None
    task.state = TaskState.SUBMITTED
    assert_same(stored, task)
    assert [e.event_type for e in await store.events_for(task.id)] == ["task.submitted"]
    assert await store.get_task("missing") is None


async def test_insert_submitted_with_a_known_id_writes_nothing(store: Store) -> None:
    existing = make_task()
    await store.insert_submitted([existing], [])
    fresh = make_task()

    with pytest.raises(ConflictError, match="already exists"):
        await store.insert_submitted([fresh, make_task(id=existing.id)], [make_event(fresh.id)])

    assert await store.get_task(fresh.id) is None
    assert await store.events_for(fresh.id) == []


async def test_timestamps_round_trip_within_a_millisecond(store: Store) -> None:
    instants = [0.0, 1e-6, 86_399.999_999, 1_700_000_000.000_5, 4_102_444_800.25, T0]
    tasks = [
        make_task(created_at=at, updated_at=at, deadline=at, started_at=at, finished_at=at)
        for at in instants
    ]
    await store.insert_submitted(tasks, [])

    for task, at in zip(tasks, instants, strict=True):
        stored = await store.get_task(task.id)
        assert stored is not None
        for name in ("created_at", "updated_at", "deadline", "started_at", "finished_at"):
            assert abs(getattr(stored, name) - at) < TOLERANCE, (name, at)


async def test_json_values_round_trip(store: Store) -> None:
    payload = {"unicode": "日本語 ✓", "nested": {"a": [1, {"b": None}]}, "big": 2**53, "f": 0.1}
    task = make_task(payload=payload, result=["x", 1.5, False, None])
    await store.insert_submitted([task], [])

    stored = await store.get_task(task.id)

    assert stored is not None
    assert stored.payload == payload
    assert stored.result == ["x", 1.5, False, None]


@pytest.mark.parametrize(
    "value", [7, 0, -3, 1.5, 1e300, 2**62, "7", "", True, False, [], {}, "null"]
)
async def test_scalar_json_values_round_trip(store: Store, value: object) -> None:
    """SQLite gives JSON columns NUMERIC affinity: a bare number comes back as a number."""
    task = make_task(payload=value, result=value)
    await store.insert_submitted([task], [make_event(task.id, data={"v": value})])

    stored = await store.get_task(task.id)

    assert stored is not None
    assert (stored.payload, stored.result) == (value, value)
    assert type(stored.payload) is type(value)
    assert (await store.events_for(task.id))[0].data == {"v": value}


async def test_list_tasks_filters_newest_first_and_pages(locked: Store) -> None:
    tasks = [
        make_task(
            created_at=T0 + i,
            type="a" if i % 2 else "b",
            workflow_id=f"wf-{i % 3}",
            agent_id=f"agent-{i % 2}",
            state=TaskState.QUEUED if i < 6 else TaskState.DEAD,
        )
        for i in range(10)
    ]
    await locked.apply(inserting(*tasks), OWNER, T0 + 30)

    def ids(indexes: list[int]) -> list[str]:
        return [tasks[i].id for i in indexes]

    async def listed(**kwargs: object) -> list[str]:
        return [t.id for t in await locked.list_tasks(TaskFilter(**kwargs))]  # type: ignore[arg-type]

    assert await listed() == ids([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    assert await listed(limit=3, offset=2) == ids([7, 6, 5])
    assert await listed(type="a") == ids([9, 7, 5, 3, 1])
    assert await listed(state=TaskState.DEAD) == ids([9, 8, 7, 6])
    assert await listed(workflow_id="wf-0") == ids([9, 6, 3, 0])
    assert await listed(agent_id="agent-0", state=TaskState.QUEUED) == ids([4, 2, 0])
    assert await listed(type="nope") == []


async def test_count_tasks_by_state(locked: Store) -> None:
    states = [TaskState.QUEUED] * 3 + [TaskState.SUCCEEDED, TaskState.DEAD]
    await locked.apply(inserting(*(make_task(state=s) for s in states)), OWNER, T0 + 30)
    await locked.insert_submitted([make_task()], [])

    counts = await locked.count_tasks_by_state()

    assert counts == {
        **dict.fromkeys(TaskState, 0),
        TaskState.QUEUED: 3,
        TaskState.SUCCEEDED: 1,
        TaskState.DEAD: 1,
        TaskState.SUBMITTED: 1,
    }


async def test_agent_stats_from_known_executions(locked: Store) -> None:
    def run(task: str, agent: str | None, outcome: Outcome, start: float, took: float) -> Execution:
        return make_execution(
            task,
            1,
            agent_id=agent,
            outcome=outcome,
            started_at=T0 + start,
            finished_at=T0 + start + took,
        )

    executions = [
        run("t1", "alpha", Outcome.SUCCEEDED, 0, 1.0),
        run("t2", "alpha", Outcome.SUCCEEDED, 100, 3.0),  # last success at T0 + 103
        run("t3", "alpha", Outcome.FAILED, 10, 2.0),
        run("t4", "alpha", Outcome.TIMED_OUT, 50, 4.0),
        run("t5", "alpha", Outcome.LOST, 60, 5.0),  # last failure at T0 + 65
        run("t6", "alpha", Outcome.CANCELLED, 500, 100.0),  # not counted
        run("t7", "alpha", Outcome.INTERRUPTED, 600, 100.0),  # not counted
        run("t8", "bravo", Outcome.CANCELLED, 0, 1.0),  # bravo: nothing counted
        run("t9", "charlie", Outcome.FAILED, 5, 0.5),
        run("t10", None, Outcome.FAILED, 5, 0.5),  # no agent: not attributed
    ]
    await locked.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    stats = await locked.agent_stats()

    assert set(stats) == {"alpha", "charlie"}
    alpha = stats["alpha"]
    assert (alpha.agent_id, alpha.executions, alpha.succeeded, alpha.failed) == ("alpha", 5, 2, 3)
    assert alpha.mean_duration == pytest.approx(3.0, abs=TOLERANCE)
    assert alpha.last_success == pytest.approx(T0 + 103, abs=TOLERANCE)
    assert alpha.last_failure == pytest.approx(T0 + 65, abs=TOLERANCE)
    assert stats["charlie"] == AgentStats(
        "charlie",
        1,
        0,
        1,
        pytest.approx(0.5, abs=TOLERANCE),
        None,  # type: ignore[arg-type]
        pytest.approx(T0 + 5.5, abs=TOLERANCE),  # type: ignore[arg-type]
    )
    assert await locked.agent_stats() == stats


async def test_agent_stats_empty(store: Store) -> None:
    assert await store.agent_stats() == {}


async def test_request_cancel_ignores_unknown_and_finished_tasks(locked: Store) -> None:
    done = make_task(state=TaskState.SUCCEEDED)
    await locked.apply(inserting(done), OWNER, T0 + 30)

    await locked.request_cancel(done.id, T0 + 40)
    await locked.request_cancel("missing", T0 + 40)

    assert not await locked.cancel_requested(done.id)
    assert await locked.fetch_cancel_requests() == []


@pytest.mark.parametrize("state", RESUBMITTABLE)
async def test_resubmit_puts_a_dead_lettered_task_back(locked: Store, state: TaskState) -> None:
    task = make_task(state=state, attempts=3, max_attempts=3, finished_at=T0 + 9)
    await locked.apply(inserting(task), OWNER, T0 + 30)

    assert await locked.resubmit(task.id, 5, T0 + 100)

    stored = await locked.get_task(task.id)
    assert stored is not None
    expected = make_task(**{f: getattr(task, f) for f in ("id", "created_at")})
    expected.state, expected.attempts, expected.max_attempts = TaskState.SUBMITTED, 3, 5
    expected.finished_at = expected.not_before = None
    expected.updated_at = T0 + 100
    assert_same(stored, expected)
    assert [t.id for t in await locked.fetch_submitted(10)] == [task.id]


@pytest.mark.parametrize(
    "state",
    [s for s in TaskState if s not in (TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED)],
)
async def test_resubmit_refuses_other_states(locked: Store, state: TaskState) -> None:
    task = make_task(state=state)
    await locked.apply(inserting(task), OWNER, T0 + 30)

    assert not await locked.resubmit(task.id, 9, T0 + 100)
    assert not await locked.resubmit("missing", 9, T0 + 100)

    stored = await locked.get_task(task.id)
    assert stored is not None
    assert_same(stored, task)


async def test_resubmit_drops_a_stale_cancel_request(locked: Store) -> None:
    task = make_task(state=TaskState.RUNNING)
    await locked.apply(inserting(task), OWNER, T0 + 30)
    await locked.request_cancel(task.id, T0 + 40)
    task.state = TaskState.FAILED  # ended before the scheduler handled the request
    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(task)]), OWNER, T0 + 30)

    assert await locked.resubmit(task.id, 5, T0 + 100)

    assert await locked.fetch_cancel_requests() == []
    assert not await locked.cancel_requested(task.id)


async def test_agent_loads_are_each_agents_latest_load_event(locked: Store) -> None:
    def load(agent: str, kind: str, at: float, data: dict[str, object] | None = None) -> Event:
        return make_event(None, kind, agent_id=agent, created_at=T0 + at, data=data)

    events = [
        load("alpha", "agent.load_failed", 1, {"error": "No module named 'myagents'"}),
        load("alpha", "agent.loaded", 2),
        load("bravo", "agent.loaded", 1),
        load("bravo", "agent.load_failed", 2, {"error": "boom"}),
        make_event(None, "agent.paused", agent_id="charlie"),  # not about loading
    ]
    await locked.apply(WriteBatch(events=events), OWNER, T0 + 30)

    loads = await locked.agent_loads()

    assert set(loads) == {"alpha", "bravo"}
    assert (loads["alpha"].loaded, loads["alpha"].error) == (True, None)
    assert (loads["bravo"].loaded, loads["bravo"].error) == (False, "boom")
    assert loads["bravo"].at == pytest.approx(T0 + 2, abs=TOLERANCE)
