"""Stopping dispatch ends open lease long-polls at once (so `imperium serve` does not
wait for them when it shuts down)."""

from __future__ import annotations

import asyncio

from imperium.services.engine import Engine

from .conftest import agent_spec, job, settle


async def test_stop_dispatching_ends_a_waiting_long_poll(engine: Engine) -> None:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    poll = asyncio.create_task(engine.lease("remote-1", wait=3600))
    await asyncio.sleep(0.05)
    assert not poll.done()
    engine.stop_dispatching()
    # an hour's wait that returns at all was ended by stop_dispatching (60 s: a hang guard)
    assert await asyncio.wait_for(poll, timeout=60) == []
    await engine.submit(job())  # submissions are still accepted and stored
    await settle(engine)
    assert await engine.lease("remote-1") == []  # but nothing is handed out
