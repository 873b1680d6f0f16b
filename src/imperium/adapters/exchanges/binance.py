"""Candles from Binance's public market-data API: ``GET /api/v3/klines`` (documented at
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints).

Each kline is an array ``[open time (ms), open, high, low, close, volume, close time (ms),
quote volume, trades, taker base volume, taker quote volume, ignore]`` with prices as
strings. A request returns at most 1,000; ``startTime`` pages forward. The newest kline is
usually still open (its close time is in the future): it is left out, so only finished
candles are stored, and the next fetch picks it up once closed.

Errors: HTTP 429 asks the client to back off (``Retry-After``, seconds); 418 means the IP is
banned for ignoring 429s; 4xx bodies are ``{"code": ..., "msg": ...}``; 5xx are the
exchange's own trouble. 429 and 5xx and network failures are retried (waiting Retry-After,
or 1, 2, 4 s) up to ``retries`` times; a Retry-After longer than ``max_wait`` is not waited
out but raised, with its delay, for the caller to record. Malformed rows are skipped and
counted, never guessed. Not tried against the live API (this machine is offline); tested
against a local server speaking the documented format.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from imperium.domain.markets import Candle, ExchangeError, FetchedCandles

DEFAULT_URL = "https://api.binance.com"
PAGE = 1000  # Binance's most klines per request
INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1h", "4h": "4h", "1d": "1d",
             "1w": "1w"}  # fmt: skip

Sleep = Callable[[float], Awaitable[None]]


class BinanceKlines:
    name = "binance"

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        max_wait: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout, self._retries, self._max_wait = timeout, retries, max_wait
        self._sleep, self._now, self._transport = sleep, now, transport

    async def fetch(
        self, pair: str, timeframe: str, since: float | None, limit: int
    ) -> FetchedCandles:
        interval = INTERVALS.get(timeframe)
        if interval is None:
            raise ExchangeError(f"binance has no {timeframe!r} klines")
        candles: list[Candle] = []
        skipped = still_open = requests = 0
        start = since
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self._timeout, transport=self._transport
        ) as client:
            while len(candles) < limit:
                page = min(PAGE, limit - len(candles))
                params: dict[str, str | int] = {"symbol": pair, "interval": interval, "limit": page}
                if start is not None:
                    params["startTime"] = int(start * 1000)
                rows = await self._get(client, params)
                requests += 1
                now_ms = self._now() * 1000
                newest = None
                for row in rows:
                    candle, close_ms = _candle(row)
                    if candle is None:
                        skipped += 1
                        continue
                    newest = candle.ts if newest is None else max(newest, candle.ts)
                    if close_ms is not None and close_ms >= now_ms:
                        still_open += 1
                        continue
                    candles.append(candle)
                if start is None or len(rows) < page or newest is None:
                    break  # the newest page, or the last one
                start = newest + 1e-3
        unique = {c.ts: c for c in candles}
        ordered = [unique[ts] for ts in sorted(unique)]
        return FetchedCandles(ordered, skipped, still_open, requests)

    async def _get(self, client: httpx.AsyncClient, params: dict[str, str | int]) -> list[Any]:
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = await client.get("/api/v3/klines", params=params)
            except httpx.HTTPError as exc:
                if last:
                    raise ExchangeError(
                        f"binance unreachable: {type(exc).__name__}: {exc}"
                    ) from exc
                await self._sleep(2.0**attempt)
                continue
            status = response.status_code
            if status == 429:
                wait = _retry_after(response, 2.0**attempt)
                if last or wait > self._max_wait:
                    raise ExchangeError(
                        f"binance rate limit (429): retry after {wait:g} s", retry_after=wait
                    )
                await self._sleep(wait)
                continue
            if status == 418:
                wait = _retry_after(response, 0.0)
                raise ExchangeError(
                    f"binance banned this address for ignoring rate limits (418); retry after "
                    f"{wait:g} s",
                    retry_after=wait or None,
                )
            if status >= 500:
                if last:
                    raise ExchangeError(f"binance answered {status}: {_said(response)}")
                await self._sleep(2.0**attempt)
                continue
            if status != 200:
                raise ExchangeError(f"binance refused the request ({status}): {_said(response)}")
            try:
                body = response.json()
            except ValueError as exc:
                raise ExchangeError("binance answered 200 with a body that is not JSON") from exc
            if not isinstance(body, list):
                raise ExchangeError("binance answered 200 without a list of klines")
            return body
        raise AssertionError("unreachable")  # pragma: no cover


def _candle(row: Any) -> tuple[Candle | None, float | None]:
    """The candle of one kline and its close time (ms), or None when malformed."""
    if not isinstance(row, list) or len(row) < 6:
        return None, None
    try:
        opened = float(row[0])
        values = [float(v) for v in row[1:6]]
        closed = float(row[6]) if len(row) > 6 else None
    except (TypeError, ValueError):
        return None, None
    if isinstance(row[0], bool) or not all(math.isfinite(v) for v in [opened, *values]):
        return None, None
    o, h, low, c, v = values
    if min(o, h, low, c) <= 0 or v < 0 or h < max(o, c, low) or low > min(o, c):
        return None, None
    return Candle(opened / 1000.0, o, h, low, c, v), closed


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return default


def _said(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "msg" in body:
        return f"{body.get('msg')} (code {body.get('code')})"
    return str(body)[:200]
