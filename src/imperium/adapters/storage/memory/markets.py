"""``MemoryMarketStore``: candles, texts and models in memory (unit tests, ``MemoryStore``
runtimes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from imperium.domain.markets import Candle, MarketText, ModelRecord


class MemoryMarketStore:
    def __init__(self) -> None:
        self.series: dict[tuple[str, str], dict[float, Candle]] = {}
        self.text_rows: list[MarketText] = []
        self.model_rows: list[ModelRecord] = []

    async def save_candles(self, symbol: str, timeframe: str, candles: Sequence[Candle]) -> int:
        series = self.series.setdefault((symbol, timeframe), {})
        written = {c.ts: c for c in candles}
        series.update(written)
        return len(written)

    async def delete_candles(
        self, symbol: str, timeframe: str, since: float | None = None, until: float | None = None
    ) -> int:
        series = self.series.get((symbol, timeframe), {})
        gone = [ts for ts in series if (since is None or ts >= since)
                and (until is None or ts <= until)]  # fmt: skip
        for ts in gone:
            del series[ts]
        return len(gone)

    async def candles(self, symbol: str, timeframe: str) -> list[Candle]:
        series = self.series.get((symbol, timeframe), {})
        return [series[ts] for ts in sorted(series)]

    async def market_series(self) -> list[tuple[str, str, int, float, float]]:
        return [(s, tf, len(c), min(c), max(c)) for (s, tf), c in sorted(self.series.items()) if c]

    async def add_texts(self, texts: Sequence[MarketText]) -> None:
        self.text_rows.extend(texts)

    async def texts(self, symbol: str, limit: int) -> list[MarketText]:
        chosen = [x for x in self.text_rows if x.symbol == symbol]
        return sorted(chosen, key=lambda x: (x.created_at, x.id), reverse=True)[:limit]

    async def save_model(self, record: ModelRecord) -> ModelRecord:
        versions = [m.version for m in self.model_rows if m.name == record.name]
        saved = dataclasses.replace(record, version=max(versions, default=0) + 1)
        if saved.current:
            self.model_rows = [
                dataclasses.replace(m, current=False) if m.name == saved.name else m
                for m in self.model_rows
            ]
        self.model_rows.append(saved)
        return saved

    async def models(self, name: str | None = None) -> list[ModelRecord]:
        chosen = [m for m in self.model_rows if name is None or m.name == name]
        ordered = sorted(chosen, key=lambda m: (m.created_at, m.version), reverse=True)
        return [dataclasses.replace(m, artefact=None) for m in ordered]

    async def current_model(self, name: str) -> ModelRecord | None:
        return next((m for m in self.model_rows if m.name == name and m.current), None)

    async def model_version(self, name: str, version: int) -> ModelRecord | None:
        return next((m for m in self.model_rows if (m.name, m.version) == (name, version)), None)
