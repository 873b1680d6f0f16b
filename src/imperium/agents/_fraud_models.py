"""Fraud models: features from each transaction and its account's history, XGBoost and a
Random Forest trained and compared on the newest 20% held out by time, or an
IsolationForest when there are no labels. Needs the ``ml`` extra (xgboost, scikit-learn).

Features of a transaction, from it and the same account's *earlier* transactions only
(the same code builds them for training and for scoring, so they mean the same thing):
the log amount, the hour (as sine and cosine), its merchant category (one column per
category seen in training), how many earlier transactions the account has, the amount's
distance from the account's usual amounts (difference and z-score of log amounts), whether
the category is new to the account, how far the hour is from the account's usual hours,
the account's transactions in the previous hour and day, and the time since its last one.
At scoring, the history is what training saw of the account plus the earlier transactions
in the same request (the stored history is not updated by scoring).
"""

from __future__ import annotations

import copy
import math
import pickle
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imperium.agents._ml import need as require
from imperium.domain.markets import parse_time

HOLDOUT = 0.2
TARGET_FPR = 0.01
LABELS = ("is_fraud", "label", "fraud", "class")
"""Column names read as the label (0/1), first found wins."""


@dataclass(frozen=True, slots=True)
class Txn:
    id: str
    ts: float
    account: str
    amount: float
    category: str
    label: int | None = None


def parse(rows: Iterable[Mapping[str, Any]], *, need_label: bool = False) -> list[Txn]:
    """Transactions from dicts (CSV rows or JSON objects). ``label`` is None when the
    rows carry no label column."""
    out = []
    for i, row in enumerate(rows):
        where = f"transaction {i + 1}"
        missing = [k for k in ("timestamp", "account_id", "amount") if row.get(k) in (None, "")]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        try:
            amount = float(row["amount"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: amount {row['amount']!r} is not a number") from None
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"{where}: amount must be a finite number >= 0")
        label_key = next((k for k in LABELS if k in row and row[k] not in (None, "")), None)
        label = None
        if label_key is not None:
            text = str(row[label_key]).strip().lower()
            if text not in ("0", "1", "true", "false", "0.0", "1.0"):
                raise ValueError(f"{where}: {label_key} must be 0 or 1, not {row[label_key]!r}")
            label = 1 if text in ("1", "true", "1.0") else 0
        elif need_label:
            raise ValueError(f"{where}: no label ({' or '.join(LABELS)})")
        out.append(
            Txn(
                id=str(row.get("transaction_id") or row.get("id") or i + 1),
                ts=parse_time(row["timestamp"], where),
                account=str(row["account_id"]),
                amount=amount,
                category=str(row.get("merchant_category") or "unknown").strip().lower(),
                label=label,
            )
        )
    return out


@dataclass(slots=True)
class _Account:
    n: int = 0
    sum_log: float = 0.0
    sum_sq: float = 0.0
    sin: float = 0.0
    cos: float = 0.0
    categories: set[str] = field(default_factory=set)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=64))


BASE_FEATURES = (
    "log_amount", "hour_sin", "hour_cos", "history_count", "amount_vs_usual",
    "amount_z", "new_category", "hour_distance", "count_1h", "count_24h", "log_seconds_since_last",
)  # fmt: skip


def _angle(ts: float) -> float:
    return 2 * math.pi * ((ts % 86_400.0) / 86_400.0)


def features(
    txns: Sequence[Txn], history: dict[str, _Account], categories: Sequence[str]
) -> list[list[float]]:
    """One row per transaction, in the order given (which must be by time); ``history``
    is updated as the transactions are read."""
    index = {c: i for i, c in enumerate(categories)}
    rows = []
    for t in txns:
        a = history.setdefault(t.account, _Account())
        log_amount = math.log1p(t.amount)
        angle = _angle(t.ts)
        mean = a.sum_log / a.n if a.n else log_amount
        var = a.sum_sq / a.n - mean * mean if a.n else 0.0
        std = math.sqrt(max(var, 0.0))
        resultant = math.hypot(a.sin, a.cos) / a.n if a.n else 0.0
        centre = math.atan2(a.sin, a.cos)
        hour_distance = (1 - math.cos(angle - centre)) * resultant if a.n >= 3 else 0.0
        while a.recent and t.ts - a.recent[0] > 86_400.0:
            a.recent.popleft()
        count_1h = sum(1 for s in a.recent if t.ts - s <= 3600.0)
        since = t.ts - a.recent[-1] if a.recent else 30 * 86_400.0
        row = [
            log_amount, math.sin(angle), math.cos(angle), math.log1p(a.n),
            log_amount - mean, (log_amount - mean) / (std + 0.25) if a.n >= 2 else 0.0,
            1.0 if a.n and t.category not in a.categories else 0.0, hour_distance,
            float(count_1h), float(len(a.recent)), math.log1p(max(since, 0.0)),
        ]  # fmt: skip
        onehot = [0.0] * (len(categories) + 1)
        onehot[index.get(t.category, len(categories))] = 1.0
        rows.append(row + onehot)
        a.n += 1
        a.sum_log += log_amount
        a.sum_sq += log_amount * log_amount
        a.sin += math.sin(angle)
        a.cos += math.cos(angle)
        a.categories.add(t.category)
        a.recent.append(t.ts)
    return rows


def feature_names(categories: Sequence[str]) -> list[str]:
    return [*BASE_FEATURES, *(f"category={c}" for c in categories), "category=other"]


def _evaluate(np: Any, metrics: Any, y: Any, score: Any) -> dict[str, Any]:
    fpr, tpr, thresholds = metrics.roc_curve(y, score)
    within = fpr <= TARGET_FPR
    best = int(np.flatnonzero(within)[np.argmax(tpr[within])])
    threshold = float(min(thresholds[best], 1.0))
    flagged = score >= threshold
    precision = float(y[flagged].mean()) if flagged.any() else None
    return {
        "pr_auc": round(float(metrics.average_precision_score(y, score)), 4),
        "roc_auc": round(float(metrics.roc_auc_score(y, score)), 4),
        "recall_at_1pct_fpr": round(float(tpr[best]), 4),
        "fpr_at_threshold": round(float(fpr[best]), 4),
        "precision_at_threshold": round(precision, 4) if precision is not None else None,
        "threshold": threshold,
        "fraud_rate": round(float(y.mean()), 5),
    }


@dataclass
class Trained:
    """One candidate model: what to store and how it did on the held-out data."""

    algorithm: str
    kind: str
    metrics: dict[str, Any]
    artefact: bytes
    data_summary: dict[str, Any]


def _summary(txns: Sequence[Txn], train: int, labelled: bool) -> dict[str, Any]:
    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat()

    summary: dict[str, Any] = {
        "transactions": len(txns),
        "accounts": len({t.account for t in txns}),
        "from": iso(txns[0].ts),
        "to": iso(txns[-1].ts),
        "training_rows": train,
        "holdout_rows": len(txns) - train,
    }
    if labelled:
        summary["fraud_labels"] = sum(t.label or 0 for t in txns)
        summary["holdout_from"] = iso(txns[train].ts) if train < len(txns) else None
    return summary


def train(txns: Sequence[Txn], *, seed: int = 0, trees: int = 200) -> list[Trained]:
    """Candidates, best first: XGBoost and a Random Forest when every transaction has a
    label (compared on the newest 20%), else an IsolationForest."""
    np = require("numpy", "fraud detection")
    ordered = sorted(txns, key=lambda t: t.ts)
    if len(ordered) < 50:
        raise ValueError(f"training needs at least 50 transactions; got {len(ordered)}")
    labels = [t.label for t in ordered]
    if any(label is None for label in labels):
        if any(label is not None for label in labels):
            raise ValueError("some transactions are labelled and some are not: label all or none")
        return [_unsupervised(np, ordered, seed, trees)]
    categories = sorted({t.category for t in ordered})
    history: dict[str, _Account] = {}
    x = np.array(features(ordered, history, categories), dtype=float)
    y = np.array(labels, dtype=int)
    cut = int(len(ordered) * (1 - HOLDOUT))
    if y[:cut].sum() < 5 or y[cut:].sum() < 1 or (y[cut:] == 0).sum() < 1:
        raise ValueError(
            f"the training part (oldest 80%) holds {int(y[:cut].sum())} fraud labels and the "
            f"held-out part (newest 20%) {int(y[cut:].sum())}: need at least 5 and 1, and "
            "legitimate transactions in both"
        )
    metrics = require("sklearn.metrics", "fraud detection")
    summary = _summary(ordered, cut, labelled=True)
    names = feature_names(categories)
    out = []
    for algorithm, model in _candidates(np, y[:cut], seed, trees):
        model.fit(x[:cut], y[:cut])
        score = model.predict_proba(x[cut:])[:, 1]
        evaluation = _evaluate(np, metrics, y[cut:], score)
        # the stored model is the one evaluated (not refitted on all the data)
        state = {"model": model, "algorithm": algorithm, "kind": "supervised",
                 "categories": categories, "feature_names": names, "history": history,
                 "threshold": evaluation["threshold"]}  # fmt: skip
        out.append(Trained(algorithm, "supervised", evaluation, _dump(state), summary))
    out.sort(key=lambda t: t.metrics["pr_auc"], reverse=True)
    return out


def _candidates(np: Any, y: Any, seed: int, trees: int) -> list[tuple[str, Any]]:
    xgboost = require("xgboost", "fraud detection")
    ensemble = require("sklearn.ensemble", "fraud detection")
    ratio = float((y == 0).sum()) / max(float(y.sum()), 1.0)
    return [
        ("xgboost", xgboost.XGBClassifier(
            n_estimators=trees, max_depth=4, learning_rate=0.1, subsample=0.9,
            colsample_bytree=0.9, scale_pos_weight=min(ratio, 50.0), tree_method="hist",
            n_jobs=1, random_state=seed, eval_metric="aucpr",
        )),
        ("random_forest", ensemble.RandomForestClassifier(
            n_estimators=trees, min_samples_leaf=2, class_weight="balanced_subsample",
            n_jobs=1, random_state=seed,
        )),
    ]  # fmt: skip


def _unsupervised(np: Any, ordered: Sequence[Txn], seed: int, trees: int) -> Trained:
    ensemble = require("sklearn.ensemble", "fraud detection")
    categories = sorted({t.category for t in ordered})
    history: dict[str, _Account] = {}
    x = np.array(features(ordered, history, categories), dtype=float)
    model = ensemble.IsolationForest(n_estimators=trees, random_state=seed, n_jobs=1).fit(x)
    scores = -model.score_samples(x)  # higher: more anomalous
    threshold = float(np.quantile(scores, 1 - TARGET_FPR))
    state = {"model": model, "algorithm": "isolation_forest", "kind": "unsupervised",
             "categories": categories, "feature_names": feature_names(categories),
             "history": history, "threshold": threshold,
             "mean": x.mean(axis=0).tolist(), "std": (x.std(axis=0) + 1e-9).tolist()}  # fmt: skip
    metrics = {
        "evaluated": False,
        "reason": "no labels: an anomaly detector cannot be scored without them",
        "threshold": threshold,
        "threshold_rule": "the training data's 99th percentile of anomaly scores (flags ~1%)",
    }
    return Trained("isolation_forest", "unsupervised", metrics, _dump(state),
                   _summary(ordered, len(ordered), labelled=False))  # fmt: skip


def _dump(state: dict[str, Any]) -> bytes:
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def load(artefact: bytes) -> dict[str, Any]:
    """A model this server pickled into its own database (never bytes from a user)."""
    state: dict[str, Any] = pickle.loads(artefact)
    return state


def score(state: dict[str, Any], txns: Sequence[Txn], threshold: float | None,
          top: int = 5) -> list[dict[str, Any]]:  # fmt: skip
    """Each transaction (in the given order) with its score, the decision at the threshold
    and the features that drove it."""
    np = require("numpy", "fraud detection")
    order = sorted(range(len(txns)), key=lambda i: txns[i].ts)
    history = copy.deepcopy({t.account: state["history"][t.account]
                             for t in txns if t.account in state["history"]})  # fmt: skip
    rows = features([txns[i] for i in order], history, state["categories"])
    x = np.empty((len(txns), len(rows[0]) if rows else 0), dtype=float)
    for k, i in enumerate(order):
        x[i] = rows[k]
    cut = float(state["threshold"] if threshold is None else threshold)
    model, names, kind = state["model"], state["feature_names"], state["kind"]
    if kind != "supervised":
        values = -model.score_samples(x)
    elif state["algorithm"] == "random_forest":
        values = forest_proba(np, model, x)[:, 1]
    else:
        values = model.predict_proba(x)[:, 1]
    drivers = _drivers(np, state, x, top)
    return [
        {
            "transaction_id": t.id,
            "score": round(float(values[i]), 6),
            "fraud_probability": round(float(values[i]), 6) if kind == "supervised" else None,
            "flagged": bool(values[i] >= cut),
            "threshold": cut,
            "drivers": [
                {
                    "feature": names[j],
                    "value": round(float(x[i, j]), 4),
                    "contribution": round(float(c), 4),
                }
                for j, c in drivers[i]
            ],
        }
        for i, t in enumerate(txns)
    ]


def forest_proba(np: Any, forest: Any, x: Any) -> Any:
    """``forest.predict_proba(x)``, the trees' class fractions averaged, without
    scikit-learn's per-call dispatch over the trees: 1.2 ms against 15 ms for one
    transaction with 200 trees (measured here); equal to within float rounding (tested)."""
    rows = np.ascontiguousarray(x, dtype=np.float32)
    total = np.zeros((len(rows), forest.n_classes_))
    for tree in forest.estimators_:
        counts = tree.tree_.predict(rows)
        total += counts / counts.sum(axis=1, keepdims=True)
    return total / len(forest.estimators_)


def forest_contributions(np: Any, state: dict[str, Any], x: Any) -> tuple[Any, float]:
    """Per-prediction contributions of a Random Forest (Saabas' decomposition, as in
    treeinterpreter): along each tree's path, the change in the fraud fraction at a split
    goes to the split's feature; averaged over the trees. ``bias`` (the trees' mean root
    fraction) plus a row's contributions is its probability (tested). The trees are read
    once into lists (``state["_paths"]``): walking them costs a few ms a transaction."""
    paths = state.get("_paths")
    if paths is None:
        paths = []
        for tree in state["model"].estimators_:
            t = tree.tree_
            counts = t.value[:, 0, :]
            fraction = counts[:, 1] / counts.sum(axis=1)
            paths.append((t.children_left.tolist(), t.children_right.tolist(),
                          t.feature.tolist(), t.threshold.tolist(), fraction.tolist()))  # fmt: skip
        state["_paths"] = paths
    width = len(state["feature_names"])
    out = np.zeros((len(x), width))
    rows = np.asarray(x, dtype=np.float32).tolist()  # the forest compares float32 values
    bias = 0.0
    for left, right, feature, threshold, fraction in paths:
        bias += fraction[0]
        for i, row in enumerate(rows):
            shares = [0.0] * width
            node = 0
            while left[node] != -1:
                f = feature[node]
                nxt = left[node] if row[f] <= threshold[node] else right[node]
                shares[f] += fraction[nxt] - fraction[node]
                node = nxt
            out[i] += shares
    return out / len(paths), bias / len(paths)


def explanation_kind(state: Mapping[str, Any]) -> str:
    return {
        "xgboost": "shap: each feature's contribution to this transaction's log-odds "
        "(XGBoost pred_contribs)",
        "random_forest": "saabas: each feature's contribution to this transaction's "
        "probability along the forest's decision paths (they add up to it with the base rate)",
        "isolation_forest": "deviation: the features furthest from the training data "
        "(z-scores), not the forest's own attribution",
    }[str(state["algorithm"])]


def _drivers(np: Any, state: dict[str, Any], x: Any, top: int) -> list[list[tuple[int, float]]]:
    algorithm = state["algorithm"]
    if algorithm == "xgboost":
        xgboost = require("xgboost", "fraud detection")
        booster = state["model"].get_booster()
        # one thread: building a DMatrix on every core cost 11 ms a transaction on this
        # loaded 2-core machine, against under 1 ms on one (bench/fraud_scoring.py)
        matrix = xgboost.DMatrix(x, nthread=1)
        contribs = booster.predict(matrix, pred_contribs=True)[:, :-1]  # the last: the bias
    elif algorithm == "random_forest":
        contribs, _ = forest_contributions(np, state, x)
    else:
        contribs = (x - np.array(state["mean"])) / np.array(state["std"])
    out = []
    for row in contribs:
        best = np.argsort(-np.abs(row))[:top]
        out.append([(int(j), float(row[j])) for j in best if row[j] != 0])
    return out
