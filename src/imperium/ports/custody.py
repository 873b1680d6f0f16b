"""The store of custody (validation) records."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.custody import CustodyRecord, CustodyResult


class CustodyStore(Protocol):
    """Custody results (one row per graded test) and each agent's standing."""

    async def get_custody(self, agent_id: str) -> CustodyRecord | None: ...

    async def list_custody(self) -> list[CustodyRecord]:
        """Every agent that has been tested, by agent id."""
        ...

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        """Insert ``result`` and replace the agent's standing with ``record``, in one
        transaction; with ``expected_tests``, only if the stored standing still counts that
        many tests (0 when none is stored) — so two processes testing one agent cannot
        overwrite each other's results. False when nothing was written."""
        ...

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        """Newest first."""
        ...

    async def get_custody_result(self, result_id: str) -> CustodyResult | None: ...
