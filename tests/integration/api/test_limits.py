"""Oversized and hostile request bodies are refused before routing: 413 beyond the byte
cap, 422 naming the JSON path of the first value over a limit; other bodies reach the
routes unchanged."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from imperium.interfaces.api import create_app
from imperium.interfaces.api.limits import BodyLimitMiddleware
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import problem

JSON = {"content-type": "application/json"}


@pytest.fixture
async def sqlite_im(make_migrated_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    url = make_migrated_database_url("sqlite")
    runtime = await Imperium.open(Settings(database_url=url), migrate=False)
    await runtime.start()
    yield runtime
    await runtime.close()


def http(runtime: Imperium, **settings: Any) -> httpx.AsyncClient:
    changed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings))
    transport = httpx.ASGITransport(app=create_app(changed))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


def task(payload: Any) -> dict[str, Any]:
    return {"type": "echo", "payload": payload}


REFUSED = [
    (task({"text": "x" * 12_000}), "$.payload.text is 12000 characters long; the limit is "
     "10000 — send shorter strings or store large data elsewhere and pass a reference"),
    (task({"note": "a\x00b"}), "$.payload.note contains a NUL byte"),
    (task({"a\x00": 1}), "$.payload has a key with a NUL byte"),
    ({"type": "x" * 10_001}, "$.type is 10001 characters long"),
    (task({"items": list(range(1001))}), "$.payload.items has 1001 items; the limit is 1000"),
    (task({str(i): i for i in range(1001)}), "$.payload has 1001 keys; the limit is 1000"),
    (task([[[[[[[[[[1]]]]]]]]]]), "$.payload" + "[0]" * 9 + " is nested 11 levels deep"),
    ({"tasks": [{"name": "a", "type": "echo", "payload": ["x"] * 1001}]},
     "$.tasks[0].payload has 1001 items"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "detail"), REFUSED, ids=lambda v: repr(v)[:30])
async def test_values_over_a_limit_are_refused_with_their_path(
    memory_client: httpx.AsyncClient, body: dict[str, Any], detail: str
) -> None:
    path = "/api/v1/workflows" if "tasks" in body else "/api/v1/tasks"
    found = problem(await memory_client.post(path, json=body), 422, detail)
    assert found["errors"][0]["where"] == detail.split(" ")[0]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_refused_not_stored_as_null(
    memory_client: httpx.AsyncClient, literal: str
) -> None:
    body = '{"type": "echo", "payload": {"x": [1, LITERAL]}}'.replace("LITERAL", literal)
    response = await memory_client.post("/api/v1/tasks", content=body, headers=JSON)
    problem(response, 422, f"$.payload.x[1] must be a finite number, not {literal}")


@pytest.mark.parametrize("literal", ["1e400", "-1E400", "1e999999"])
async def test_numbers_beyond_a_float_are_refused_not_stored_as_null(
    memory_client: httpx.AsyncClient, literal: str
) -> None:
    body = '{"type": "echo", "payload": {"x": LITERAL}}'.replace("LITERAL", literal)
    response = await memory_client.post("/api/v1/tasks", content=body, headers=JSON)
    problem(response, 422, f"$.payload.x is {literal}, a number beyond the range of a 64-bit")
    listed = await memory_client.get("/api/v1/tasks")
    assert listed.json()["items"] == []  # nothing stored


async def test_values_at_the_limits_are_stored_unchanged(memory_client: httpx.AsyncClient) -> None:
    payload = {
        "text": "é" * 10_000,
        "items": list(range(1000)),
        "keys": {f"k{i}": i for i in range(999)},
        "deep": [[[[[[[{"a": 1}]]]]]]],  # the body, the payload and 8 more: 10 levels
    }
    response = await memory_client.post("/api/v1/tasks", json=task(payload))
    assert response.status_code == 201, response.text
    stored = (await memory_client.get(f"/api/v1/tasks/{response.json()['id']}")).json()
    assert stored["payload"] == payload


async def test_invalid_json_is_still_reported_by_fastapi(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.post("/api/v1/tasks", content=b'{"type": ', headers=JSON)
    problem(response, 422, "JSON decode error")


async def test_a_very_deep_body_is_refused_not_a_server_error(
    memory_client: httpx.AsyncClient,
) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = await memory_client.post("/api/v1/tasks", content=body, headers=JSON)
    problem(response, 422, "$ is nested too deep to parse; the limit is 10")


async def test_a_body_over_the_byte_cap_is_413(sqlite_im: Imperium) -> None:
    async with http(sqlite_im, max_body_bytes=1000) as client:
        fits = await client.post("/api/v1/tasks", json=task("x" * 900))
        assert fits.status_code == 201, fits.text
        response = await client.post("/api/v1/tasks", json=task("x" * 1000))
        problem(response, 413, "larger than 1000 bytes")


async def test_a_streamed_body_over_the_byte_cap_is_413(sqlite_im: Imperium) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "echo", "payload": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    async with http(sqlite_im, max_body_bytes=1000) as client:
        response = await client.post("/api/v1/tasks", content=chunks(), headers=JSON)
        assert "content-length" not in response.request.headers
        problem(response, 413, "larger than 1000 bytes")


# ---------------------------------------------------------------------------- the layer
class Recorder:
    """An ASGI app that records what it was given and answers 204."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.messages: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        self.messages.append(await receive())
        self.messages.append(await receive())  # what follows the body: the disconnect
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def http_scope(headers: dict[str, str]) -> Scope:
    encoded = [(k.encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": "POST", "path": "/", "headers": encoded}


async def call(app: BodyLimitMiddleware, scope: Scope, chunks: list[bytes]) -> list[Message]:
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] + [{"type": "http.disconnect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_a_top_level_tasks_list_may_hold_up_to_10000_tasks() -> None:
    inner = Recorder()
    body = json.dumps({"tasks": [{"type": "echo", "payload": i} for i in range(5000)]}).encode()
    scope = http_scope({"transfer-encoding": "chunked"})  # no content type: read as JSON
    sent = await call(BodyLimitMiddleware(inner), scope, [body[:1000], body[1000:]])
    assert sent[0]["status"] == 204
    assert inner.messages == [
        {"type": "http.request", "body": body, "more_body": False},
        {"type": "http.disconnect"},
    ]


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    inner = Recorder()
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope({"content-length": str(10**12), "content-type": "application/json"})
    await BodyLimitMiddleware(inner, max_body_bytes=100)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert inner.scopes == []


async def test_only_json_bodies_are_checked() -> None:
    inner = Recorder()
    scope = http_scope({"content-type": "text/plain", "content-length": "3"})
    sent = await call(BodyLimitMiddleware(inner), scope, [b"a\x00b"])
    assert sent[0]["status"] == 204
    refused = await call(BodyLimitMiddleware(inner), http_scope({"content-length": "11"}),
                         [b'["a\\u0000"]'])  # fmt: skip
    assert refused[0]["status"] == 422


async def test_websockets_pass_untouched() -> None:
    inner = Recorder()
    scope: Scope = {"type": "websocket", "path": "/ws", "headers": []}

    async def receive() -> Message:
        raise AssertionError("the middleware read from the socket")

    async def send(message: Message) -> None:
        raise AssertionError("the middleware sent on the socket")

    await BodyLimitMiddleware(inner)(scope, receive, send)
    assert inner.scopes == [scope]
