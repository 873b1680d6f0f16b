"""Contract of ``AgentStore`` (``agent_metrics`` and ``log_event``) for every store."""

from __future__ import annotations

import dataclasses

import pytest

from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.states import AgentStatus
from imperium.ports import Store
from tests.integration.storage.storage_factories import T0, assert_same, make_agent, make_event


async def test_agent_round_trips(store: Store) -> None:
    agent = make_agent()
    await store.insert_agent(agent)

    stored = await store.get_agent(agent.id)

    assert stored is not None
    assert_same(stored, agent)
    assert await store.get_agent("nobody") is None


async def test_registering_an_id_twice_is_a_conflict(store: Store) -> None:
    await store.insert_agent(make_agent("agent-a"))

    with pytest.raises(ConflictError) as caught:
        await store.insert_agent(make_agent("agent-a", type="other"))

    assert str(caught.value) == "agent 'agent-a' already exists; choose another id or update it"
    stored = await store.get_agent("agent-a")
    assert stored is not None
    assert stored.type == "llm"


async def test_list_and_load_agents_in_id_order(store: Store) -> None:
    for agent_id in ("charlie", "alpha", "bravo"):
        await store.insert_agent(make_agent(agent_id))

    assert [a.id for a in await store.list_agents()] == ["alpha", "bravo", "charlie"]
    assert [a.id for a in await store.load_agents()] == ["alpha", "bravo", "charlie"]


async def test_update_agent_replaces_the_spec_but_keeps_created_at(store: Store) -> None:
    agent = make_agent()
    await store.insert_agent(agent)
    changed = dataclasses.replace(
        agent,
        type="llm-v2",
        capabilities=frozenset({"code"}),
        priority="low",
        max_concurrency=1,
        resources={},
        config={},
        status=AgentStatus.ACTIVE,
        description="",
        created_at=T0 + 999,
        updated_at=T0 + 200.25,
    )

    await store.update_agent(changed)

    stored = await store.get_agent(agent.id)
    assert stored is not None
    assert_same(stored, dataclasses.replace(changed, created_at=agent.created_at))


async def test_updating_an_unknown_agent_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'ghost' does not exist"):
        await store.update_agent(make_agent("ghost"))
    assert await store.list_agents() == []


async def test_agents_changed_since(store: Store) -> None:
    await store.insert_agent(make_agent("old", updated_at=T0 + 10))
    await store.insert_agent(make_agent("edge", updated_at=T0 + 20))
    await store.insert_agent(make_agent("new", updated_at=T0 + 30))

    assert [a.id for a in await store.agents_changed_since(T0 + 20)] == ["edge", "new"]
    assert await store.agents_changed_since(T0 + 31) == []


async def test_log_event_is_stored(store: Store) -> None:
    event = make_event("task-x", "agent.registered", data=None)
    other = make_event(None, "agent.paused")

    await store.log_event(event)
    await store.log_event(other)

    stored = await store.events_for("task-x")
    assert len(stored) == 1
    assert_same(stored[0], event)
