"""Two changes to one agent at once (a PATCH and the autoscaler's resize, say) both stay:
each reads the stored spec and writes it whole, so they must not interleave."""

from __future__ import annotations

import asyncio

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.services.agents import AgentService


class FixedClock:
    def now(self) -> float:
        return 1000.0


class SlowReads(MemoryStore):
    """Reading an agent yields to the event loop, as a real database's read does."""

    async def get_agent(self, agent_id: str) -> AgentSpec | None:
        spec = await super().get_agent(agent_id)
        await asyncio.sleep(0.01)
        return spec


async def test_concurrent_changes_to_one_agent_are_all_kept() -> None:
    store = SlowReads()
    agents = AgentService(store, store, FixedClock(), lambda spec: None)
    await agents.register(AgentSpec(id="a", type="echo", max_concurrency=2))
    await asyncio.gather(
        agents.update("a", {"config": {"model": "large"}}),
        agents.update("a", {"max_concurrency": 6}),
        agents.update("a", {"description": "resized"}),
        agents.set_status("a", AgentStatus.PAUSED),
    )
    stored = await agents.get("a")
    assert (stored.config, stored.max_concurrency, stored.description, stored.status) == (
        {"model": "large"}, 6, "resized", AgentStatus.PAUSED
    )  # fmt: skip
