"""The market store on memory, SQLite and PostgreSQL: candles per symbol and timeframe,
texts, and model versions (numbered per name, one current, artefacts kept)."""

from __future__ import annotations

from imperium.domain.markets import Candle, MarketText, ModelRecord
from imperium.ports import Store
from imperium.runtime import make_markets


def candle(ts: float, close: float) -> Candle:
    return Candle(ts, close, close + 1, close - 1, close, 10.0)


async def test_candles_upsert_by_time_per_series(store: Store) -> None:
    markets = make_markets(store)
    assert await markets.save_candles("BTC", "1d", [candle(2.0, 20), candle(1.0, 10)]) == 2
    await markets.save_candles("BTC", "1d", [candle(2.0, 21), candle(3.0, 30)])
    await markets.save_candles("BTC", "1h", [candle(1.0, 5)])
    assert await markets.candles("BTC", "1d") == [candle(1.0, 10), candle(2.0, 21), candle(3.0, 30)]
    assert await markets.candles("ETH", "1d") == []
    assert await markets.market_series() == [("BTC", "1d", 3, 1.0, 3.0), ("BTC", "1h", 1, 1.0, 1.0)]


async def test_many_candles_in_one_upload(store: Store) -> None:
    markets = make_markets(store)
    many = [candle(float(i), 1.0 + i) for i in range(1_200)]  # more than one INSERT chunk
    assert await markets.save_candles("ETH", "1h", many) == 1_200
    assert await markets.candles("ETH", "1h") == many


async def test_texts_newest_first_per_symbol(store: Store) -> None:
    markets = make_markets(store)
    await markets.add_texts([MarketText("a", "BTC", "up", "api", 1.0),
                             MarketText("b", "BTC", "down", "cli", 2.0),
                             MarketText("c", "ETH", "flat", "api", 3.0)])  # fmt: skip
    assert [t.id for t in await markets.texts("BTC", 10)] == ["b", "a"]
    assert [t.id for t in await markets.texts("BTC", 1)] == ["b"]


async def test_model_versions_one_current_per_name(store: Store) -> None:
    markets = make_markets(store)

    def record(rid: str, name: str, at: float, current: bool) -> ModelRecord:
        return ModelRecord(rid, name, 0, "supervised", "xgboost", at, {"pr_auc": at},
                           {"rows": 1}, current, artefact=rid.encode() * 3)  # fmt: skip

    first = await markets.save_model(record("m1", "fraud", 1.0, True))
    second = await markets.save_model(record("m2", "fraud", 2.0, False))
    other = await markets.save_model(record("m3", "crypto:BTC:1d", 3.0, True))
    assert (first.version, second.version, other.version) == (1, 2, 1)
    current = await markets.current_model("fraud")
    assert current is not None
    assert (current.id, current.artefact) == ("m1", b"m1m1m1")
    await markets.save_model(record("m4", "fraud", 4.0, True))
    current = await markets.current_model("fraud")
    assert current is not None
    assert (current.id, current.version) == ("m4", 3)
    listed = await markets.models("fraud")
    assert [(m.id, m.current, m.artefact) for m in listed] == [
        ("m4", True, None), ("m2", False, None), ("m1", False, None)]  # fmt: skip
    assert listed[0].metrics == {"pr_auc": 4.0}
    assert len(await markets.models()) == 4
    assert await markets.current_model("nothing") is None
    old = await markets.model_version("fraud", 2)
    assert old is not None
    assert (old.id, old.current, old.artefact) == ("m2", False, b"m2m2m2")
    assert await markets.model_version("fraud", 9) is None
