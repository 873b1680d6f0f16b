"""API keys and roles over the API, in-process with a real database.

A loopback server without keys serves everyone addressed to a loopback name (covered by
every other API test, whose requests go to 127.0.0.1); here a key exists, or the app
demands keys as a public server does, and each role is held to what it may do. The
acceptance test ``test_a_public_address_needs_api_keys`` covers ``serve``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from imperium.domain.auth import Role
from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings
from imperium.worker import Worker

from .conftest import problem


async def _open(migrated_database_url: str) -> Imperium:
    settings = Settings(database_url=migrated_database_url, poll_interval=0.05, drain_seconds=0.2)
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    return runtime


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await _open(migrated_database_url)
    yield runtime
    await runtime.close()


@pytest.fixture
async def sqlite_im(make_migrated_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    runtime = await _open(make_migrated_database_url("sqlite"))
    yield runtime
    await runtime.close()


def http_for(im: Imperium, key: str | None = None, **app_options: bool) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(im, **app_options))
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers)


async def key(
    im: Imperium, role: Role, agent_id: str | None = None, capabilities: tuple[str, ...] = ()
) -> str:
    _, text = await im.keys.create(f"{role.value}-key", role, agent_id, capabilities)
    return text


async def remote_agent(im: Imperium, agent_id: str) -> None:
    spec = AgentSpec(id=agent_id, type="remote", capabilities=frozenset({"job"}))
    await im.agents.register(spec)


# ---------------------------------------------------------------------------- when keys apply
async def test_a_public_server_demands_a_key_even_before_any_exists(sqlite_im: Imperium) -> None:
    async with http_for(sqlite_im, auth_required=True) as http:
        refused = await http.get("/api/v1/tasks")
        problem(refused, 401, "requires an API key", "imperium keys create")
        assert refused.headers["www-authenticate"] == 'Bearer realm="imperium"'
        assert (await http.get("/api/health")).status_code == 200  # probes need no key


async def test_once_a_key_exists_a_loopback_server_demands_keys_too(sqlite_im: Imperium) -> None:
    async with http_for(sqlite_im) as http:
        assert (await http.get("/api/v1/tasks")).status_code == 200
        admin = await key(sqlite_im, Role.ADMIN)
        problem(await http.get("/api/v1/tasks"), 401, "requires an API key")
        allowed = await http.get("/api/v1/tasks", headers={"Authorization": f"Bearer {admin}"})
        assert allowed.status_code == 200
        also = await http.get("/api/v1/tasks", headers={"X-API-Key": admin})
        assert also.status_code == 200


async def test_bad_keys_are_refused_with_what_to_do(sqlite_im: Imperium) -> None:
    admin = await key(sqlite_im, Role.ADMIN)
    key_id = admin.split("_")[1]
    forged = f"imp_{key_id}_{'A' * 43}"
    async with http_for(sqlite_im) as http:
        for bad, phrase in [
            ("nonsense", "malformed"),
            (forged, "unknown or revoked"),
            (f"imp_{'0' * 12}_{'A' * 43}", "unknown or revoked"),
        ]:
            response = await http.get("/api/v1/tasks", headers={"X-API-Key": bad})
            problem(response, 401, phrase)
        basic = await http.get("/api/v1/tasks", headers={"Authorization": "Basic dXNlcg=="})
        problem(basic, 401, "Authorization: Bearer")


async def test_a_revoked_key_stops_working_at_once(sqlite_im: Imperium) -> None:
    admin = await key(sqlite_im, Role.ADMIN)
    other = await key(sqlite_im, Role.ADMIN)
    async with http_for(sqlite_im, admin) as http:
        assert (await http.get("/api/v1/tasks")).status_code == 200
        await sqlite_im.keys.revoke(admin.split("_")[1])
        problem(await http.get("/api/v1/tasks"), 401, "unknown or revoked")
        still = await http.get("/api/v1/tasks", headers={"Authorization": f"Bearer {other}"})
        assert still.status_code == 200


async def test_revoking_every_key_keeps_keys_required_until_reset(sqlite_im: Imperium) -> None:
    """Revoking the last key must not turn authentication off for everyone."""
    admin = await key(sqlite_im, Role.ADMIN)
    async with http_for(sqlite_im) as http:
        await sqlite_im.keys.revoke(admin.split("_")[1])
        problem(await http.get("/api/v1/tasks"), 401, "requires an API key")
        problem(await http.post("/api/v1/tasks", json={"type": "echo"}), 401, "API key")
        await sqlite_im.keys.reset()  # `imperium keys reset-open`
        assert (await http.get("/api/v1/tasks")).status_code == 200


async def test_the_docs_need_a_key_once_keys_exist_unless_made_public(sqlite_im: Imperium) -> None:
    reader = await key(sqlite_im, Role.READ_ONLY)
    agent = await key(sqlite_im, Role.AGENT, "w")
    asset = "/docs/static/swagger-init.js"
    docs = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", asset)
    async with http_for(sqlite_im) as http:
        for path in docs:
            problem(await http.get(path), 401, "requires an API key")
            for valid in (reader, agent):  # any valid key may read them
                assert (await http.get(path, headers={"X-API-Key": valid})).status_code == 200
    settings = sqlite_im.settings.model_copy(update={"public_docs": True})
    async with http_for(dataclasses.replace(sqlite_im, settings=settings)) as http:
        for path in docs:
            assert (await http.get(path)).status_code == 200, path
        problem(await http.get("/api/v1/tasks"), 401, "requires an API key")


async def test_a_failing_key_lookup_is_answered_as_a_problem(
    sqlite_im: Imperium, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authentication runs before the app: a database error there still gets the app's
    problem answer (a 5xx problem), not a dropped connection."""
    admin = await key(sqlite_im, Role.ADMIN)

    async def failing(_text: str) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(sqlite_im.keys, "authenticate", failing)
    async with http_for(sqlite_im, admin) as http:
        response = await http.get("/api/v1/tasks")
    assert response.status_code >= 500
    assert response.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------------- roles
async def test_read_only_keys_read_but_change_nothing(im: Imperium) -> None:
    reader = await key(im, Role.READ_ONLY)
    async with http_for(im, reader) as http:
        assert (await http.get("/api/v1/agents")).status_code == 200
        assert (await http.get("/api/v1/tasks")).status_code == 200
        refused = await http.post("/api/v1/tasks", json={"type": "echo"})
        problem(refused, 403, "read-only key cannot change anything")
        problem(await http.post("/api/v1/agents/echo/pause"), 403, "read-only")
    assert sum((await im.store.count_tasks_by_state()).values()) == 0


async def test_admin_keys_do_everything(im: Imperium) -> None:
    admin = await key(im, Role.ADMIN)
    async with http_for(im, admin) as http:
        created = await http.post("/api/v1/tasks?wait=20", json={"type": "echo", "payload": 7})
        assert created.status_code == 201, created.text
        assert created.json()["result"] == 7
        paused = await http.post("/api/v1/agents/echo/pause")
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"


async def test_an_agent_key_works_only_for_its_agent(im: Imperium) -> None:
    await remote_agent(im, "mine")
    await remote_agent(im, "theirs")
    own = await key(im, Role.AGENT, "mine", ("job",))
    task = await im.engine.submit(TaskSpec(type="job", pinned_agent="theirs"))
    async with http_for(im, own) as http:
        problem(await http.post("/api/v1/agents/theirs/lease", json={}), 403, "agent 'mine'")
        problem(await http.get("/api/v1/agents/theirs"), 403, "cannot act for agent 'theirs'")
        problem(await http.get("/api/v1/tasks"), 403, "an agent key may only")
        problem(await http.post("/api/v1/tasks", json={"type": "job"}), 403, "agent key")
        assert (await http.get("/api/v1/agents/mine")).status_code == 200
        assert (await http.post("/api/v1/agents/mine/lease", json={})).json() == {"leases": []}

    async with http_for(im) as admin_less:  # the other agent leases with an admin key
        admin = await key(im, Role.ADMIN)
        leased = await admin_less.post(
            "/api/v1/agents/theirs/lease", json={}, headers={"X-API-Key": admin}
        )
        [lease] = leased.json()["leases"]
    proof = {"agent_id": "theirs", "token": lease["token"]}
    async with http_for(im, own) as http:
        for action in ("heartbeat", "complete"):
            response = await http.post(f"/api/v1/tasks/{task.id}/{action}", json=proof)
            problem(response, 403, "cannot act for agent 'theirs'")
        failing = {**proof, "message": "no"}
        problem(await http.post(f"/api/v1/tasks/{task.id}/fail", json=failing), 403, "theirs")
    assert im.engine.state.tasks[task.id].state is TaskState.RUNNING  # nothing was recorded


async def test_an_agent_key_registers_only_its_own_remote_agent(sqlite_im: Imperium) -> None:
    own = await key(sqlite_im, Role.AGENT, "newcomer", ("job",))
    async with http_for(sqlite_im, own) as http:
        body = {"agent_id": "newcomer", "type": "echo", "capabilities": ["job"]}
        problem(await http.post("/api/v1/agents", json=body), 403, "only with type 'remote'")
        other = {**body, "agent_id": "someone-else", "type": "remote"}
        problem(await http.post("/api/v1/agents", json=other), 403, "cannot act for agent")
        created = await http.post("/api/v1/agents", json={**body, "type": "remote"})
        assert created.status_code == 201, created.text
    assert (await sqlite_im.agents.get("newcomer")).type == "remote"


async def test_an_agent_key_registers_only_the_capabilities_it_allows(sqlite_im: Imperium) -> None:
    """An agent key claiming capabilities would be handed admins' tasks that need them."""
    plain = await key(sqlite_im, Role.AGENT, "probe")  # no list: the agent's id alone
    body = {"agent_id": "probe", "type": "remote", "capabilities": ["echo", "run_code"]}
    async with http_for(sqlite_im, plain) as http:
        refused = await http.post("/api/v1/agents", json=body)
        problem(refused, 403, "does not allow the capabilities echo, run_code (it allows probe)")
        assert (await http.post("/api/v1/agents", json={**body, "capabilities": []})).is_success
    assert (await sqlite_im.agents.get("probe")).capabilities == {"probe"}

    listed = await key(sqlite_im, Role.AGENT, "coder", ("echo", "lint"))
    body = {**body, "agent_id": "coder"}
    async with http_for(sqlite_im, listed) as http:
        problem(await http.post("/api/v1/agents", json=body), 403, "capabilities run_code (")
        problem(await http.post("/api/v1/agents", json={**body, "capabilities": []}), 403, "coder")
        created = await http.post("/api/v1/agents", json={**body, "capabilities": ["echo"]})
        assert created.status_code == 201, created.text


async def test_an_agent_key_leases_nothing_once_its_agent_offers_more_than_it_allows(
    im: Imperium,
) -> None:
    await remote_agent(im, "far")  # offers "job"
    own = await key(im, Role.AGENT, "far", ("job",))
    admin = await key(im, Role.ADMIN)
    task = await im.engine.submit(TaskSpec(type="run_code", payload="secret"))
    async with http_for(im, admin) as http:
        widened = await http.patch("/api/v1/agents/far", json={"capabilities": ["job", "run_code"]})
        assert widened.status_code == 200, widened.text
    async with http_for(im, own) as http:
        refused = await http.post("/api/v1/agents/far/lease", json={})
        problem(refused, 403, "does not allow the capabilities run_code (it allows job)")
    assert im.engine.state.tasks[task.id].state is TaskState.QUEUED  # nobody saw its payload


async def test_a_refused_heartbeat_does_not_tell_another_agent_the_lease_token(
    im: Imperium,
) -> None:
    await remote_agent(im, "mine")
    await remote_agent(im, "theirs")
    own = await key(im, Role.AGENT, "mine", ("job",))
    task = await im.engine.submit(TaskSpec(type="job", pinned_agent="theirs"))
    async with http_for(im, await key(im, Role.ADMIN)) as http:
        [lease] = (await http.post("/api/v1/agents/theirs/lease", json={})).json()["leases"]
    async with http_for(im, own) as http:
        guess = {"agent_id": "mine", "token": lease["token"] + 1000}
        refused = await http.post(f"/api/v1/tasks/{task.id}/heartbeat", json=guess)
    found = problem(refused, 409, "leased to agent theirs, not mine", "not extended")
    assert "current lease" not in found["detail"]
    assert im.engine.state.tasks[task.id].lease_token == lease["token"]


async def test_a_worker_with_an_agent_key_registers_and_runs_tasks(im: Imperium) -> None:
    own = await key(im, Role.AGENT, "helper", ("job",))
    transport = httpx.ASGITransport(app=create_app(im, auth_required=True))

    async def double(ctx) -> int:  # type: ignore[no-untyped-def]
        return int(ctx.payload) * 2

    worker = Worker(
        "http://127.0.0.1", "helper", double, capabilities=["job"], lease_wait=1,
        api_key=own, transport=transport,
    )  # fmt: skip
    running = asyncio.create_task(worker.run())
    task = await im.engine.submit(TaskSpec(type="job", payload=21))
    done = await asyncio.wait_for(im.engine.wait_for(task.id), timeout=20)
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert (done.state, done.result, done.agent_id) == (TaskState.SUCCEEDED, 42, "helper")


async def test_a_worker_without_a_key_is_told_why(sqlite_im: Imperium) -> None:
    from imperium.worker import WorkerError

    transport = httpx.ASGITransport(app=create_app(sqlite_im, auth_required=True))

    async def nothing(ctx) -> None:  # type: ignore[no-untyped-def]
        return None

    worker = Worker("http://127.0.0.1", "anon", nothing, api_key="", transport=transport)
    with pytest.raises(WorkerError, match="requires an API key"):
        await asyncio.wait_for(worker.run(), timeout=10)


# ---------------------------------------------------------------------------- browsers
async def test_without_keys_foreign_web_pages_are_refused(sqlite_im: Imperium) -> None:
    """A page on another site (or a rebound DNS name) must not drive a keyless server."""
    async with http_for(sqlite_im) as http:
        body = {"type": "echo"}
        evil = await http.post(
            "/api/v1/tasks", json=body, headers={"Origin": "https://evil.example"}
        )
        problem(evil, 403, "a web page from https://evil.example", "IMPERIUM_CORS_ORIGINS")
        rebound = {"Origin": "http://evil.example:8000", "Host": "evil.example:8000"}
        problem(await http.post("/api/v1/tasks", json=body, headers=rebound), 403, "loopback")
        own_page = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}
        assert (await http.post("/api/v1/tasks", json=body, headers=own_page)).status_code == 201
        assert (await http.post("/api/v1/tasks", json=body)).status_code == 201  # a program
    assert sum((await sqlite_im.store.count_tasks_by_state()).values()) == 2


FOREIGN_HOSTS = (
    "evil.example:8000", "evil.example", "127.0.0.1.evil.example", "localhost.evil.example",
    "0.0.0.0:8000", "192.168.1.5", "[2001:db8::1]:8000", "[::1", "127.0.0.1@evil.example",
)  # fmt: skip
LOOPBACK_HOSTS = (
    "localhost:8000", "LOCALHOST", "localhost.:8000", "app.localhost:8000", "127.0.0.1",
    "127.1.2.3:9", "[::1]:8000", "[::1]",
)  # fmt: skip


async def test_without_keys_only_requests_to_loopback_names_are_served(
    sqlite_im: Imperium,
) -> None:
    """DNS rebinding: a page from evil.example, whose name now resolves to 127.0.0.1, sends
    ``Host: evil.example``; a server without keys must answer it nothing, reads included."""
    task = await sqlite_im.engine.submit(TaskSpec(type="job", payload="secret"))
    paths = ("/api/v1/tasks", f"/api/v1/tasks/{task.id}", "/openapi.json", "/api/health", "/x")
    async with http_for(sqlite_im) as http:
        for host in FOREIGN_HOSTS:
            for path in paths:
                refused = await http.get(path, headers={"Host": host})
                assert "secret" not in refused.text
                problem(refused, 403, "answers only requests addressed to a loopback name")
        for host in LOOPBACK_HOSTS:
            assert (await http.get("/api/v1/tasks", headers={"Host": host})).is_success, host
        assert (await http.get("/api/v1/tasks")).json()["items"][0]["payload"] == "secret"


async def test_with_keys_any_host_name_may_be_used(sqlite_im: Imperium) -> None:
    """Behind a reverse proxy (Host: the public name) a key is what counts."""
    admin = await key(sqlite_im, Role.ADMIN)
    async with http_for(sqlite_im) as http:
        proxied = {"Host": "imperium.example.com"}
        problem(await http.get("/api/v1/tasks", headers=proxied), 401, "requires an API key")
        with_key = await http.get("/api/v1/tasks", headers={**proxied, "X-API-Key": admin})
        assert with_key.status_code == 200
        assert (await http.get("/api/health", headers=proxied)).status_code == 200  # probes


async def test_configured_origins_may_call_without_keys(make_database_url) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=make_database_url("sqlite"), cors_origins="https://ops.example.com"
    )
    runtime = await Imperium.open(settings)
    await runtime.start()
    try:
        async with http_for(runtime) as http:
            body = {"type": "echo"}
            headers = {"Origin": "https://ops.example.com"}
            allowed = await http.post("/api/v1/tasks", json=body, headers=headers)
            assert allowed.status_code == 201
            other = {"Origin": "https://x.example"}
            problem(await http.post("/api/v1/tasks", json=body, headers=other), 403, "web page")
            # a foreign page cannot read a GET's answer (CORS), so reads are not refused
            assert (await http.get("/api/v1/tasks", headers=other)).status_code == 200
    finally:
        await runtime.close()


async def test_a_key_in_the_query_string_counts_only_for_websockets(sqlite_im: Imperium) -> None:
    admin = await key(sqlite_im, Role.ADMIN)
    async with http_for(sqlite_im) as http:
        problem(await http.get(f"/api/v1/tasks?api_key={admin}"), 401, "requires an API key")


def test_server_logs_hide_keys_in_query_strings() -> None:
    import logging

    from imperium.interfaces.api.auth import RedactKeys

    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/api/v1/events/ws?types=task.&api_key=imp_abc_SECRET&x=1"), None,
    )  # fmt: skip
    assert RedactKeys().filter(record)
    message = record.getMessage()
    assert "SECRET" not in message
    assert "api_key=***&x=1" in message
