"""Two Ray nodes on this machine: the session's head (custom resource ``A``) and a second
node started with ``ray start --address=... --resources '{"B": 1}'``; a task needing A
runs on the head, one needing B on the other node (each reports its node id). The B task
is submitted before that node exists: unplaceable until it joins, then placed. And a
server in another process joins a running cluster by IMPERIUM_RAY_ADDRESS."""

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
    env = dict(
        os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}", RAY_USAGE_STATS_ENABLED="0"
    )
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
        "no node of the Ray cluster can satisfy it: it needs B=1 (the largest node has B=0); "
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


JOIN_SCRIPT = """
import asyncio, json, sys
import ray
from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from imperium.settings import Settings

async def main():
    im = await Imperium.open(Settings(database_url=sys.argv[1], builtin_agents="none"))
    await im.start()
    try:
        await im.agents.register(AgentSpec(id="e", type="echo", capabilities=frozenset({"e"}),
                                           config={"runtime": "ray"}))
        task = await im.engine.submit(TaskSpec(type="e", payload=7, resources={"A": 1}))
        done = await asyncio.wait_for(im.engine.wait_for(task.id), 30)
        rows = await im.store.executions_for(task.id)
        print(json.dumps({"state": done.state, "result": done.result,
                          "outcomes": [r.outcome for r in rows],
                          "gcs": ray.get_runtime_context().gcs_address}))
    finally:
        await im.close()

asyncio.run(main())
"""


def test_a_server_joins_the_cluster_ray_address_names(ray_cluster: Any, tmp_path: Path) -> None:
    """IMPERIUM_RAY_ADDRESS set to a running cluster's address: the server joins it (a
    separate process, as `imperium serve` would) and its agent's task runs there."""
    import json

    gcs = ray_cluster.get_runtime_context().gcs_address
    env = dict(os.environ, IMPERIUM_RAY_ADDRESS=gcs, RAY_USAGE_STATS_ENABLED="0")
    database = f"sqlite+aiosqlite:///{tmp_path / 'join.db'}"
    ran = subprocess.run([sys.executable, "-c", JOIN_SCRIPT, database], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report == {"state": "succeeded", "result": 7, "outcomes": ["succeeded"], "gcs": gcs}
