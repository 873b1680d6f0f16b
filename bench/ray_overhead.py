"""What Imperium's durable layer costs on top of Ray: N no-op tasks through the Ray
executor (each submitted, leased, run as a Ray task, recorded in SQLite) against N plain
Ray tasks (``ray.get([noop.remote() for ...])``), on the same local Ray in the same run;
prints one JSON line with both rates and their ratio.

    python bench/ray_overhead.py [--tasks 2000] [--cpus 2] [--concurrency 64]

The Imperium run is timed from the first submission (``submit_many``, committed) until
every outcome is durable (``wait_idle``). The echo agent (built in, so Ray's workers
import it) runs with runtime ray. Ray's workers are warmed up before either run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.runtime import Imperium, tune_gc
from imperium.settings import Settings


def noop() -> None:
    return None


def plain_ray(ray: Any, tasks: int) -> float:
    remote_noop = ray.remote(max_retries=0)(noop)
    ray.get([remote_noop.remote() for _ in range(200)])  # warm the workers
    start = time.perf_counter()
    ray.get([remote_noop.remote() for _ in range(tasks)])
    return tasks / (time.perf_counter() - start)


async def through_imperium(tasks: int, concurrency: int, directory: str) -> float:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}",
        builtin_agents="none",
    )
    im = await Imperium.open(settings)
    await im.start()
    try:
        spec = AgentSpec(id="noop", type="echo", capabilities=frozenset({"noop"}),
                         max_concurrency=concurrency, config={"runtime": "ray"})  # fmt: skip
        await im.agents.register(spec)
        await _run(im, 100)  # the agent loaded, Ray's workers warm
        start = time.perf_counter()
        await _run(im, tasks)
        elapsed = time.perf_counter() - start
        succeeded = await _succeeded(im)
        assert succeeded == tasks + 100, f"{succeeded} of {tasks + 100} tasks succeeded"
        return tasks / elapsed
    finally:
        await im.close()


async def _run(im: Imperium, tasks: int) -> None:
    specs = [TaskSpec(type="noop", payload=i) for i in range(tasks)]
    for i in range(0, tasks, 1000):
        await im.engine.submit_many(specs[i : i + 1000])
    await im.engine.wait_idle()  # every task ended and its outcome committed


async def _succeeded(im: Imperium) -> int:
    return (await im.store.count_tasks_by_state()).get(TaskState.SUCCEEDED, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    import ray

    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False,
             object_store_memory=100 * 1024 * 1024, log_to_driver=False)  # fmt: skip
    tune_gc()
    try:
        ray_rate = plain_ray(ray, args.tasks)
        with tempfile.TemporaryDirectory() as directory:
            imperium_rate = asyncio.run(through_imperium(args.tasks, args.concurrency, directory))
    finally:
        ray.shutdown()
    report = {
        "benchmark": "ray_overhead",
        "tasks": args.tasks,
        "ray_cpus": args.cpus,
        "agent_max_concurrency": args.concurrency,
        "plain_ray_tasks_per_s": round(ray_rate, 1),
        "imperium_ray_tasks_per_s": round(imperium_rate, 1),
        "ratio": round(imperium_rate / ray_rate, 3),
        "overhead_pct": round(100 * (1 - imperium_rate / ray_rate), 1),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
