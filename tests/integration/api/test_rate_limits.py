"""Rate limits per client and per endpoint: a 429 problem with Retry-After once a client
has used up an endpoint's limit; other endpoints and other clients are not affected.

Limits are per day here so a window boundary cannot fall inside a test."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from imperium.interfaces.api import create_app
from imperium.interfaces.api.ratelimit import (
    EXPECTED,
    RateLimitConfigError,
    RateLimitMiddleware,
    open_limiter,
    parse_rules,
)
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import problem


@pytest.fixture
async def sqlite_im(make_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    runtime = await Imperium.open(Settings(database_url=make_database_url("sqlite")))
    await runtime.start()
    yield runtime
    await runtime.close()


def app_with(runtime: Imperium, **settings: Any) -> Any:
    changed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings))
    return create_app(changed)


def http(app: Any, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_the_request_over_the_limit_is_429_with_retry_after(sqlite_im: Imperium) -> None:
    async with http(app_with(sqlite_im, rate_limits="native=3/day")) as client:
        for task_id in ("a", "b", "c"):  # one template: one bucket, whatever the id
            assert (await client.get(f"/api/v1/tasks/{task_id}")).status_code == 404
        refused = await client.get("/api/v1/tasks/d")
        problem(refused, 429, "GET /api/v1/tasks/{task_id}", "3 per 1 day")
        assert 1 <= int(refused.headers["retry-after"]) <= 86_400
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        # another endpoint, and another method on the same path, have their own buckets
        assert (await client.get("/api/v1/tasks")).status_code == 200
        assert (await client.post("/api/v1/tasks/a/cancel")).status_code == 404


async def test_each_client_has_its_own_buckets(sqlite_im: Imperium) -> None:
    app = app_with(sqlite_im, rate_limits="native=1/day")
    async with http(app) as first, http(app, client=("1.2.3.4", 123)) as second:
        assert (await first.get("/api/v1/agents")).status_code == 200
        assert (await first.get("/api/v1/agents")).status_code == 429
        assert (await second.get("/api/v1/agents")).status_code == 200
        assert (await second.get("/api/v1/agents")).status_code == 429


async def test_a_rule_for_one_route_template(sqlite_im: Imperium) -> None:
    rules = "/api/v1/agents/{id}=2/day"  # the placeholder's name does not matter
    async with http(app_with(sqlite_im, rate_limits=rules)) as client:
        statuses = [(await client.get("/api/v1/agents/echo")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert (await client.get("/api/v1/agents/nobody")).status_code == 429
        for _ in range(5):  # native routes keep their generous default
            assert (await client.get("/api/v1/agents")).status_code == 200


async def test_unknown_paths_share_one_bucket(sqlite_im: Imperium) -> None:
    async with http(app_with(sqlite_im, rate_limits="default=2/day")) as client:
        statuses = [(await client.get(path)).status_code for path in ("/a", "/b/c", "/d")]
        assert statuses == [404, 404, 429]


async def test_health_and_docs_are_not_limited(sqlite_im: Imperium) -> None:
    app = app_with(sqlite_im, rate_limits="default=1/day;native=1/day")
    async with http(app) as client:
        for path in ["/api/health", "/openapi.json", "/docs"] * 3:
            assert (await client.get(path)).status_code == 200, path


async def test_unusual_methods_share_one_bucket(sqlite_im: Imperium) -> None:
    async with http(app_with(sqlite_im, rate_limits="native=2/day")) as client:
        statuses = [(await client.request(m, "/api/v1/tasks/a")).status_code for m in "XYZ"]
        assert statuses == [405, 405, 429]
        problem(await client.request("W", "/api/v1/tasks/b"), 429, "OTHER /api/v1/tasks/")
        assert (await client.get("/api/v1/tasks/a")).status_code == 404  # GET: its own


async def test_database_health_is_limited_as_default(sqlite_im: Imperium) -> None:
    """Full row counts: a client looping on it must not keep the database busy."""
    async with http(app_with(sqlite_im, rate_limits="default=1/day")) as client:
        assert (await client.get("/api/database/health")).status_code == 200
        refused = await client.get("/api/database/health")
        problem(refused, 429, "GET /api/database/health", "1 per 1 day")
        assert (await client.get("/nowhere")).status_code == 404  # a bucket of its own


async def test_off_turns_limits_off(sqlite_im: Imperium) -> None:
    async with http(app_with(sqlite_im, rate_limits="off")) as client:
        for _ in range(101):  # the default for unknown paths is 100 per minute
            assert (await client.get("/nowhere")).status_code == 404


async def test_a_bad_setting_stops_the_app_from_being_built(sqlite_im: Imperium) -> None:
    with pytest.raises(RateLimitConfigError) as raised:
        app_with(sqlite_im, rate_limits="default=100/minute;/api/v1/tasks=lots")
    assert "'/api/v1/tasks=lots' is not valid" in str(raised.value)
    assert EXPECTED in str(raised.value)


# ---------------------------------------------------------------------------- API keys
class Key:
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id


async def authenticated(request: Request) -> PlainTextResponse:
    """Stands in for authentication: the key 'good-*' is valid, its id what follows."""
    presented = request.headers.get("x-api-key", "")
    if presented.startswith("good-"):
        request.state.principal = Key(presented.removeprefix("good-"))
        return PlainTextResponse("ok")
    return PlainTextResponse("who are you", status_code=401)


async def test_a_key_that_worked_gets_its_own_bucket_an_invented_one_does_not() -> None:
    rules = parse_rules("default=2/day")
    assert rules is not None
    app = Starlette(routes=[Route("/r", authenticated)])
    app.add_middleware(
        RateLimitMiddleware,
        rules=rules,
        routes=app.router.routes,
        limiter=open_limiter("memory://"),
    )

    async def status(client: httpx.AsyncClient, key: str | None) -> int:
        headers = {"x-api-key": key} if key else {}
        return (await client.get("/r", headers=headers)).status_code

    async with http(app) as client:
        assert await status(client, "good-k1") == 200  # not yet known: counts against the IP
        assert [await status(client, "good-k1") for _ in range(3)] == [200, 200, 429]
        assert await status(client, "good-k2") == 200  # the IP's second and last request
        assert await status(client, "invented") == 429  # an unknown key: the IP's bucket
        assert await status(client, None) == 429
        assert [await status(client, "good-k2") for _ in range(3)] == [200, 200, 429]
