"""The in-process event bus: committed events to whoever listens in this process.

The engine's journal publishes each batch of events once it is durable, and the agent
registry publishes its changes, so a listener never sees an event that a crash could take
back. Listeners are of two kinds:

- a *listener* function, called synchronously with every batch (metrics); it must be cheap;
- a :class:`Subscription`, a bounded buffer read asynchronously (a WebSocket client). A
  subscriber that falls behind loses the oldest events, never slows the engine, and is told
  how many it lost.

Events written by other processes (the CLI) reach the bus only through the engine, when
the scheduler picks their work up; the stored ``learning_logs`` remain the full record.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from imperium.domain.models import Event

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[Event]], None]
Accept = Callable[[Event], bool]


class Subscription:
    """Events for one consumer, oldest first, at most ``maxsize`` buffered."""

    def __init__(self, bus: EventBus, maxsize: int, accept: Accept | None) -> None:
        self._bus = bus
        self._buffer: deque[Event] = deque(maxlen=maxsize)
        self._accept = accept
        self._ready = asyncio.Event()
        self.dropped = 0  # events lost because the consumer fell behind, since last taken

    def _offer(self, events: Sequence[Event]) -> None:
        accept = self._accept
        for event in events:
            if accept is None or accept(event):
                if len(self._buffer) == self._buffer.maxlen:
                    self.dropped += 1
                self._buffer.append(event)
        if self._buffer:
            self._ready.set()

    async def next_batch(self, wait: float | None = None) -> list[Event]:
        """The events buffered now, waiting up to ``wait`` seconds for one (``[]`` when
        none came). Read :attr:`dropped` after each call to learn about a gap."""
        if not self._buffer:
            self._ready.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._ready.wait()
            except TimeoutError:
                return []
        events = list(self._buffer)
        self._buffer.clear()
        return events

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    def close(self) -> None:
        self._bus._subscriptions.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBus:
    """Implements the ``EventSink`` port."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._subscriptions: set[Subscription] = set()

    def publish(self, events: Sequence[Event]) -> None:
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("event listener failed", extra={"action": "publish"})
        for subscription in self._subscriptions:
            subscription._offer(events)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every batch; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def subscribe(self, maxsize: int = 1000, accept: Accept | None = None) -> Subscription:
        """A buffer of the events ``accept`` lets through (all by default)."""
        subscription = Subscription(self, maxsize, accept)
        self._subscriptions.add(subscription)
        return subscription

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
