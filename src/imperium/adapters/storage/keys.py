"""Where API keys are kept: ``SqlKeyStore`` (the ``api_keys`` table) and ``MemoryKeyStore``
for tests of the core. Both implement the ``KeyStore`` port."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from imperium.adapters.storage.tables import api_keys
from imperium.domain.auth import ApiKey, Role


class SqlKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_key(self, key: ApiKey) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(api_keys), [_row(key)])

    async def get_key(self, key_id: str) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).first()
        return _key(row) if row is not None else None

    async def list_keys(self) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        async with self._engine.connect() as conn:
            return [_key(row) for row in (await conn.execute(query)).all()]

    async def revoke_key(self, key_id: str, at: float) -> bool:
        update = (
            sa.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(update)).rowcount == 1

    async def count_keys(self) -> int:
        query = sa.select(sa.func.count()).select_from(api_keys)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete_keys(self) -> int:
        async with self._engine.begin() as conn:
            return (await conn.execute(sa.delete(api_keys))).rowcount


def _row(key: ApiKey) -> dict[str, Any]:
    row = dataclasses.asdict(key)
    row["capabilities"] = sorted(key.capabilities) if key.capabilities is not None else None
    return row


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        agent_id=row.agent_id,
        revoked_at=row.revoked_at,
        capabilities=frozenset(row.capabilities) if row.capabilities is not None else None,
    )


class MemoryKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    async def insert_key(self, key: ApiKey) -> None:
        self._keys[key.id] = key

    async def get_key(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    async def list_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, key_id: str, at: float) -> bool:
        key = self._keys.get(key_id)
        if key is None or not key.active:
            return False
        self._keys[key_id] = dataclasses.replace(key, revoked_at=at)
        return True

    async def count_keys(self) -> int:
        return len(self._keys)

    async def delete_keys(self) -> int:
        count = len(self._keys)
        self._keys.clear()
        return count
