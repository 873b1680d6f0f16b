"""CPU-bound work of the crypto and fraud agents (VADER scoring, parsing transactions and
trades) runs in a worker thread, never on the event loop's: on the loop, 10,000 texts held
every other request for 51 s."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.agents import _fraud_models as fm
from imperium.agents.base import TaskContext
from imperium.agents.crypto import CryptoAgent
from imperium.agents.fraud import FraudAgent
from imperium.agents.fraud_data import generate
from imperium.domain import trading
from imperium.domain.markets import MarketText


def ctx(task_type: str, payload: Any, store: MemoryMarketStore) -> TaskContext:
    return TaskContext("t1", task_type, payload, 1, "a", services={"markets": store})


def recording(threads: list[int], real: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    return call


async def test_sentiment_scoring_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    vader = pytest.importorskip("vaderSentiment.vaderSentiment")
    threads: list[int] = []
    analyzer = vader.SentimentIntensityAnalyzer
    monkeypatch.setattr(analyzer, "polarity_scores", recording(threads, analyzer.polarity_scores))
    store = MemoryMarketStore()
    texts = ["what a great rally", "awful crash", "it traded sideways"]
    await store.add_texts([MarketText(str(i), "BTC", t, "test", 1.0) for i, t in enumerate(texts)])
    got = await CryptoAgent().run(ctx("crypto_sentiment", {"symbol": "btc"}, store))
    assert (got["count"], got["distribution"]) == (
        3, {"positive": 1, "neutral": 1, "negative": 1})  # fmt: skip
    assert len(threads) == 3
    assert threading.get_ident() not in threads


async def test_transactions_and_trades_are_parsed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    monkeypatch.setattr(fm, "parse", recording(threads, fm.parse))
    store = MemoryMarketStore()
    rows = generate(accounts=40, days=20, fraud_events=30, seed=3)
    rows = [{k: v for k, v in r.items() if k != "pattern"} for r in rows]
    agent = FraudAgent()
    await agent.run(ctx("fraud_train", {"transactions": rows}, store))
    await agent.run(ctx("fraud_analyze", {"transactions": rows[:3]}, store))
    assert len(threads) == 2
    assert threading.get_ident() not in threads

    trade_threads: list[int] = []
    import imperium.agents.fraud as fraud_agent

    monkeypatch.setattr(fraud_agent, "parse_trades", recording(trade_threads, trading.parse_trades))
    trade = {"timestamp": 0, "symbol": "x", "price": 1, "quantity": 1, "buyer": "a",
             "seller": "a"}  # fmt: skip
    found = await agent.run(ctx("fraud_analyze", {"trades": [trade]}, store))
    assert found["flagged"] == 1
    assert len(trade_threads) == 1
    assert threading.get_ident() not in trade_threads
