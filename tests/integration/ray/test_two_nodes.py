"""Two Ray nodes on this machine: the session's head (custom resource ``A``) and a second
node started with ``ray start --address=... --resources '{"B": 1}'``; a task needing A
runs on the head, one needing B on the other node (each reports its node id). The B task
is submitted before that node exists: unplaceable until it joins, then placed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imperium.runtime import Imperium
from tests.integration.ray.conftest import ROOT
from tests.integration.ray.test_ray_executor import ended, register, submit

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]


@contextlib.contextmanager
def second_node(ray: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A second node joined to the session's Ray, with resource B; stopped afterwards."""
    ray_cli = Path(sys.executable).with_name("ray")
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0")
    node = subprocess.Popen(
        [str(ray_cli), "start", "--block", "--address", ray.get_runtime_context().gcs_address,
         "--num-cpus", "1", "--resources", '{"B": 1}',
         "--object-store-memory", str(80 * 1024 * 1024), "--disable-usage-stats"],
        env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield node
    finally:
        os.killpg(node.pid, signal.SIGTERM)
        try:
            node.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=10)


async def test_tasks_land_on_the_node_that_has_their_resource(
    ray_cluster: Any, im: Imperium
) -> None:
    ray = ray_cluster
    head = ray.get_runtime_context().get_node_id()
    await register(im, "where", "where", max_concurrency=4)
    waiting = await submit(im, "where", resources={"B": 1, "cpu": 0.5})
    assert await unplaceable_reason(im, waiting.id) == (
        "no node of the Ray cluster can satisfy it: it needs B=1 (the cluster has B=0); "
        "it waits until the cluster grows or an agent able to take it changes"
    )
    with second_node(ray):
        on_b = await ended(im, waiting)  # placed once the node's B is seen (within ~5 s)
        on_a = await ended(im, await submit(im, "where", resources={"A": 1, "cpu": 0.5}))
        alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert on_a.result["node"] == head
    assert on_b.result["node"] != head
    assert on_b.result["node"] in alive


async def unplaceable_reason(im: Imperium, task_id: str) -> str:
    for _ in range(200):
        for event in await im.store.events_for(task_id):
            if event.event_type == "task.unplaceable":
                return str(event.data["reason"])
        await asyncio.sleep(0.05)
    raise AssertionError("the task was never reported unplaceable")
