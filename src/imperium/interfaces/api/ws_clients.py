"""How many clients each WebSocket endpoint has now: kept by the WebSocket routes
(``routes/events_ws.py``), read by the seed's ``/api/imperium/status``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

EVENTS = "events"
LEARNING_ANALYTICS = "learning_analytics"


class WebSocketClients:
    """How many clients each WebSocket endpoint has now (one instance per app)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def count(self, endpoint: str) -> int:
        return self._counts.get(endpoint, 0)

    @contextmanager
    def connected(self, endpoint: str) -> Iterator[None]:
        self._counts[endpoint] = self.count(endpoint) + 1
        try:
            yield
        finally:
            self._counts[endpoint] -= 1


def websocket_clients(app: FastAPI) -> WebSocketClients:
    clients: WebSocketClients | None = getattr(app.state, "websocket_clients", None)
    if clients is None:
        clients = app.state.websocket_clients = WebSocketClients()
    return clients
