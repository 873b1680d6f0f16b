"""The WebSockets over real HTTP: uvicorn serves ``create_app(im)`` on the test's own event
loop (Starlette's TestClient would run the app on a loop of its own, away from the runtime's
engine and event bus), and the ``websockets`` library is the client."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from imperium.domain.models import Event
from imperium.interfaces.api import create_app
from imperium.interfaces.api.routes.events_ws import (
    BUFFER,
    EVENTS,
    LEARNING_ANALYTICS,
    websocket_clients,
)
from imperium.interfaces.api.server import HttpServer
from imperium.runtime import Imperium
from tests.integration.api.conftest import submit

EVENTS_WS = "/api/v1/events/ws"
LEARNING_WS = "/api/imperium/ws/learning-analytics"
WITHIN = 10.0


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Served:
    url: str  # ws://host:port
    app: FastAPI
    server: HttpServer
    im: Imperium
    errors: _Collect
    baseline: int  # subscribers of the bus before any client

    def clients(self, endpoint: str) -> int:
        return websocket_clients(self.app).count(endpoint)


@pytest.fixture
async def served(im: Imperium) -> AsyncIterator[Served]:
    app = create_app(im)
    server = HttpServer(app, "127.0.0.1", 0, "warning")
    errors = _Collect()  # after uvicorn configured its loggers, which drops their handlers
    watched = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "imperium")]
    for logger in watched:
        logger.addHandler(errors)
    server.start()
    await server.started()
    url = server.url.replace("http", "ws", 1)
    yield Served(url, app, server, im, errors, im.events.subscribers)
    await server.stop()
    for logger in watched:
        logger.removeHandler(errors)


def ws(served: Served, path: str) -> connect:
    return connect(served.url + path, proxy=None, open_timeout=WITHIN)


async def receive(conn: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WITHIN):
        message: dict[str, Any] = json.loads(await conn.recv())
    return message


async def until(check: Callable[[], bool]) -> None:
    """Poll ``check``: what it reads changes in the server's tasks, which signal nothing."""
    async with asyncio.timeout(WITHIN):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def pong_after(conn: ClientConnection) -> dict[str, Any]:
    """Ping, and expect the pong as the very next message (no event slipped in)."""
    await conn.send(json.dumps({"type": "ping"}))
    message = await receive(conn)
    assert message["type"] == "pong", message
    return message


def events(*specs: tuple[str, str | None, str | None]) -> list[Event]:
    at = 1_700_000_000.0
    return [Event(kind, at + i, task, agent) for i, (kind, task, agent) in enumerate(specs)]


# ------------------------------------------------------------------- /api/v1/events/ws
async def test_committed_events_of_a_task_stream_as_stored(
    served: Served, client: httpx.AsyncClient
) -> None:
    async with ws(served, f"{EVENTS_WS}?types=task.") as conn:
        welcome = await receive(conn)
        task = await submit(client, wait=20, type="echo", payload={"hi": 1})
        streamed = []
        while not streamed or streamed[-1]["event_type"] != "task.succeeded":
            message = await receive(conn)
            assert message["type"] == "event", message
            if message["event"]["task_id"] == task["id"]:
                streamed.append(message["event"])

    assert welcome["type"] == "welcome"
    assert welcome["filters"] == {"types": ["task."], "task_id": None, "agent_id": None}
    assert welcome["timestamp"].endswith("+00:00")
    stored = (await client.get(f"/api/v1/tasks/{task['id']}/events")).json()["items"]
    assert [e["event_type"] for e in streamed] == [e["event_type"] for e in stored]
    assert [e["created_at"] for e in streamed] == [e["at"] for e in stored]
    assert streamed[-1]["agent_id"] == "echo"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["task.queued", "agent.paused", "task.running", "learning.note"]),
        ("?types=agent.,learning.", ["agent.paused", "learning.note"]),
        ("?types=task.&agent_id=a-2", ["task.running"]),
        ("?task_id=t-1", ["task.queued"]),
        ("?agent_id=a-2", ["agent.paused", "task.running"]),
        ("?types=scheduler.", []),
    ],
)
async def test_filters(served: Served, query: str, expected: list[str]) -> None:
    async with ws(served, EVENTS_WS + query) as conn:
        await receive(conn)  # welcome: the subscription exists
        served.im.events.publish(
            events(
                ("task.queued", "t-1", "a-1"),
                ("agent.paused", None, "a-2"),
                ("task.running", "t-2", "a-2"),
                ("learning.note", None, None),
            )
        )
        received = [(await receive(conn))["event"]["event_type"] for _ in expected]
        await pong_after(conn)

    assert received == expected


async def test_a_client_that_fell_behind_is_told_of_the_gap(served: Served) -> None:
    async with ws(served, EVENTS_WS) as conn:
        await receive(conn)
        published = events(*((f"task.n{i}", f"t-{i}", None) for i in range(BUFFER + 7)))
        served.im.events.publish(published)  # all at once: the buffer keeps the last BUFFER
        gap = await receive(conn)
        kept = [(await receive(conn))["event"]["event_type"] for _ in range(BUFFER)]
        await pong_after(conn)

    assert gap == {"type": "gap", "dropped": 7}
    assert kept == [e.event_type for e in published[7:]]


async def test_ping_and_messages_that_are_not_understood(served: Served) -> None:
    async with ws(served, EVENTS_WS) as conn:
        await receive(conn)
        pong = await pong_after(conn)
        replies = []
        for message in ("not json", b"\x00\x01", '{"type": "subscribe"}', "[1]", '"ping"'):
            await conn.send(message)
            replies.append(await receive(conn))
        await pong_after(conn)  # still connected

    assert pong["client_count"] == 1
    assert pong["timestamp"].endswith("+00:00")
    assert [r["type"] for r in replies] == ["error"] * 5
    assert "not JSON" in replies[0]["message"]
    assert "binary" in replies[1]["message"]
    assert all('{"type": "ping"}' in r["message"] for r in replies)


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_a_client_leaving_closes_its_subscription_quietly(served: Served, how: str) -> None:
    async with ws(served, EVENTS_WS) as first, ws(served, EVENTS_WS) as second:
        await receive(first)
        await receive(second)
        assert served.im.events.subscribers == served.baseline + 2
        assert served.clients(EVENTS) == 2
        if how == "close":
            await first.close()
        else:
            first.transport.abort()
        await until(lambda: served.im.events.subscribers == served.baseline + 1)
        served.im.events.publish(events(("task.after", "t-1", None)))
        assert (await receive(second))["event"]["event_type"] == "task.after"
    await until(lambda: served.im.events.subscribers == served.baseline)

    assert served.clients(EVENTS) == 0
    assert served.errors.records == []


async def test_stopping_the_server_closes_clients_cleanly(served: Served) -> None:
    async with ws(served, EVENTS_WS) as conn:
        await receive(conn)
        await served.server.stop()
        with pytest.raises(ConnectionClosed):
            await receive(conn)

    assert served.im.events.subscribers == served.baseline
    assert served.errors.records == []


async def test_long_and_deeply_nested_messages_are_answered_not_parsed(served: Served) -> None:
    from imperium.interfaces.api.routes.events_ws import MAX_MESSAGE_CHARS

    async with ws(served, EVENTS_WS) as conn:
        await receive(conn)
        replies = []
        for message in ("x" * (MAX_MESSAGE_CHARS + 1), "[" * 60_000, "[" * MAX_MESSAGE_CHARS):
            await conn.send(message)
            replies.append(await receive(conn))
        await pong_after(conn)  # still connected

    assert [r["type"] for r in replies] == ["error"] * 3
    assert f"4097 characters long; the limit is {MAX_MESSAGE_CHARS}" in replies[0]["message"]
    assert "60000 characters long" in replies[1]["message"]
    assert "not JSON" in replies[2]["message"]  # nested too deep to parse, and no traceback
    assert served.errors.records == []


async def test_a_message_over_64_kib_closes_the_connection(served: Served) -> None:
    async with ws(served, EVENTS_WS) as conn:
        await receive(conn)
        await conn.send("[" * 100_000)  # over uvicorn's ws_max_size, 64 KiB
        with pytest.raises(ConnectionClosed) as closed:
            await receive(conn)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
    await until(lambda: served.clients(EVENTS) == 0)
    assert served.errors.records == []


@pytest.mark.parametrize(
    ("path", "endpoint"), [(EVENTS_WS, EVENTS), (LEARNING_WS, LEARNING_ANALYTICS)]
)
async def test_clients_beyond_the_cap_are_told_to_try_again_later(
    served: Served, monkeypatch: pytest.MonkeyPatch, path: str, endpoint: str
) -> None:
    from imperium.interfaces.api.routes import events_ws

    monkeypatch.setattr(events_ws, "MAX_CLIENTS", 2)
    async with ws(served, path) as first, ws(served, path) as second:
        await receive(first)
        await receive(second)
        async with ws(served, path) as third:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(third)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013  # try again later
        assert "2 clients are connected; try again later" in closed.value.rcvd.reason
        assert served.clients(endpoint) == 2
        other = LEARNING_WS if path == EVENTS_WS else EVENTS_WS
        async with ws(served, other) as elsewhere:  # the cap is per endpoint
            assert (await receive(elsewhere))["type"] == "welcome"
        await first.close()
        await until(lambda: served.clients(endpoint) == 1)
        async with ws(served, path) as again:
            assert (await receive(again))["type"] == "welcome"
        await pong_after(second)
    await until(lambda: served.im.events.subscribers == served.baseline)
    assert served.errors.records == []


# -------------------------------------------------------- seed: learning analytics ws
async def test_learning_analytics_welcome_and_client_count(served: Served) -> None:
    async with ws(served, LEARNING_WS) as first:
        welcome = await receive(first)
        async with ws(served, "/ws/imperium/learning-analytics") as second:  # the alias
            second_welcome = await receive(second)
            both = await pong_after(first)
        await until(lambda: served.clients(LEARNING_ANALYTICS) == 1)
        alone = await pong_after(first)

    assert welcome["type"] == "welcome"
    assert welcome["message"] == "Connected to Imperium Learning Analytics WebSocket"
    assert welcome["features"] == ["real_time_learning_events"]
    assert welcome["timestamp"].endswith("+00:00")
    assert (welcome["client_count"], second_welcome["client_count"]) == (1, 2)
    assert (both["client_count"], alone["client_count"]) == (2, 1)
    await until(lambda: served.clients(LEARNING_ANALYTICS) == 0)


async def test_logged_learning_events_are_broadcast_and_engine_events_are_not(
    served: Served, client: httpx.AsyncClient
) -> None:
    body = {
        "event_type": "internet_learning", "agent_id": "imperium", "agent_type": "Imperium",
        "topic": "AI orchestration", "results_count": 5, "impact_score": 0.8,
        "event_data": {"source": "arxiv"},
    }  # fmt: skip
    async with ws(served, LEARNING_WS) as conn, ws(served, LEARNING_WS) as other:
        await receive(conn)
        await receive(other)
        async with httpx.AsyncClient(base_url=served.server.url, trust_env=False) as same_app:
            status = (await same_app.get("/api/imperium/status")).json()
        await submit(client, wait=20, type="echo", payload=1)  # task.* and no learning event
        logged = await client.post("/api/imperium/persistence/log-learning-event", json=body)
        message = await receive(conn)
        assert (await receive(other))["data"] == message["data"]
        await pong_after(conn)

    assert logged.status_code == 200, logged.text
    assert status["websocket_clients"] == {"learning_analytics": 2, "events": 0}
    assert message["type"] == "learning_event"
    assert message["timestamp"].endswith("+00:00")
    data = message["data"]
    assert {k: data[k] for k in body} == body
    assert data["timestamp"] == logged.json()["data"]["created_at"]
    assert (data["results_sample"], data["insights"], data["error_message"]) == (None, None, None)


async def test_learning_analytics_answers_unknown_messages_with_an_error(served: Served) -> None:
    async with ws(served, LEARNING_WS) as conn:
        await receive(conn)
        await conn.send('{"type": "hello"}')
        error = await receive(conn)
        await pong_after(conn)

    assert error["type"] == "error"
    assert "unknown message" in error["message"]


async def test_streams_need_a_read_key_once_keys_exist(served: Served) -> None:
    from websockets.exceptions import InvalidStatus

    from imperium.domain.auth import Role

    _, reader = await served.im.keys.create("dashboard", Role.READ_ONLY)
    _, agent = await served.im.keys.create("worker", Role.AGENT, "far")
    for path in (EVENTS_WS, LEARNING_WS):
        with pytest.raises(InvalidStatus) as refused:
            async with ws(served, path):
                pass
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            async with ws(served, f"{path}?api_key={agent}"):
                pass  # an agent key reads nothing but its own agent
        async with ws(served, f"{path}?api_key={reader}") as conn:
            assert (await receive(conn))["type"] == "welcome"


async def test_a_rebound_host_name_cannot_open_a_stream_of_a_keyless_server(
    served: Served,
) -> None:
    """DNS rebinding: the browser connects to this server under the attacker's name."""
    from websockets.exceptions import InvalidStatus

    port = served.server.port
    for path in (EVENTS_WS, LEARNING_WS):
        sock = socket.create_connection(("127.0.0.1", port))
        with pytest.raises(InvalidStatus) as refused:  # Host: evil.example:<port>
            async with connect(f"ws://evil.example:{port}{path}", sock=sock, proxy=None):
                pass
        assert refused.value.response.status_code == 403
    assert served.clients(EVENTS) == 0
    sock = socket.create_connection(("127.0.0.1", port))
    async with connect(f"ws://localhost:{port}{EVENTS_WS}", sock=sock, proxy=None) as conn:
        assert (await receive(conn))["type"] == "welcome"


async def test_a_foreign_page_cannot_open_a_stream_of_a_keyless_server(served: Served) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        async with connect(served.url + EVENTS_WS, origin="https://evil.example", proxy=None):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(served.url + EVENTS_WS, proxy=None) as conn:  # a program: no Origin
        assert (await receive(conn))["type"] == "welcome"


@pytest.mark.parametrize("path", [EVENTS_WS, LEARNING_WS])
async def test_a_stream_ends_when_its_key_is_revoked(
    served: Served, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The key is checked again while the stream is open, not only at the handshake."""
    from imperium.domain.auth import Role
    from imperium.interfaces.api.routes import events_ws

    monkeypatch.setattr(events_ws, "ACCESS_RECHECK_SECONDS", 0.05)
    key, reader = await served.im.keys.create("dashboard", Role.READ_ONLY)
    _, other = await served.im.keys.create("other", Role.READ_ONLY)
    async with (
        ws(served, f"{path}?api_key={reader}") as revoked,
        ws(served, f"{path}?api_key={other}") as kept,
    ):
        assert (await receive(revoked))["type"] == "welcome"
        assert (await receive(kept))["type"] == "welcome"
        await asyncio.sleep(0.2)  # several checks pass while the key is good
        await served.im.keys.revoke(key.id)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(revoked)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert "revoked" in closed.value.rcvd.reason
        assert (await pong_after(kept))["type"] == "pong"  # the other key's stream goes on


async def test_a_keyless_stream_ends_when_keys_come_into_force(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imperium.domain.auth import Role
    from imperium.interfaces.api.routes import events_ws

    monkeypatch.setattr(events_ws, "ACCESS_RECHECK_SECONDS", 0.05)
    async with ws(served, EVENTS_WS) as conn:
        assert (await receive(conn))["type"] == "welcome"
        await served.im.keys.create("first", Role.ADMIN)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(conn)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
