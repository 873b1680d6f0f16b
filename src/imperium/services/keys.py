"""API keys: create, list, revoke, and turn a presented key into a :class:`Principal`.

Keys are in force once any key has been created, and stay so when every key is revoked
(revoking the last key must not open the server to everyone); only :meth:`KeyService.reset`
(``imperium keys reset-open``) forgets them all and returns a loopback server to open use.

Looking a key up costs a database read, so answers are cached for ``cache_seconds``: a key
revoked from another process (the CLI) stops working within that time; one revoked here
stops at once. Unknown ids are cached too, so a client sending garbage costs no query per
request.
"""

from __future__ import annotations

from collections.abc import Iterable

from imperium.domain.auth import (
    ApiKey,
    AuthError,
    Principal,
    Role,
    new_key,
    parse_key,
    secret_matches,
)
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.ports import Clock, KeyStore

CACHE_SECONDS = 5.0
CACHE_LIMIT = 10_000
MAX_NAME = 100
MAX_CAPABILITY = 200  # as for an agent's own capabilities
MAX_CAPABILITIES = 1_000


class KeyService:
    def __init__(self, store: KeyStore, clock: Clock, cache_seconds: float = CACHE_SECONDS):
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._count: tuple[int, float] | None = None
        # Bumped by every change: a read that began before a change does not cache its
        # (stale) answer after the change cleared the cache.
        self._generation = 0

    async def create(
        self,
        name: str,
        role: Role,
        agent_id: str | None = None,
        capabilities: Iterable[str] = (),
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the full key text, which is shown only once.
        ``capabilities`` (agent keys only) are those its agent may offer; none given
        allows the agent's own id alone."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ValidationError(f"a key needs a name of 1 to {MAX_NAME} characters")
        _check_binding(role, agent_id)
        allowed = _capabilities(role, capabilities)
        key_id, text, secret_hash = new_key()
        now = self._clock.now()
        key = ApiKey(key_id, name, role, secret_hash, now, agent_id, capabilities=allowed)
        await self._store.insert_key(key)
        self._forget()
        return key, text

    async def list(self) -> list[ApiKey]:
        return await self._store.list_keys()

    async def revoke(self, key_id: str) -> ApiKey:
        key = await self._store.get_key(key_id)
        if key is None:
            raise NotFoundError(f"no API key has id '{key_id}'; `imperium keys list` shows them")
        if not await self._store.revoke_key(key_id, self._clock.now()):
            raise ConflictError(f"API key '{key_id}' is already revoked")
        self._forget()
        revoked = await self._store.get_key(key_id)
        assert revoked is not None
        return revoked

    async def reset(self) -> int:
        """Forget every key, active and revoked, so that keys are no longer in force (a
        loopback server serves everyone again); returns how many were forgotten."""
        forgotten = await self._store.delete_keys()
        self._forget()
        return forgotten

    async def enabled(self) -> bool:
        """Whether keys are in force: any key was created (revoked ones count) since the
        last :meth:`reset`. Then every request must present an active key."""
        now = self._clock.now()
        if self._count is not None and now - self._count[1] <= self._cache_seconds:
            return self._count[0] > 0
        generation = self._generation
        count = await self._store.count_keys()
        if generation == self._generation:
            self._count = (count, now)
        return count > 0

    async def authenticate(self, text: str) -> Principal:
        parsed = parse_key(text)
        if parsed is None:
            raise AuthError(
                "the API key is malformed: keys look like imp_<12 hex digits>_<secret>, "
                "as printed by `imperium keys create`"
            )
        key_id, secret = parsed
        key = await self._lookup(key_id)
        if key is None or not key.active or not secret_matches(secret, key):
            raise AuthError(
                "the API key is unknown or revoked; create a key with `imperium keys create`"
            )
        return Principal(key.id, key.role, key.agent_id, key.allowed_capabilities)

    async def _lookup(self, key_id: str) -> ApiKey | None:
        now = self._clock.now()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[1] <= self._cache_seconds:
            return cached[0]
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        generation = self._generation
        key = await self._store.get_key(key_id)
        if generation == self._generation:
            self._cache[key_id] = (key, now)
        return key

    def _forget(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._count = None


def _check_binding(role: Role, agent_id: str | None) -> None:
    if role is Role.AGENT and not agent_id:
        raise ValidationError("an agent key must name its agent: pass the agent id")
    if role is not Role.AGENT and agent_id:
        raise ValidationError(
            f"only agent keys are bound to an agent; a {role.value} key takes no agent id"
        )
    if agent_id is not None and (len(agent_id) > 100 or "/" in agent_id):
        raise ValidationError("an agent id has at most 100 characters and no '/'")


def _capabilities(role: Role, capabilities: Iterable[str]) -> frozenset[str] | None:
    """The capabilities an agent key allows, checked; None when none are given."""
    allowed = frozenset(c.strip() for c in capabilities)
    if not allowed:
        return None
    if role is not Role.AGENT:
        raise ValidationError(f"only agent keys limit capabilities; a {role.value} key takes none")
    if "" in allowed or any(len(c) > MAX_CAPABILITY for c in allowed):
        raise ValidationError(f"a capability is a name of 1 to {MAX_CAPABILITY} characters")
    if len(allowed) > MAX_CAPABILITIES:
        raise ValidationError(f"a key allows at most {MAX_CAPABILITIES} capabilities")
    return allowed
