"""Candles from uploaded rows, and symbol and timeframe checks."""

from __future__ import annotations

import pytest

from imperium.domain.markets import Candle, check_timeframe, normalise_symbol, parse_candles


def test_yahoo_rows_parse_and_null_rows_are_skipped_and_counted() -> None:
    rows = [
        {"Date": "2021-01-01", "Open": "1", "High": "2", "Low": "0.5", "Close": "1.5",
         "Adj Close": "1.5", "Volume": "10"},
        {"Date": "2021-01-02", "Open": "null", "High": "null", "Low": "null", "Close": "null",
         "Adj Close": "null", "Volume": "null"},
    ]  # fmt: skip
    candles, skipped = parse_candles(rows)
    assert candles == [Candle(1609459200.0, 1.0, 2.0, 0.5, 1.5, 10.0)]
    assert skipped == 1


def test_epoch_milliseconds_and_iso_with_zone() -> None:
    rows = [
        {"timestamp": 1609459200000, "open": 1, "high": 1, "low": 1, "close": 1, "volume": 0},
        {"time": "2021-01-01T01:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 0},
    ]
    # each row names its own time column
    assert [c.ts for c in parse_candles(rows)[0]] == [1609459200.0, 1609462800.0]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"date": "2021-01-01", "open": 1, "high": 1, "low": 1}, "row 1: missing close, volume"),
        ({"open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}, "missing a time column"),
        ({"date": "soon", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}, "ISO 8601"),
        ({"date": "2021-01-01", "open": "x", "high": 1, "low": 1, "close": 1, "volume": 1},
         "must be numbers"),
        ({"date": "2021-01-01", "open": 1, "high": 1, "low": 1, "close": -1, "volume": 1},
         "> 0"),
        ({"date": "2021-01-01", "open": 2, "high": 0.5, "low": 1, "close": 1, "volume": 1},
         "row 1: high 0.5 and low 1 must bound open 2 and close 1"),
        ({"date": "2021-01-01", "open": 1, "high": 2, "low": 1.5, "close": 1.8, "volume": 1},
         "must bound"),
    ],
)  # fmt: skip
def test_bad_rows_are_named(row: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_candles([row])


def test_symbols_and_timeframes() -> None:
    assert normalise_symbol(" btc-usd ") == "BTC-USD"
    with pytest.raises(ValueError, match="symbol"):
        normalise_symbol("B T C")
    assert check_timeframe("1h") == "1h"
    with pytest.raises(ValueError, match="not one of"):
        check_timeframe("2d")


@pytest.mark.parametrize(
    "when",
    [1e17, -1e30, 9.9e10, -1, "1969-12-31", "2262-01-01", "9999-12-31T23:59:59", "5138-01-01"],
)
def test_times_outside_1970_to_2261_are_refused(when: object) -> None:
    """1e17 (read as milliseconds: 1e14 s) once stored a candle pandas cannot hold, and every
    later prediction of that series failed. An ISO date is never read as milliseconds:
    9999-12-31 (253402300799 s) was stored as 1978-01-12."""
    row = {"timestamp": when, "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    with pytest.raises(ValueError, match=r"row 1: time .* is outside 1970-01-01 to 2261-12-31"):
        parse_candles([row])


@pytest.mark.parametrize(
    ("when", "ts"), [(0, 0.0), ("2261-12-31T23:59:59Z", 9214646399.0), (1.6e12, 1.6e9)]
)
def test_times_at_the_edges_are_kept(when: object, ts: float) -> None:
    row = {"timestamp": when, "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    assert parse_candles([row])[0][0].ts == ts
