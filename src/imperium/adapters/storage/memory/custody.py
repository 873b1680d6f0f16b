"""``MemoryCustodyStore``: the ``CustodyStore`` port in memory."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import MemoryArea, json_copy
from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.errors import ConflictError


class MemoryCustodyStore(MemoryArea):
    async def get_custody(self, agent_id: str) -> CustodyRecord | None:
        stored = self.state.custody.get(agent_id)
        return _copy_record(stored) if stored is not None else None

    async def list_custody(self) -> list[CustodyRecord]:
        custody = self.state.custody
        return [_copy_record(custody[key]) for key in sorted(custody)]

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        stored = self.state.custody.get(record.agent_id)
        if expected_tests is not None and (stored.tests if stored else 0) != expected_tests:
            return False
        if result.result_id in self.state.custody_results:
            raise ConflictError(
                f"custody result '{result.result_id}' is already recorded; nothing was written"
            )
        self.state.custody_results[result.result_id] = _copy_result(result)
        self.state.custody[record.agent_id] = _copy_record(record)
        return True

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        matching = [
            r
            for r in self.state.custody_results.values()
            if agent_id is None or r.agent_id == agent_id
        ]
        matching.sort(key=lambda r: (r.created_at, r.result_id), reverse=True)
        return [_copy_result(r) for r in matching[: max(limit, 0)]]

    async def get_custody_result(self, result_id: str) -> CustodyResult | None:
        stored = self.state.custody_results.get(result_id)
        return _copy_result(stored) if stored is not None else None


def _copy_result(result: CustodyResult) -> CustodyResult:
    return dataclasses.replace(
        result, answer=json_copy(result.answer), grader_output=json_copy(result.grader_output)
    )


def _copy_record(record: CustodyRecord) -> CustodyRecord:
    return dataclasses.replace(record, recent=tuple(bool(r) for r in record.recent))
