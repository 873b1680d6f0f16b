"""``imperium crypto …``: market data and texts into the database, and a prediction run in
this process.

``upload`` and ``texts`` write the tables the server's ``crypto`` agent reads.
``predict`` runs the same agent code here, on the same database (it is not a task of a
running server, so it is not recorded as one); ``POST /api/v1/crypto/predict`` asks the
server's agent through the engine. Fetching candles from an exchange (ccxt) is not built.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from imperium.adapters.storage.markets import SqlMarketStore
from imperium.domain.errors import ValidationError
from imperium.domain.markets import MarketText, check_timeframe, normalise_symbol, parse_candles
from imperium.domain.uploads import csv_rows
from imperium.interfaces.cli._common import fail, offline, print_json, run, settings

app = typer.Typer(
    help="Crypto market data (upload candles, texts for sentiment) and forecasts with a "
    "backtest against the naive forecast.",
    no_args_is_help=True,
)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Timeframe = Annotated[str, typer.Option("--timeframe", "-t", help="Candle length, e.g. 1d, 1h.")]


def _checked(symbol: str, timeframe: str) -> tuple[str, str]:
    try:
        return normalise_symbol(symbol), check_timeframe(timeframe)
    except ValueError as exc:
        raise fail(escape(str(exc))) from None


def read_rows(path: Path, key: str = "candles") -> list[dict[str, Any]]:
    """Rows of a CSV file, or of a JSON file (a list of objects, or ``{key: [...]}``: the
    API's own body, ``{"candles": [...]}`` or ``{"transactions": [...]}``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(f"cannot read {escape(str(path))}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"{escape(str(path))} is not UTF-8 text (CSV or JSON)") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"{escape(str(path))} is not JSON: {exc}") from None
        rows = data.get(key) if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise fail(f'{escape(str(path))}: JSON must be a list of objects or {{"{key}": [...]}}')
        return rows
    try:
        return csv_rows(text)
    except ValidationError as exc:
        raise fail(f"{escape(str(path))}: {exc}") from None


@app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(help="CSV or JSON of candles.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="e.g. BTC")],
    timeframe: Timeframe = "1d",
    database: Database = None,
) -> None:
    """Store candles (time, open, high, low, close, volume) for SYMBOL and TIMEFRAME."""
    sym, tf = _checked(symbol, timeframe)
    try:
        candles, skipped = parse_candles(read_rows(file))
    except ValueError as exc:
        raise fail(f"{file}: {escape(str(exc))}") from None
    if not candles:
        raise fail(f"{file}: no complete candle")

    async def go() -> int:
        async with offline(settings(database)) as im:
            return await SqlMarketStore(im.store.database).save_candles(sym, tf, candles)

    written = run(go())
    print(f"stored {written} {sym} {tf} candles ({skipped} incomplete rows skipped)")


@app.command("delete")
def delete(
    symbol: Annotated[str, typer.Argument(help="e.g. BTC")],
    timeframe: Timeframe = "1d",
    since: Annotated[float | None, typer.Option(help="From this time (epoch seconds).")] = None,
    until: Annotated[float | None, typer.Option(help="To this time (epoch seconds).")] = None,
    database: Database = None,
) -> None:
    """Delete SYMBOL's TIMEFRAME candles: all, or those opened from --since to --until."""
    sym, tf = _checked(symbol, timeframe)

    async def go() -> int:
        async with offline(settings(database)) as im:
            return await SqlMarketStore(im.store.database).delete_candles(sym, tf, since, until)

    deleted = run(go())
    if not deleted:
        raise fail(f"no stored {sym} {tf} candle in that range")
    print(f"deleted {deleted} {sym} {tf} candles")


@app.command("texts")
def texts(
    file: Annotated[Path, typer.Argument(help="A text file, one text per line.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s")],
    source: Annotated[str, typer.Option("--source")] = "cli",
    database: Database = None,
) -> None:
    """Store texts about SYMBOL (one per line) for the sentiment route."""
    sym, _ = _checked(symbol, "1d")
    try:
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    now = time.time()
    rows = [MarketText(uuid.uuid4().hex, sym, line, source[:200], now) for line in lines if line]
    if not rows:
        raise fail(f"{file} holds no text")

    async def go() -> None:
        async with offline(settings(database)) as im:
            await SqlMarketStore(im.store.database).add_texts(rows)

    run(go())
    print(f"stored {len(rows)} texts about {sym}")


@app.command("predict")
def predict(
    symbol: Annotated[str, typer.Argument(help="e.g. BTC")],
    timeframe: Timeframe = "1d",
    horizon: Annotated[int, typer.Option("--horizon", "-h", min=1, max=90)] = 7,
    database: Database = None,
    full: Annotated[bool, typer.Option("--full", help="Print everything, not a summary.")] = False,
) -> None:
    """Forecast, indicators, risk and the walk-forward backtest against naive, computed in
    this process on the stored candles (the model version is stored as the API's is)."""
    sym, tf = _checked(symbol, timeframe)
    payload = {"symbol": sym, "timeframe": tf, "prediction_horizon": horizon}
    result = run(run_agent("crypto", "crypto_predict", payload, database))
    if not full:
        keys = ("symbol", "timeframe", "last_close", "as_of", "forecast", "backtest", "verdict",
                "model", "risk")  # fmt: skip
        result = {k: result[k] for k in keys}
        result["backtest"] = {k: v for k, v in result["backtest"].items() if k != "per_step"}
    print_json(result)


async def run_agent(
    kind: str, task_type: str, payload: dict[str, Any], database: str | None
) -> Any:
    from imperium.agents.base import TaskContext, TaskFailed
    from imperium.agents.loader import load_agent_class

    async with offline(settings(database)) as im:
        markets = SqlMarketStore(im.store.database)
        ctx = TaskContext(task_id="cli", type=task_type, payload=payload, attempt=1,
                          agent_id=kind, services={"markets": markets})  # fmt: skip
        try:
            return await load_agent_class(kind)().run(ctx)
        except TaskFailed as exc:
            raise fail(escape(str(exc))) from None
