"""The crypto and fraud routes in a real server (SQLite and PostgreSQL): market data
uploaded, predictions and sentiment answered by the built-in ``crypto`` agent, fraud models
trained and used by the built-in ``fraud`` agent, each a task through the engine."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imperium.agents.fraud_data import generate
from imperium.domain.knowledge import FetchedItem
from imperium.runtime import BUILTIN_AGENTS, Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import problem

BTC = Path(__file__).resolve().parents[2] / "data" / "markets" / "btc-usd-daily.csv"
CRYPTO = "/api/v1/crypto"
FRAUD = "/api/v1/fraud"
FAST = {"max_iter": 20, "min_samples_leaf": 20, "folds": 2}


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    settings = Settings(database_url=migrated_database_url, poll_interval=0.05,
                        drain_seconds=0.2, builtin_agents="crypto,fraud")  # fmt: skip
    runtime = await Imperium.open(settings, migrate=False)  # conftest's client serves it
    # a smaller forecast model than the default: the same code, faster
    crypto = next(a for a in BUILTIN_AGENTS if a.id == "crypto")
    await runtime.agents.ensure(dataclasses.replace(crypto, config={"forecast": FAST}))
    await runtime.start()
    yield runtime
    await runtime.close()


def btc_csv(last: int) -> str:
    lines = BTC.read_text().splitlines()
    return "\n".join([lines[0], *lines[-last:]]) + "\n"


async def test_upload_then_predict_with_backtest_against_naive(client: httpx.AsyncClient) -> None:
    up = await client.post(f"{CRYPTO}/market-data/btc/1d", content=btc_csv(300),
                           headers={"content-type": "text/csv"})  # fmt: skip
    assert up.status_code == 201, up.text
    assert (up.json()["written"], up.json()["stored"]["candles"]) == (300, 300)
    listed = (await client.get(f"{CRYPTO}/market-data")).json()["items"]
    assert [(s["symbol"], s["timeframe"], s["candles"]) for s in listed] == [("BTC", "1d", 300)]

    body = {"symbol": "BTC", "timeframe": "1d", "prediction_horizon": 3}
    response = await client.post(f"{CRYPTO}/predict", json=body)
    assert response.status_code == 200, response.text
    got = response.json()
    assert [f["step"] for f in got["forecast"]] == [1, 2, 3]
    assert {"rsi_14", "macd", "sma_20", "ema_12", "bollinger"} <= set(got["indicators"])
    assert {"volatility", "max_drawdown", "value_at_risk_95"} <= set(got["risk"])
    backtest = got["backtest"]
    assert {"mae", "mape", "mase", "directional_accuracy", "coverage_80", "coverage_95"} <= set(
        backtest["model"]
    )
    beat = backtest["model"]["mae"] < backtest["naive"]["mae"]
    assert backtest["beats_naive"] is beat
    assert ("did NOT beat" in got["verdict"]) is not beat
    assert (got["model"]["version"], got["model"]["reused"]) == (1, False)
    task = (await client.get(f"/api/v1/tasks/{got['task_id']}")).json()
    assert (task["type"], task["agent_id"], task["state"]) == (
        "crypto_predict",
        "crypto",
        "succeeded",
    )

    again = (await client.post(f"{CRYPTO}/predict", json=body)).json()
    assert (again["model"]["version"], again["model"]["reused"]) == (1, True)
    assert again["backtest"] == backtest
    assert again["forecast"] == got["forecast"]
    models = (await client.get(f"{CRYPTO}/models")).json()["items"]
    assert [(m["name"], m["version"]) for m in models] == [("crypto:BTC:1d", 1)]

    missing = await client.post(f"{CRYPTO}/predict", json={**body, "symbol": "ETH"})
    problem(missing, 404, "no market data for ETH 1d")
    problem(await client.post(f"{CRYPTO}/predict", json={**body, "timeframe": "2d"}), 422)
    problem(await client.post(f"{CRYPTO}/predict", json={**body, "prediction_horizon": 0}), 422)
    bad = await client.post(f"{CRYPTO}/market-data/BTC/1d", json=[{"date": "2021-01-01"}])
    problem(bad, 422, "missing open")


async def test_sentiment_is_no_data_until_texts_exist(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    empty = await client.get(f"{CRYPTO}/sentiment/BTC")
    assert empty.status_code == 200, empty.text
    assert (empty.json()["status"], empty.json()["count"], empty.json()["score"]) == (
        "no data", 0, None)  # fmt: skip
    texts = ["Bitcoin is great, what a fantastic rally!", "Terrible crash, I lost everything.",
             {"text": "BTC traded at 40k today.", "source": "news"}]  # fmt: skip
    added = await client.post(f"{CRYPTO}/texts/btc", json={"texts": texts})
    assert added.json() == {"symbol": "BTC", "added": 3}
    got = (await client.get(f"{CRYPTO}/sentiment/btc")).json()
    assert (got["status"], got["count"]) == ("ok", 3)
    assert got["distribution"] == {"positive": 1, "neutral": 1, "negative": 1}
    assert sum(b["count"] for b in got["histogram"]) == 3
    assert -1 <= got["score"] <= 1
    assert got["sources"] == {"supplied_texts": 3, "knowledge_base": 0}

    # a document the knowledge base collected about the symbol is scored too
    text = "Ethereum had a wonderful, excellent week; ETH holders are happy."
    article = FetchedItem("https://news.example/eth", "ETH rallies", text)
    await im.knowledge.add_result("news", article)
    eth = (await client.get(f"{CRYPTO}/sentiment/ETH")).json()
    assert (eth["status"], eth["sources"]) == ("ok", {"supplied_texts": 0, "knowledge_base": 1})
    assert eth["documents"][0]["url"] == "https://news.example/eth"
    assert eth["documents"][0]["sentiment"] > 0.5
    without = (await client.get(f"{CRYPTO}/sentiment/ETH", params={"knowledge": False})).json()
    assert without["status"] == "no data"


def transactions(**kw: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "pattern"} for r in generate(**kw)]


async def test_train_then_analyze_with_explanations(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    rows = transactions(accounts=40, days=30, fraud_events=40, seed=5)
    one = {k: v for k, v in rows[-1].items() if k != "is_fraud"}
    problem(await client.post(f"{FRAUD}/analyze", json=one), 404, "no fraud model is trained")

    problem(await client.post(f"{FRAUD}/train", json={"transactions": rows}), 422,
            "the limit is 1000")  # a JSON list's limit: larger sets go as CSV  # fmt: skip
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    trained = await client.post(f"{FRAUD}/train", content=text.getvalue(),
                                headers={"content-type": "text/csv"})  # fmt: skip
    assert trained.status_code == 200, trained.text
    models = trained.json()["models"]
    assert [m["algorithm"] for m in models] in (["xgboost", "random_forest"],
                                                 ["random_forest", "xgboost"])  # fmt: skip
    assert [m["current"] for m in models] == [True, False]
    assert models[0]["metrics"]["pr_auc"] >= models[1]["metrics"]["pr_auc"]
    assert {"pr_auc", "roc_auc", "recall_at_1pct_fpr"} <= set(models[0]["metrics"])

    scored = await client.post(f"{FRAUD}/analyze", json=one)
    assert scored.status_code == 200, scored.text
    got = scored.json()
    assert got["model_kind"] == "supervised"
    assert got["model"]["version"] == models[0]["version"]
    [result] = got["results"]
    assert result["transaction_id"] == one["transaction_id"]
    assert 0 <= result["fraud_probability"] <= 1
    assert result["drivers"]
    with im.events.subscribe(accept=lambda e: e.event_type == "fraud.flagged") as flagged:
        body = {"transactions": rows[-20:], "threshold": 0}
        batch = (await client.post(f"{FRAUD}/analyze", json=body)).json()
        assert (batch["flagged"], batch["events_raised"]) == (20, 20)  # every score is >= 0
        events = await flagged.next_batch(wait=5)
    assert [e.data["transaction_id"] for e in events] == [r["transaction_id"] for r in rows[-20:]]
    assert {e.task_id for e in events} == {batch["task_id"]}
    assert events[0].data["model_version"] == models[0]["version"]
    stored = await im.store.events_for(batch["task_id"])
    assert sum(e.event_type == "fraud.flagged" for e in stored) == 20
    listed = (await client.get(f"{FRAUD}/models")).json()["items"]
    assert sorted(m["current"] for m in listed) == [False, True]

    problem(await client.post(f"{FRAUD}/analyze", json={"transactions": []}), 422)
    bad = {"amount": "x", "timestamp": 1, "account_id": "a"}
    problem(await client.post(f"{FRAUD}/analyze", json=bad), 422, "not a number")
    problem(
        await client.post(f"{FRAUD}/train", json={"transactions": rows[:10]}), 422, "at least 50"
    )
    assert "no model was current before" in trained.json()["why_current"]
    again = await client.post(f"{FRAUD}/train", content=text.getvalue(),
                              params={"make_current": "true"},
                              headers={"content-type": "text/csv"})  # fmt: skip
    assert again.status_code == 200, again.text
    assert (again.json()["promoted"], again.json()["current"]["version"]) == (True, 4)
    assert "make_current was asked" in again.json()["why_current"]


async def test_trading_rules_through_the_fraud_agent(client: httpx.AsyncClient) -> None:
    trades = [
        {"timestamp": 0, "symbol": "x", "price": 1, "quantity": 5, "buyer": "a", "seller": "b"},
        {"timestamp": 60, "symbol": "x", "price": 1, "quantity": 5, "buyer": "b", "seller": "a"},
        {"timestamp": 90, "symbol": "x", "price": 1, "quantity": 1, "buyer": "c", "seller": "c"},
    ]
    response = await client.post(f"{FRAUD}/trades", json={"trades": trades})
    assert response.status_code == 200, response.text
    got = response.json()
    assert [f["pattern"] for f in got["wash_trading"]] == ["round_trip", "self_match"]
    assert (got["pump_and_dump"], got["flagged"]) == ([], 2)
    narrow = await client.post(f"{FRAUD}/trades", json={"trades": trades,
                                                         "rules": {"wash_window": 30}})  # fmt: skip
    assert narrow.json()["flagged"] == 1  # the round trip took 60 s
    problem(await client.post(f"{FRAUD}/trades", json={"trades": trades, "rules": {"x": 1}}),
            422, "unknown rule setting")  # fmt: skip
    for rules in ({"bucket_seconds": 0}, {"bucket_seconds": "x"}):  # were 502s
        problem(await client.post(f"{FRAUD}/trades", json={"trades": trades, "rules": rules}),
                422, "rule setting bucket_seconds must be")  # fmt: skip
    problem(await client.post(f"{FRAUD}/trades", json={"trades": [{"symbol": "x"}]}), 422,
            "missing timestamp")  # fmt: skip


async def test_csv_bodies_are_parsed_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 MB of CSV parsed on the loop held every other request for about 2.5 s."""
    import threading

    threads: list[int] = []
    real = csv.DictReader

    def reader(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(csv, "DictReader", reader)
    body = "timestamp,symbol,price,quantity,buyer,seller\n0,x,1,1,a,a\n"
    response = await client.post(f"{FRAUD}/trades", content=body,
                                  headers={"content-type": "text/csv"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["flagged"] == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads


async def test_a_series_or_a_stray_candle_can_be_deleted(client: httpx.AsyncClient) -> None:
    csv_ = "timestamp,open,high,low,close,volume\n1,1,2,0.5,1,1\n2,1,2,0.5,1,1\n3,1,2,0.5,1,1\n"
    headers = {"content-type": "text/csv"}
    assert (await client.post(f"{CRYPTO}/market-data/x/1h", content=csv_,
                              headers=headers)).status_code == 201  # fmt: skip
    one = await client.delete(f"{CRYPTO}/market-data/x/1h", params={"since": 3, "until": 3})
    assert one.status_code == 200, one.text
    assert (one.json()["deleted"], one.json()["stored"]["candles"]) == (1, 2)
    rest = (await client.delete(f"{CRYPTO}/market-data/x/1h")).json()
    assert (rest["deleted"], rest["stored"]) == (2, None)
    problem(await client.delete(f"{CRYPTO}/market-data/x/1h"), 404, "no stored X 1h candle")
    problem(await client.delete(f"{CRYPTO}/market-data/x/2d"), 422, "not one of")
    # a time outside 1970..2261 is refused at upload, so it never reaches the series
    problem(await client.post(f"{CRYPTO}/market-data/x/1h", headers=headers,
                              content="timestamp,open,high,low,close,volume\n1e17,1,2,0.5,1,1\n"),
            422, "outside 1970-01-01 to 2261-12-31")  # fmt: skip


async def test_a_sentiment_query_with_control_characters_is_refused(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.get(f"{CRYPTO}/sentiment/BTC", params={"query": "a\x00b"})
    assert refused.status_code == 422, refused.text
    assert "control characters" in refused.json()["detail"]


async def test_unreadable_csv_and_empty_texts_are_422s(client: httpx.AsyncClient) -> None:
    """A CSV field over the csv module's 131,072-character limit, and an empty text in a
    list of strings, were 500s."""
    huge = "timestamp,open,high,low,close,volume\n" + "x" * 200_000 + ",1,1,1,1,1\n"
    csv_ = {"content-type": "text/csv"}
    problem(await client.post(f"{CRYPTO}/market-data/x/1d", content=huge, headers=csv_), 422,
            "the CSV cannot be read at line 2", "field larger than field limit")  # fmt: skip
    for route in ("train", "trades"):
        problem(await client.post(f"{FRAUD}/{route}", content=huge, headers=csv_), 422,
                "the CSV cannot be read")  # fmt: skip
    # a thousands separator shifted the columns: volume was read as "250" and the rest dropped
    shifted = "timestamp,open,high,low,close,volume\n1,1,2,0.5,1,1,250.5\n"
    problem(await client.post(f"{CRYPTO}/market-data/x/1d", content=shifted, headers=csv_), 422,
            "line 2 of the CSV has 7 fields, the header 6")  # fmt: skip
    trades = "timestamp,symbol,price,quantity,buyer,seller\n0,x,1,000.5,1,a,a\n"
    problem(await client.post(f"{FRAUD}/trades", content=trades, headers=csv_), 422,
            "has 7 fields, the header 6")  # fmt: skip
    problem(await client.post(f"{CRYPTO}/texts/BTC", json={"texts": ["fine", ""]}), 422,
            "body.texts.1")  # fmt: skip
    problem(await client.post(f"{CRYPTO}/texts/BTC", json={"texts": [{"text": ""}]}), 422)
    # an ISO date past 5138 (beyond 1e11 s) was read as milliseconds and stored in 1978
    far = "timestamp,open,high,low,close,volume\n9999-12-31T23:59:59,1,2,0.5,1,1\n"
    problem(await client.post(f"{CRYPTO}/market-data/x/1d", content=far, headers=csv_), 422,
            "outside 1970-01-01 to 2261-12-31")  # fmt: skip


async def test_candle_uploads_are_parsed_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """250,000 candles (8 MB of CSV) parsed on the loop held every other request for 7 s."""
    import threading

    from imperium.interfaces.api.routes import crypto

    threads: list[int] = []
    real = crypto.parse_candles

    def parse(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(crypto, "parse_candles", parse)
    body = "timestamp,open,high,low,close,volume\n1,1,2,0.5,1,1\n"
    response = await client.post(f"{CRYPTO}/market-data/x/1h", content=body,
                                  headers={"content-type": "text/csv"})  # fmt: skip
    assert response.status_code == 201, response.text
    assert len(threads) == 1
    assert threading.get_ident() not in threads
