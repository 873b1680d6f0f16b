"""``fraud``: the built-in agent for fraud detection.

- ``fraud_train`` ``{transactions: [...]}``: trains XGBoost and a Random Forest on labelled
  transactions (IsolationForest without labels), evaluated on the newest 20% by time;
  every candidate is stored as a version of the model ``fraud`` with its metrics, and the
  best (PR-AUC) becomes current if it scored at least the current version's PR-AUC (or
  ``make_current`` is true; the answer says which is current and why): ``_fraud_models``;
  ``imperium fraud train FILE`` does the same from the command line.
- ``fraud_analyze`` ``{transactions: [...], threshold?}``: scores each transaction with the
  current version: its probability (or anomaly score), the decision at the threshold
  (the model's own unless given), and the features that drove it.
  ``{trades: [...], rules?}`` instead runs the crypto-trading rules (wash trading, pump and
  dump: ``domain/trading.py``) over trade records.

Models are kept in the database (``ml_models``: metrics, data summary, the pickled model as
bytes), read through the market store the server lends in-process agents.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from imperium.agents import _fraud_models as fm
from imperium.agents._ml import MlMissingError
from imperium.agents.base import Agent, TaskContext, TaskFailed
from imperium.agents.crypto import market_store
from imperium.domain.markets import MarketStore, ModelRecord
from imperium.domain.models import Event
from imperium.domain.trading import RuleConfig, parse_trades, scan

TRAIN, ANALYZE = "fraud_train", "fraud_analyze"
MODEL_NAME = "fraud"
MAX_SCORED = 10_000
FLAGGED = "fraud.flagged"
MAX_EVENTS = 100


def _bad(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_input", retryable=False)


async def save_trained(
    store: MarketStore, trained: Sequence[fm.Trained], make_current: bool = False
) -> tuple[list[ModelRecord], ModelRecord, str]:
    """Every candidate as a version of ``fraud`` (the first, the best, saved last); the best
    becomes current when :func:`promotion` says so. Returns the saved versions, the
    current one afterwards, and why it is current."""
    before = await store.current_model(MODEL_NAME)
    promote, reason = promotion(before, trained[0], make_current)
    saved = []
    now = time.time()
    for rank, t in reversed(list(enumerate(trained))):
        record = ModelRecord(
            id=uuid.uuid4().hex, name=MODEL_NAME, version=0, kind=t.kind, algorithm=t.algorithm,
            created_at=now, metrics=t.metrics, data_summary=t.data_summary,
            current=rank == 0 and promote, artefact=t.artefact,
        )  # fmt: skip
        saved.append(await store.save_model(record))
    saved.reverse()
    current = saved[0] if promote or before is None else before
    return saved, current, reason


def promotion(current: ModelRecord | None, best: fm.Trained, forced: bool) -> tuple[bool, str]:
    """Whether a new training's best model replaces the current version, and why: only when
    its held-out PR-AUC is at least the current one's (a supervised model also replaces an
    unsupervised one, never the reverse), or when the caller asks (``make_current``). The
    two PR-AUCs come from different held-out data (each training's newest 20%), which the
    reason says."""
    new = best.metrics.get("pr_auc")
    if current is None:
        return True, "the new best model is current: no model was current before"
    old = current.metrics.get("pr_auc")
    was = f"version {current.version} ({current.algorithm})"
    if forced:
        return True, f"the new best model replaced {was} as current: make_current was asked"
    if new is None and old is not None:
        return False, (
            f"{was} stays current (held-out PR-AUC {old}): the new model is unsupervised, "
            "with no labels to measure it; ask make_current to use it anyway"
        )
    if old is None:
        return True, f"the new best model replaced {was}, which had no held-out PR-AUC"
    if new is not None and new >= old:
        return True, (
            f"the new best model is current: its held-out PR-AUC {new} is at least {was}'s {old}"
        )
    return False, (
        f"{was} stays current: its held-out PR-AUC {old} is above the new best's {new} (each "
        "measured on the newest 20% of its own training data); ask make_current to replace it"
    )


def model_dict(record: ModelRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "version": record.version, "kind": record.kind,
        "algorithm": record.algorithm, "created_at": record.created_at,
        "current": record.current, "metrics": record.metrics,
        "data_summary": record.data_summary,
    }  # fmt: skip


def _transactions(payload: dict[str, Any]) -> list[dict[str, Any]]:
    rows = payload.get("transactions")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise _bad("transactions must be a non-empty list of objects")
    return rows


class FraudAgent(Agent):
    description = "Fraud scores with explanations from trained, evaluated, versioned models."

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._loaded: tuple[str, dict[str, Any]] | None = None  # (model id, its state)

    async def run(self, ctx: TaskContext) -> Any:
        payload = ctx.payload if isinstance(ctx.payload, dict) else {}
        store = market_store(ctx, "fraud")
        try:
            if ctx.type == TRAIN:
                return await self._train(store, payload)
            if ctx.type == ANALYZE and "trades" in payload:
                return await self._trading(payload)
            if ctx.type == ANALYZE:
                return await self._analyze(ctx, store, payload)
        except ValueError as exc:
            raise _bad(str(exc)) from exc
        except MlMissingError as exc:
            raise TaskFailed(str(exc), kind="not_installed", retryable=False) from exc
        raise _bad(f"the fraud agent does '{TRAIN}' and '{ANALYZE}' tasks, not '{ctx.type}'")

    async def _trading(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The crypto-trading rules (wash trading, pump and dump) over trade records."""
        rows = payload.get("trades")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise _bad("trades must be a non-empty list of objects")
        rules = payload.get("rules") or {}
        if not isinstance(rules, dict):
            raise _bad("rules must be an object")
        try:
            config = RuleConfig(**rules)
        except TypeError as exc:
            raise _bad(f"unknown rule setting: {exc}") from exc
        result: dict[str, Any] = await self.in_thread(_parse_and_scan, rows, config)
        return result

    async def _train(self, store: MarketStore, payload: dict[str, Any]) -> dict[str, Any]:
        rows = _transactions(payload)
        make_current = payload.get("make_current", False)
        if not isinstance(make_current, bool):
            raise _bad("make_current must be true or false")
        trained = await self.in_thread(_parse_and_train, rows)
        saved, current, reason = await save_trained(store, trained, make_current)
        return {
            "models": [model_dict(r) for r in saved],
            "current": model_dict(current),
            "promoted": current.id == saved[0].id,
            "why_current": reason,
        }

    async def _analyze(
        self, ctx: TaskContext, store: MarketStore, payload: dict[str, Any]
    ) -> dict[str, Any]:
        rows = _transactions(payload)
        if len(rows) > MAX_SCORED:
            raise _bad(f"at most {MAX_SCORED} transactions per request; got {len(rows)}")
        threshold = payload.get("threshold")
        if threshold is not None and (
            not isinstance(threshold, int | float) or isinstance(threshold, bool)
        ):
            raise _bad("threshold must be a number")
        txns = await self.in_thread(fm.parse, rows)
        record = await store.current_model(MODEL_NAME)
        if record is None or record.artefact is None:
            raise TaskFailed(
                "no fraud model is trained: train one with `imperium fraud train FILE` or "
                "POST /api/v1/fraud/train",
                kind="not_found",
                retryable=False,
            )
        if self._loaded is None or self._loaded[0] != record.id:
            self._loaded = (record.id, await self.in_thread(fm.load, record.artefact))
        state = self._loaded[1]
        results = await self.in_thread(
            fm.score, state, txns, float(threshold) if threshold is not None else None
        )
        raised = await _raise_flagged(ctx, record, txns, results)
        return {
            "model": {**model_dict(record), "explanation": fm.explanation_kind(state)},
            "model_kind": record.kind,
            "answered_by": (
                "a supervised classifier trained on labelled transactions"
                if record.kind == "supervised"
                else "an unsupervised anomaly detector (no labels): scores are anomaly "
                "scores, not probabilities"
            ),
            "flagged": sum(1 for r in results if r["flagged"]),
            "events_raised": raised,
            "results": results,
        }


def _parse_and_scan(rows: list[dict[str, Any]], config: RuleConfig) -> dict[str, Any]:
    return scan(parse_trades(rows), config)


def _parse_and_train(rows: list[dict[str, Any]]) -> list[fm.Trained]:
    """Parsing included: 10 MB of transactions held the event loop about 2.5 s."""
    return fm.train(fm.parse(rows))


async def _raise_flagged(
    ctx: TaskContext, record: ModelRecord, txns: Sequence[fm.Txn], results: list[dict[str, Any]]
) -> int:
    """A ``fraud.flagged`` event per flagged transaction (the first ``MAX_EVENTS`` of a
    request), written and published by the server (``ctx.services["record_events"]``), so
    the dashboard's live stream and alert rules see them; none outside the server."""
    record_events = ctx.services.get("record_events")
    if record_events is None:
        return 0
    now = time.time()
    events = [
        Event(
            FLAGGED,
            now,
            task_id=ctx.task_id,
            agent_id=ctx.agent_id,
            data={
                "transaction_id": r["transaction_id"],
                "account_id": t.account,
                "score": r["score"],
                "threshold": r["threshold"],
                "model_version": record.version,
                "algorithm": record.algorithm,
                "drivers": [d["feature"] for d in r["drivers"]],
            },
        )
        for t, r in zip(txns, results, strict=True)
        if r["flagged"]
    ][:MAX_EVENTS]
    if events:
        await record_events(events)
    return len(events)
