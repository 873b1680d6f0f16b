"""The market-data settings: the candles the market_data routine fetches, where from, how often."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from imperium.settings._base import SettingsBase, interval


class MarketSettings(SettingsBase):
    """The market_data routine."""

    market_symbols: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_MARKET_SYMBOLS", "market_symbols"),
        description="Comma-separated exchange pairs the market_data routine fetches, each "
        "optionally stored under another symbol: 'BTC=BTCUSDT,ETHUSDT' (empty: off).",
    )
    market_exchange: Literal["binance"] = Field(
        default="binance",
        validation_alias=AliasChoices("IMPERIUM_MARKET_EXCHANGE", "market_exchange"),
        description="The exchange whose public klines API the market_data routine reads.",
    )
    market_exchange_url: str = Field(
        default="https://api.binance.com",
        validation_alias=AliasChoices("IMPERIUM_MARKET_EXCHANGE_URL", "market_exchange_url"),
        description="The exchange API's base URL (another Binance-compatible host, or a "
        "local server in tests).",
    )
    market_timeframe: str = Field(
        default="1d",
        validation_alias=AliasChoices("IMPERIUM_MARKET_TIMEFRAME", "market_timeframe"),
        description="The candle length fetched and stored (1m, 5m, 15m, 1h, 4h, 1d, 1w).",
    )
    market_interval: float = interval(
        "IMPERIUM_MARKET_INTERVAL", 3600.0, "fetches of IMPERIUM_MARKET_SYMBOLS' candles"
    )
