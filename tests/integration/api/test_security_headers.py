"""Security headers on every HTTP response (refusals and errors too), a CSP the docs pages
can live with (scripts from this server only), and CORS only for the origins configured."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from imperium.interfaces.api import create_app
from imperium.interfaces.api.middleware import API_CSP, SECURITY_HEADERS
from imperium.runtime import Imperium
from imperium.settings import Settings

JSON = {"content-type": "application/json"}


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


def http(app: Any, **transport: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **transport), base_url="http://127.0.0.1"
    )


def assert_secured(response: httpx.Response, csp: str = API_CSP) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (name, response.status_code)
    assert response.headers["content-security-policy"] == csp


async def test_every_kind_of_answer_carries_the_headers(sqlite_im: Imperium) -> None:
    app = app_with(sqlite_im, rate_limits="native=3/day", max_body_bytes=1000)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    async with http(app, raise_app_exceptions=False) as client:
        answers = [
            await client.get("/api/v1/tasks"),
            await client.get("/nowhere"),
            await client.post("/api/v1/tasks", json={"type": 5}),
            await client.post("/api/v1/tasks", content=b'{"type": NaN}', headers=JSON),
            await client.post("/api/v1/tasks", content=b"x" * 1001, headers=JSON),
            await client.post("/api/v1/tasks", json={"type": "echo"}),  # the 4th: refused
            await client.get("/boom"),
            await client.get("/api/health"),
        ]
    assert [a.status_code for a in answers] == [200, 404, 422, 422, 413, 429, 500, 200]
    for answer in answers:
        assert_secured(answer)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_docs_pages_may_load_what_they_need(
    memory_client: httpx.AsyncClient, path: str
) -> None:
    page = await memory_client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert_secured(page, csp)
    assert csp != API_CSP
    assert "frame-ancestors 'none'" in csp
    directives = dict(d.strip().partition(" ")[::2] for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no other host
    for tag, attribute in [("script", "src"), ("link", "href")]:
        for url in re.findall(rf'<{tag}[^>]* {attribute}="([^"]+)"', page.text):
            assert not urlsplit(url).netloc, url  # served by this server
    assert "<script>" not in page.text


async def test_no_cors_headers_unless_origins_are_configured(
    memory_client: httpx.AsyncClient,
) -> None:
    response = await memory_client.get("/api/v1/tasks", headers={"origin": "https://app.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_cors_for_a_configured_origin(sqlite_im: Imperium) -> None:
    origins = "https://app.example, https://other.example/"
    async with http(app_with(sqlite_im, cors_origins=origins, rate_limits="native=1/day")) as c:
        preflight = await c.options(
            "/api/v1/tasks",
            headers={
                "origin": "https://other.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://other.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert_secured(preflight)

        refused = await c.options(
            "/api/v1/tasks",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        origin = {"origin": "https://app.example"}
        assert (await c.get("/api/v1/tasks", headers=origin)).status_code == 200
        limited = await c.get("/api/v1/tasks", headers=origin)  # a browser can read a 429
        assert limited.status_code == 429
        assert limited.headers["access-control-allow-origin"] == "https://app.example"
        assert "retry-after" in limited.headers["access-control-expose-headers"].lower()


async def test_any_origin_without_credentials(sqlite_im: Imperium) -> None:
    async with http(app_with(sqlite_im, cors_origins="*")) as client:
        response = await client.get("/api/v1/tasks", headers={"origin": "https://x.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
