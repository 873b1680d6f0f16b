"""``SqlCustodyStore``: the ``CustodyStore`` port — custody results (one row per graded
test) and each agent's standing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage import _rows
from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import custody_results, custody_state
from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.errors import ConflictError


class SqlCustodyStore(SqlArea):
    async def get_custody(self, agent_id: str) -> CustodyRecord | None:
        query = sa.select(custody_state).where(custody_state.c.agent_id == agent_id)
        rows = await self._db.fetch(query)
        return _rows.custody_from_row(rows[0]) if rows else None

    async def list_custody(self) -> list[CustodyRecord]:
        query = sa.select(custody_state).order_by(custody_state.c.agent_id)
        return [_rows.custody_from_row(row) for row in await self._db.fetch(query)]

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        """One transaction: the result's row, and the agent's standing replaced (upsert);
        the standing's ``updated_at`` is the result's time. With ``expected_tests``, only
        if the stored standing still counts that many tests (none stored counts 0);
        otherwise nothing is written and the answer is False."""
        state = _rows.custody_state_row(record, result.created_at)
        cs = custody_state
        current = sa.select(cs.c.tests).where(cs.c.agent_id == record.agent_id)
        if self._db.dialect == "postgresql":
            current = current.with_for_update()
        try:
            async with self._db.transaction() as conn:
                if expected_tests is not None:
                    stored = (await conn.execute(current)).scalar_one_or_none()
                    if (stored or 0) != expected_tests:
                        return False
                await conn.execute(sa.insert(custody_results), [_rows.custody_result_row(result)])
                await conn.execute(self._db.upsert(custody_state, state, "agent_id"))
            return True
        except IntegrityError as exc:
            raise ConflictError(
                f"custody result '{result.result_id}' is already recorded; nothing was written"
            ) from exc

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        cr = custody_results
        query = sa.select(cr).order_by(cr.c.created_at.desc(), cr.c.result_id.desc()).limit(limit)
        if agent_id is not None:
            query = query.where(cr.c.agent_id == agent_id)
        return [_rows.custody_result_from_row(row) for row in await self._db.fetch(query)]

    async def get_custody_result(self, result_id: str) -> CustodyResult | None:
        query = sa.select(custody_results).where(custody_results.c.result_id == result_id)
        rows = await self._db.fetch(query)
        return _rows.custody_result_from_row(rows[0]) if rows else None
