"""Agents with runtime ray, through the real engine on SQLite and the session's local Ray:
results in the same execution rows, a killed worker or actor is a lost attempt retried,
cancellation stops the Ray task, resources no node has make a task unplaceable."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from imperium.domain.models import AgentSpec, Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import Outcome, TaskState
from imperium.runtime import Imperium

pytestmark = pytest.mark.xdist_group("ray")  # one worker, one Ray (see conftest.py)

AGENTS = "tests.integration.ray.agents"


async def register(im: Imperium, agent_id: str, function: str, **config: Any) -> None:
    spec = AgentSpec(id=agent_id, type=f"{AGENTS}:{function}", capabilities=frozenset({agent_id}),
                     max_concurrency=config.pop("max_concurrency", 2), config=config)  # fmt: skip
    await im.agents.register(spec)


async def submit(im: Imperium, agent_id: str, payload: Any = None, **options: Any) -> Task:
    return await im.engine.submit(TaskSpec(type=agent_id, payload=payload, **options))


async def ended(im: Imperium, task: Task) -> Task:
    return await asyncio.wait_for(im.engine.wait_for(task.id), timeout=30)


async def read_when_written(path: Path, within: float = 20.0) -> str:
    for _ in range(int(within / 0.05)):
        if text := _text(path):
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} was never written")


async def test_noop_tasks_run_on_ray_with_their_executions(im: Imperium) -> None:
    await register(im, "noop", "noop")
    tasks = [await submit(im, "noop", {"n": i}) for i in range(20)]
    done = [await ended(im, t) for t in tasks]
    assert [(t.state, t.result) for t in done] == [
        (TaskState.SUCCEEDED, {"n": i}) for i in range(20)
    ]
    rows = await im.store.executions_for(done[0].id)
    assert [(r.outcome, r.agent_id) for r in rows] == [(Outcome.SUCCEEDED, "noop")]


async def test_a_worker_killed_mid_attempt_is_lost_then_retried(
    im: Imperium, tmp_path: Path
) -> None:
    await register(im, "where", "where")
    pid_file = tmp_path / "pid"
    task = await submit(im, "where", {"pid_file": str(pid_file), "first_sleep": 60})
    pid = int((await read_when_written(pid_file)).split()[0])
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    done = await ended(im, task)
    assert done.state is TaskState.SUCCEEDED
    assert done.result["pid"] != pid
    rows = await im.store.executions_for(task.id)
    assert [r.outcome for r in rows] == [Outcome.LOST, Outcome.SUCCEEDED]
    assert rows[0].error_kind == "ray_worker_died"


async def test_resources_no_node_has_make_the_task_unplaceable(im: Imperium) -> None:
    await register(im, "noop", "noop")
    task = await submit(im, "noop", resources={"gpu": 1, "A": 1})
    for _ in range(100):
        events = await im.store.events_for(task.id)
        reasons = [e.data["reason"] for e in events if e.event_type == "task.unplaceable"]
        if reasons:
            break
        await asyncio.sleep(0.05)
    assert reasons == [
        "no node of the Ray cluster can satisfy it: it needs GPU=1 (the largest node has GPU=0); "
        "it waits until the cluster grows or an agent able to take it changes"
    ]
    assert im.engine.snapshot().task(task.id).state is TaskState.QUEUED  # waiting, not failed
    fits = await ended(im, await submit(im, "noop", "ok", resources={"A": 1, "cpu": 1}))
    assert fits.state is TaskState.SUCCEEDED


async def test_a_stateful_agent_whose_actors_need_what_no_node_has_is_unplaceable(
    im: Imperium,
) -> None:
    await register(im, "gpu-model", "Counter", stateful=True, actor_resources={"gpu": 1})
    task = await submit(im, "gpu-model")
    reason = await _unplaceable_reason(im, task.id)
    assert reason.startswith("no node of the Ray cluster can satisfy it: it needs GPU=1 (the")


async def _unplaceable_reason(im: Imperium, task_id: str) -> str:
    for _ in range(200):
        for event in await im.store.events_for(task_id):
            if event.event_type == "task.unplaceable":
                return str(event.data["reason"])
        await asyncio.sleep(0.05)
    raise AssertionError("the task was never reported unplaceable")


async def test_cancelling_a_running_attempt_stops_the_ray_task(
    im: Imperium, tmp_path: Path
) -> None:
    await register(im, "where", "where")
    pid_file, done_file = tmp_path / "pid", tmp_path / "done"
    payload = {"pid_file": str(pid_file), "sleep": 2, "done_file": str(done_file)}
    task = await submit(im, "where", payload)
    pid = int((await read_when_written(pid_file)).split()[0])
    cancelled = await im.engine.cancel(task.id)
    assert cancelled.state is TaskState.CANCELLED
    await asyncio.sleep(3)  # past the moment the attempt would have written its file
    assert not done_file.exists()
    assert await _gone(pid)  # force-cancelled: Ray killed the worker running it
    rows = await im.store.executions_for(task.id)
    assert [r.outcome for r in rows] == [Outcome.CANCELLED]


async def test_a_timeout_stops_the_ray_task(im: Imperium, tmp_path: Path) -> None:
    await register(im, "where", "where")
    done_file = tmp_path / "done"
    task = await submit(
        im, "where", {"sleep": 2, "done_file": str(done_file)}, timeout=0.5, max_attempts=1
    )
    assert (await ended(im, task)).state is TaskState.TIMED_OUT
    await asyncio.sleep(2.5)
    assert not done_file.exists()


async def test_a_stateful_agent_keeps_state_on_its_actor_and_a_dead_idle_actor_is_replaced(
    im: Imperium,
) -> None:
    await register(im, "counter", "Counter", stateful=True, max_concurrency=1)
    first = await ended(im, await submit(im, "counter"))
    second = await ended(im, await submit(im, "counter"))
    assert (first.result["count"], second.result["count"]) == (1, 2)
    assert first.result["pid"] == second.result["pid"]
    os.kill(second.result["pid"], signal.SIGKILL)
    third = await ended(im, await submit(im, "counter"))
    assert third.state is TaskState.SUCCEEDED
    assert third.result["count"] == 1  # a fresh actor: set up again
    assert third.result["pid"] != second.result["pid"]
    rows = await im.store.executions_for(third.id)
    assert [r.outcome for r in rows] == [Outcome.SUCCEEDED]  # it died idle: not charged


async def test_cancelling_an_actor_attempt_kills_the_actor_and_a_fresh_one_serves_next(
    im: Imperium, tmp_path: Path
) -> None:
    await register(im, "counter", "Counter", stateful=True, max_concurrency=1)
    first = await ended(im, await submit(im, "counter"))
    started = tmp_path / "started"
    slow = await submit(im, "counter", {"sleep": 60, "started_file": str(started)})
    pid = int((await read_when_written(started)).split()[0])
    assert pid == first.result["pid"]  # the same actor, its second attempt
    await im.engine.cancel(slow.id)
    assert await _gone(pid)  # the actor process is killed, not left running the attempt
    after = await ended(im, await submit(im, "counter"))
    assert (after.state, after.result["count"]) == (TaskState.SUCCEEDED, 1)  # a fresh actor
    rows = await im.store.executions_for(after.id)
    assert [r.outcome for r in rows] == [Outcome.SUCCEEDED]  # not sent to the killed one


async def test_an_actor_whose_agent_constructor_raises_fails_the_task_without_retries(
    im: Imperium,
) -> None:
    await register(im, "broken", "BrokenInit", stateful=True, model_dir="/models/x")
    task = await ended(im, await submit(im, "broken", max_attempts=3))
    assert task.state in (TaskState.FAILED, TaskState.DEAD)
    rows = await im.store.executions_for(task.id)
    assert [(r.outcome, r.error_kind) for r in rows] == [
        (Outcome.FAILED, "ray_actor_init_failed")
    ]  # one attempt: the same config would raise again
    assert rows[0].error_message == "ValueError: no model at /models/x"


def _text(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


async def _gone(pid: int) -> bool:
    """Whether the process exits (or is a zombie) within 5 s; without blocking the loop
    the engine runs on."""
    for _ in range(100):
        if _exited(pid):
            return True
        await asyncio.sleep(0.05)
    return False


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:  # a zombie: killed, not reaped yet
            return fh.read().split()[2] == "Z"
    except (ProcessLookupError, FileNotFoundError):  # reaped, maybe between the two looks
        return True
