"""End-to-end throughput: N echo tasks submitted, dispatched, executed and recorded durably.

The clock starts before the first submission and stops when the last task's outcome is
committed. Submissions go through ``Engine.submit_many`` in batches from several concurrent
submitters; every batch returns only after its commit (no early acknowledgement).
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.runtime import Imperium
from imperium.settings import Settings

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ThroughputConfig:
    tasks: int = 20_000
    database_url: str | None = None
    concurrency: int = 4_000
    batch: int = 1_000
    submitters: int = 4
    sqlite_synchronous: str = "NORMAL"


def _database(url: str | None, tmp: str) -> str:
    return url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


def _dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


async def _open(url: str, synchronous: str, concurrency: int) -> Imperium:
    settings = Settings(database_url=url, builtin_agents=False, sqlite_synchronous=synchronous)  # type: ignore[arg-type]
    im = await Imperium.open(settings)
    await im.start()
    spec = AgentSpec(
        id="bench-echo", type="echo", capabilities=frozenset({"bench"}), max_concurrency=concurrency
    )
    existing = await im.agents.ensure(spec)
    if existing.status is not AgentStatus.ACTIVE or existing.max_concurrency != concurrency:
        if existing.status is AgentStatus.PAUSED:
            await im.agents.set_status(spec.id, AgentStatus.ACTIVE)
        await im.agents.update(spec.id, {"max_concurrency": concurrency})
    return im


async def _submit_all(im: Imperium, specs: list[TaskSpec], cfg: ThroughputConfig) -> list[str]:
    chunks = [specs[i : i + cfg.batch] for i in range(0, len(specs), cfg.batch)]
    ids: list[str] = []

    async def submitter(worker: int) -> None:
        for chunk in chunks[worker :: cfg.submitters]:
            ids.extend(t.id for t in await im.engine.submit_many(chunk))

    await asyncio.gather(*(submitter(w) for w in range(cfg.submitters)))
    return ids


async def _report_progress(im: Imperium, total: int, progress: Progress | None) -> None:
    while progress is not None:
        progress(total - im.engine.snapshot().active, total)
        await asyncio.sleep(0.1)


async def run_throughput(cfg: ThroughputConfig, progress: Progress | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = _database(cfg.database_url, tmp)
        im = await _open(url, cfg.sqlite_synchronous, cfg.concurrency)
        try:
            specs = [TaskSpec(type="bench", payload={"n": i}) for i in range(cfg.tasks)]
            batches_before = im.engine.journal.batches
            reporter = asyncio.create_task(_report_progress(im, cfg.tasks, progress))
            started = time.perf_counter()
            cpu_started, loop_cpu_started = time.process_time(), time.thread_time()
            ids = await _submit_all(im, specs, cfg)
            await im.engine.wait_idle()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            loop_cpu = time.thread_time() - loop_cpu_started
            reporter.cancel()
            states = await im.store.task_states(ids)
            succeeded = sum(1 for s in states.values() if s is TaskState.SUCCEEDED)
            commits = im.engine.journal.batches - batches_before
        finally:
            await im.close()
    return {
        "benchmark": "throughput",
        "tasks": cfg.tasks,
        "succeeded": succeeded,
        "seconds": round(seconds, 3),
        "tasks_per_s": round(cfg.tasks / seconds, 1),
        # CPU per task, steadier than tasks/s on a shared machine: the whole process
        # (event loop, SQLite driver threads; not a PostgreSQL server) and the event-loop
        # thread alone
        "cpu_us_per_task": round(cpu / cfg.tasks * 1e6, 1),
        "loop_cpu_us_per_task": round(loop_cpu / cfg.tasks * 1e6, 1),
        "database": _dialect(url),
        "sqlite_synchronous": cfg.sqlite_synchronous if _dialect(url) == "sqlite" else None,
        "group_commits": commits,
        "agent_concurrency": cfg.concurrency,
        "submit_batch": cfg.batch,
        "submitters": cfg.submitters,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def _max_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run_scheduling(
    queued: int, measured: int, database_url: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Cost per task with ``queued`` tasks already waiting in the same ready queue.

    The agent is paused while ``queued`` background tasks and then ``measured`` critical
    tasks are submitted (timing the second submission); then it is resumed and the time
    until the measured tasks have all completed durably is taken. Strict priority runs the
    critical tasks first, so the queued backlog stays in the heap the whole time.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = _database(database_url, tmp)
        im = await _open(url, "NORMAL", 4_000)
        try:
            await im.agents.set_status("bench-echo", AgentStatus.PAUSED)
            backlog = [TaskSpec(type="bench", priority=PriorityLevel.BACKGROUND)] * queued
            cfg = ThroughputConfig(batch=5_000, submitters=2)
            done = 0
            for i in range(0, queued, 50_000):
                await _submit_all(im, backlog[i : i + 50_000], cfg)
                done += min(50_000, queued - i)
                if progress:
                    progress(done, queued + measured)
            specs = [TaskSpec(type="bench", priority=PriorityLevel.CRITICAL)] * measured
            t0 = time.perf_counter()
            ids = await _submit_all(im, specs, ThroughputConfig())
            submit_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            await im.agents.set_status("bench-echo", AgentStatus.ACTIVE)
            waiters = [im.engine.wait_for(i) for i in ids]
            await asyncio.gather(*waiters)
            run_s = time.perf_counter() - t1
            if progress:
                progress(queued + measured, queued + measured)
            still_queued = im.engine.snapshot().ready
        finally:
            await im.engine.stop(drain=0)
            await im.store.close()
    return {
        "benchmark": "scheduling",
        "queued": queued,
        "measured_tasks": measured,
        "backlog_still_queued": still_queued,
        "submit_us_per_task": round(submit_s / measured * 1e6, 2),
        # once the critical tasks are all started, free slots take backlog tasks too
        "peak_rss_mb": _max_rss_mb(),
        "run_us_per_executed_task": round(run_s / (measured + queued - still_queued) * 1e6, 2),
        "database": _dialect(url),
    }


async def run_commit_latency(tasks: int = 400, database_url: str | None = None) -> dict[str, Any]:
    """One task at a time, each submitted, run and recorded before the next: every group
    commit holds one change, so this measures what a commit costs however little it holds
    (what a lone HTTP submission waits for). The submission's latency is the commit of its
    insert; each task takes at least two commits (its insert, usually already leased, then
    its outcome)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = _database(database_url, tmp)
        im = await _open(url, "NORMAL", 100)
        try:
            latencies: list[float] = []
            commits_before = im.engine.journal.batches
            cpu_started, loop_cpu_started = time.process_time(), time.thread_time()
            for i in range(tasks):
                started = time.perf_counter()
                [task] = await im.engine.submit_many([TaskSpec(type="bench", payload={"n": i})])
                latencies.append(time.perf_counter() - started)
                await im.engine.wait_for(task.id)
            cpu = time.process_time() - cpu_started
            loop_cpu = time.thread_time() - loop_cpu_started
            commits = im.engine.journal.batches - commits_before
        finally:
            await im.close()
    latencies.sort()
    return {
        "benchmark": "commit_latency",
        "tasks": tasks,
        "group_commits": commits,
        "submit_p50_ms": round(latencies[len(latencies) // 2] * 1e3, 3),
        "submit_p90_ms": round(latencies[int(len(latencies) * 0.9)] * 1e3, 3),
        "cpu_ms_per_commit": round(cpu / max(commits, 1) * 1e3, 3),
        "loop_cpu_ms_per_commit": round(loop_cpu / max(commits, 1) * 1e3, 3),
        "database": _dialect(url),
    }
