"""Agents used by tests, loaded by import path (``tests.support.agents:...``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from imperium.agents.base import Agent, TaskContext, TaskFailed, agent


@agent
async def sleepy(ctx: TaskContext) -> Any:
    """Sleeps ``payload['sleep']`` seconds, appends the task id to ``payload['log']`` (if
    given) so a test can count executions, and returns the payload."""
    payload = ctx.payload or {}
    await asyncio.sleep(float(payload.get("sleep", 0.0)))
    log_path = payload.get("log")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as fh:  # noqa: ASYNC230 - fsync\'d log the test reads
            fh.write(f"{ctx.task_id} {ctx.attempt}\n")
            fh.flush()
            os.fsync(fh.fileno())
    return payload


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
