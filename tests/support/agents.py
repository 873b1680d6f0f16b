"""Agents used by tests, loaded by import path (``tests.support.agents:...``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from imperium.agents.base import Agent, Output, TaskContext, TaskFailed, agent


@agent
async def sleepy(ctx: TaskContext) -> Any:
    """Appends "task attempt agent" to ``payload['started']`` (if given) as it starts, so a
    test can wait for an attempt to be under way without polling; sleeps
    ``payload['first_sleep']`` seconds on the first attempt and ``payload['sleep']`` on
    the others (``sleep`` on every attempt without ``first_sleep``); then appends "task
    attempt" to ``payload['log']`` (if given) so a test can count executions, and returns
    the payload."""
    payload = ctx.payload or {}
    _append(payload.get("started"), f"{ctx.task_id} {ctx.attempt} {ctx.agent_id}")
    seconds = payload.get("sleep", 0.0)
    if ctx.attempt == 1:
        seconds = payload.get("first_sleep", seconds)
    await asyncio.sleep(float(seconds))
    _append(payload.get("log"), f"{ctx.task_id} {ctx.attempt}")
    return payload


def _append(path: str | None, line: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{line}\n")
            fh.flush()
            os.fsync(fh.fileno())


@agent
def blocking_double(ctx: TaskContext) -> int:
    """A blocking agent: doubles an integer payload."""
    return int(ctx.payload) * 2


class Flaky(Agent):
    """Fails the first ``config['failures']`` attempts of every task, then succeeds."""

    async def run(self, ctx: TaskContext) -> Any:
        if ctx.attempt <= int(self.config.get("failures", 1)):
            raise TaskFailed(f"planned failure on attempt {ctx.attempt}", kind="planned")
        return {"attempt": ctx.attempt}


@agent
async def always_fails(ctx: TaskContext) -> Any:
    raise RuntimeError("this agent always fails")


@agent
async def fatal(ctx: TaskContext) -> Any:
    raise TaskFailed("bad input, retrying will not help", kind="bad_input", retryable=False)


@agent
async def hangs(ctx: TaskContext) -> Any:
    await asyncio.sleep(3600)


@agent
async def wrong_answers(ctx: TaskContext) -> Any:
    """A deliberately bad agent for the custody protocol: confident and wrong."""
    if ctx.type == "code_review":
        return {"findings": [], "summary": {"by_severity": {}}}
    if ctx.type == "log_analysis":
        return {"category": "none", "evidence": []}
    return "I don't know"


@agent
async def exits(ctx: TaskContext) -> Any:
    raise SystemExit(3)  # agent code that tries to stop the process it runs in


@agent
async def interrupts(ctx: TaskContext) -> Any:
    raise KeyboardInterrupt


class Misconfigured(Agent):
    """Its class imports, so it registers, but its constructor raises, as an agent's own
    does on a bad config: the scheduler cannot load it."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        raise TypeError("__init__() got an unexpected keyword argument 'modle'")

    async def run(self, ctx: TaskContext) -> Any:
        raise AssertionError("never constructed")


class CountingWriter(Agent):
    """Writes a text for ``payload['topic']`` as a model would, reporting 150 tokens and
    a cost of 0.003; appends a line to ``payload['log']`` per run, so a test can count the
    runs; ``payload['fail']`` fails the attempt for good (not retried)."""

    async def run(self, ctx: TaskContext) -> Any:
        payload = ctx.payload or {}
        _append(payload.get("log"), f"{ctx.task_id} {ctx.attempt}")
        if payload.get("fail"):
            raise TaskFailed("asked to fail", kind="asked", retryable=False)
        style = self.config.get("style", "plain")
        return Output({"text": f"{style} text about {payload.get('topic')}"}, tokens=150,
                      cost=0.003)  # fmt: skip
