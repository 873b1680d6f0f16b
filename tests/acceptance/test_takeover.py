"""What a scheduler taking over from a dead one finds, in real processes: a primary that
was killed but not yet reaped (a zombie) is gone at once, not after the lock's TTL; a
learning cycle the dead one left ``running`` is recorded as failed."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from imperium.adapters.processes import process_state
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.learning import CycleStatus, LearningCycle
from tests.acceptance.conftest import Server

ServerFactory = Callable[..., Server]

pytestmark = pytest.mark.slow

LONG_TTL = "600"  # seconds: a standby that waited the lock out would time the test out


def wait_for_line(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in log.read_text(), log.read_text()


def test_a_standby_takes_over_at_once_from_a_zombie(
    database_url: str, server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPERIUM_LOCK_TTL_SECONDS", LONG_TTL)
    first = server_factory(database_url)
    first.wait_ready()
    standby = server_factory(database_url, "--standby")
    wait_for_line(standby.log, "standby: scheduler lock held by")
    first.proc.kill()
    # dead but not reaped (this test is its parent and does not wait yet): a zombie
    os.waitid(os.P_PID, first.proc.pid, os.WEXITED | os.WNOWAIT)
    assert process_state(first.proc.pid) in ("Z", None)  # None: no /proc here

    standby.wait_ready(timeout=60)  # not after the lock's 600 s

    assert "taking over scheduler lock" in standby.log.read_text()
    first.proc.wait()


async def _record_running_cycle(database_url: str, cycle_id: str) -> str:
    """A cycle the running scheduler has begun (its row, as the learner writes it)."""
    store = await SqlStore.connect(database_url)
    try:
        lock = await store.read_lock()
        assert lock is not None
        metadata = {"trigger": "manual", "process": lock.owner, "scheduler": True}
        await store.save_cycle(
            LearningCycle(
                cycle_id, time.time(), None, (), None, 0, 0, 0, CycleStatus.RUNNING, metadata
            )
        )
        return lock.owner
    finally:
        await store.close()


def test_a_cycle_of_a_killed_scheduler_fails_when_the_next_starts(
    database_url: str, server_factory: ServerFactory
) -> None:
    first = server_factory(database_url)
    first.wait_ready()
    owner = asyncio.run(_record_running_cycle(database_url, "cycle-of-the-killed"))
    first.proc.kill()
    first.proc.wait()

    second = server_factory(database_url)
    second.wait_ready(timeout=60)

    cycles = httpx.get(f"{second.url}/api/imperium/cycles", timeout=30).json()["cycles"]
    [cycle] = [c for c in cycles if c["cycle_id"] == "cycle-of-the-killed"]
    assert cycle["status"] == "failed"
    assert cycle["end_time"] is not None
    error = cycle["metadata"]["error"]
    assert error == f"scheduler restart: the scheduler running it ({owner}) stopped"
