"""Group commit: every change the scheduler makes goes through one writer.

The scheduler mutates tasks in memory and marks them here; the writer takes everything
marked so far, writes it in one transaction (renewing the scheduler lock in the same
transaction), and only then runs the after-commit actions: acknowledging submissions,
starting attempts, answering lease requests. Nothing outside the process sees a change
before it is durable; throughput comes from many changes per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from imperium.domain.errors import ImperiumError, LockLostError
from imperium.domain.models import Event, Execution, Task
from imperium.ports import Clock, SchedulerStore, TaskSnapshot, WriteBatch

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]


class JournalClosedError(ImperiumError):
    """The journal stopped (lock lost or storage failing); nothing more can be written."""


class Journal:
    def __init__(
        self,
        store: SchedulerStore,
        owner: str,
        clock: Clock,
        lock_ttl: float,
        retry_delays: tuple[float, ...] = (0.05, 0.2, 1.0, 2.0, 5.0),
    ) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._lock_ttl = lock_ttl
        self._retry_delays = retry_delays
        self._new: dict[str, Task] = {}
        self._dirty: dict[str, Task] = {}
        self._executions: list[Execution] = []
        self._events: list[Event] = []
        self._cancel_handled: list[str] = []
        self._after: list[AfterCommit] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._failure: BaseException | None = None
        self._stopping = False
        self._stopped = False
        self.batches = 0
        self.on_fatal: Callable[[BaseException], None] | None = None
        self.on_committed: Callable[[Sequence[Event]], None] | None = None

    # -- marking changes (synchronous, cheap) -------------------------------------------
    def insert(self, task: Task) -> None:
        self._new[task.id] = task
        self._wake.set()

    def update(self, task: Task) -> None:
        if task.id not in self._new:
            self._dirty[task.id] = task
        self._wake.set()

    def execution(self, execution: Execution) -> None:
        self._executions.append(execution)
        self._wake.set()

    def event(self, event: Event) -> None:
        self._events.append(event)
        self._wake.set()

    def cancel_handled(self, task_id: str) -> None:
        self._cancel_handled.append(task_id)
        self._wake.set()

    def after_commit(self, action: AfterCommit) -> None:
        self._after.append(action)
        self._wake.set()

    def commit(self) -> asyncio.Future[None]:
        """A future that resolves once everything marked so far is durable."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            fut.set_exception(JournalClosedError(f"storage write failed: {self._failure}"))
            return fut
        if self._stopped:
            fut.set_exception(JournalClosedError("the scheduler has stopped"))
            return fut
        self._waiters.append(fut)
        self._wake.set()
        return fut

    @property
    def pending(self) -> int:
        return len(self._new) + len(self._dirty) + len(self._events) + len(self._waiters)

    # -- the writer ---------------------------------------------------------------------
    def _take(self) -> tuple[WriteBatch, list[AfterCommit], list[asyncio.Future[None]]]:
        batch = WriteBatch(
            inserts=[(t, TaskSnapshot.of(t)) for t in self._new.values()],
            updates=[TaskSnapshot.of(t) for t in self._dirty.values()],
            executions=self._executions,
            events=self._events,
            cancel_handled=self._cancel_handled,
        )
        after, waiters = self._after, self._waiters
        self._new, self._dirty = {}, {}
        self._executions, self._events, self._cancel_handled = [], [], []
        self._after, self._waiters = [], []
        return batch, after, waiters

    async def flush(self) -> None:
        """Write what is marked now (also renews the lock when nothing is marked)."""
        self._wake.clear()
        batch, after, waiters = self._take()
        try:
            await self._apply_with_retry(batch)
        except BaseException as exc:
            self._fail(exc, waiters)
            raise
        self.batches += 1
        if self.on_committed is not None and batch.events:
            try:
                self.on_committed(batch.events)
            except Exception:
                log.exception("publishing events failed", extra={"action": "publish"})
        for action in after:
            try:
                action()
            except Exception:
                log.exception("after-commit action failed", extra={"action": "after_commit"})
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _apply_with_retry(self, batch: WriteBatch) -> None:
        for delay in (*self._retry_delays, None):
            try:
                await self._store.apply(batch, self._owner, self._clock.now() + self._lock_ttl)
                return
            except (LockLostError, ImperiumError, TypeError, ValueError):
                raise  # not transient: retrying writes the same bad batch again
            except Exception as exc:
                if delay is None or not self._transient(exc):
                    raise
                log.warning(
                    "group commit failed, retrying in %.2fs: %s",
                    delay,
                    exc,
                    extra={"action": "commit_retry", "rows": len(batch)},
                )
                await asyncio.sleep(delay)

    @staticmethod
    def _transient(exc: Exception) -> bool:
        """Connection trouble and lock timeouts are worth retrying; a constraint violation
        or a value the database refuses is not."""
        return not any(
            name in type(exc).__name__ for name in ("Integrity", "DataError", "Programming")
        )

    def _fail(self, exc: BaseException, waiters: list[asyncio.Future[None]]) -> None:
        self._failure = exc
        for fut in [*waiters, *self._waiters]:
            if not fut.done():
                fut.set_exception(JournalClosedError(f"storage write failed: {exc}"))
        self._waiters = []
        if self.on_fatal is not None:
            self.on_fatal(exc)

    async def run(self, renew_every: float) -> None:
        """Flush whenever something is marked, and at least every ``renew_every`` seconds,
        until :meth:`stop`; then flush once more."""
        while self._failure is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(renew_every):  # no extra task, unlike wait_for
                    await self._wake.wait()
            stopping = self._stopping
            try:
                await self.flush()
            except Exception:
                log.exception("group commit failed for good; the scheduler stops")
                return
            if stopping:
                self._stopped = True
                return

    def stop(self) -> None:
        """Ask :meth:`run` to write what is marked and return."""
        self._stopping = True
        self._wake.set()

    @property
    def failed(self) -> BaseException | None:
        return self._failure
