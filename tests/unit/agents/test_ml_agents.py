"""The crypto and fraud agents' refusals: the ml extra missing (named), no market store
(outside the server), a task type they do not do."""

from __future__ import annotations

import csv
import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.crypto import CryptoAgent
from imperium.agents.fraud import FraudAgent
from imperium.agents.fraud_data import generate
from imperium.domain.markets import Candle, parse_candles

BTC = Path(__file__).resolve().parents[2] / "data" / "markets" / "btc-usd-daily.csv"


def ctx(task_type: str, payload: Any, store: MemoryMarketStore | None) -> TaskContext:
    services = {"markets": store} if store is not None else {}
    return TaskContext("t1", task_type, payload, 1, "a", services=services)


async def test_a_missing_ml_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryMarketStore()
    await store.save_candles("BTC", "1d", [Candle(float(i), 1, 1, 1, 1, 1) for i in range(5)])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(TaskFailed, match=r"needs pandas.*pip install 'imperium\[ml\]'") as info:
        await CryptoAgent().run(ctx("crypto_predict", {"symbol": "BTC"}, store))
    assert (info.value.kind, info.value.retryable) == ("not_installed", False)

    monkeypatch.setitem(sys.modules, "xgboost", None)
    rows = generate(accounts=20, days=20, fraud_events=20, seed=1)
    with pytest.raises(TaskFailed, match=r"needs xgboost-cpu.*imperium\[ml\]") as info:
        await FraudAgent().run(ctx("fraud_train", {"transactions": rows}, store))
    assert info.value.kind == "not_installed"


async def test_outside_the_server_and_wrong_types_are_refused() -> None:
    with pytest.raises(TaskFailed, match="inside `imperium serve` only") as info:
        await CryptoAgent().run(ctx("crypto_predict", {"symbol": "BTC"}, None))
    assert info.value.kind == "not_configured"
    store = MemoryMarketStore()
    with pytest.raises(TaskFailed, match="does 'fraud_train' and 'fraud_analyze'") as info:
        await FraudAgent().run(ctx("crypto_predict", {}, store))
    assert info.value.kind == "bad_input"
    with pytest.raises(TaskFailed, match="prediction_horizon must be"):
        await CryptoAgent().run(ctx("crypto_predict", {"symbol": "BTC", "prediction_horizon": 0},
                                    store))  # fmt: skip
    bad_config = CryptoAgent({"forecast": {"trees": 3}})
    await store.save_candles("BTC", "1d", [Candle(1.0, 1, 1, 1, 1, 1)])
    with pytest.raises(TaskFailed, match="forecast config is invalid") as info:
        await bad_config.run(ctx("crypto_predict", {"symbol": "BTC"}, store))
    assert info.value.kind == "not_configured"


async def test_a_stored_forecast_is_reused_only_for_the_same_candles() -> None:
    candles = parse_candles(list(csv.DictReader(BTC.read_text().splitlines())))[0][-250:]
    store = MemoryMarketStore()
    await store.save_candles("BTC", "1d", candles)
    agent = CryptoAgent({"forecast": {"max_iter": 10, "min_samples_leaf": 20, "folds": 2}})
    payload = {"symbol": "BTC", "prediction_horizon": 2}
    first = await agent.run(ctx("crypto_predict", payload, store))
    again = await agent.run(ctx("crypto_predict", payload, store))
    assert (first["model"]["reused"], again["model"]["reused"]) == (False, True)
    assert again["backtest"] == first["backtest"]
    await store.save_candles("BTC", "1d", [dataclasses.replace(candles[-1], volume=1.0)])
    changed = await agent.run(ctx("crypto_predict", payload, store))
    assert (changed["model"]["reused"], changed["model"]["version"]) == (False, 2)
    other = await agent.run(ctx("crypto_predict", {**payload, "prediction_horizon": 3}, store))
    assert (other["model"]["reused"], other["model"]["version"]) == (False, 3)
    back = await agent.run(ctx("crypto_predict", payload, store))  # version 2 fits again
    assert (back["model"]["reused"], back["model"]["version"]) == (True, 2)
    assert back["backtest"] == changed["backtest"]


async def test_the_fits_run_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from imperium.agents import _market_models as mm

    candles = parse_candles(list(csv.DictReader(BTC.read_text().splitlines())))[0][-250:]
    store = MemoryMarketStore()
    await store.save_candles("BTC", "1d", candles)
    threads: list[int] = []
    real_fit = mm._fit

    def fit(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real_fit(*args)

    monkeypatch.setattr(mm, "_fit", fit)
    agent = CryptoAgent({"forecast": {"max_iter": 5, "min_samples_leaf": 20, "folds": 2}})
    await agent.run(ctx("crypto_predict", {"symbol": "BTC", "prediction_horizon": 2}, store))
    assert len(threads) == 3  # two backtest blocks and the final fit
    assert threading.get_ident() not in threads  # never on the loop's thread
