"""Rate limits per client and per endpoint: a 429 problem with Retry-After once a client
has used up an endpoint's limit; other endpoints and other clients are not affected.

Limits are per day here so a window boundary cannot fall inside a test."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError as PydanticValidationError

from imperium.domain.auth import Role
from imperium.interfaces.api import create_app
from imperium.interfaces.api.ratelimit import EXPECTED, RateLimitConfigError
from imperium.interfaces.api.server import HttpServer
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import problem


@pytest.fixture
async def sqlite_im(make_migrated_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    url = make_migrated_database_url("sqlite")
    runtime = await Imperium.open(Settings(database_url=url), migrate=False)
    await runtime.start()
    yield runtime
    await runtime.close()


def app_with(runtime: Imperium, **settings: Any) -> Any:
    changed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings))
    return create_app(changed)


def http(app: Any, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


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
async def test_made_up_keys_do_not_use_up_the_requests_of_a_valid_key(sqlite_im: Imperium) -> None:
    """Authentication comes first: a request with a bad key is refused (401) before it is
    counted, and a valid key counts against itself from its very first request."""
    _, admin = await sqlite_im.keys.create("ops", Role.ADMIN)
    _, reader = await sqlite_im.keys.create("dashboard", Role.READ_ONLY)
    async with http(app_with(sqlite_im, rate_limits="native=2/day")) as client:
        for n in range(5):
            made_up = {"X-API-Key": f"imp_{n:012x}_{'A' * 43}"}
            problem(await client.get("/api/v1/agents", headers=made_up), 401, "unknown")
        problem(await client.get("/api/v1/agents"), 401, "requires an API key")

        async def statuses(key: str) -> list[int]:
            headers = {"X-API-Key": key}
            return [(await client.get("/api/v1/agents", headers=headers)).status_code
                    for _ in range(3)]  # fmt: skip

        assert await statuses(admin) == [200, 200, 429]
        assert await statuses(reader) == [200, 200, 429]  # a bucket per key, same address


# -------------------------------------------------------------------------- proxy headers
def forwarded_for(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(sqlite_im: Imperium) -> None:
    untrusted = app_with(sqlite_im, rate_limits="native=1/day")
    async with http(untrusted) as client:
        assert (await client.get("/api/v1/agents", headers=forwarded_for("10.0.0.1"))).is_success
        refused = await client.get("/api/v1/agents", headers=forwarded_for("10.0.0.2"))
        assert refused.status_code == 429  # the same client, whatever it claims

    trusted = app_with(sqlite_im, rate_limits="native=1/day", trusted_proxies="127.0.0.0/8")
    async with http(trusted) as proxy:
        for address in ("10.0.0.1", "10.0.0.2"):  # clients behind the proxy: a bucket each
            assert (await proxy.get("/api/v1/agents", headers=forwarded_for(address))).is_success
        again = await proxy.get("/api/v1/agents", headers=forwarded_for("10.0.0.2"))
        assert again.status_code == 429
    async with http(trusted, client=("192.0.2.7", 5)) as elsewhere:  # not the proxy
        assert (await elsewhere.get("/api/v1/agents", headers=forwarded_for("10.0.0.3"))).is_success
        assert (
            await elsewhere.get("/api/v1/agents", headers=forwarded_for("10.0.0.4"))
        ).status_code == 429


async def test_the_served_app_ignores_x_forwarded_for_from_this_machine(
    sqlite_im: Imperium,
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default, which would let anyone on
    the machine pose as any address (and reset its rate limits); ``serve`` must not."""
    server = HttpServer(app_with(sqlite_im, rate_limits="native=1/day"), "127.0.0.1", 0, "warning")
    server.start()
    await server.started()
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            statuses = [
                (await client.get("/api/v1/agents", headers=forwarded_for(address))).status_code
                for address in ("10.0.0.1", "10.0.0.2")
            ]
    finally:
        await server.stop()
    assert statuses == [200, 429]


@pytest.mark.parametrize("text", ["proxy.example", "10.0.0.0/33", "127.0.0.1;10.0.0.1"])
def test_trusted_proxies_must_be_addresses_or_networks(text: str) -> None:
    with pytest.raises(PydanticValidationError, match="is not an IP address or network"):
        Settings(trusted_proxies=text)
    assert Settings(trusted_proxies=" 10.0.0.1, 10.1.0.0/16 ,::1").trusted_proxies
