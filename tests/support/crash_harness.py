"""A scheduler process for the kill -9 test.

``python -m tests.support.crash_harness DB_URL ACK_FILE N LOG_FILE [SLEEP]`` starts
Imperium on DB_URL with a ``sleepy`` agent, prints ``STARTED``, submits N tasks (each
sleeping SLEEP seconds, 0.02 by default) through the engine in small batches and appends
each acknowledged task id to ACK_FILE (fsync'd) right after its submit returned. The test
kills it with SIGKILL mid-load, then starts it again with N=0 to recover and finish the
work.
"""

from __future__ import annotations

import asyncio
import os
import sys

from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from imperium.settings import Settings


async def main(url: str, ack_file: str, count: int, log_file: str, sleep: float) -> None:
    settings = Settings(database_url=url, builtin_agents=False, lock_ttl_seconds=30.0)
    im = await Imperium.open(settings)
    await im.start()
    await im.agents.ensure(
        AgentSpec(
            id="sleepy",
            type="tests.support.agents:sleepy",
            max_concurrency=20,
            capabilities=frozenset({"sleepy"}),
        )
    )
    print("STARTED", flush=True)
    with open(ack_file, "a", encoding="utf-8") as acks:  # noqa: ASYNC230 - fsync\'d log the test reads
        for start in range(0, count, 10):
            specs = [
                TaskSpec(type="sleepy", payload={"sleep": sleep, "log": log_file, "i": start + i})
                for i in range(min(10, count - start))
            ]
            tasks = await im.engine.submit_many(specs)
            acks.write("".join(f"{t.id}\n" for t in tasks))
            acks.flush()
            os.fsync(acks.fileno())
            # Paced (2 s for 400 tasks), so the test's kill lands mid-load even when its
            # process is slow to notice the acks on a loaded machine.
            await asyncio.sleep(0.05)
    await im.engine.wait_idle()
    print("IDLE", flush=True)
    await im.close()


if __name__ == "__main__":
    sleep = float(sys.argv[5]) if len(sys.argv) > 5 else 0.02
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sleep))
