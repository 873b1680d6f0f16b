"""The ``market_data`` routine: candles fetched from an exchange on a schedule into the
market store (issue 16).

Each configured feed maps an exchange pair to a stored symbol (``BTC=BTCUSDT`` stores
Binance's BTCUSDT under BTC; ``BTCUSDT`` alone keeps the pair's name). A run asks, per
feed, for the closed candles from the newest one stored onward (the newest is fetched again:
an exchange may revise it), or the newest ``history`` when none is stored, and writes them
(a candle at a stored time replaces it). One feed's failure does not stop the others: each
feed's outcome (stored, skipped rows, requests, error, retry_after) is in the routine's
result, shown in ``/api/status``, and the run's status is ``ok``, ``partial`` or
``failed``. When the exchange asks to wait (a rate limit, which exchanges count per
address, not per pair), no pair is asked again before then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imperium.domain.markets import (
    CandleSource,
    ExchangeError,
    MarketStore,
    check_timeframe,
    normalise_symbol,
)
from imperium.ports import Clock
from imperium.services.routines import Routine

NAME = "market_data"


@dataclass(frozen=True, slots=True)
class Feed:
    symbol: str
    """Stored as."""
    pair: str
    """The exchange's name for it."""


def parse_feeds(text: str) -> list[Feed]:
    """``"BTC=BTCUSDT, ETHUSDT"`` -> feeds; raises ValueError naming a bad entry."""
    feeds = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        symbol, _, pair = item.partition("=") if "=" in item else (item, "", item)
        pair = pair.strip().upper()
        if not pair or not pair.isalnum():
            raise ValueError(f"market feed {item!r}: the exchange pair must be letters and digits")
        feeds.append(Feed(normalise_symbol(symbol.strip()), pair))
    return feeds


class MarketFeed:
    def __init__(
        self,
        source: CandleSource,
        store: MarketStore,
        clock: Clock,
        feeds: Sequence[Feed],
        timeframe: str,
        history: int = 1000,
    ) -> None:
        self.source, self.store, self.clock = source, store, clock
        self.feeds, self.timeframe = list(feeds), check_timeframe(timeframe)
        self.history = history
        self._not_before = 0.0

    async def refresh(self) -> dict[str, object]:
        last = {
            symbol: newest
            for symbol, timeframe, _, _, newest in await self.store.market_series()
            if timeframe == self.timeframe
        }
        results: list[dict[str, object]] = []
        for feed in self.feeds:
            results.append(await self._one(feed, last.get(feed.symbol)))
        failed = sum(1 for r in results if "error" in r)
        status = "ok" if not failed else ("failed" if failed == len(results) else "partial")
        return {
            "status": status, "exchange": self.source.name, "timeframe": self.timeframe,
            "feeds": results,
        }  # fmt: skip

    async def _one(self, feed: Feed, newest: float | None) -> dict[str, object]:
        out: dict[str, object] = {"symbol": feed.symbol, "pair": feed.pair}
        now = self.clock.now()
        if now < self._not_before:
            out["error"] = "rate limited by the exchange: not asked before its Retry-After"
            out["retry_after"] = round(self._not_before - now, 3)
            return out
        try:
            got = await self.source.fetch(feed.pair, self.timeframe, newest, self._limit(newest))
        except ExchangeError as exc:
            out["error"] = str(exc)
            if exc.retry_after:
                self._not_before = max(self._not_before, now + exc.retry_after)
                out["retry_after"] = exc.retry_after
            return out
        stored = await self.store.save_candles(feed.symbol, self.timeframe, got.candles)
        out.update(stored=stored, skipped=got.skipped, still_open=got.open_candles,
                   requests=got.requests)  # fmt: skip
        if got.candles:
            out["newest"] = got.candles[-1].ts
        return out

    def _limit(self, newest: float | None) -> int:
        return self.history if newest is None else 10 * self.history


def market_feed_routine(feed: MarketFeed | None, interval: float, why_off: str) -> Routine:
    async def refresh() -> dict[str, object]:
        if feed is None:
            return {"status": "skipped", "reason": why_off}
        return await feed.refresh()

    routine = Routine(
        NAME, interval, refresh,
        "fetches the configured symbols' candles from the exchange into the market store",
    )  # fmt: skip
    if feed is None:
        routine.off_reason = why_off
    return routine
