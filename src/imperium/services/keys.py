"""API keys: create, list, revoke, and turn a presented key into a :class:`Principal`.

Looking a key up costs a database read, so answers are cached for ``cache_seconds``: a key
revoked from another process (the CLI) stops working within that time; one revoked here
stops at once. Unknown ids are cached too, so a client sending garbage costs no query per
request.
"""

from __future__ import annotations

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


class KeyService:
    def __init__(self, store: KeyStore, clock: Clock, cache_seconds: float = CACHE_SECONDS):
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._active: tuple[int, float] | None = None
        # Bumped by every change: a read that began before a change does not cache its
        # (stale) answer after the change cleared the cache.
        self._generation = 0

    async def create(
        self, name: str, role: Role, agent_id: str | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the full key text, which is shown only once."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ValidationError(f"a key needs a name of 1 to {MAX_NAME} characters")
        if role is Role.AGENT and not agent_id:
            raise ValidationError("an agent key must name its agent: pass the agent id")
        if role is not Role.AGENT and agent_id:
            raise ValidationError(
                f"only agent keys are bound to an agent; a {role.value} key takes no agent id"
            )
        if agent_id is not None and (len(agent_id) > 100 or "/" in agent_id):
            raise ValidationError("an agent id has at most 100 characters and no '/'")
        key_id, text, secret_hash = new_key()
        key = ApiKey(key_id, name, role, secret_hash, self._clock.now(), agent_id)
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

    async def enabled(self) -> bool:
        """Whether any key is active (then every request must present one)."""
        now = self._clock.now()
        if self._active is not None and now - self._active[1] <= self._cache_seconds:
            return self._active[0] > 0
        generation = self._generation
        active = await self._store.count_active_keys()
        if generation == self._generation:
            self._active = (active, now)
        return active > 0

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
        return Principal(key.id, key.role, key.agent_id)

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
        self._active = None
