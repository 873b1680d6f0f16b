"""Learning cycles left ``running`` by a process that is gone are recorded as failed
(reason: scheduler restart) when a scheduler starts, on SQLite and PostgreSQL; the cycles
of a process that still runs are left alone."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.learning import CycleStatus, LearningCycle
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router
from imperium.runtime import Imperium, SystemClock
from imperium.services.learning.service import CycleRunner, Learner
from imperium.settings import Settings

HOST = socket.gethostname()


def running(cycle_id: str, started: float, **metadata: Any) -> LearningCycle:
    return LearningCycle(cycle_id, started, None, (), None, 0, 0, 0, CycleStatus.RUNNING,
                         {"trigger": "manual", **metadata})  # fmt: skip


def make_learner(store: SqlStore, runner: CycleRunner) -> Learner:
    ids = iter(f"new-{n}" for n in range(100))
    router = Router(random.Random(1))
    return Learner(store, SystemClock(), lambda: next(ids), router, PairRates, runner=runner)


def dead_process() -> str:
    """The name a process that has exited (and was reaped) recorded."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{HOST}:{child.pid}:deadbeef"


async def statuses(store: SqlStore) -> dict[str, tuple[CycleStatus, str]]:
    return {
        c.cycle_id: (c.status, str(c.metadata.get("error", "")))
        for c in await store.list_cycles(100)
    }


async def test_cycles_of_processes_that_are_gone_fail_at_start(sql_store: SqlStore) -> None:
    now = time.time()  # just started: the one-hour rule of warm_up would leave them all
    cli_alive, cli_dead = f"{HOST}:1:cafe0001", f"{HOST}:2:cafe0002"
    for cycle in [
        running("from-old-version", now),  # no process recorded
        running("old-scheduler", now, process="other-host:7:aa", scheduler=True),
        running("dead-cli", now, process=cli_dead, scheduler=False),
        running("live-cli", now, process=cli_alive, scheduler=False),
        running("mine", now, process="this:3:bb", scheduler=True),
        replace(running("done", now), status=CycleStatus.COMPLETED, end_time=now + 1),
    ]:
        await sql_store.save_cycle(cycle)
    runner = CycleRunner("this:3:bb", scheduler=True, is_dead=lambda name: name == cli_dead)
    learner = make_learner(sql_store, runner)

    assert await learner.settle_interrupted() == 3

    found = await statuses(sql_store)
    for cycle_id in ("from-old-version", "old-scheduler", "dead-cli"):
        status, error = found[cycle_id]
        assert status is CycleStatus.FAILED
        assert error.startswith("scheduler restart"), error
    assert "other-host:7:aa" in found["old-scheduler"][1]
    assert found["live-cli"][0] is CycleStatus.RUNNING  # `imperium learn` may still run it
    assert found["mine"][0] is CycleStatus.RUNNING
    assert found["done"] == (CycleStatus.COMPLETED, "")
    assert await learner.settle_interrupted() == 0


async def test_a_cycle_records_the_process_that_runs_it(sql_store: SqlStore) -> None:
    learner = make_learner(sql_store, CycleRunner("this:3:bb", scheduler=True))
    cycle = await learner.run_cycle()
    assert cycle.metadata["process"] == "this:3:bb"
    assert cycle.metadata["scheduler"] is True
    [stored] = await sql_store.list_cycles(1)
    assert (stored.metadata["process"], stored.metadata["scheduler"]) == ("this:3:bb", True)


async def test_the_server_settles_them_when_it_starts(database_url: str) -> None:
    """What ``imperium serve`` does at start (and a standby when it takes over)."""
    await upgrade_database(database_url)
    store = await SqlStore.connect(database_url)
    now = time.time()
    await store.save_cycle(running("killed-scheduler", now, process=f"{HOST}:9:x", scheduler=True))
    await store.save_cycle(running("killed-learn", now, process=dead_process(), scheduler=False))
    await store.close()

    settings = Settings(database_url=database_url, poll_interval=0.05, drain_seconds=0.2)
    im = await Imperium.open(settings)
    await im.start()
    try:
        found = await statuses(im.store)
        started = await im.learner.run_cycle()  # the new scheduler's own cycle
    finally:
        await im.close()
    assert found["killed-scheduler"][0] is CycleStatus.FAILED
    assert found["killed-learn"][0] is CycleStatus.FAILED
    assert all(error.startswith("scheduler restart") for _, error in found.values())
    assert started.metadata["process"] == im.engine.lock.owner
