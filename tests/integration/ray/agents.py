"""Agents the Ray tests register (``tests.integration.ray.agents:...``); they run in Ray's
worker processes, which import this module from the repository's root."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from imperium.agents.base import Agent, TaskContext, agent


@agent
def noop(ctx: TaskContext) -> Any:
    return ctx.payload


@agent
def where(ctx: TaskContext) -> dict[str, Any]:
    """The Ray node and process the attempt ran in; first writes its pid to
    ``payload['pid_file']`` and sleeps ``payload['first_sleep']`` on attempt 1 (so a test
    can kill the process mid-attempt), or sleeps ``payload['sleep']`` then appends to
    ``payload['done_file']`` (which a cancelled attempt never reaches)."""
    import ray

    payload = ctx.payload or {}
    if payload.get("pid_file"):
        _write(payload["pid_file"], f"{os.getpid()}\n")
    if ctx.attempt == 1:
        time.sleep(float(payload.get("first_sleep", 0.0)))
    time.sleep(float(payload.get("sleep", 0.0)))
    if payload.get("done_file"):
        _write(payload["done_file"], f"{ctx.attempt}\n")
    return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


def _write(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


class Counter(Agent):
    """A stateful agent: counts its attempts in its own memory; with ``payload['sleep']``
    it first writes ``payload['started_file']`` and sleeps."""

    async def setup(self) -> None:
        self.count = 0

    async def run(self, ctx: TaskContext) -> dict[str, int]:
        self.count += 1
        payload = ctx.payload or {}
        if payload.get("sleep"):
            _write(payload["started_file"], f"{os.getpid()}\n")
            await asyncio.sleep(float(payload["sleep"]))
        return {"count": self.count, "pid": os.getpid()}


class BrokenInit(Agent):
    """A stateful agent whose constructor raises: its actors die as they are made."""

    def __init__(self, config: dict[str, Any]) -> None:
        raise ValueError(f"no model at {config.get('model_dir')}")
