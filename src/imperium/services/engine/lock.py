"""One scheduler per database: a lock row with an owner and an expiry.

The holder renews it with every group commit; a scheduler that stops renewing loses it after
the TTL. A holder known to be dead (same host, process gone) is taken over at once, so a
restart after ``kill -9`` does not wait out the TTL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from imperium.domain.errors import SchedulerLockError
from imperium.ports import Clock, SchedulerStore

log = logging.getLogger(__name__)


class SchedulerLock:
    def __init__(
        self,
        store: SchedulerStore,
        clock: Clock,
        owner: str,
        ttl: float,
        holder_is_dead: Callable[[str], bool] = lambda _owner: False,
    ) -> None:
        self._store = store
        self._clock = clock
        self.owner = owner
        self._ttl = ttl
        self._holder_is_dead = holder_is_dead
        self.expires_at: float | None = None  # what this holder last wrote into the row

    async def try_acquire(self) -> str | None:
        """Take the lock if free; return None on success or the current holder's name."""
        info = await self._store.read_lock()
        now = self._clock.now()
        if info is None:
            return await self._swap(None, now + self._ttl)
        if info.owner == self.owner or info.expires_at < now or self._holder_is_dead(info.owner):
            if info.owner != self.owner:
                log.info("taking over scheduler lock from %s", info.owner)
            return await self._swap(info.owner, now + self._ttl)
        return f"{info.owner} (lock valid for {info.expires_at - now:.1f}s more)"

    async def _swap(self, expected: str | None, expires_at: float) -> str | None:
        if not await self._store.swap_lock(expected, self.owner, expires_at):
            return "another scheduler (it took the lock just now)"
        self.expires_at = expires_at
        return None

    async def acquire(self, *, wait: bool, poll: float = 1.0) -> None:
        """Take the lock, waiting as a standby if ``wait``; otherwise refuse with a message."""
        while True:
            holder = await self.try_acquire()
            if holder is None:
                return
            if not wait:
                raise SchedulerLockError(
                    f"another scheduler is running on this database: {holder}. Stop it, "
                    "point DATABASE_URL at another database, or start this one with "
                    "--standby to take over when the other stops"
                )
            log.info("standby: scheduler lock held by %s", holder)
            await asyncio.sleep(poll)

    async def release(self) -> None:
        await self._store.release_lock(self.owner)
