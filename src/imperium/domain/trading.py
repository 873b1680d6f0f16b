"""Crypto-trading fraud patterns as rules over trade records (pure).

A trade: ``timestamp`` (epoch seconds or ISO 8601), ``symbol``, ``price``, ``quantity``,
``buyer``, ``seller`` (account ids), optional ``trade_id``.

- **Wash trading**: an account trading with itself (buyer = seller), and round trips: A sells
  to B and B sells the same symbol back to A within ``wash_window`` seconds at a price within
  ``wash_price_tolerance`` and a quantity within ``wash_quantity_tolerance`` of the first.
  Volume moves; ownership does not.
- **Pump and dump**: per symbol, trades are grouped into ``bucket_seconds`` buckets. A pump
  is a bucket whose volume is at least ``volume_multiple`` times the median volume of the
  ``baseline_buckets`` before it, and whose last price is at least ``price_rise`` above the
  baseline's last price; the dump is a later bucket, within ``reversal_buckets``, whose last
  price gives back at least ``reversal_share`` of the rise.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imperium.domain.markets import parse_time


@dataclass(frozen=True, slots=True)
class Trade:
    id: str
    ts: float
    symbol: str
    price: float
    quantity: float
    buyer: str
    seller: str


@dataclass(frozen=True, slots=True)
class RuleConfig:
    wash_window: float = 3600.0
    wash_price_tolerance: float = 0.02
    wash_quantity_tolerance: float = 0.05
    bucket_seconds: float = 3600.0
    baseline_buckets: int = 24
    volume_multiple: float = 5.0
    price_rise: float = 0.2
    reversal_buckets: int = 24
    reversal_share: float = 0.5

    def __post_init__(self) -> None:
        """ValueError naming the first setting of the wrong type or out of its range."""
        for name, (low, high, whole) in _LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"rule setting {name} must be a number, not {value!r}")
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"rule setting {name} must be from {low} to {high}; got {value!r}")
            if whole and value != int(value):
                raise ValueError(f"rule setting {name} must be a whole number, not {value!r}")
            if whole:
                object.__setattr__(self, name, int(value))


_LIMITS: dict[str, tuple[float, float, bool]] = {  # setting: (least, most, whole number)
    "wash_window": (0.0, 365 * 86_400.0, False),
    "wash_price_tolerance": (0.0, 1.0, False),
    "wash_quantity_tolerance": (0.0, 1.0, False),
    "bucket_seconds": (1.0, 365 * 86_400.0, False),
    "baseline_buckets": (1, 10_000, True),
    "volume_multiple": (1.0, 1e6, False),
    "price_rise": (0.001, 1e6, False),
    "reversal_buckets": (1, 10_000, True),
    "reversal_share": (0.01, 1.0, False),
}


def parse_trades(rows: Iterable[Mapping[str, Any]]) -> list[Trade]:
    """Trades from dicts (CSV rows or JSON objects), oldest first; ValueError names the
    first bad row."""
    trades = []
    for i, row in enumerate(rows):
        where = f"trade {i + 1}"
        absent = [k for k in ("timestamp", "symbol", "price", "quantity", "buyer", "seller")
                  if row.get(k) in (None, "")]  # fmt: skip
        if absent:
            raise ValueError(f"{where}: missing {', '.join(absent)}")
        try:
            price, quantity = float(row["price"]), float(row["quantity"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: price and quantity must be numbers") from None
        if not (math.isfinite(price) and math.isfinite(quantity)) or price <= 0 or quantity <= 0:
            raise ValueError(f"{where}: price and quantity must be finite and > 0")
        trades.append(
            Trade(
                id=str(row.get("trade_id") or i + 1), ts=parse_time(row["timestamp"], where),
                symbol=str(row["symbol"]).strip().upper(), price=price, quantity=quantity,
                buyer=str(row["buyer"]), seller=str(row["seller"]),
            )
        )  # fmt: skip
    return sorted(trades, key=lambda t: t.ts)


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def wash_trades(trades: list[Trade], config: RuleConfig) -> list[dict[str, Any]]:
    """Self-matched trades and round trips, oldest first."""
    found: list[dict[str, Any]] = []
    for t in trades:
        if t.buyer == t.seller:
            volume = t.price * t.quantity
            found.append({"pattern": "self_match", "symbol": t.symbol, "accounts": [t.buyer],
                          "trade_ids": [t.id], "volume": volume, "at": t.ts})  # fmt: skip
    recent: dict[tuple[str, str, str], list[Trade]] = defaultdict(list)  # (symbol, seller, buyer)
    used: set[str] = set()
    for t in trades:
        if t.buyer == t.seller:
            continue
        back = recent[(t.symbol, t.buyer, t.seller)]  # earlier trades the other way round
        while back and t.ts - back[0].ts > config.wash_window:
            back.pop(0)
        match = next(
            (b for b in back if b.id not in used
             and _close(b.price, t.price, config.wash_price_tolerance)
             and _close(b.quantity, t.quantity, config.wash_quantity_tolerance)),
            None,
        )  # fmt: skip
        if match is not None:
            used.update((match.id, t.id))
            found.append({
                "pattern": "round_trip", "symbol": t.symbol,
                "accounts": sorted({t.buyer, t.seller}), "trade_ids": [match.id, t.id],
                "volume": match.price * match.quantity + t.price * t.quantity,
                "at": match.ts, "seconds_apart": t.ts - match.ts,
            })  # fmt: skip
        else:
            recent[(t.symbol, t.seller, t.buyer)].append(t)
    return sorted(found, key=lambda f: f["at"])


def pump_and_dump(trades: list[Trade], config: RuleConfig) -> list[dict[str, Any]]:
    """Volume-and-price spikes followed by a reversal, per symbol, oldest first. Only the
    buckets that hold trades are visited: an empty bucket has no volume (it cannot be a
    pump) and keeps the last price (it cannot complete a dump the bucket before it did not),
    so the work grows with the trades, not with the time they span."""
    by_symbol: dict[str, dict[int, list[Trade]]] = defaultdict(lambda: defaultdict(list))
    for t in trades:
        by_symbol[t.symbol][int(t.ts // config.bucket_seconds)].append(t)
    found = []
    width = config.baseline_buckets
    for symbol, buckets in sorted(by_symbol.items()):
        keys = sorted(buckets)
        volume = [sum(t.price * t.quantity for t in buckets[k]) for k in keys]
        close = [buckets[k][-1].price for k in keys]
        i = bisect.bisect_left(keys, keys[0] + width)  # the first with a full baseline
        while i < len(keys):
            k = keys[i]
            lo = bisect.bisect_left(keys, k - width)
            traded = volume[lo:i]  # the baseline's buckets with trades; the rest are 0
            base_volume = statistics.median([0.0] * (width - len(traded)) + traded)
            base_price = close[i - 1]  # the last price before the bucket
            rise = close[i] / base_price - 1.0
            spike = volume[i] >= config.volume_multiple * max(base_volume, 1e-12)
            if spike and rise >= config.price_rise:
                peak_at, peak = k, close[i]
                j = i + 1
                while j < len(keys) and keys[j] <= k + config.reversal_buckets:
                    if close[j] > peak:
                        peak_at, peak = keys[j], close[j]
                    given_back = (peak - close[j]) / (peak - base_price)
                    if given_back >= config.reversal_share:
                        found.append({
                            "pattern": "pump_and_dump", "symbol": symbol,
                            "pump_at": k * config.bucket_seconds,
                            "peak_at": peak_at * config.bucket_seconds,
                            "dump_at": keys[j] * config.bucket_seconds,
                            "volume_multiple": round(volume[i] / max(base_volume, 1e-12), 2),
                            "price_rise": round(peak / base_price - 1.0, 4),
                            "given_back": round(given_back, 4),
                            "accounts": sorted({t.buyer for t in buckets[k]}),
                        })  # fmt: skip
                        i = j  # one finding per episode
                        break
                    j += 1
            i += 1
    return found


def scan(trades: list[Trade], config: RuleConfig | None = None) -> dict[str, Any]:
    chosen = config or RuleConfig()
    wash = wash_trades(trades, chosen)
    pumps = pump_and_dump(trades, chosen)
    return {
        "trades": len(trades),
        "wash_trading": wash,
        "pump_and_dump": pumps,
        "flagged": len(wash) + len(pumps),
        "rules": {f: getattr(chosen, f) for f in chosen.__dataclass_fields__},
    }
