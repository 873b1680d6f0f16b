"""Where durable events go once committed (the live feed, webhooks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from imperium.domain.models import Event


class EventSink(Protocol):
    """Receives events once they are durable (the engine's journal calls it after each
    commit; the agent registry after each change)."""

    def publish(self, events: Sequence[Event]) -> None: ...
