"""Agents that use the knowledge base (``tests.support.knowledge_agents:...``)."""

from __future__ import annotations

from typing import Any

from imperium.agents.base import TaskContext, TaskFailed, agent


@agent
async def researcher(ctx: TaskContext) -> Any:
    """Searches ``payload['query']`` and returns the URLs found; fails (not retried) when
    ``payload['fail']`` is set, after searching."""
    hits = await ctx.knowledge.search(ctx.payload["query"], 3)
    if ctx.payload.get("fail"):
        raise TaskFailed("told to fail", retryable=False)
    return {"urls": [h.url for h in hits]}


@agent
async def plain(ctx: TaskContext) -> Any:
    """Succeeds or fails (``payload['fail']``) without searching."""
    if ctx.payload.get("fail"):
        raise TaskFailed("told to fail", retryable=False)
    return {}
