"""API keys: their format, digests, roles, and the key service's cache."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.storage.memory import MemoryKeyStore
from imperium.domain.auth import (
    ApiKey,
    AuthError,
    ForbiddenError,
    Principal,
    Role,
    new_key,
    parse_key,
    secret_matches,
)
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.services.keys import KeyService


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        return self.t


def test_a_new_key_parses_back_and_only_its_secret_matches() -> None:
    key_id, text, secret_hash = new_key()
    parsed = parse_key(text)
    assert parsed is not None
    assert parsed[0] == key_id
    assert secret_hash not in text  # only the digest is stored, never derivable from it
    other_id, other_text, _ = new_key()
    assert (other_id, other_text) != (key_id, text)
    assert parse_key(text + "x") is None
    assert parse_key("imp_xyz_abc") is None


def test_roles_parse_with_a_clear_error() -> None:
    assert Role.parse(" Read-Only ") is Role.READ_ONLY
    with pytest.raises(ValidationError, match="admin, agent, read-only"):
        Role.parse("root")


def test_agent_principals_act_only_for_their_agent() -> None:
    Principal("k", Role.ADMIN).require_agent("anyone")
    Principal("k", Role.AGENT, "a").require_agent("a")
    with pytest.raises(ForbiddenError, match="belongs to agent 'a'"):
        Principal("k", Role.AGENT, "a").require_agent("b")


def test_an_agent_key_allows_only_its_capabilities() -> None:
    Principal("k", Role.ADMIN).require_capabilities({"run_code"})  # no limit
    limited = Principal("k", Role.AGENT, "a", frozenset({"echo", "a"}))
    limited.require_capabilities({"echo"})
    limited.require_capabilities(set())
    with pytest.raises(ForbiddenError) as refused:
        limited.require_capabilities({"echo", "run_code", "deploy"})
    message = str(refused.value)
    assert "does not allow the capabilities deploy, run_code (it allows a, echo)" in message
    assert "imperium keys create --role agent --agent a --capability NAME" in message


def test_an_agent_key_without_a_list_allows_its_agent_id_alone() -> None:
    def stored(role: Role, agent: str | None, caps: frozenset[str] | None) -> ApiKey:
        return ApiKey("k", "n", role, "h", 0.0, agent, capabilities=caps)

    assert stored(Role.AGENT, "a", None).allowed_capabilities == frozenset({"a"})
    assert stored(Role.AGENT, "a", frozenset({"x"})).allowed_capabilities == frozenset({"x"})
    assert stored(Role.ADMIN, None, None).allowed_capabilities is None
    assert stored(Role.READ_ONLY, None, None).allowed_capabilities is None


async def test_service_stores_an_agent_keys_capabilities() -> None:
    service = KeyService(MemoryKeyStore(), Clock())
    key, text = await service.create("w", Role.AGENT, "a", [" echo ", "job", "job"])
    assert key.capabilities == frozenset({"echo", "job"})
    assert (await service.authenticate(text)).capabilities == frozenset({"echo", "job"})
    _, plain = await service.create("w", Role.AGENT, "a")
    assert (await service.authenticate(plain)).capabilities == frozenset({"a"})
    _, admin = await service.create("ops", Role.ADMIN)
    assert (await service.authenticate(admin)).capabilities is None
    with pytest.raises(ValidationError, match="only agent keys limit capabilities"):
        await service.create("ops", Role.ADMIN, capabilities=["echo"])
    with pytest.raises(ValidationError, match="a name of 1 to 200"):
        await service.create("w", Role.AGENT, "a", ["  "])
    with pytest.raises(ValidationError, match="a name of 1 to 200"):
        await service.create("w", Role.AGENT, "a", ["x" * 201])


async def test_service_creates_authenticates_and_revokes() -> None:
    store, clock = MemoryKeyStore(), Clock()
    service = KeyService(store, clock)
    assert not await service.enabled()
    key, text = await service.create("ci", Role.READ_ONLY)
    assert await service.enabled()
    stored = await store.get_key(key.id)
    assert stored is not None
    assert secret_matches(text.split("_", 2)[2], stored)
    assert await service.authenticate(text) == Principal(key.id, Role.READ_ONLY)
    revoked = await service.revoke(key.id)
    assert revoked.revoked_at == clock.t
    with pytest.raises(AuthError, match="unknown or revoked"):
        await service.authenticate(text)
    with pytest.raises(ConflictError, match="already revoked"):
        await service.revoke(key.id)
    with pytest.raises(NotFoundError, match="imperium keys list"):
        await service.revoke("000000000000")


async def test_revoking_every_key_keeps_keys_required_until_a_reset() -> None:
    """Revoking the last key must not open the server to everyone."""
    service = KeyService(MemoryKeyStore(), Clock())
    first, _ = await service.create("ci", Role.ADMIN)
    second, _ = await service.create("ops", Role.READ_ONLY)
    await service.revoke(first.id)
    await service.revoke(second.id)
    assert await service.enabled()
    assert await service.reset() == 2
    assert not await service.enabled()
    assert await service.list() == []


async def test_service_refuses_inconsistent_keys() -> None:
    service = KeyService(MemoryKeyStore(), Clock())
    with pytest.raises(ValidationError, match="must name its agent"):
        await service.create("w", Role.AGENT)
    with pytest.raises(ValidationError, match="takes no agent id"):
        await service.create("w", Role.ADMIN, "a")
    with pytest.raises(ValidationError, match="name of 1 to 100"):
        await service.create("  ", Role.ADMIN)


async def test_a_key_revoked_elsewhere_stops_working_once_the_cache_expires() -> None:
    store, clock = MemoryKeyStore(), Clock()
    server = KeyService(store, clock, cache_seconds=5)
    cli = KeyService(store, clock)  # another process, sharing the database
    key, text = await cli.create("w", Role.AGENT, "a")
    assert (await server.authenticate(text)).agent_id == "a"
    await cli.revoke(key.id)
    clock.t += 4
    assert (await server.authenticate(text)).key_id == key.id  # cached for a few seconds
    clock.t += 2
    with pytest.raises(AuthError):
        await server.authenticate(text)


async def test_a_read_that_began_before_a_change_does_not_cache_its_stale_answer() -> None:
    """A request that counted the keys (or looked one up) before a key was created or
    revoked must not keep that answer for the cache's lifetime after the change."""
    store, clock = MemoryKeyStore(), Clock()
    service = KeyService(store, clock, cache_seconds=60)
    counting, go_on = asyncio.Event(), asyncio.Event()
    count = store.count_keys

    async def slow_count() -> int:
        before = await count()
        counting.set()
        await go_on.wait()  # the key is created meanwhile
        return before

    store.count_keys = slow_count  # type: ignore[method-assign]
    stale = asyncio.create_task(service.enabled())
    await counting.wait()
    store.count_keys = count  # type: ignore[method-assign]
    key, text = await service.create("ci", Role.READ_ONLY)
    go_on.set()
    assert await stale is False  # what it read, before the key existed
    assert await service.enabled()  # not cached: the next request counts again

    looking, go_on = asyncio.Event(), asyncio.Event()
    get = store.get_key

    async def slow_get(key_id: str) -> ApiKey | None:
        found = await get(key_id)
        looking.set()
        await go_on.wait()  # the key is revoked meanwhile
        return found

    store.get_key = slow_get  # type: ignore[method-assign]
    first = asyncio.create_task(service.authenticate(text))
    await looking.wait()
    store.get_key = get  # type: ignore[method-assign]
    await service.revoke(key.id)
    go_on.set()
    assert (await first).key_id == key.id  # it began before the revocation
    with pytest.raises(AuthError, match="unknown or revoked"):
        await service.authenticate(text)
