"""/api/v1/fraud: train models on labelled transactions, score transactions with the
current model (the seed's ``analyze``), list model versions with their held-out
evaluation. Training and scoring are tasks of the built-in ``fraud`` agent
(``agents/fraud.py``)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from imperium.domain.uploads import csv_rows
from imperium.interfaces.api.deps import Markets, Scheduler
from imperium.interfaces.api.views.ml import (
    MAX_WAIT_SECONDS,
    ml_problems,
    run_agent_task,
)

router = APIRouter(prefix="/api/v1/fraud", tags=["fraud"])

Wait = Annotated[float, Query(gt=0, le=MAX_WAIT_SECONDS, allow_inf_nan=False,
                              description="Seconds to wait for the agent's answer.")]  # fmt: skip


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return await asyncio.to_thread(json.loads, body)  # megabytes: off the event loop
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"the body is not JSON: {exc}") from exc


@router.post("/analyze", responses=ml_problems(404, 422, 502, 503))
async def analyze(request: Request, engine: Scheduler, wait: Wait = 60.0) -> Any:
    """Score one transaction (the body is the transaction) or many
    (``{"transactions": [...], "threshold": optional}``): each gets its fraud probability
    (or anomaly score), the decision at the threshold and the features that drove it; the
    answer names the model version and whether it is supervised."""
    body = await _json(request)
    if not isinstance(body, dict):
        raise HTTPException(422, 'the body must be a transaction object or {"transactions": [...]}')
    if "transactions" in body:
        payload = {"transactions": body["transactions"], "threshold": body.get("threshold")}
    else:
        payload = {"transactions": [body.get("transaction", body)]}
    return await run_agent_task(engine, "fraud_analyze", payload, wait)


@router.post("/train", responses=ml_problems(422, 502, 503))
async def train(
    request: Request,
    engine: Scheduler,
    wait: Wait = 300.0,
    make_current: Annotated[
        bool,
        Query(
            description=(
                "Make the new best model current even if its held-out PR-AUC is below the current "
                "version's."
            )
        ),
    ] = False,
) -> Any:
    """Train on transactions (CSV as ``text/csv``, or JSON ``{"transactions": [...]}``)
    with columns timestamp, account_id, amount, merchant_category and the label
    ``is_fraud`` (0/1; without labels an IsolationForest is fitted). XGBoost and a Random
    Forest are evaluated on the newest 20% by time; both are stored as versions and the
    better (PR-AUC) becomes current if its PR-AUC is at least the current version's (or
    ``make_current``); ``why_current`` in the answer says which is current and why."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv", "text/plain"):
        rows: Any = await _csv_rows(request)
    else:
        body = await _json(request)
        rows = body.get("transactions") if isinstance(body, dict) else body
    payload = {"transactions": rows, "make_current": make_current}
    return await run_agent_task(engine, "fraud_train", payload, wait)


@router.post("/trades", responses=ml_problems(422, 502, 503))
async def trades(request: Request, engine: Scheduler, wait: Wait = 60.0) -> Any:
    """Crypto-trading fraud rules over trade records (CSV as ``text/csv``, or JSON
    ``{"trades": [...], "rules": {...}}``; columns timestamp, symbol, price, quantity, buyer,
    seller): wash trading (self-matches, round trips) and pump and dump (a volume and price
    spike, then a reversal), each finding with its trades or time window and accounts."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    rules: Any = None
    if kind in ("text/csv", "application/csv", "text/plain"):
        rows: Any = await _csv_rows(request)
    else:
        body = await _json(request)
        rows = body.get("trades") if isinstance(body, dict) else body
        rules = body.get("rules") if isinstance(body, dict) else None
    return await run_agent_task(engine, "fraud_analyze", {"trades": rows, "rules": rules}, wait)


def _read_csv(body: bytes) -> list[dict[str, Any]]:
    return csv_rows(body.decode("utf-8-sig"))


async def _csv_rows(request: Request) -> list[dict[str, Any]]:
    body = await request.body()
    try:  # off the event loop: 10 MB of CSV held it about 2.5 s
        return await asyncio.to_thread(_read_csv, body)
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "the CSV must be UTF-8") from exc


@router.get("/models")
async def models(markets: Markets) -> dict[str, Any]:
    """Every fraud model version, newest first, with its held-out evaluation (PR-AUC,
    ROC-AUC, recall at 1% false-positive rate) and training data summary."""
    return {"items": [{"id": m.id, "version": m.version, "kind": m.kind,
                       "algorithm": m.algorithm, "created_at": m.created_at,
                       "current": m.current, "metrics": m.metrics,
                       "data_summary": m.data_summary}
                      for m in await markets.models("fraud")]}  # fmt: skip
