"""Wiring: the one place where settings become objects. Nothing here runs at import time.

``Imperium`` is the embedded application: a store, the engine, the agent registry and the
built-in agents, opened from :class:`Settings`::

    async with Imperium.open(Settings()) as im:
        task = await im.engine.submit(TaskSpec(type="echo", payload={"hi": 1}))
        done = await im.engine.wait_for(task.id)
"""

from __future__ import annotations

import gc
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from types import TracebackType

from imperium.adapters.executors.local import LocalExecutor
from imperium.adapters.jsonvalues import json_problem
from imperium.adapters.storage.keys import SqlKeyStore
from imperium.adapters.storage.migrate import ensure_database, upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.agents.loader import is_local, load_agent_class
from imperium.domain.models import AgentSpec
from imperium.domain.retry import RetryPolicy
from imperium.services.agents import AgentService
from imperium.services.engine import Engine, EngineConfig
from imperium.services.engine.lock import SchedulerLock
from imperium.services.events import EventBus
from imperium.services.keys import KeyService
from imperium.services.submission import SubmissionService
from imperium.settings import Settings

log = logging.getLogger(__name__)

BUILTIN_AGENTS = (
    AgentSpec(
        id="echo",
        type="echo",
        capabilities=frozenset({"echo"}),
        max_concurrency=1000,
        description="Returns its payload; for smoke tests and benchmarks.",
    ),
)


class SystemClock:
    def now(self) -> float:
        return time.time()


def new_id() -> str:
    """A time-ordered 32-hex-digit id (48-bit milliseconds, 80 random bits), so new rows
    land at the end of the primary-key index."""
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{millis:012x}{os.urandom(10).hex()}"


def scheduler_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def tune_gc() -> None:
    """Garbage-collector settings for a long-running scheduler process.

    The scheduler keeps many small objects alive (tasks, heap entries); with CPython's
    default thresholds, full collections keep rescanning them. A larger first-generation
    threshold and freezing what exists after start-up cut that cost (~25% more tasks/s in
    `imperium bench throughput`). Called by `imperium serve` and the benchmarks only: an
    application embedding Imperium keeps its own GC settings.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def check_agent_type(agent_type: str) -> None:
    if is_local(agent_type):
        load_agent_class(agent_type)


@dataclass
class Imperium:
    settings: Settings
    store: SqlStore
    engine: Engine
    agents: AgentService
    submissions: SubmissionService
    events: EventBus
    keys: KeyService

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Imperium:
        if migrate:
            await upgrade_database(settings.database_url)
        store = await SqlStore.connect(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        clock = SystemClock()
        config = EngineConfig(
            lease_seconds=settings.lease_seconds,
            lock_ttl=settings.lock_ttl_seconds,
            poll_interval=settings.poll_interval,
            drain_seconds=settings.drain_seconds,
            retry=RetryPolicy(base=settings.retry_base_seconds, cap=settings.retry_cap_seconds),
        )
        lock = SchedulerLock(
            store, clock, scheduler_owner(), settings.lock_ttl_seconds, holder_is_dead
        )
        events = EventBus()
        engine = Engine(
            store, LocalExecutor(), lock, clock, random.Random(), new_id, config,
            json_problem=json_problem, events=events,
        )  # fmt: skip
        agents = AgentService(store, store, clock, check_agent_type, events=events)
        submissions = SubmissionService(store, clock, new_id)
        keys = KeyService(SqlKeyStore(store.engine), clock)
        return cls(settings, store, engine, agents, submissions, events, keys)

    async def start(self, *, standby: bool = False) -> None:
        if self.settings.builtin_agents:
            for spec in BUILTIN_AGENTS:
                await self.agents.ensure(spec)
        await self.engine.start(standby=standby)
        self.agents.on_change = self.engine.apply_agent

    async def close(self) -> None:
        if self.agents.on_change is not None:
            self.agents.on_change = None
            await self.engine.stop()
        await self.store.close()

    async def __aenter__(self) -> Imperium:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass
class Offline:
    """What a process that does not run the scheduler (the CLI) works with: the store, the
    agent registry and submissions; a running scheduler picks their changes up by polling."""

    store: SqlStore
    agents: AgentService
    submissions: SubmissionService
    keys: KeyService

    @classmethod
    async def open(cls, settings: Settings) -> Offline:
        await ensure_database(settings.database_url)
        store = await SqlStore.connect(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        clock = SystemClock()
        agents = AgentService(store, store, clock, check_agent_type)
        keys = KeyService(SqlKeyStore(store.engine), clock)
        return cls(store, agents, SubmissionService(store, clock, new_id), keys)

    async def close(self) -> None:
        await self.store.close()
