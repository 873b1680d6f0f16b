"""The event bus: committed events reach listeners and subscribers, in order, never before
they are durable; a slow subscriber loses the oldest events and is told how many."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import Event
from imperium.domain.states import TaskState
from imperium.services.events import EventBus

from .conftest import FakeClock, MakeEngine, agent_spec, event_types, job, settle


def event(kind: str, at: float = 0.0) -> Event:
    return Event(kind, at)


async def test_engine_publishes_what_it_stored_in_commit_order(
    make_engine: MakeEngine, executor: StubExecutor, store: MemoryStore
) -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.listen(seen.extend)
    engine = await make_engine(agents=[agent_spec("agent-1")], events=bus)
    task = await engine.submit(job())
    await settle(engine)
    executor.finish(task.id)
    await settle(engine)

    stored_types = await event_types(store, task.id)
    assert stored_types == ["task.queued", "task.running", "task.succeeded"]
    assert [e.event_type for e in seen if e.task_id == task.id] == stored_types


async def test_nothing_is_published_before_it_is_durable(
    make_engine: MakeEngine, store: MemoryStore
) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def check(events: Sequence[Event]) -> None:
        for e in events:  # the store already holds every event it is given
            assert e in store_events, f"{e.event_type} published before it was stored"
        seen.extend(events)

    store_events: list[Event] = []
    original_apply = store.apply

    async def apply(batch, owner, expires):  # type: ignore[no-untyped-def]
        await original_apply(batch, owner, expires)
        store_events.extend(batch.events)

    store.apply = apply  # type: ignore[method-assign]
    bus.listen(check)
    engine = await make_engine(agents=[agent_spec("agent-1")], events=bus)
    await engine.submit(job())
    await settle(engine)
    assert [e.event_type for e in seen if e.task_id] == ["task.queued", "task.running"]


async def test_running_event_says_how_long_the_task_waited_to_be_dispatched(
    make_engine: MakeEngine, executor: StubExecutor, clock: FakeClock
) -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.listen(seen.extend)
    engine = await make_engine(agents=[agent_spec("agent-1", max_concurrency=1)], events=bus)
    first = await engine.submit(job())
    second = await engine.submit(job())
    await settle(engine)
    clock.advance(4.0)
    executor.finish(first.id)
    await settle(engine)

    running = {e.task_id: e.data for e in seen if e.event_type == "task.running"}
    assert running[first.id] == {"attempt": 1, "waited": 0.0}
    assert running[second.id] == {"attempt": 1, "waited": 4.0}


async def test_a_failing_listener_does_not_stop_others_or_the_engine(
    make_engine: MakeEngine, executor: StubExecutor
) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(_events: Sequence[Event]) -> None:
        raise RuntimeError("listener bug")

    bus.listen(broken)
    bus.listen(seen.extend)
    engine = await make_engine(agents=[agent_spec("agent-1")], events=bus)
    task = await engine.submit(job())
    await settle(engine)
    executor.finish(task.id)
    done = await asyncio.wait_for(engine.wait_for(task.id), 5)
    assert done.state is TaskState.SUCCEEDED
    assert "task.succeeded" in [e.event_type for e in seen]


async def test_subscription_filters_and_hands_out_batches() -> None:
    bus = EventBus()
    with bus.subscribe(accept=lambda e: e.event_type.startswith("agent.")) as sub:
        assert bus.subscribers == 1
        bus.publish([event("task.queued"), event("agent.paused"), event("agent.resumed")])
        batch = await sub.next_batch(wait=1)
        assert [e.event_type for e in batch] == ["agent.paused", "agent.resumed"]
        assert await sub.next_batch(wait=0.01) == []
    assert bus.subscribers == 0
    bus.publish([event("agent.paused")])  # no subscriber left: nothing to deliver to


async def test_a_slow_subscriber_keeps_the_newest_events_and_counts_the_lost() -> None:
    bus = EventBus()
    with bus.subscribe(maxsize=3) as sub:
        bus.publish([event(f"e{i}") for i in range(5)])
        batch = await sub.next_batch(wait=1)
        assert [e.event_type for e in batch] == ["e2", "e3", "e4"]
        assert sub.take_dropped() == 2
        assert sub.take_dropped() == 0


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    bus = EventBus()
    with bus.subscribe() as sub:
        waiting = asyncio.create_task(sub.next_batch(wait=5))
        await asyncio.sleep(0)
        bus.publish([event("task.queued")])
        batch = await asyncio.wait_for(waiting, 5)
        assert [e.event_type for e in batch] == ["task.queued"]


async def test_listener_can_be_removed() -> None:
    bus = EventBus()
    seen: list[Event] = []
    stop = bus.listen(seen.extend)
    bus.publish([event("a")])
    stop()
    bus.publish([event("b")])
    assert [e.event_type for e in seen] == ["a"]
