"""The crypto-trading rules on trades built to contain each pattern, and on the same market
without it."""

from __future__ import annotations

import dataclasses
import random

import pytest

from imperium.domain.trading import (
    RuleConfig,
    Trade,
    parse_trades,
    pump_and_dump,
    scan,
    wash_trades,
)

HOUR = 3600.0
CONFIG = RuleConfig()


def market(seed: int = 0, hours: int = 96, symbol: str = "PUMP") -> list[Trade]:
    """An ordinary market: 100 accounts, ~15 trades an hour, a small random walk."""

    rng = random.Random(seed)
    trades, price = [], 10.0
    for h in range(hours):
        for _ in range(rng.randint(10, 20)):
            price *= 1 + rng.gauss(0, 0.003)
            buyer, seller = rng.sample(range(100), 2)
            at = h * HOUR + rng.uniform(0, HOUR)
            trades.append(Trade(f"{symbol}{len(trades)}", at, symbol, price,
                                rng.uniform(0.1, 10), f"a{buyer}", f"a{seller}"))  # fmt: skip
    return sorted(trades, key=lambda t: t.ts)


def with_pump(trades: list[Trade], at: int, reverse: bool) -> list[Trade]:
    """Hour ``at``: ten times the volume bought by a ring of 3 accounts at +40%; then the
    price falls back to where it was within five hours (or stays up)."""
    base = [t for t in trades if t.ts < at * HOUR][-1].price
    after = 1.0 if reverse else 1.4  # the market carries on at the old level, or the new
    out = [t if t.ts < at * HOUR else dataclasses.replace(t, price=t.price * after)
           for t in trades if not at * HOUR <= t.ts < (at + 6) * HOUR]  # fmt: skip
    for i in range(60):  # the pump
        out.append(Trade(f"p{i}", at * HOUR + i * 50, "PUMP", base * (1 + 0.4 * (i + 1) / 60),
                         10.0, f"ring{i % 3}", f"a{i % 50}"))  # fmt: skip
    for h in range(1, 6):  # the dump, or a new level that holds
        level = base * (1.4 - 0.09 * h) if reverse else base * 1.4
        for i in range(10):
            out.append(Trade(f"d{h}-{i}", (at + h) * HOUR + i * 60, "PUMP", level, 1.0,
                             f"a{i + 50}", f"ring{i % 3}"))  # fmt: skip
    return sorted(out, key=lambda t: t.ts)


def test_an_ordinary_market_raises_nothing() -> None:
    trades = market()
    assert wash_trades(trades, CONFIG) == []
    assert pump_and_dump(trades, CONFIG) == []


def test_a_pump_then_dump_is_found_and_a_rise_that_holds_is_not() -> None:
    [found] = pump_and_dump(with_pump(market(), at=50, reverse=True), CONFIG)
    assert found["pump_at"] == 50 * HOUR
    assert found["volume_multiple"] >= 5
    assert found["price_rise"] == pytest.approx(0.4, abs=0.02)
    assert found["given_back"] >= 0.5
    assert found["accounts"] == ["ring0", "ring1", "ring2"]
    assert pump_and_dump(with_pump(market(), at=50, reverse=False), CONFIG) == []


def test_self_matches_and_round_trips_are_wash_trades() -> None:
    trades = market(seed=1, symbol="WASH")
    self_match = Trade("s1", 10 * HOUR, "WASH", 10.0, 5.0, "x", "x")
    out = Trade("r1", 20 * HOUR, "WASH", 10.0, 7.0, "y", "z")  # z sells to y
    back = Trade("r2", 20 * HOUR + 600, "WASH", 10.05, 7.1, "z", "y")  # and buys it back
    late = Trade("r3", 30 * HOUR, "WASH", 10.0, 3.0, "u", "v")
    too_late = Trade("r4", 32 * HOUR, "WASH", 10.0, 3.0, "v", "u")  # two hours after
    found = wash_trades(sorted([*trades, self_match, out, back, late, too_late],
                               key=lambda t: t.ts), CONFIG)  # fmt: skip
    assert [(f["pattern"], f["trade_ids"]) for f in found] == [
        ("self_match", ["s1"]), ("round_trip", ["r1", "r2"])]  # fmt: skip
    assert found[1]["accounts"] == ["y", "z"]
    assert found[1]["seconds_apart"] == 600


def test_parse_and_scan_name_bad_rows() -> None:
    rows = [{"timestamp": "2026-01-01T00:00:00Z", "symbol": "btc", "price": "10", "quantity": 1,
             "buyer": "a", "seller": "a"}]  # fmt: skip
    result = scan(parse_trades(rows))
    assert (result["trades"], result["flagged"]) == (1, 1)
    assert result["wash_trading"][0]["symbol"] == "BTC"
    with pytest.raises(ValueError, match="trade 1: missing seller"):
        parse_trades([{k: v for k, v in rows[0].items() if k != "seller"}])
    with pytest.raises(ValueError, match="must be finite and > 0"):
        parse_trades([{**rows[0], "price": "-1"}])


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ({"bucket_seconds": 0}, "bucket_seconds must be from 1.0"),
        ({"bucket_seconds": "x"}, "bucket_seconds must be a number"),
        ({"bucket_seconds": float("nan")}, "bucket_seconds must be from"),
        ({"baseline_buckets": -5}, "baseline_buckets must be from 1"),
        ({"baseline_buckets": 1.5}, "baseline_buckets must be a whole number"),
        ({"wash_window": None}, "wash_window must be a number"),
        ({"reversal_share": True}, "reversal_share must be a number"),
    ],
)
def test_rule_settings_of_the_wrong_type_or_range_are_refused(
    rules: dict[str, object], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        RuleConfig(**rules)  # type: ignore[arg-type]


def test_a_whole_number_setting_given_as_a_float_is_kept_as_an_int() -> None:
    assert RuleConfig(baseline_buckets=12.0).baseline_buckets == 12  # type: ignore[arg-type]


def test_pump_and_dump_visits_only_buckets_with_trades() -> None:
    """Trades centuries apart in one-second buckets: the rule looks at the buckets that
    hold trades (building every bucket between them would take billions of steps), and
    still finds a pump and dump after the long quiet stretch."""
    config = RuleConfig(bucket_seconds=1, baseline_buckets=5, reversal_buckets=5)
    old = [Trade(f"o{i}", float(i), "X", 10.0, 1.0, "a", "b") for i in range(3)]
    late = 8_000_000_000.0
    pump = [
        Trade("p", late, "X", 14.0, 50.0, "ring", "a"),
        Trade("d", late + 2, "X", 10.5, 1.0, "a", "ring"),
    ]
    found = pump_and_dump(old + pump, config)
    assert [(f["pump_at"], f["dump_at"], f["accounts"]) for f in found] == [
        (late, late + 2, ["ring"])
    ]
    assert pump_and_dump(old + pump[:1], config) == []  # the rise held: no dump
