"""The journal's group commit: coalescing, durability before after-commit actions, and
failure handling."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import LockLostError
from imperium.domain.models import Event, Execution, Task
from imperium.domain.states import Outcome, TaskState
from imperium.ports import WriteBatch
from imperium.services.engine.journal import (
    Journal,
    JournalClosedError,
    StorageUnavailableError,
    describe_storage_error,
)

from .conftest import LOCK_TTL, FakeClock, eventually

OWNER = "owner-x"


class RecordingStore(MemoryStore):
    """Keeps every batch; ``failures`` makes the next calls to ``apply`` raise."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[WriteBatch] = []
        self.log: list[str] = []
        self.failures: list[BaseException] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        self.log.append("apply")
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        await super().apply(batch, owner, lock_expires_at)
        self.batches.append(batch)


@pytest.fixture
async def store(clock: FakeClock) -> RecordingStore:
    store = RecordingStore()
    assert await store.swap_lock(None, OWNER, clock.now() + LOCK_TTL)
    return store


def journal_on(store: RecordingStore, clock: FakeClock, **kwargs: object) -> Journal:
    journal = Journal(store, OWNER, clock, LOCK_TTL, **kwargs)  # type: ignore[arg-type]
    journal.lock_expires_at = clock.now() + LOCK_TTL  # what the store fixture's lock holds
    return journal


def new_task(task_id: str = "t1") -> Task:
    return Task(id=task_id, type="job", created_at=0.0)


async def test_a_task_inserted_and_updated_in_one_batch_is_written_once(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    task = new_task()
    journal.insert(task)
    task.state, task.attempts = TaskState.RUNNING, 1
    journal.update(task)
    journal.update(task)
    await journal.flush()

    [batch] = store.batches
    assert [snap.state for _, snap in batch.inserts] == [TaskState.RUNNING]
    assert batch.updates == []
    saved = await store.get_task("t1")
    assert saved is not None
    assert (saved.state, saved.attempts) == (TaskState.RUNNING, 1)


async def test_updates_of_one_task_coalesce_into_its_latest_snapshot(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    task = new_task()
    journal.insert(task)
    await journal.flush()
    for attempts in (1, 2, 3):
        task.attempts = attempts
        journal.update(task)
    await journal.flush()
    assert [snap.attempts for snap in store.batches[1].updates] == [3]


async def test_a_snapshot_is_taken_when_the_batch_is_taken(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    task = new_task()
    journal.insert(task)
    store.gate.clear()
    flushing = asyncio.create_task(journal.flush())
    await asyncio.sleep(0)
    task.state = TaskState.RUNNING  # changed while the batch is being written
    store.gate.set()
    await flushing
    saved = await store.get_task("t1")
    assert saved is not None
    assert saved.state is TaskState.QUEUED


async def test_after_commit_actions_run_only_after_apply(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    journal.insert(new_task())
    journal.after_commit(lambda: store.log.append("after"))
    store.gate.clear()
    flushing = asyncio.create_task(journal.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    assert store.log == ["apply"]
    store.gate.set()
    await flushing
    assert store.log == ["apply", "after"]


async def test_a_failing_after_commit_action_does_not_stop_the_others(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    journal.after_commit(broken)
    journal.after_commit(lambda: ran.append("second"))
    await journal.flush()
    assert ran == ["second"]


async def test_the_writer_commits_everything_marked_in_one_batch(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock)
    await journal.flush()
    writer = asyncio.create_task(journal.run(renew_every=60))
    task = new_task()
    journal.insert(task)
    journal.execution(
        Execution("t1", 1, "agent-1", "job", 1.0, 0.0, 1.0, Outcome.SUCCEEDED, lease_token=1)
    )
    journal.event(Event("task.queued", 0.0, "t1"))
    commits = [journal.commit(), journal.commit()]
    await asyncio.gather(*commits)
    assert len(store.batches) == 2
    batch = store.batches[1]
    assert (len(batch.inserts), len(batch.executions), len(batch.events)) == (1, 1, 1)
    assert journal.batches == 2

    journal.stop()
    await asyncio.wait_for(writer, timeout=1)


async def test_every_commit_renews_the_lock(store: RecordingStore, clock: FakeClock) -> None:
    journal = journal_on(store, clock)
    clock.advance(100)
    await journal.flush()  # nothing marked: still renews
    lock = await store.read_lock()
    assert lock is not None
    assert lock.expires_at == clock.now() + LOCK_TTL


async def test_a_failing_apply_rejects_the_commit_futures(
    store: RecordingStore, clock: FakeClock
) -> None:
    fatal: list[BaseException] = []
    journal = journal_on(store, clock, give_up_after=0.0)  # the fail-fast setting
    journal.on_fatal = fatal.append
    writer = asyncio.create_task(journal.run(renew_every=60))
    ran: list[str] = []
    error = OSError("disk full")
    store.failures.append(error)

    journal.insert(new_task())
    journal.after_commit(lambda: ran.append("after"))
    waiting = journal.commit()
    with pytest.raises(JournalClosedError, match="disk full"):
        await waiting
    await asyncio.wait_for(writer, timeout=1)  # the writer gives up

    assert journal.failed is error
    assert fatal == [error]
    assert ran == []
    assert await store.get_task("t1") is None
    with pytest.raises(JournalClosedError):
        await journal.commit()


async def test_a_transient_failure_is_retried(store: RecordingStore, clock: FakeClock) -> None:
    journal = journal_on(store, clock, retry_delays=(0.0, 0.0))
    store.failures.extend([OSError("busy"), OSError("busy")])
    journal.insert(new_task())
    await journal.flush()
    assert store.log == ["apply"] * 3
    assert await store.get_task("t1") is not None
    assert journal.failed is None


async def test_a_lost_lock_is_not_retried(store: RecordingStore, clock: FakeClock) -> None:
    journal = journal_on(store, clock, retry_delays=(0.0, 0.0))
    await store.swap_lock(OWNER, "owner-y", clock.now() + LOCK_TTL)
    journal.insert(new_task())
    waiting = journal.commit()
    with pytest.raises(LockLostError):
        await journal.flush()
    assert store.log == ["apply"]
    assert isinstance(journal.failed, LockLostError)
    with pytest.raises(JournalClosedError):
        await waiting


async def test_an_outage_is_ridden_out_and_declared_once_it_lasts(
    store: RecordingStore, clock: FakeClock
) -> None:
    """Writes fail for a while: the writer keeps the batch and retries without limit; once
    the failures last ``outage_after`` seconds, new work is refused at once with the cause;
    when a write gets through, the waiting commit resolves and the outage is over."""
    seen: list[object] = []
    journal = journal_on(store, clock, retry_delays=(0.0,), retry_cap=0.001, outage_after=5.0)
    journal.on_outage = seen.append
    journal.on_recovered = lambda cause, seconds: seen.append(("back", cause, seconds))
    store.failures.extend(OSError("No space left on device") for _ in range(1000))
    journal.insert(new_task())
    writer = asyncio.create_task(journal.run(renew_every=60))
    waiting = journal.commit()
    await eventually(lambda: len(store.failures) <= 990)
    assert journal.outage is None  # failing, but not for long yet: callers still wait
    journal.check_writable()
    clock.advance(5.0)
    await eventually(lambda: journal.outage is not None)
    assert journal.outage == "disk full: No space left on device"
    with pytest.raises(StorageUnavailableError, match="disk full"):
        journal.check_writable()
    assert not waiting.done()
    assert journal.failed is None
    clock.advance(2.0)
    store.failures.clear()  # space freed
    await asyncio.wait_for(waiting, timeout=5)
    assert await store.get_task("t1") is not None
    assert journal.outage is None
    journal.check_writable()
    assert seen == ["disk full: No space left on device", ("back", seen[0], 7.0)]
    journal.stop()
    await asyncio.wait_for(writer, timeout=5)


async def test_the_fail_fast_setting_gives_up_after_its_limit(
    store: RecordingStore, clock: FakeClock
) -> None:
    journal = journal_on(store, clock, retry_delays=(0.0,), retry_cap=0.001, give_up_after=3.0)
    store.failures.extend(ConnectionRefusedError("refused") for _ in range(100_000))
    journal.insert(new_task())
    writer = asyncio.create_task(journal.run(renew_every=60))
    waiting = journal.commit()
    await asyncio.sleep(0.05)
    assert not waiting.done()
    clock.advance(3.0)
    with pytest.raises(JournalClosedError, match="refused"):
        await asyncio.wait_for(waiting, timeout=5)
    await asyncio.wait_for(writer, timeout=5)
    assert isinstance(journal.failed, ConnectionRefusedError)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (OSError(28, "No space left on device"), "disk full: [Errno 28] No space left on device"),
        (RuntimeError("database or disk is full"), "disk full: database or disk is full"),
        (
            ConnectionRefusedError("connect call failed"),
            "database unreachable: connect call failed",
        ),
        (OSError(), "database unreachable: OSError"),
    ],
)
def test_storage_errors_are_described_by_their_cause(error: Exception, cause: str) -> None:
    assert describe_storage_error(error) == cause


class LostAnswerStore(RecordingStore):
    """The first apply commits, then its connection drops before the answer arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_answer = True

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        await super().apply(batch, owner, lock_expires_at)
        if self.lose_answer:
            self.lose_answer = False
            raise ConnectionResetError("connection lost during COMMIT")


async def test_a_batch_whose_commit_answer_was_lost_is_not_written_twice(
    clock: FakeClock,
) -> None:
    store = LostAnswerStore()
    assert await store.swap_lock(None, OWNER, clock.now() + LOCK_TTL)
    journal = journal_on(store, clock, retry_delays=(0.0,))
    journal.insert(new_task())
    journal.execution(
        Execution("t1", 1, "agent-1", "job", 1.0, 0.0, 1.0, Outcome.SUCCEEDED, lease_token=1)
    )
    # the clock stands still, yet each try writes its own expiry; without the check the
    # retry would be a ConflictError (t1 stored twice)
    await journal.flush()
    assert len(store.batches) == 1
    assert len(await store.executions_for("t1")) == 1
    assert journal.failed is None
