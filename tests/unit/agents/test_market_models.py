"""The crypto models on real BTC-USD candles (tests/data/markets) and on series built to
have known answers: indicators, risk, the walk-forward backtest against naive, forecasts."""

from __future__ import annotations

import csv
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imperium.agents import _market_models as mm
from imperium.domain.markets import Candle, parse_candles

BTC = Path(__file__).resolve().parents[2] / "data" / "markets" / "btc-usd-daily.csv"
SMALL = mm.ForecastConfig(max_iter=20, min_samples_leaf=20, test_size=60, folds=2)
DAY = 86_400.0


def btc(last: int) -> list[Candle]:
    with BTC.open() as f:
        return parse_candles(list(csv.DictReader(f)))[0][-last:]


def series(closes: list[float]) -> list[Candle]:
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    return [Candle(start + i * DAY, c, c, c, c, 1000.0 + i) for i, c in enumerate(closes)]


def test_indicators_match_their_definitions() -> None:
    candles = btc(300)
    got = mm.indicators(mm.frame(candles))
    closes = [c.close for c in candles]
    last20 = closes[-20:]
    sma20 = sum(last20) / 20
    assert got["sma_20"] == pytest.approx(sma20, rel=1e-6)
    assert got["sma_50"] == pytest.approx(sum(closes[-50:]) / 50, rel=1e-6)
    assert got["bollinger"]["middle"] == pytest.approx(sma20, rel=1e-6)
    std = math.sqrt(sum((c - sma20) ** 2 for c in last20) / 20)
    assert got["bollinger"]["upper"] - got["bollinger"]["lower"] == pytest.approx(4 * std, rel=1e-5)
    assert 0 <= got["rsi_14"] <= 100
    macd = got["macd"]
    assert macd["histogram"] == pytest.approx(macd["macd"] - macd["signal"], abs=1e-4)
    assert got["as_of"].startswith("2021-08-24")


def test_risk_on_a_series_with_a_known_drawdown() -> None:
    closes = [100.0, 120.0, 60.0, 90.0, 30.0, 50.0]
    got = mm.risk(mm.frame(series(closes)), "1d")
    assert got["max_drawdown"] == pytest.approx(30 / 120 - 1)
    assert got["max_drawdown_peak"].startswith("2024-01-02")
    assert got["max_drawdown_trough"].startswith("2024-01-05")
    returns = [b / a - 1 for a, b in itertools.pairwise(closes)]
    assert got["value_at_risk_95"] >= -min(returns) * 0.5  # a loss, from the worst returns
    assert got["volatility_annualised"] == pytest.approx(
        got["volatility"] * math.sqrt(365), rel=1e-3
    )


def test_a_predictable_series_beats_naive_and_a_real_one_is_scored_on_the_same_pairs() -> None:
    # a slow sine: tomorrow's move is known from today's, so the model must beat "no change"
    closes = [100 + 20 * math.sin(i / 8) for i in range(400)]
    easy = mm.backtest(mm.frame(series(closes)), 3, SMALL)
    assert easy["beats_naive"] is True
    assert easy["model"]["mase"] < 0.5
    assert easy["model"]["directional_accuracy"] > 0.9
    assert easy["significance"]["significant"] is True
    assert easy["significance"]["statistic"] < 0  # the model's errors are the smaller

    candles = btc(400)
    got = mm.backtest(mm.frame(candles), 3, SMALL)
    n = len(candles)
    origins = range(n - 3 - got["origins"], n - 3)  # the last origins whose truth is known
    naive = [abs(candles[t + h].close - candles[t].close) for t in origins for h in (1, 2, 3)]
    assert got["pairs"] == len(naive)
    assert got["naive"]["mae"] == pytest.approx(sum(naive) / len(naive), rel=1e-4)
    assert got["model"]["mase"] == pytest.approx(
        got["model"]["mae"] / got["naive"]["mae"], rel=1e-3
    )
    assert got["beats_naive"] == (got["model"]["mae"] < got["naive"]["mae"])
    assert 0 <= got["model"]["coverage_80"] <= got["model"]["coverage_95"] <= 1
    assert [s["step"] for s in got["per_step"]] == [1, 2, 3]


def test_the_diebold_mariano_test_tells_a_real_difference_from_chance() -> None:
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    origin = np.repeat(np.arange(300), 2)  # 300 origins, 2 steps each
    noise = rng.normal(0.0, 1.0, len(origin))
    same = mm.diebold_mariano(np, noise, origin, 2)  # differences centred on zero
    assert same["significant"] is False
    assert same["p_value"] > 0.05
    better = mm.diebold_mariano(np, noise - 0.5, origin, 2)  # the model's errors 0.5 smaller
    assert better["significant"] is True
    assert better["statistic"] < -3
    assert better["origins"] == 300


def test_a_verdict_says_when_a_win_over_naive_is_within_chance() -> None:
    from imperium.agents.crypto import verdict

    backtest = {"model": {"mae": 99.0, "mase": 0.99}, "naive": {"mae": 100.0},
                "beats_naive": True}  # fmt: skip
    chance = {**backtest, "significance": {"p_value": 0.6, "significant": False}}
    assert "chance explains" in verdict(chance)
    assert "no better than naive" in verdict(chance)
    real = {**backtest, "significance": {"p_value": 0.001, "significant": True}}
    assert verdict(real).startswith("the model beat")
    assert verdict(backtest).startswith("the model beat")  # a version stored before the test
    lost = {**backtest, "beats_naive": False}
    assert "did NOT beat" in verdict(lost)


def test_forecast_bands_are_nested_and_dated() -> None:
    df = mm.frame(btc(300))
    models = mm.fit_final(df, 4, SMALL)
    out = mm.forecast(df, mm.load_models(mm.dump_models(models)), 4, DAY)
    assert [f["timestamp"][:10] for f in out] == [
        "2021-08-25", "2021-08-26", "2021-08-27", "2021-08-28"]  # fmt: skip
    for f in out:
        lo95, hi95 = f["interval_95"]
        lo80, hi80 = f["interval_80"]
        assert lo95 <= lo80 <= f["price"] <= hi80 <= hi95


def test_too_few_candles_is_said() -> None:
    with pytest.raises(mm.NotEnoughDataError, match="needs at least"):
        mm.backtest(mm.frame(btc(100)), 7, SMALL)
