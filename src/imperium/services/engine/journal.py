"""Group commit: every change the scheduler makes goes through one writer.

The scheduler mutates tasks in memory and marks them here; the writer takes everything
marked so far, writes it in one transaction (renewing the scheduler lock in the same
transaction), and only then runs the after-commit actions: acknowledging submissions,
starting attempts, answering lease requests. Nothing outside the process sees a change
before it is durable; throughput comes from many changes per transaction.

When the database stops taking writes (unreachable, disk full), the writer keeps the batch
and retries it with capped backoff, without limit unless ``give_up_after`` says otherwise.
After ``outage_after`` seconds of failing it declares an *outage*: the scheduler pauses
dispatch and refuses new work at once (:class:`StorageUnavailableError`) instead of making
callers wait, until a write gets through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence

from imperium.domain.errors import ImperiumError, LockLostError
from imperium.domain.models import Event, Execution, Task
from imperium.domain.teams import TeamRun
from imperium.ports import Clock, SchedulerStore, TaskSnapshot, WriteBatch

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]


class JournalClosedError(ImperiumError):
    """The journal stopped (lock lost or storage failing); nothing more can be written."""


class StorageUnavailableError(JournalClosedError):
    """The database is taking no writes right now (unreachable, disk full). The scheduler
    keeps retrying and recovers on its own when it comes back: try again shortly."""


_PERMANENT = ("Integrity", "DataError", "Programming")  # the statement itself is refused
_STORAGE = frozenset(
    {
        "DBAPIError",  # SQLAlchemy's wrapper of any driver error
        "OperationalError",
        "InterfaceError",
        "DatabaseError",
        "PostgresError",
        "DisconnectionError",
        "TimeoutError",
    }
)


def is_storage_failure(exc: BaseException) -> bool:
    """The database did not take a statement for reasons of its own (unreachable, shutting
    down, disk full, connection lost): worth retrying. A constraint violation or a
    statement the database refuses is not, nor is a value it cannot hold (a NUL character
    in PostgreSQL text: asyncpg's ``CharacterNotInRepertoireError``, a ``DataError``, which
    SQLAlchemy wraps in a plain ``DBAPIError``, so the causes are looked at too). Told by
    class names, so this layer imports no driver."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    if any(_refused(cause) for cause in _causes(exc)):
        return False
    return not _STORAGE.isdisjoint(c.__name__ for c in type(exc).__mro__)


def is_data_error(exc: BaseException) -> bool:
    """The database refused a value the request carried (a NUL character, a number out of
    range, text it cannot encode): the caller's to correct, not an outage."""
    return any(
        part in cls.__name__
        for cause in _causes(exc)
        for cls in type(cause).__mro__
        for part in _DATA
    )


_DATA = ("DataError", "CharacterNotInRepertoire", "UntranslatableCharacter")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, the driver's error SQLAlchemy wraps (``orig``) and their causes."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(found) < 10:
        cause = pending.pop(0)
        if cause is None or any(cause is seen for seen in found):
            continue
        found.append(cause)
        orig = getattr(cause, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None,
                    cause.__cause__, cause.__context__]  # fmt: skip
    return found


def _refused(exc: BaseException) -> bool:
    return any(part in cls.__name__ for cls in type(exc).__mro__ for part in _PERMANENT)


def describe_storage_error(exc: BaseException) -> str:
    """A cause a person can act on: 'disk full: …', 'database unreachable: …'."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = f"{type(exc).__name__} {exc}".lower()
    if "disk is full" in lowered or "no space left" in lowered or "disk full" in lowered:
        return f"disk full: {text}"
    return f"database unreachable: {text}"


class Journal:
    def __init__(
        self,
        store: SchedulerStore,
        owner: str,
        clock: Clock,
        lock_ttl: float,
        retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5),
        retry_cap: float = 1.0,
        outage_after: float = 0.5,
        give_up_after: float | None = None,
    ) -> None:
        """``retry_delays`` then ``retry_cap`` seconds between tries of a failing write;
        an outage is declared once writes fail for ``outage_after`` seconds; the writer
        gives up (the old fail-fast behaviour, for a supervisor to restart the process)
        after ``give_up_after`` seconds of failing, never when None."""
        self._store = store
        self._owner = owner
        self._clock = clock
        self._lock_ttl = lock_ttl
        self._retry_delays = retry_delays
        self._retry_cap = retry_cap
        self._outage_after = outage_after
        self._give_up_after = give_up_after
        self.lock_expires_at: float | None = None  # what the lock row holds, as last written
        self._failing_since: float | None = None  # monotonic; None while writes succeed
        self._cause: str | None = None
        self._outage: str | None = None
        self._new: dict[str, Task] = {}
        self._dirty: dict[str, Task] = {}
        self._executions: list[Execution] = []
        self._events: list[Event] = []
        self._cancel_handled: list[str] = []
        self._teams: list[TeamRun] = []
        self._after: list[AfterCommit] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._failure: BaseException | None = None
        self._stopping = False
        self._stopped = False
        self.batches = 0
        self.on_fatal: Callable[[BaseException], None] | None = None
        self.on_committed: Callable[[Sequence[Event]], None] | None = None
        self.on_outage: Callable[[str], None] | None = None
        self.on_recovered: Callable[[str, float], None] | None = None  # cause, seconds

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

    def team(self, run: TeamRun) -> None:
        """A team's row, written in the same batch as its member tasks (marked before)."""
        self._teams.append(run)
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
    def outage(self) -> str | None:
        """Why writes have been failing for a while ('database unreachable: …'), or None."""
        return self._outage

    def check_writable(self) -> None:
        """Refuse new work at once during an outage, rather than keep a caller waiting."""
        if self._outage is not None:
            raise StorageUnavailableError(
                f"{self._outage}; the server keeps retrying and takes work again as soon as "
                "the database does. Try again shortly"
            )

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
            teams=self._teams,
        )
        after, waiters = self._after, self._waiters
        self._new, self._dirty = {}, {}
        self._executions, self._events, self._cancel_handled, self._teams = [], [], [], []
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
        delays = iter(self._retry_delays)
        tries = 0
        tried: float | None = None  # the lock expiry the last try wrote, had it committed
        while True:
            try:
                if tried is None or not await self._landed(tried):
                    tried = self._next_expiry()
                    await self._store.apply(batch, self._owner, tried)
                self.lock_expires_at = tried
            except (LockLostError, ImperiumError, TypeError, ValueError):
                raise  # not transient: retrying writes the same bad batch again
            except Exception as exc:
                tries += 1
                if not is_storage_failure(exc):
                    if tries > len(self._retry_delays) or _refused(exc):
                        raise  # not the database's trouble: a few tries, then it is fatal
                    failing_for = 0.0
                else:
                    failing_for = self._note_failure(exc)
                    if self._give_up(failing_for, tries):
                        raise
                delay = next(delays, self._retry_cap)
                if tries <= len(self._retry_delays) + 1 or tries % 30 == 0:
                    log.warning(
                        "group commit failed (%.1fs so far), retrying in %.2fs: %s",
                        failing_for,
                        delay,
                        exc,
                        extra={"action": "commit_retry", "rows": len(batch)},
                    )
                await asyncio.sleep(delay)
            else:
                if self._failing_since is not None:
                    self._writes_back()
                return

    def _next_expiry(self) -> float:
        """The lock expiry a try writes: later than any value the row may hold already, so
        that finding it there proves the try committed (see :meth:`_landed`)."""
        expiry = self._clock.now() + self._lock_ttl
        if self.lock_expires_at is not None and expiry <= self.lock_expires_at:
            expiry = math.nextafter(self.lock_expires_at, math.inf)  # a clock that stood still
        return expiry

    async def _landed(self, expiry: float) -> bool:
        """Whether a failed try committed after all. A connection lost during COMMIT
        loses the answer, not always the transaction; writing the batch again would then
        record it twice. Each try writes its own lock expiry, which nothing else writes."""
        lock = await self._store.read_lock()
        return lock is not None and lock.owner == self._owner and lock.expires_at == expiry

    def _note_failure(self, exc: Exception) -> float:
        """Remember that writes fail; declare the outage once it lasts. Returns how long
        writes have been failing."""
        now = self._clock.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._cause = describe_storage_error(exc)
        failing_for = now - self._failing_since
        if failing_for >= self._outage_after and self._outage != self._cause:
            first = self._outage is None
            self._outage = self._cause
            log.error(
                "database writes failing: %s; dispatch paused, new work refused (503), "
                "retrying every %.1fs%s",
                self._cause,
                self._retry_cap,
                "" if self._give_up_after is None else f" for up to {self._give_up_after:g}s",
                extra={"action": "storage_outage"},
            )
            if first and self.on_outage is not None:
                self.on_outage(self._cause)
        return failing_for

    def _give_up(self, failing_for: float, tries: int) -> bool:
        if self._stopping and tries > len(self._retry_delays):
            return True  # shutting down: what is not written now runs again after restart
        return self._give_up_after is not None and failing_for >= self._give_up_after

    def _writes_back(self) -> None:
        assert self._failing_since is not None
        seconds = self._clock.monotonic() - self._failing_since
        cause, declared = self._cause or "", self._outage is not None
        self._failing_since = self._cause = self._outage = None
        log.info(
            "database writes work again after %.1fs (%s)",
            seconds,
            cause,
            extra={"action": "storage_recovered"},
        )
        if declared and self.on_recovered is not None:
            self.on_recovered(cause, seconds)

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
            # one more turn of the loop first: callbacks already due (dispatch, above all)
            # then land in this batch, so a task started as soon as it is submitted is
            # written once, already running, instead of inserted and then updated
            await asyncio.sleep(0)
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
