"""``crypto``: the built-in agent for crypto market prediction and sentiment.

- ``crypto_predict`` ``{symbol, timeframe, prediction_horizon}``: over the stored candles
  of that symbol and timeframe, the forecast with 80% and 95% intervals, the indicators,
  the risk figures and the walk-forward backtest against the naive last-price forecast
  (``_market_models``). The fitted models and their backtest are stored as a version of
  ``crypto:SYMBOL:TIMEFRAME``; a later request over the same candles, horizon and
  settings reuses them (the current version or an earlier one) instead of refitting.
- ``crypto_sentiment`` ``{symbol, limit, query?, knowledge?}``: the stored texts about the
  symbol and the knowledge base's documents found for it (``ctx.knowledge``, in the
  server; ``"knowledge": false`` leaves them out) scored with VADER (``vadersentiment``),
  their number and the distribution of scores; with none, the answer is "no data", not a
  number.

Both need the market store the server lends in-process agents (``ctx.services``), and the
``ml`` extra. The model work runs in the executor's thread pool.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from imperium.agents import _market_models as mm
from imperium.agents._ml import MlMissingError, need
from imperium.agents.base import Agent, TaskContext, TaskFailed
from imperium.domain.markets import (
    MarketStore,
    ModelRecord,
    check_timeframe,
    normalise_symbol,
)

PREDICT, SENTIMENT = "crypto_predict", "crypto_sentiment"
MAX_HORIZON = 90
STEP_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400,
                "1w": 604_800}  # fmt: skip
ALGORITHM = "hist_gradient_boosting_quantile"
POSITIVE, NEGATIVE = 0.05, -0.05  # VADER's usual cut-offs on the compound score


def _bad(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_input", retryable=False)


def market_store(ctx: TaskContext, agent: str) -> MarketStore:
    store = ctx.services.get("markets")
    if store is None:
        raise TaskFailed(
            f"the {agent} agent runs inside `imperium serve` only (it needs the server's "
            "market store)",
            kind="not_configured",
            retryable=False,
        )
    return store  # type: ignore[no-any-return]


class CryptoAgent(Agent):
    description = "Crypto forecasts with intervals and backtests, indicators, risk, sentiment."

    async def run(self, ctx: TaskContext) -> Any:
        payload = ctx.payload if isinstance(ctx.payload, dict) else {}
        store = market_store(ctx, "crypto")
        try:
            symbol = normalise_symbol(str(payload.get("symbol", "")))
            if ctx.type == PREDICT:
                return await self._predict(store, symbol, payload)
            if ctx.type == SENTIMENT:
                return await self._sentiment(ctx, store, symbol, payload)
        except ValueError as exc:
            raise _bad(str(exc)) from exc
        except MlMissingError as exc:
            raise TaskFailed(str(exc), kind="not_installed", retryable=False) from exc
        raise _bad(f"the crypto agent does '{PREDICT}' and '{SENTIMENT}' tasks, not '{ctx.type}'")

    def _forecast_config(self) -> mm.ForecastConfig:
        """The model's settings: the defaults, or the agent's registered ``forecast``
        config (``{"max_iter": 50, "folds": 3, ...}``; smaller is faster and rougher)."""
        given = self.config.get("forecast") or {}
        try:
            return mm.ForecastConfig(**given)
        except TypeError as exc:
            raise TaskFailed(
                f"the crypto agent's forecast config is invalid: {exc}",
                kind="not_configured",
                retryable=False,
            ) from exc

    async def _predict(
        self, store: MarketStore, symbol: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        timeframe = check_timeframe(str(payload.get("timeframe", "1d")))
        horizon = payload.get("prediction_horizon", 7)
        if (
            not isinstance(horizon, int)
            or isinstance(horizon, bool)
            or not 1 <= horizon <= MAX_HORIZON
        ):
            raise ValueError(f"prediction_horizon must be a whole number from 1 to {MAX_HORIZON}")
        candles = await store.candles(symbol, timeframe)
        if not candles:
            raise TaskFailed(
                f"no market data for {symbol} {timeframe}: upload candles first (POST "
                f"/api/v1/crypto/market-data/{symbol}/{timeframe}, or `imperium crypto upload`)",
                kind="not_found",
                retryable=False,
            )
        name = f"crypto:{symbol}:{timeframe}"
        digest = mm.data_hash(candles)
        config = self._forecast_config()
        current = await _stored_version(store, name, digest, horizon, _config(config))
        reuse = current is not None
        work = _Work(candles, timeframe, horizon, config, current.artefact if current else None)
        try:
            done = await self.in_thread(work.run)
        except mm.NotEnoughDataError as exc:
            raise _bad(str(exc)) from exc
        if current is not None:
            record, backtest = current, current.metrics
        else:
            backtest = done["backtest"]
            record = await store.save_model(
                ModelRecord(
                    id=uuid.uuid4().hex, name=name, version=0, kind="forecast",
                    algorithm=ALGORITHM, created_at=time.time(), metrics=backtest,
                    data_summary={
                        "candles": len(candles), "from": done["risk"]["window"]["from"],
                        "to": done["risk"]["window"]["to"], "data_hash": digest,
                        "horizon": horizon, "config": _config(config),
                    },
                    current=True, artefact=done["artefact"],
                )
            )  # fmt: skip
        return {
            "symbol": symbol,
            "timeframe": timeframe,
            "prediction_horizon": horizon,
            "last_close": candles[-1].close,
            "as_of": done["indicators"]["as_of"],
            "forecast": done["forecast"],
            "indicators": done["indicators"],
            "risk": done["risk"],
            "backtest": backtest,
            "verdict": verdict(backtest),
            "model": {
                "name": record.name,
                "version": record.version,
                "algorithm": record.algorithm,
                "trained_at": record.created_at,
                "reused": bool(reuse),
                "quantiles": list(mm.QUANTILES),
            },
        }

    async def _sentiment(
        self, ctx: TaskContext, store: MarketStore, symbol: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        limit = payload.get("limit", 1000)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise ValueError("limit must be a whole number from 1 to 10000")
        texts = [t.text for t in await store.texts(symbol, limit)]
        documents = await _knowledge(ctx, symbol, payload)
        if not texts and not documents:
            return {
                "symbol": symbol,
                "status": "no data",
                "count": 0,
                "score": None,
                "detail": f"no texts about {symbol} are stored and the knowledge base has "
                f"none: add some with POST /api/v1/crypto/texts/{symbol} (or `imperium "
                "crypto texts`)",
            }
        vader = need("vaderSentiment.vaderSentiment", "sentiment analysis")
        # in a worker thread: VADER is pure Python (10,000 texts held the event loop 51 s)
        scores = await self.in_thread(
            _vader_scores, vader, texts + [doc.pop("text") for doc in documents]
        )
        scored = scores[: len(texts)]
        for doc, score in zip(documents, scores[len(texts) :], strict=True):
            doc["sentiment"] = score
        summary = sentiment_summary(symbol, scored + [d["sentiment"] for d in documents])
        summary["sources"] = {"supplied_texts": len(texts), "knowledge_base": len(documents)}
        summary["documents"] = documents
        return summary


async def _stored_version(
    store: MarketStore, name: str, digest: str, horizon: int, config: dict[str, Any]
) -> ModelRecord | None:
    """A stored version fitted on these very candles for this horizon and settings (the
    current one, or the newest earlier one: asking for 1 step, then 7, then 1 again refits
    nothing), with its artefact; None when there is none."""

    def fits(record: ModelRecord) -> bool:
        summary = record.data_summary
        return (summary.get("data_hash"), summary.get("horizon"), summary.get("config")) == (
            digest, horizon, config)  # fmt: skip

    current = await store.current_model(name)
    if current is not None and current.artefact is not None and fits(current):
        return current
    for record in await store.models(name):  # newest first, without artefacts
        if not record.current and fits(record):
            found = await store.model_version(name, record.version)
            if found is not None and found.artefact is not None:
                return found
    return None


def _vader_scores(vader: Any, texts: list[str]) -> list[float]:
    """VADER's compound score of each text (loading its lexicon included)."""
    analyzer = vader.SentimentIntensityAnalyzer()
    return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]


KNOWLEDGE_DOCUMENTS = 50  # the knowledge base's most per search
KNOWLEDGE_CHARS = 1000  # a document's title and opening are scored, not all of it


async def _knowledge(
    ctx: TaskContext, symbol: str, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """Documents the knowledge base's ingestion collected about the symbol (its search for
    ``query``, by default the symbol), when the server lends the base and the payload does
    not say ``"knowledge": false``."""
    if payload.get("knowledge") is False or "knowledge" not in ctx.services:
        return []
    query = str(payload.get("query") or symbol)[:200]
    hits = await ctx.knowledge.search(query, KNOWLEDGE_DOCUMENTS)
    return [
        {
            "url": h.url,
            "title": h.title,
            "source_id": h.source_id,
            "text": f"{h.title}. {h.text}"[:KNOWLEDGE_CHARS],
        }
        for h in hits
    ]


def sentiment_summary(symbol: str, scores: list[float]) -> dict[str, Any]:
    n = len(scores)
    positive = sum(1 for s in scores if s >= POSITIVE)
    negative = sum(1 for s in scores if s <= NEGATIVE)
    bins = [0] * 5  # [-1,-0.6), [-0.6,-0.2), [-0.2,0.2], (0.2,0.6], (0.6,1]
    for s in scores:
        bins[min(4, int((s + 1.0) / 0.4))] += 1
    cuts = statistics.quantiles(scores, n=10) if n >= 2 else [scores[0]] * 9
    return {
        "symbol": symbol,
        "status": "ok",
        "count": n,
        "score": round(statistics.fmean(scores), 4),
        "median": round(statistics.median(scores), 4),
        "p10": round(cuts[0], 4),
        "p90": round(cuts[-1], 4),
        "distribution": {
            "positive": positive,
            "neutral": n - positive - negative,
            "negative": negative,
        },
        "histogram": [
            {"from": round(-1.0 + 0.4 * i, 1), "to": round(-0.6 + 0.4 * i, 1), "count": c}
            for i, c in enumerate(bins)
        ],
        "model": "VADER (vadersentiment), compound score in [-1, 1]; >= 0.05 positive, "
        "<= -0.05 negative",
    }


def verdict(backtest: dict[str, Any]) -> str:
    model, naive = backtest["model"], backtest["naive"]
    test = backtest.get("significance") or {}
    if backtest["beats_naive"] and test.get("p_value") is not None and not test["significant"]:
        return (
            f"the model's error was below the naive last-price forecast's in the backtest "
            f"(MAE {model['mae']} against {naive['mae']}, MASE {model['mase']}) by a margin "
            f"chance explains (Diebold-Mariano p = {test['p_value']}): treat it as no better "
            "than naive, and use its intervals as a range of outcomes, not its point "
            "forecast as a prediction"
        )
    if backtest["beats_naive"]:
        return (
            f"the model beat the naive last-price forecast in the backtest (MAE {model['mae']} "
            f"against {naive['mae']}, MASE {model['mase']}); past accuracy does not promise "
            "future accuracy"
        )
    return (
        f"the model did NOT beat the naive last-price forecast in the backtest (MAE "
        f"{model['mae']} against {naive['mae']}, MASE {model['mase']}): use its intervals as "
        "a range of outcomes, not its point forecast as a prediction"
    )


def _config(config: mm.ForecastConfig) -> dict[str, Any]:
    return {
        "max_iter": config.max_iter, "learning_rate": config.learning_rate,
        "max_leaf_nodes": config.max_leaf_nodes, "min_samples_leaf": config.min_samples_leaf,
        "test_size": config.test_size, "folds": config.folds,
    }  # fmt: skip


class _Work:
    """The CPU part of a prediction, run in a worker thread."""

    def __init__(self, candles: Any, timeframe: str, horizon: int, config: mm.ForecastConfig,
                 artefact: bytes | None) -> None:  # fmt: skip
        self.candles, self.timeframe, self.horizon = candles, timeframe, horizon
        self.config, self.artefact = config, artefact

    def run(self) -> dict[str, Any]:
        df = mm.frame(self.candles)
        mm.check_length(len(self.candles), self.horizon, self.config)  # 422 with the count
        out: dict[str, Any] = {"indicators": mm.indicators(df), "risk": mm.risk(df, self.timeframe)}
        if self.artefact is not None:
            models = mm.load_models(self.artefact)
        else:
            out["backtest"] = mm.backtest(df, self.horizon, self.config)
            models = mm.fit_final(df, self.horizon, self.config)
            out["artefact"] = mm.dump_models(models)
        out["forecast"] = mm.forecast(df, models, self.horizon, STEP_SECONDS[self.timeframe])
        return out
