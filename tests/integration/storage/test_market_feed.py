"""Candles from an exchange at run time: the Binance klines adapter against a local HTTP
server speaking the documented ``GET /api/v3/klines`` format (paging, the open candle,
malformed rows, 429 with Retry-After, error bodies), and the ``market_data`` routine
writing into the market store on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from imperium.adapters.exchanges.binance import BinanceKlines
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.markets import ExchangeError
from imperium.ports import Store
from imperium.runtime import make_market_feed, make_markets
from imperium.services.market_feed import Feed, MarketFeed, market_feed_routine, parse_feeds
from imperium.services.routines import Routines
from imperium.settings import Settings

DAY_MS = 86_400_000
START_MS = 1_700_006_400_000  # 2023-11-15 00:00 UTC


def kline(i: int) -> list[Any]:
    close = 100.0 + i
    opened = START_MS + i * DAY_MS
    return [opened, f"{close - 0.5:.8f}", f"{close + 2:.8f}", f"{close - 2:.8f}", f"{close:.8f}",
            f"{10 + i:.8f}", opened + DAY_MS - 1, "0", 5, "0", "0", "0"]  # fmt: skip


@dataclass
class Exchange:
    """What the local server answers: ``days`` klines of BTCUSDT (the last one still open
    at ``now_ms``), ``malformed`` rows appended to each page, and ``script``: responses
    (status, headers, body) given before the normal ones."""

    days: int = 30
    malformed: list[Any] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def now(self) -> float:  # during the last kline
        return (START_MS + (self.days - 1) * DAY_MS + 3_600_000) / 1000

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append(query)
        if self.script:
            return self.script.pop(0)
        if path != "/api/v3/klines":
            return 404, {}, {"code": -1, "msg": "not found"}
        if query.get("symbol") != "BTCUSDT":
            return 400, {}, {"code": -1121, "msg": "Invalid symbol."}
        limit = int(query.get("limit", 500))
        rows = [kline(i) for i in range(self.days)]
        if "startTime" in query:
            rows = [r for r in rows if r[0] >= int(query["startTime"])][:limit]
        else:
            rows = rows[-limit:]
        return 200, {}, rows + self.malformed


@pytest.fixture
def exchange() -> Iterator[tuple[Exchange, str]]:
    state = Exchange()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, headers, body = state.answer(url.path, query)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


def client(state: Exchange, url: str, sleeps: Sleeps, **kw: Any) -> BinanceKlines:
    return BinanceKlines(url, sleep=sleeps, now=lambda: state.now, **kw)


async def test_klines_parsed_the_open_one_and_malformed_rows_left_out(
    exchange: tuple[Exchange, str],
) -> None:
    state, url = exchange
    state.malformed = [
        ["x", "1", "1", "1", "1", "1", 0],
        [START_MS],
        None,
        {"open": 1},
        [START_MS, "1", "0.5", "1", "1", "1", START_MS + 1],  # high below open
        [START_MS, "-1", "1", "-1", "1", "1", START_MS + 1],  # a negative price
        [START_MS, "NaN", "1", "1", "1", "1", START_MS + 1],
    ]
    got = await client(state, url, Sleeps()).fetch("BTCUSDT", "1d", None, 1000)
    assert got.skipped == 7
    assert got.open_candles == 1
    assert len(got.candles) == state.days - 1
    first = got.candles[0]
    assert (first.ts, first.open, first.high, first.low, first.close, first.volume) == (
        START_MS / 1000, 99.5, 102.0, 98.0, 100.0, 10.0)  # fmt: skip
    assert [c.ts for c in got.candles] == sorted(c.ts for c in got.candles)
    assert state.requests[0] == {"symbol": "BTCUSDT", "interval": "1d", "limit": "1000"}


async def test_pages_forward_from_since(exchange: tuple[Exchange, str]) -> None:
    state, url = exchange
    since = (START_MS + 10 * DAY_MS) / 1000
    got = await client(state, url, Sleeps()).fetch("BTCUSDT", "1d", since, 7)
    assert [c.close for c in got.candles] == [110.0 + i for i in range(7)]
    assert got.requests == 1
    state.requests.clear()
    import imperium.adapters.exchanges.binance as binance

    old, binance.PAGE = binance.PAGE, 5  # pages of five: the server gives at most that
    try:
        got = await client(state, url, Sleeps()).fetch("BTCUSDT", "1d", since, 100)
    finally:
        binance.PAGE = old
    assert [c.close for c in got.candles] == [110.0 + i for i in range(state.days - 11)]
    # from ``since``, then 1 ms after each full page's newest; the empty page ends it
    assert [int(r["startTime"]) for r in state.requests] == [START_MS + 10 * DAY_MS] + [
        START_MS + d * DAY_MS + 1 for d in (14, 19, 24, 29)]  # fmt: skip


async def test_429_waits_its_retry_after_and_a_long_one_is_raised(
    exchange: tuple[Exchange, str],
) -> None:
    state, url = exchange
    limited = (429, {"Retry-After": "7"}, {"code": -1003, "msg": "Too many requests"})
    state.script = [limited, (503, {}, b"busy"), limited]
    sleeps = Sleeps()
    got = await client(state, url, sleeps).fetch("BTCUSDT", "1d", None, 1000)
    assert len(got.candles) == state.days - 1
    assert sleeps.waited == [7.0, 2.0, 7.0]  # Retry-After, backoff, Retry-After
    assert len(state.requests) == 4

    state.script = [(429, {"Retry-After": "600"}, {"code": -1003, "msg": "Too many"})]
    sleeps = Sleeps()
    with pytest.raises(ExchangeError, match="rate limit") as caught:
        await client(state, url, sleeps, max_wait=60).fetch("BTCUSDT", "1d", None, 10)
    assert caught.value.retry_after == 600.0
    assert sleeps.waited == []

    state.script = [(429, {"Retry-After": "1"}, {})] * 3
    with pytest.raises(ExchangeError, match="rate limit"):
        await client(state, url, Sleeps(), retries=2).fetch("BTCUSDT", "1d", None, 10)


async def test_refusals_say_what_the_exchange_said(exchange: tuple[Exchange, str]) -> None:
    state, url = exchange
    with pytest.raises(ExchangeError, match=r"Invalid symbol\. \(code -1121\)"):
        await client(state, url, Sleeps()).fetch("NOPE", "1d", None, 10)
    state.script = [(418, {"Retry-After": "120"}, {"code": -1003, "msg": "banned"})]
    with pytest.raises(ExchangeError, match="418") as caught:
        await client(state, url, Sleeps()).fetch("BTCUSDT", "1d", None, 10)
    assert caught.value.retry_after == 120.0
    state.script = [(200, {}, b"<html>")]
    with pytest.raises(ExchangeError, match="not JSON"):
        await client(state, url, Sleeps()).fetch("BTCUSDT", "1d", None, 10)
    with pytest.raises(ExchangeError, match="unreachable"):
        await BinanceKlines("http://127.0.0.1:9", sleep=Sleeps()).fetch("BTCUSDT", "1d", None, 1)


class Clock:
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


async def test_the_routine_fills_the_store_and_records_errors(
    exchange: tuple[Exchange, str], store: Store
) -> None:
    state, url = exchange
    markets = make_markets(store)
    clock = Clock(1000.0)
    feeds = parse_feeds("BTC=BTCUSDT, ETHUSDT")
    assert feeds == [Feed("BTC", "BTCUSDT"), Feed("ETHUSDT", "ETHUSDT")]
    feed = MarketFeed(client(state, url, Sleeps()), markets, clock, feeds, "1d")
    routines = Routines(clock, [market_feed_routine(feed, 3600, "")])

    first = (await routines.run_now("market_data")).last_result
    assert first["status"] == "partial"  # ETHUSDT is not on this exchange
    btc, eth = first["feeds"]  # type: ignore[misc]
    assert btc["stored"] == state.days - 1
    assert "Invalid symbol" in eth["error"]
    stored = await markets.candles("BTC", "1d")
    assert [c.close for c in stored] == [100.0 + i for i in range(state.days - 1)]

    state.days += 3  # three more days: the next run asks from the newest stored onward
    state.requests.clear()
    second = (await routines.run_now("market_data")).last_result
    assert second["feeds"][0]["stored"] == 4  # type: ignore[index]
    assert int(state.requests[0]["startTime"]) == START_MS + (state.days - 4 - 1) * DAY_MS
    assert len(await markets.candles("BTC", "1d")) == state.days - 1

    state.script = [(429, {"Retry-After": "900"}, {"code": -1003, "msg": "Too many"})]
    state.requests.clear()
    limited = await routines.run_now("market_data")
    assert limited.last_status == "failed"
    btc, eth = limited.last_result["feeds"]  # type: ignore[misc]
    assert btc["retry_after"] == 900.0
    assert "not asked" in eth["error"]  # the limit is the address's, not the pair's
    assert [r["symbol"] for r in state.requests] == ["BTCUSDT"]
    clock.t += 60  # within the Retry-After: nothing is asked
    state.requests.clear()
    again = (await routines.run_now("market_data")).last_result
    assert all("not asked" in f["error"] for f in again["feeds"])  # type: ignore[attr-defined]
    assert state.requests == []
    clock.t += 900  # past it: asked again
    after = (await routines.run_now("market_data")).last_result
    assert after["feeds"][0]["stored"] == 1  # type: ignore[index]


def test_the_routine_is_off_until_configured() -> None:
    markets = make_markets(MemoryStore())
    off = make_market_feed(Settings(market_symbols=""), markets)
    assert off.active is False
    assert off.off_reason == "no IMPERIUM_MARKET_SYMBOLS configured"
    bad = make_market_feed(Settings(market_symbols="BTC=BTC-USDT"), markets)
    assert "misconfigured" in str(bad.off_reason)
    bad_tf = make_market_feed(Settings(market_symbols="BTCUSDT", market_timeframe="2d"), markets)
    assert "misconfigured" in str(bad_tf.off_reason)
    on = make_market_feed(Settings(market_symbols="BTCUSDT", market_interval=60), markets)
    assert on.active
    assert on.interval == 60
