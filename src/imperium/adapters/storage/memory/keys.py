"""``MemoryKeyStore``: the ``KeyStore`` port in memory."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.domain.auth import ApiKey


class MemoryKeyStore(MemoryArea):
    async def insert_key(self, key: ApiKey) -> None:
        self.state.keys[key.id] = key

    async def get_key(self, key_id: str) -> ApiKey | None:
        return self.state.keys.get(key_id)

    async def list_keys(self) -> list[ApiKey]:
        return sorted(self.state.keys.values(), key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, key_id: str, at: float) -> bool:
        key = self.state.keys.get(key_id)
        if key is None or not key.active:
            return False
        self.state.keys[key_id] = dataclasses.replace(key, revoked_at=at)
        return True

    async def count_keys(self) -> int:
        return len(self.state.keys)

    async def delete_keys(self) -> int:
        count = len(self.state.keys)
        self.state.keys.clear()
        return count
