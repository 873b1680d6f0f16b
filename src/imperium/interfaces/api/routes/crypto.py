"""/api/v1/crypto: market data (uploaded as CSV or JSON), texts for sentiment, and the
seed's prediction and sentiment routes, answered by the built-in ``crypto`` agent through
the engine (``agents/crypto.py``). Fetching from an exchange (ccxt) is not built: market
data comes from uploads."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from imperium.domain.markets import (
    Candle,
    MarketText,
    check_timeframe,
    normalise_symbol,
    parse_candles,
)
from imperium.domain.uploads import csv_rows
from imperium.interfaces.api.deps import Markets, Scheduler
from imperium.interfaces.api.views.ml import (
    MAX_WAIT_SECONDS,
    ml_problems,
    run_agent_task,
)

router = APIRouter(prefix="/api/v1/crypto", tags=["crypto"])

Wait = Annotated[float, Query(gt=0, le=MAX_WAIT_SECONDS, allow_inf_nan=False,
                              description="Seconds to wait for the agent's answer.")]  # fmt: skip
MAX_TEXTS = 10_000


class PredictIn(BaseModel):
    symbol: str = Field(min_length=1, max_length=30, examples=["BTC"])
    timeframe: str = Field(default="1d", examples=["1d"])
    prediction_horizon: int = Field(default=7, ge=1, le=90)


def _symbol(symbol: str) -> str:
    try:
        return normalise_symbol(symbol)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def _timeframe(timeframe: str) -> str:
    try:
        return check_timeframe(timeframe)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/predict", responses=ml_problems(404, 422, 502, 503))
async def predict(body: PredictIn, engine: Scheduler, wait: Wait = 120.0) -> Any:
    """The forecast over ``prediction_horizon`` candles with 80% and 95% intervals, the
    indicators, risk figures and the walk-forward backtest against the naive last-price
    forecast (with a verdict saying whether the model beat it)."""
    payload = {"symbol": _symbol(body.symbol), "timeframe": _timeframe(body.timeframe),
               "prediction_horizon": body.prediction_horizon}  # fmt: skip
    return await run_agent_task(engine, "crypto_predict", payload, wait)


@router.get("/sentiment/{symbol}", responses=ml_problems(422, 502, 503))
async def sentiment(
    symbol: str,
    engine: Scheduler,
    limit: Annotated[int, Query(ge=1, le=MAX_TEXTS)] = 1000,
    knowledge: Annotated[
        bool, Query(description="Also score the knowledge base's documents found for it.")
    ] = True,
    query: Annotated[
        str | None, Query(max_length=200, description="The knowledge search (the symbol).")
    ] = None,
    wait: Wait = 60.0,
) -> Any:
    """VADER scores of the stored texts about ``symbol`` (newest ``limit``) and of the
    knowledge base's documents found for it: their number, sources and distribution, or
    ``"status": "no data"`` when there are none."""
    if query is not None and any(ord(c) < 32 for c in query):
        raise HTTPException(422, "query must not contain control characters (NUL, newlines)")
    payload = {"symbol": _symbol(symbol), "limit": limit, "knowledge": knowledge,
               "query": query}  # fmt: skip
    return await run_agent_task(engine, "crypto_sentiment", payload, wait)


def _candles(raw: bytes, kind: str) -> tuple[list[Candle], int]:
    try:
        return parse_candles(_rows(raw, kind))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def _rows(raw: bytes, kind: str) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "the body must be UTF-8 text (CSV or JSON)") from exc
    if kind in ("text/csv", "text/plain", "application/csv"):
        return csv_rows(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"the body is not JSON ({exc}); send CSV as text/csv") from exc
    rows = data.get("candles") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise HTTPException(422, 'JSON must be a list of candles or {"candles": [...]}')
    return rows


@router.post("/market-data/{symbol}/{timeframe}", status_code=201, responses=ml_problems(413, 422))
async def upload_market_data(
    request: Request, markets: Markets,
    symbol: Annotated[str, Path(max_length=30)], timeframe: str,
) -> dict[str, Any]:  # fmt: skip
    """Store candles (CSV as ``text/csv``, or JSON) for ``symbol`` and ``timeframe``; a
    candle at a time already stored replaces it. Columns: a time (timestamp, date...; ISO
    8601 or epoch seconds/milliseconds), open, high, low, close, volume."""
    sym, tf = _symbol(symbol), _timeframe(timeframe)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    # off the event loop: 10 MB of candles held every other request for about 7 s
    candles, skipped = await asyncio.to_thread(_candles, raw, kind)
    if not candles:
        raise HTTPException(422, "no complete candle in the upload")
    written = await markets.save_candles(sym, tf, candles)
    stored = next((s for s in await markets.market_series() if s[:2] == (sym, tf)), None)
    return {"symbol": sym, "timeframe": tf, "written": written, "skipped": skipped,
            "stored": _series(stored) if stored else None}  # fmt: skip


def _series(row: tuple[str, str, int, float, float]) -> dict[str, Any]:
    return {"symbol": row[0], "timeframe": row[1], "candles": row[2], "first_ts": row[3],
            "last_ts": row[4]}  # fmt: skip


@router.delete("/market-data/{symbol}/{timeframe}", responses=ml_problems(404, 422))
async def delete_market_data(
    markets: Markets,
    symbol: Annotated[str, Path(max_length=30)],
    timeframe: str,
    since: Annotated[
        float | None,
        Query(
            allow_inf_nan=False,
            description="Only candles opened at or after this time (epoch seconds).",
        ),
    ] = None,
    until: Annotated[
        float | None,
        Query(
            allow_inf_nan=False,
            description="Only candles opened at or before this time (epoch seconds).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Delete a series' candles: all of them, or those opened from ``since`` to ``until``
    (a stray candle, say). Stored model versions stay; the next prediction refits, since
    the candles differ."""
    sym, tf = _symbol(symbol), _timeframe(timeframe)
    deleted = await markets.delete_candles(sym, tf, since, until)
    if not deleted:
        raise HTTPException(404, f"no stored {sym} {tf} candle in that range")
    stored = next((s for s in await markets.market_series() if s[:2] == (sym, tf)), None)
    return {"symbol": sym, "timeframe": tf, "deleted": deleted,
            "stored": _series(stored) if stored else None}  # fmt: skip


@router.get("/market-data")
async def list_market_data(markets: Markets) -> dict[str, Any]:
    """Every stored series: symbol, timeframe, number of candles, first and last time."""
    return {"items": [_series(s) for s in await markets.market_series()]}


Text = Annotated[str, Field(min_length=1, max_length=10_000)]


class TextIn(BaseModel):
    text: Text
    source: str = Field(default="api", max_length=200)


class TextsIn(BaseModel):
    texts: list[TextIn | Text] = Field(min_length=1, max_length=MAX_TEXTS)


@router.post("/texts/{symbol}", status_code=201, responses=ml_problems(422))
async def add_texts(symbol: str, body: TextsIn, markets: Markets) -> dict[str, Any]:
    """Store texts about ``symbol`` (posts, headlines) for the sentiment route."""
    sym = _symbol(symbol)
    now = time.time()
    texts = []
    for item in body.texts:
        entry = TextIn(text=item) if isinstance(item, str) else item
        if not entry.text.strip():
            raise HTTPException(422, "a text is empty")
        texts.append(MarketText(uuid.uuid4().hex, sym, entry.text, entry.source, now))
    await markets.add_texts(texts)
    return {"symbol": sym, "added": len(texts)}


@router.get("/models")
async def crypto_models(markets: Markets) -> dict[str, Any]:
    """Every forecast model version (newest first) with its backtest."""
    items = [m for m in await markets.models() if m.name.startswith("crypto:")]
    return {"items": [{"name": m.name, "version": m.version, "algorithm": m.algorithm,
                       "created_at": m.created_at, "current": m.current,
                       "backtest": m.metrics, "data_summary": m.data_summary}
                      for m in items]}  # fmt: skip
