"""Series the forecast cannot use are refused up front, saying how many candles it needs
(one candle was an IndexError, a 502), and zero-volume candles do not blank the features
of the 30 candles after them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.agents import _market_models as mm
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.crypto import CryptoAgent
from imperium.domain.markets import Candle

FAST = {"max_iter": 5, "min_samples_leaf": 20, "folds": 2}
DAY = 86_400.0


def walk(n: int, zero_volume_at: tuple[int, ...] = ()) -> list[Candle]:
    out = []
    for i in range(n):
        close = 100 * math.exp(0.05 * math.sin(i / 5) + 0.001 * i + 0.01 * ((i * 7) % 5 - 2))
        volume = 0.0 if i in zero_volume_at else 1000.0 + 50 * ((i * 3) % 11)
        out.append(Candle(1.6e9 + i * DAY, close, close * 1.01, close * 0.99, close, volume))
    return out


async def predict(candles: list[Candle], horizon: int = 2) -> dict[str, Any]:
    store = MemoryMarketStore()
    await store.save_candles("X", "1d", candles)
    ctx = TaskContext("t1", "crypto_predict", {"symbol": "X", "prediction_horizon": horizon},
                      1, "a", services={"markets": store})  # fmt: skip
    result: dict[str, Any] = await CryptoAgent({"forecast": FAST}).run(ctx)
    return result


@pytest.mark.parametrize("count", [1, 2, 130])
async def test_too_few_candles_are_refused_saying_how_many_are_needed(count: int) -> None:
    with pytest.raises(TaskFailed, match=f"needs at least 131 candles; there are {count}") as info:
        await predict(walk(count))
    assert (info.value.kind, info.value.retryable) == ("bad_input", False)


async def test_the_least_number_of_candles_is_enough() -> None:
    """The count the refusal names is exactly what the backtest needs."""
    assert mm.min_candles(2, mm.ForecastConfig(**FAST)) == 131
    got = await predict(walk(131))
    assert [f["step"] for f in got["forecast"]] == [1, 2]


def test_risk_needs_three_candles() -> None:
    with pytest.raises(mm.NotEnoughDataError, match="at least 3 candles; there are 1"):
        mm.risk(mm.frame(walk(1)), "1d")
    assert mm.risk(mm.frame(walk(3)), "1d")["window"]["candles"] == 3


async def test_zero_volume_candles_leave_the_features_complete() -> None:
    candles = walk(200, zero_volume_at=(150, 190, 197))
    ratio = mm.features(mm.frame(candles))["volume_ratio"]
    assert not ratio.iloc[29:].isna().any()
    assert ratio.iloc[197] == pytest.approx(math.log(0.01))  # 1% of the average
    got = await predict(candles)
    assert len(got["forecast"]) == 2
    silent = [Candle(c.ts, c.open, c.high, c.low, c.close, 0.0) for c in candles]
    assert (mm.features(mm.frame(silent))["volume_ratio"].iloc[29:] == 0.0).all()
