"""Contract of ``SchedulerStore`` (group commit, lock, start-up reads) for every store."""

from __future__ import annotations

import dataclasses

import pytest

from imperium.domain.errors import ConflictError, LockLostError
from imperium.domain.states import Outcome, TaskState
from imperium.ports import LockInfo, Store, TaskSnapshot, WriteBatch
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
LOCK_UNTIL = T0 + 30.0


@pytest.fixture
async def locked(store: Store) -> Store:
    assert await store.swap_lock(None, OWNER, LOCK_UNTIL)
    return store


async def test_apply_round_trips_inserted_tasks(locked: Store) -> None:
    first = make_task()
    second = make_task(
        payload=None,
        result=None,
        capabilities=frozenset(),
        depends_on=(),
        deadline=None,
        timeout=None,
        pinned_agent=None,
        workflow_id=None,
        agent_id=None,
        lease_expires_at=None,
        not_before=None,
        started_at=None,
        error_kind=None,
        error_message=None,
        estimated_duration=None,
    )

    await locked.apply(inserting(first, second), OWNER, LOCK_UNTIL)

    for task in (first, second):
        stored = await locked.get_task(task.id)
        assert stored is not None
        assert_same(stored, task)
    assert (await locked.get_task(first.id)).depends_on == ("dep-2", "dep-1")  # type: ignore[union-attr]


async def test_insert_writes_the_snapshot_not_the_task_object(locked: Store) -> None:
    task = make_task(state=TaskState.PENDING)
    snapshot = TaskSnapshot.of(task)
    task.state = TaskState.RUNNING  # the scheduler moved on after taking the snapshot

    await locked.apply(WriteBatch(inserts=[(task, snapshot)]), OWNER, LOCK_UNTIL)

    stored = await locked.get_task(task.id)
    assert stored is not None
    assert stored.state is TaskState.PENDING


async def test_apply_updates_every_mutable_field(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    changed = dataclasses.replace(
        task,
        state=TaskState.SUCCEEDED,
        attempts=2,
        max_attempts=8,
        lease_token=9,
        agent_id="agent-b",
        lease_expires_at=None,
        not_before=None,
        started_at=T0 + 20.5,
        finished_at=T0 + 25.25,
        result=[1, "two"],
        error_kind=None,
        error_message=None,
        score=12.0,
        updated_at=T0 + 25.5,
    )

    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(changed)]), OWNER, LOCK_UNTIL)

    stored = await locked.get_task(task.id)
    assert stored is not None
    assert_same(stored, changed)


async def test_update_leaves_a_cancel_request_alone(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    await locked.request_cancel(task.id, T0 + 50)

    task.state = TaskState.RUNNING
    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(task)]), OWNER, LOCK_UNTIL)

    assert await locked.cancel_requested(task.id)
    assert await locked.fetch_cancel_requests() == [task.id]


async def test_cancel_handled_clears_the_request(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    await locked.request_cancel(task.id, T0 + 50)

    task.state = TaskState.CANCELLED
    batch = WriteBatch(updates=[TaskSnapshot.of(task)], cancel_handled=[task.id])
    await locked.apply(batch, OWNER, LOCK_UNTIL)

    assert not await locked.cancel_requested(task.id)
    assert await locked.fetch_cancel_requests() == []


async def test_apply_records_executions_and_events(locked: Store) -> None:
    task = make_task()
    second = make_execution(
        task.id,
        2,
        outcome=Outcome.SUCCEEDED,
        agent_id=None,
        error_kind=None,
        error_message=None,
        tokens=None,
        cost=None,
        resources={},
    )
    first = make_execution(task.id, 1)
    events = [make_event(task.id, "task.queued"), make_event(task.id, "task.running")]
    other = make_event("other-task", "task.queued")

    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    batch = WriteBatch(executions=[second, first], events=[*events, other])
    await locked.apply(batch, OWNER, LOCK_UNTIL)

    executions = await locked.executions_for(task.id)
    assert [e.attempt for e in executions] == [1, 2]
    assert_same(executions[0], first)
    assert_same(executions[1], second)
    stored_events = await locked.events_for(task.id)
    assert len(stored_events) == 2
    for got, want in zip(stored_events, events, strict=True):
        assert_same(got, want)
    assert len(await locked.events_for(task.id, limit=1)) == 1


async def test_apply_extends_the_lock(locked: Store) -> None:
    await locked.apply(WriteBatch(), OWNER, LOCK_UNTIL + 60)

    lock = await locked.read_lock()
    assert lock is not None
    assert lock.owner == OWNER
    assert abs(lock.expires_at - (LOCK_UNTIL + 60)) < TOLERANCE


async def test_apply_without_the_lock_raises_and_writes_nothing(store: Store) -> None:
    with pytest.raises(LockLostError):
        await store.apply(inserting(make_task()), OWNER, LOCK_UNTIL)
    assert await store.read_lock() is None


async def test_apply_after_a_takeover_raises_and_writes_nothing(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    await locked.request_cancel(task.id, T0 + 50)
    assert await locked.swap_lock(OWNER, "scheduler-2", LOCK_UNTIL + 5)

    new_task = make_task()
    task.state = TaskState.CANCELLED
    batch = WriteBatch(
        inserts=[(new_task, TaskSnapshot.of(new_task))],
        updates=[TaskSnapshot.of(task)],
        executions=[make_execution(task.id)],
        events=[make_event(task.id)],
        cancel_handled=[task.id],
    )
    with pytest.raises(LockLostError):
        await locked.apply(batch, OWNER, LOCK_UNTIL + 100)

    assert await locked.get_task(new_task.id) is None
    stored = await locked.get_task(task.id)
    assert stored is not None
    assert stored.state is TaskState.QUEUED
    assert await locked.cancel_requested(task.id)
    assert await locked.executions_for(task.id) == []
    assert await locked.events_for(task.id) == []
    lock = await locked.read_lock()
    assert lock is not None
    assert (lock.owner, round(lock.expires_at, 3)) == ("scheduler-2", round(LOCK_UNTIL + 5, 3))


async def test_an_attempt_is_recorded_once(locked: Store) -> None:
    """A duplicate (task_id, attempt) is refused with ConflictError; the whole batch,
    including its other parts, is not written."""
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    await locked.apply(WriteBatch(executions=[make_execution(task.id, 1)]), OWNER, LOCK_UNTIL)

    task.state = TaskState.FAILED
    batch = WriteBatch(
        updates=[TaskSnapshot.of(task)],
        executions=[make_execution(task.id, 2), make_execution(task.id, 1, tokens=1)],
        events=[make_event(task.id)],
    )
    with pytest.raises(ConflictError, match="already stored"):
        await locked.apply(batch, OWNER, LOCK_UNTIL)

    assert [e.attempt for e in await locked.executions_for(task.id)] == [1]
    assert (await locked.executions_for(task.id))[0].tokens == 1234
    assert await locked.events_for(task.id) == []
    stored = await locked.get_task(task.id)
    assert stored is not None
    assert stored.state is TaskState.QUEUED


async def test_inserting_a_task_id_twice_is_a_conflict(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    other = make_task()

    with pytest.raises(ConflictError):
        await locked.apply(inserting(other, make_task(id=task.id)), OWNER, LOCK_UNTIL)
    assert await locked.get_task(other.id) is None


async def test_lock_is_swapped_only_from_the_expected_holder(store: Store) -> None:
    assert await store.read_lock() is None
    assert not await store.swap_lock("nobody", "a", T0)
    assert await store.swap_lock(None, "a", T0 + 10)
    assert not await store.swap_lock(None, "b", T0 + 20)
    assert not await store.swap_lock("c", "b", T0 + 20)
    assert await store.read_lock() == LockInfo("a", pytest.approx(T0 + 10, abs=TOLERANCE))

    assert await store.swap_lock("a", "b", T0 + 20)
    lock = await store.read_lock()
    assert lock is not None
    assert lock.owner == "b"
    assert abs(lock.expires_at - (T0 + 20)) < TOLERANCE


async def test_release_lock_only_by_its_owner(store: Store) -> None:
    assert await store.swap_lock(None, "a", T0 + 10)

    await store.release_lock("b")
    assert (lock := await store.read_lock()) is not None
    assert lock.owner == "a"

    await store.release_lock("a")
    assert await store.read_lock() is None
    assert await store.swap_lock(None, "b", T0 + 10)


async def test_load_active_tasks_returns_pending_queued_and_running(locked: Store) -> None:
    by_state = {state: make_task(state=state) for state in TaskState}
    await locked.apply(inserting(*by_state.values()), OWNER, LOCK_UNTIL)

    active = await locked.load_active_tasks()

    assert sorted(t.state for t in active) == sorted(
        [TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING]
    )
    for task in active:
        assert_same(task, by_state[task.state])


async def test_a_task_requeued_after_it_ended_is_loaded_at_start(locked: Store) -> None:
    """Requeueing a dead task opens it again (``finished_at`` cleared): the scheduler must
    find it after a restart, whatever the store indexes active rows by."""
    ended = make_task(state=TaskState.DEAD, finished_at=T0 + 5)
    await locked.apply(inserting(ended), OWNER, LOCK_UNTIL)
    requeued = dataclasses.replace(ended, state=TaskState.QUEUED, finished_at=None)
    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(requeued)]), OWNER, LOCK_UNTIL)

    [loaded] = await locked.load_active_tasks()

    assert (loaded.id, loaded.state, loaded.finished_at) == (ended.id, TaskState.QUEUED, None)


async def test_fetch_submitted_gives_the_oldest_first(locked: Store) -> None:
    newest = make_task(created_at=T0 + 30)
    oldest = make_task(created_at=T0 + 10)
    middle = make_task(created_at=T0 + 20)
    await locked.insert_submitted([newest, oldest, middle], [])
    await locked.apply(inserting(make_task(created_at=T0)), OWNER, LOCK_UNTIL)  # queued

    assert [t.id for t in await locked.fetch_submitted(2)] == [oldest.id, middle.id]

    oldest.state = TaskState.QUEUED
    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(oldest)]), OWNER, LOCK_UNTIL)
    submitted = await locked.fetch_submitted(10)
    assert [t.id for t in submitted] == [middle.id, newest.id]
    assert all(t.state is TaskState.SUBMITTED for t in submitted)


async def test_fetch_cancel_requests_lists_active_tasks_only(locked: Store) -> None:
    queued, running, done = (
        make_task(state=s) for s in (TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED)
    )
    submitted = make_task()
    await locked.apply(inserting(queued, running, done), OWNER, LOCK_UNTIL)
    await locked.insert_submitted([submitted], [])
    for task in (queued, running, done, submitted):
        await locked.request_cancel(task.id, T0 + 40)
    await locked.request_cancel("no-such-task", T0 + 40)

    assert sorted(await locked.fetch_cancel_requests()) == sorted(
        [queued.id, running.id, submitted.id]
    )
    assert not await locked.cancel_requested(done.id)
    assert not await locked.cancel_requested("no-such-task")

    running.state = TaskState.SUCCEEDED  # finished before the scheduler saw the request
    await locked.apply(WriteBatch(updates=[TaskSnapshot.of(running)]), OWNER, LOCK_UNTIL)
    assert sorted(await locked.fetch_cancel_requests()) == sorted([queued.id, submitted.id])


async def test_task_states_for_many_ids(locked: Store) -> None:
    tasks = [make_task(state=TaskState.RUNNING if i % 2 else TaskState.DEAD) for i in range(2500)]
    await locked.apply(inserting(*tasks), OWNER, LOCK_UNTIL)

    ids = [t.id for t in tasks] + ["missing-1", "missing-2"]
    states = await locked.task_states(ids)

    assert states == {t.id: t.state for t in tasks}
    assert await locked.task_states([]) == {}


async def test_returned_tasks_are_copies(locked: Store) -> None:
    task = make_task()
    await locked.apply(inserting(task), OWNER, LOCK_UNTIL)
    task.payload["text"] = "changed by the caller"

    loaded = await locked.get_task(task.id)
    assert loaded is not None
    assert loaded.payload["text"] == "héllo ✓"
    loaded.state = TaskState.DEAD
    loaded.result["summary"] = "mutated"

    again = await locked.get_task(task.id)
    assert again is not None
    assert again.state is TaskState.QUEUED
    assert again.result == {"summary": "ok", "n": 3}
