"""The store of API keys."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.auth import ApiKey


class KeyStore(Protocol):
    """API keys (only digests of their secrets)."""

    async def insert_key(self, key: ApiKey) -> None: ...

    async def get_key(self, key_id: str) -> ApiKey | None: ...

    async def list_keys(self) -> list[ApiKey]: ...

    async def revoke_key(self, key_id: str, at: float) -> bool:
        """Revoke an active key; False when it does not exist or is already revoked."""
        ...

    async def count_keys(self) -> int:
        """Every key ever created, revoked ones too (keys stay required once one existed)."""
        ...

    async def delete_keys(self) -> int:
        """Forget every key, active and revoked; returns how many there were."""
        ...
