"""Market data, texts about a symbol, and versioned machine-learning models (crypto
prediction and fraud detection, issue 16). Plain records; the models themselves live in
``agents/`` (they need the ``ml`` extra)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
"""Candle lengths market data may be stored under."""


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``ts`` is its opening time, epoch seconds (UTC)."""

    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class MarketText:
    """A text about a symbol (a post, a headline) supplied for sentiment scoring."""

    id: str
    symbol: str
    text: str
    source: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One trained model version: its evaluation, what it was trained on, and (for models
    kept to score later) its serialised artefact. ``name`` groups versions: ``fraud``, or
    ``crypto:BTC:1d``. ``current`` marks the version that answers for its name."""

    id: str
    name: str
    version: int
    kind: str
    """``supervised``, ``unsupervised`` or ``forecast``."""
    algorithm: str
    created_at: float
    metrics: dict[str, Any] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
    current: bool = False
    artefact: bytes | None = None


def normalise_symbol(symbol: str) -> str:
    """``btc`` and ``BTC`` are one symbol; letters, digits, ``-``, ``/`` and ``.`` only."""
    cleaned = symbol.strip().upper()
    if not cleaned or len(cleaned) > 30 or not all(c.isalnum() or c in "-/._" for c in cleaned):
        raise ValueError(
            f"symbol {symbol!r} must be 1 to 30 letters, digits or - / . _ (for example BTC)"
        )
    return cleaned


def check_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe {timeframe!r} is not one of {', '.join(TIMEFRAMES)}")
    return timeframe


class MarketStore(Protocol):
    """Where candles, texts and model versions are kept (SQL, or memory in tests)."""

    async def save_candles(self, symbol: str, timeframe: str, candles: Sequence[Candle]) -> int:
        """Insert or replace candles by opening time; returns how many were written."""
        ...

    async def candles(self, symbol: str, timeframe: str) -> list[Candle]:
        """Oldest first."""
        ...

    async def market_series(self) -> list[tuple[str, str, int, float, float]]:
        """(symbol, timeframe, count, first ts, last ts) of every stored series."""
        ...

    async def delete_candles(
        self, symbol: str, timeframe: str, since: float | None = None, until: float | None = None
    ) -> int:
        """Delete the series' candles opened from ``since`` to ``until`` (inclusive; None:
        unbounded, so both None is the whole series); returns how many went."""
        ...

    async def add_texts(self, texts: Sequence[MarketText]) -> None: ...

    async def texts(self, symbol: str, limit: int) -> list[MarketText]:
        """Newest first."""
        ...

    async def save_model(self, record: ModelRecord) -> ModelRecord:
        """Store ``record`` as the next version of its name (its ``version`` is ignored);
        when ``record.current``, it becomes the only current version of that name."""
        ...

    async def models(self, name: str | None = None) -> list[ModelRecord]:
        """Newest first, without artefacts."""
        ...

    async def current_model(self, name: str) -> ModelRecord | None:
        """The current version of ``name``, with its artefact."""
        ...

    async def model_version(self, name: str, version: int) -> ModelRecord | None:
        """One version of ``name``, with its artefact."""
        ...


_TIME_KEYS = ("timestamp", "date", "time", "datetime", "ts", "open_time")
_PRICE_KEYS = ("open", "high", "low", "close", "volume")


def parse_time(value: object, where: str) -> float:
    """Epoch seconds from ISO 8601 (UTC unless a zone is given), epoch seconds, or
    epoch milliseconds (values beyond 1e11), from 1970 to 2261; ValueError naming
    ``where`` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            return _iso_seconds(text, where)  # never read as milliseconds
    if number > 1e11:  # epoch milliseconds (exchanges' usual unit)
        number /= 1000.0
    if not (math.isfinite(number) and EARLIEST <= number < LATEST):
        raise ValueError(
            f"{where}: time {value!r} is outside 1970-01-01 to 2261-12-31 (epoch seconds "
            f"{EARLIEST:.0f} to {LATEST:.0f}, or milliseconds)"
        )
    return number


def _iso_seconds(text: str, where: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: time {text!r} is neither ISO 8601 nor epoch seconds") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    seconds = parsed.timestamp()
    if not EARLIEST <= seconds < LATEST:
        raise ValueError(f"{where}: time {text!r} is outside 1970-01-01 to 2261-12-31")
    return seconds


EARLIEST, LATEST = 0.0, datetime(2262, 1, 1, tzinfo=UTC).timestamp()
"""The times accepted: within what pandas' timestamps hold (a candle at 1e17 s broke every
later prediction of its series)."""


def parse_candles(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Candle], int]:
    """Candles from rows with a time column (timestamp, date, time...; ISO 8601 or epoch
    seconds or milliseconds) and open, high, low, close, volume (any letter case; other
    columns ignored). Rows whose price is missing or ``null`` (as in Yahoo's exports) are
    skipped and counted; any other bad value is an error naming its row."""
    candles: list[Candle] = []
    skipped = 0
    for i, raw in enumerate(rows):
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        where = f"row {i + 1}"
        time_key = next((k for k in _TIME_KEYS if k in row), None)
        absent = [k for k in _PRICE_KEYS if k not in row]
        if time_key is None or absent:
            wanted = ", ".join((["a time column"] if time_key is None else []) + absent)
            raise ValueError(f"{where}: missing {wanted} (columns: {', '.join(row) or 'none'})")
        values = [row[k] for k in _PRICE_KEYS]
        if any(v is None or str(v).strip().lower() in ("", "null", "nan") for v in values):
            skipped += 1
            continue
        try:
            o, h, lo, c, v = (float(x) for x in values)
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: open, high, low, close and volume must be numbers"
            ) from None
        if not all(math.isfinite(x) for x in (o, h, lo, c, v)) or min(o, h, lo, c) <= 0 or v < 0:
            raise ValueError(f"{where}: prices must be finite and > 0, volume >= 0")
        if lo > min(o, c) or h < max(o, c):
            raise ValueError(
                f"{where}: high {h:g} and low {lo:g} must bound open {o:g} and close {c:g} "
                "(are the columns in the right order?)"
            )
        candles.append(Candle(parse_time(row[time_key], where), o, h, lo, c, v))
    return candles, skipped


@dataclass(frozen=True, slots=True)
class FetchedCandles:
    """What one fetch from an exchange gave: closed candles, oldest first, and how many of
    its rows were malformed (skipped) or still open (left for a later fetch)."""

    candles: list[Candle]
    skipped: int = 0
    open_candles: int = 0
    requests: int = 0


class ExchangeError(Exception):
    """An exchange refused or failed a request, with what it said; ``retry_after`` when it
    asked to wait (rate limit) longer than the fetch would."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CandleSource(Protocol):
    """Candles from an exchange at run time (``adapters/exchanges``)."""

    name: str

    async def fetch(
        self, pair: str, timeframe: str, since: float | None, limit: int
    ) -> FetchedCandles:
        """Closed candles of ``pair`` opened at or after ``since`` (epoch seconds; None:
        the newest ``limit``), oldest first; raises :class:`ExchangeError`."""
        ...
