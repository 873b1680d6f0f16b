"""``SqlMarketStore``: market candles (``market_candles``), texts for sentiment
(``market_texts``) and versioned models (``ml_models``, artefacts as bytes in the row)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import market_candles, market_texts, ml_models
from imperium.domain.markets import Candle, MarketText, ModelRecord

_CHUNK = 500  # rows per INSERT: SQLite allows 32,766 bound parameters
_SAVE_ATTEMPTS = 10
_MODEL_LOCKS = 0x6D6C  # the advisory-lock space of model names (two-key form)


class SqlMarketStore(SqlArea):
    async def save_candles(self, symbol: str, timeframe: str, candles: Sequence[Candle]) -> int:
        t = market_candles
        rows = [{"symbol": symbol, "timeframe": timeframe, **dataclasses.asdict(c)}
                for c in {c.ts: c for c in candles}.values()]  # fmt: skip
        async with self._db.transaction() as conn:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                await conn.execute(
                    sa.delete(t).where(
                        t.c.symbol == symbol,
                        t.c.timeframe == timeframe,
                        t.c.ts.in_([r["ts"] for r in chunk]),
                    )
                )
                await conn.execute(sa.insert(t), chunk)
        return len(rows)

    async def delete_candles(
        self, symbol: str, timeframe: str, since: float | None = None, until: float | None = None
    ) -> int:
        t = market_candles
        query = sa.delete(t).where(t.c.symbol == symbol, t.c.timeframe == timeframe)
        if since is not None:
            query = query.where(t.c.ts >= since)
        if until is not None:
            query = query.where(t.c.ts <= until)
        async with self._db.transaction() as conn:
            return int((await conn.execute(query)).rowcount)

    async def candles(self, symbol: str, timeframe: str) -> list[Candle]:
        t = market_candles
        query = (
            sa.select(t.c.ts, t.c.open, t.c.high, t.c.low, t.c.close, t.c.volume)
            .where(t.c.symbol == symbol, t.c.timeframe == timeframe)
            .order_by(t.c.ts)
        )
        return [Candle(*row) for row in await self._db.fetch(query)]

    async def market_series(self) -> list[tuple[str, str, int, float, float]]:
        t = market_candles
        query = (
            sa.select(t.c.symbol, t.c.timeframe, sa.func.count())
            .add_columns(sa.func.min(t.c.ts), sa.func.max(t.c.ts))
            .group_by(t.c.symbol, t.c.timeframe)
            .order_by(t.c.symbol, t.c.timeframe)
        )
        return [
            (r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in await self._db.fetch(query)
        ]

    async def add_texts(self, texts: Sequence[MarketText]) -> None:
        if texts:
            async with self._db.transaction() as conn:
                await conn.execute(sa.insert(market_texts), [dataclasses.asdict(x) for x in texts])

    async def texts(self, symbol: str, limit: int) -> list[MarketText]:
        t = market_texts
        query = (
            sa.select(t).where(t.c.symbol == symbol)
            .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        )  # fmt: skip
        return [MarketText(r.id, r.symbol, r.text, r.source, r.created_at)
                for r in await self._db.fetch(query)]  # fmt: skip

    async def save_model(self, record: ModelRecord) -> ModelRecord:
        """Saves of one name at the same time (two trainings ending together): on
        PostgreSQL a transaction-scoped advisory lock per name takes them in turn (so the
        version numbers and the one current version hold); on SQLite, which writes one
        transaction at a time, a save that lost the race for its number tries the next."""
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                return await self._save_model(record)
            except IntegrityError:
                if self._db.in_unit_of_work or attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _save_model(self, record: ModelRecord) -> ModelRecord:
        t = ml_models
        async with self._db.transaction() as conn:
            if self._db.dialect == "postgresql":
                lock = sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))")
                await conn.execute(lock, {"space": _MODEL_LOCKS, "name": record.name})
            latest = (
                await conn.execute(
                    sa.select(sa.func.max(t.c.version)).where(t.c.name == record.name)
                )
            ).scalar()
            saved = dataclasses.replace(record, version=int(latest or 0) + 1)
            if saved.current:
                await conn.execute(
                    sa.update(t).where(t.c.name == saved.name, t.c.current).values(current=False)
                )
            await conn.execute(sa.insert(t), [dataclasses.asdict(saved)])
        return saved

    async def models(self, name: str | None = None) -> list[ModelRecord]:
        t = ml_models
        columns = [c for c in t.c if c.name != "artefact"]
        query = sa.select(*columns).order_by(t.c.created_at.desc(), t.c.version.desc())
        if name is not None:
            query = query.where(t.c.name == name)
        return [_record(row, None) for row in await self._db.fetch(query)]

    async def current_model(self, name: str) -> ModelRecord | None:
        t = ml_models
        rows = await self._db.fetch(sa.select(t).where(t.c.name == name, t.c.current))
        return _record(rows[0], rows[0].artefact) if rows else None

    async def model_version(self, name: str, version: int) -> ModelRecord | None:
        t = ml_models
        rows = await self._db.fetch(sa.select(t).where(t.c.name == name, t.c.version == version))
        return _record(rows[0], rows[0].artefact) if rows else None


def _record(row: Any, artefact: bytes | None) -> ModelRecord:
    return ModelRecord(
        id=row.id, name=row.name, version=row.version, kind=row.kind, algorithm=row.algorithm,
        created_at=row.created_at, metrics=dict(row.metrics), data_summary=dict(row.data_summary),
        current=bool(row.current), artefact=bytes(artefact) if artefact is not None else None,
    )  # fmt: skip
