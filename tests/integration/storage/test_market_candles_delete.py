"""Deleting a series' candles, all or a time range, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from imperium.domain.markets import Candle
from imperium.ports import Store
from imperium.runtime import make_markets


def candle(ts: float) -> Candle:
    return Candle(ts, 1.0, 2.0, 0.5, 1.0, 10.0)


async def test_delete_a_range_then_the_rest(store: Store) -> None:
    markets = make_markets(store)
    await markets.save_candles("BTC", "1d", [candle(float(i)) for i in range(1, 6)])
    await markets.save_candles("BTC", "1h", [candle(1.0)])
    assert await markets.delete_candles("BTC", "1d", since=4.0) == 2
    assert await markets.delete_candles("BTC", "1d", until=1.0) == 1
    assert await markets.delete_candles("BTC", "1d", since=2.5, until=2.9) == 0
    assert [c.ts for c in await markets.candles("BTC", "1d")] == [2.0, 3.0]
    assert await markets.delete_candles("BTC", "1d") == 2
    assert await markets.candles("BTC", "1d") == []
    assert await markets.market_series() == [("BTC", "1h", 1, 1.0, 1.0)]  # untouched
