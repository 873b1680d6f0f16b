"""``echo``: returns its payload. For smoke tests and benchmarks."""

from __future__ import annotations

from typing import Any

from imperium.agents.base import Agent, TaskContext


class EchoAgent(Agent):
    description = "Returns the task's payload unchanged."

    async def run(self, ctx: TaskContext) -> Any:
        return ctx.payload
