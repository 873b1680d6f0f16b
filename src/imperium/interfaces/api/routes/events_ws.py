"""WebSockets: committed events as they happen.

- ``/api/v1/events/ws``: every committed event, as
  ``{"type": "event", "event": {event_type, created_at, task_id, agent_id, data}}``;
  query filters ``types`` (comma-separated prefixes, e.g. ``task.,agent.``), ``task_id`` and
  ``agent_id``.
- ``/api/imperium/ws/learning-analytics`` (alias ``/ws/imperium/learning-analytics``), the
  seed's: learning events only (types outside ``task.``, ``agent.``, ``scheduler.``), as
  ``{"type": "learning_event", "data": {...}, "timestamp"}``; its welcome and pong carry
  ``client_count``, the number of clients connected to it now.

Both send ``{"type": "welcome", ...}`` first, answer ``{"type": "ping"}`` with a pong, and
any other message with ``{"type": "error", "message"}`` (the connection stays open); a
message over ``MAX_MESSAGE_CHARS`` gets that error without being parsed (and uvicorn closes
the connection, code 1009, on a message over 64 KiB: ``server.WS_MAX_BYTES``). Each
endpoint takes at most ``MAX_CLIENTS`` clients; one more is accepted and closed at once
with code 1013 (try again later). Each connection subscribes to the runtime's event bus
through a bounded buffer: a client that falls behind loses the oldest events, never slows
the engine, and is sent ``{"type": "gap", "dropped": n}`` so that it knows to re-read what
it missed over REST.

The caller is identified again every ``ACCESS_RECHECK_SECONDS`` (5 s) as each HTTP request
is: a key revoked after the handshake, or keys put in force on a keyless server, ends the
stream with 1008 (within 10 s of a revocation from the CLI, with the key cache's 5 s).

Events reach the bus only once committed, and only in the process running the scheduler:
a task submitted from the CLI shows up when the scheduler admits it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, WebSocket, status
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from imperium.domain.auth import AuthError, ForbiddenError
from imperium.domain.events import is_learning_event
from imperium.domain.models import Event
from imperium.interfaces.api.auth import Gate, close_reason
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.api.ws_clients import EVENTS, LEARNING_ANALYTICS, websocket_clients
from imperium.interfaces.records import iso
from imperium.services.events import Accept, EventBus, Subscription

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)

BUFFER = 1000  # events buffered per client before the oldest are dropped
MAX_CLIENTS = 200  # per endpoint (the learning-analytics alias shares its endpoint's)
MAX_MESSAGE_CHARS = 4096  # a ping is 16; longer client messages are refused unread
TRY_AGAIN_LATER = 1013
ACCESS_RECHECK_SECONDS = 5.0  # with the key cache's 5 s: a revoked key's stream ends in 10 s
LEARNING_FEATURES = ["real_time_learning_events"]
PING_HINT = 'send {"type": "ping"}; the server sends events without being asked'

Message = dict[str, Any]
_GONE = (WebSocketDisconnect, WebSocketDisconnected)


def _now() -> str | None:
    return iso(time.time())


class _Connection:
    """One client: sends are serialised, as the reader and the forwarder both send."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        async with self._lock:
            await self.websocket.send_json(message)

    async def close(self, code: int, reason: str) -> None:
        async with self._lock:
            await self.websocket.close(code, reason)


def _reply(message: MutableMapping[str, Any], pong: Callable[[], Message]) -> Message:
    text = message.get("text")
    if text is None:
        return {"type": "error", "message": f"binary messages are not understood; {PING_HINT}"}
    if len(text) > MAX_MESSAGE_CHARS:
        return {
            "type": "error",
            "message": f"the message is {len(text)} characters long; the limit is "
            f"{MAX_MESSAGE_CHARS}; {PING_HINT}",
        }
    try:
        data = orjson.loads(text)  # deep nesting is a decode error, not a RecursionError
    except orjson.JSONDecodeError:
        return {"type": "error", "message": f"the message is not JSON; {PING_HINT}"}
    if isinstance(data, dict) and data.get("type") == "ping":
        return pong()
    return {"type": "error", "message": f"unknown message; {PING_HINT}"}


async def _read(conn: _Connection, pong: Callable[[], Message]) -> None:
    """Answer the client's messages until it leaves."""
    while True:
        message = await conn.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        await conn.send(_reply(message, pong))


async def _forward(
    conn: _Connection, subscription: Subscription, render: Callable[[Event], Message]
) -> None:
    """Send events as they come, telling the client first when it lost some."""
    while True:
        events = await subscription.next_batch()
        dropped = subscription.take_dropped()
        if dropped:
            await conn.send({"type": "gap", "dropped": dropped})
        for event in events:
            await conn.send(render(event))


async def _watch_access(conn: _Connection) -> None:
    """Identify the caller again every :data:`ACCESS_RECHECK_SECONDS`, as each HTTP request
    is: a key revoked after the handshake (or keys put in force on a keyless server) ends
    the stream with 1008. A database that does not answer keeps the stream going: the
    caller was let in, and nothing says otherwise."""
    websocket = conn.websocket
    gate: Gate = websocket.app.state.gate
    route = ("GET", getattr(websocket.scope.get("route"), "path", ""))
    while True:
        await asyncio.sleep(ACCESS_RECHECK_SECONDS)
        try:
            await gate.identify(HTTPConnection(websocket.scope), route)
        except (AuthError, ForbiddenError) as exc:
            await conn.close(status.WS_1008_POLICY_VIOLATION, close_reason(exc))
            return
        except Exception:  # the key store is away (the database); the next check retries
            log.warning("cannot check a WebSocket client's key now; checking again later")


async def _serve(
    conn: _Connection,
    subscription: Subscription,
    render: Callable[[Event], Message],
    pong: Callable[[], Message],
) -> None:
    """Read and forward concurrently until either ends (the client left, the server is
    stopping, or the caller's key no longer lets it in); then stop the others. A
    disconnect ends quietly, anything else is raised."""
    tasks = [
        asyncio.create_task(_read(conn, pong)),
        asyncio.create_task(_forward(conn, subscription, render)),
        asyncio.create_task(_watch_access(conn)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = task.exception()
        if error is not None and not isinstance(error, _GONE):
            raise error


def _events(websocket: WebSocket) -> EventBus:
    return services_of(websocket.app).events


# ------------------------------------------------------------------- /api/v1/events/ws
def event_message(event: Event) -> Message:
    return {
        "type": "event",
        "event": {
            "event_type": event.event_type,
            "created_at": iso(event.created_at),
            "task_id": event.task_id,
            "agent_id": event.agent_id,
            "data": event.data,
        },
    }


def event_filter(prefixes: tuple[str, ...], task_id: str | None, agent_id: str | None) -> Accept:
    def accept(event: Event) -> bool:
        return (
            (not prefixes or event.event_type.startswith(prefixes))
            and (task_id is None or event.task_id == task_id)
            and (agent_id is None or event.agent_id == agent_id)
        )

    return accept


@router.websocket("/api/v1/events/ws", name="events_ws")
async def events_ws(
    websocket: WebSocket,
    types: Annotated[str | None, Query(description="Type prefixes: task.,agent.")] = None,
    task_id: str | None = None,
    agent_id: str | None = None,
) -> None:
    """Committed events, filtered by type prefix, task and agent (all given must match)."""
    prefixes = tuple(p.strip() for p in (types or "").split(",") if p.strip())
    welcome: Message = {
        "type": "welcome",
        "message": "Connected to Imperium events: committed events as they happen",
        "filters": {"types": list(prefixes), "task_id": task_id, "agent_id": agent_id},
        "buffer": BUFFER,
    }
    await _session(
        websocket,
        EVENTS,
        event_filter(prefixes, task_id, agent_id),
        lambda _count: welcome,
        event_message,
    )


# ------------------------------------------------ /api/imperium/ws/learning-analytics
def learning_message(event: Event) -> Message:
    data = {
        **(event.data or {}),
        "event_type": event.event_type,
        "agent_id": event.agent_id,
        "timestamp": iso(event.created_at),
    }
    return {"type": "learning_event", "data": data, "timestamp": _now()}


def learning_accept(event: Event) -> bool:
    return is_learning_event(event.event_type)


async def learning_analytics_ws(websocket: WebSocket) -> None:
    """Learning events as they are logged; ``client_count`` is this endpoint's clients."""

    def welcome(count: int) -> Message:
        return {
            "type": "welcome",
            "message": "Connected to Imperium Learning Analytics WebSocket",
            "client_count": count,
            "features": LEARNING_FEATURES,
        }

    await _session(websocket, LEARNING_ANALYTICS, learning_accept, welcome, learning_message)


router.add_api_websocket_route(
    "/api/imperium/ws/learning-analytics", learning_analytics_ws, name="learning_analytics_ws"
)
router.add_api_websocket_route(
    "/ws/imperium/learning-analytics", learning_analytics_ws, name="learning_analytics_ws_alias"
)


async def _session(
    websocket: WebSocket,
    endpoint: str,
    accept: Accept,
    welcome: Callable[[int], Message],
    render: Callable[[Event], Message],
) -> None:
    """Subscribe before the welcome, so that no event after it is missed; count the client
    from before its handshake (so that concurrent handshakes cannot pass ``MAX_CLIENTS``)
    until it leaves."""
    clients = websocket_clients(websocket.app)
    if clients.count(endpoint) >= MAX_CLIENTS:
        await _refuse(websocket, f"{MAX_CLIENTS} clients are connected; try again later")
        return
    conn = _Connection(websocket)

    def pong() -> Message:
        return {"type": "pong", "timestamp": _now(), "client_count": clients.count(endpoint)}

    with clients.connected(endpoint):
        try:
            await websocket.accept()
            with _events(websocket).subscribe(BUFFER, accept) as subscription:
                await conn.send({**welcome(clients.count(endpoint)), "timestamp": _now()})
                await _serve(conn, subscription, render, pong)
        except _GONE:
            return


async def _refuse(websocket: WebSocket, reason: str) -> None:
    """Accept and close at once: a close code and reason reach only an open connection (a
    refused handshake is a bare HTTP 403)."""
    try:
        await websocket.accept()
        await websocket.close(TRY_AGAIN_LATER, reason)
    except _GONE:
        return
