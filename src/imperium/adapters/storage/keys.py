"""``SqlKeyStore``: the ``KeyStore`` port on the ``api_keys`` table (only digests of the
secrets)."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import api_keys
from imperium.domain.auth import ApiKey, Role


class SqlKeyStore(SqlArea):
    async def insert_key(self, key: ApiKey) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(api_keys), [_row(key)])

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._db.fetch(sa.select(api_keys).where(api_keys.c.id == key_id))
        return _key(rows[0]) if rows else None

    async def list_keys(self) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        return [_key(row) for row in await self._db.fetch(query)]

    async def revoke_key(self, key_id: str, at: float) -> bool:
        update = (
            sa.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        async with self._db.transaction() as conn:
            return (await conn.execute(update)).rowcount == 1

    async def count_keys(self) -> int:
        query = sa.select(sa.func.count()).select_from(api_keys)
        return int(await self._db.scalar(query))

    async def delete_keys(self) -> int:
        async with self._db.transaction() as conn:
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
