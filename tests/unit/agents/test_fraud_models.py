"""Fraud models on generated transactions with known labels: the newest 20% held out by
time, XGBoost against a Random Forest, explanations that add up, IsolationForest without
labels, and bad input named."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import xgboost

from imperium.agents import _fraud_models as fm
from imperium.agents.fraud_data import generate


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generate(accounts=60, days=40, fraud_events=48, seed=3)


@pytest.fixture(scope="module")
def trained(rows: list[dict[str, Any]]) -> list[fm.Trained]:
    return fm.train(fm.parse(rows), trees=40)


def test_the_generator_injects_every_pattern_with_labels(rows: list[dict[str, Any]]) -> None:
    patterns = {r["pattern"] for r in rows if r["is_fraud"]}
    assert patterns == {"card_testing", "account_takeover", "unusual_amount", "category_change"}
    assert {r["pattern"] for r in rows if not r["is_fraud"]} == {"normal"}
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    assert generate(accounts=60, days=40, fraud_events=48, seed=3) == rows  # reproducible


def test_both_models_are_evaluated_on_the_newest_fifth(
    rows: list[dict[str, Any]], trained: list[fm.Trained]
) -> None:
    assert {t.algorithm for t in trained} == {"xgboost", "random_forest"}
    assert trained[0].metrics["pr_auc"] >= trained[1].metrics["pr_auc"]  # best first
    summary = trained[0].data_summary
    assert summary["holdout_rows"] == len(rows) - int(len(rows) * 0.8)
    held_out = rows[int(len(rows) * 0.8) :]
    assert summary["holdout_from"].startswith(held_out[0]["timestamp"][:19])
    fraud_rate = sum(r["is_fraud"] for r in held_out) / len(held_out)
    for t in trained:
        m = t.metrics
        assert m["fraud_rate"] == pytest.approx(fraud_rate, abs=1e-5)
        # far better than chance (PR-AUC of a random score = the fraud rate)
        assert m["pr_auc"] > 5 * fraud_rate
        assert m["roc_auc"] > 0.8
        assert m["fpr_at_threshold"] <= 0.01
        assert 0 < m["recall_at_1pct_fpr"] <= 1


def test_scores_carry_decisions_and_xgboost_contributions_add_up(
    rows: list[dict[str, Any]], trained: list[fm.Trained]
) -> None:
    best = next(t for t in trained if t.algorithm == "xgboost")
    state = fm.load(best.artefact)
    frauds = [r for r in rows if r["is_fraud"]][-3:]
    txns = fm.parse(frauds + rows[-5:])
    out = fm.score(state, txns, None, top=100)
    assert [o["transaction_id"] for o in out] == [t.id for t in txns]
    zero = xgboost.DMatrix([[0.0] * len(state["feature_names"])])
    bias = float(state["model"].get_booster().predict(zero, pred_contribs=True)[0][-1])
    for o in out:
        assert o["flagged"] == (o["score"] >= state["threshold"])
        # SHAP values in log-odds: bias + contributions = logit(probability)
        total = bias + sum(d["contribution"] for d in o["drivers"])
        p = o["fraud_probability"]
        assert total == pytest.approx(math.log(p / (1 - p)), abs=0.05)
    assert sum(o["flagged"] for o in out[:3]) >= 2  # the injected frauds are caught
    assert fm.score(state, txns, 1.01)[0]["flagged"] is False  # a given threshold wins


def test_without_labels_an_isolation_forest_answers(rows: list[dict[str, Any]]) -> None:
    unlabelled = [{k: v for k, v in r.items() if k != "is_fraud"} for r in rows]
    [only] = fm.train(fm.parse(unlabelled), trees=30)
    assert (only.algorithm, only.kind) == ("isolation_forest", "unsupervised")
    assert only.metrics["evaluated"] is False
    state = fm.load(only.artefact)
    out = fm.score(state, fm.parse(unlabelled[-3:]), None)
    assert all(o["fraud_probability"] is None for o in out)
    assert fm.explanation_kind(state).startswith("deviation")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"account_id": "a", "amount": 1}, "transaction 1: missing timestamp"),
        ({"timestamp": "x", "account_id": "a", "amount": 1}, "ISO 8601"),
        ({"timestamp": 1, "account_id": "a", "amount": "ten"}, "not a number"),
        ({"timestamp": 1, "account_id": "a", "amount": -5}, ">= 0"),
        ({"timestamp": 1, "account_id": "a", "amount": 5, "is_fraud": "maybe"}, "0 or 1"),
    ],
)
def test_bad_transactions_are_named(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fm.parse([row])


def test_training_refuses_what_it_cannot_evaluate(rows: list[dict[str, Any]]) -> None:
    no_recent_fraud = [r for r in rows[: int(len(rows) * 0.6)]] + [
        {**r, "is_fraud": 0} for r in rows[int(len(rows) * 0.6) :]
    ]
    with pytest.raises(ValueError, match="held-out part"):
        fm.train(fm.parse(no_recent_fraud), trees=10)
    mixed = [rows[0] | {"is_fraud": ""}, *rows[1:60]]
    with pytest.raises(ValueError, match="label all or none"):
        fm.train(fm.parse(mixed), trees=10)
    with pytest.raises(ValueError, match="at least 50"):
        fm.train(fm.parse(rows[:10]), trees=10)


def test_the_forest_scores_as_scikit_learn_does(
    rows: list[dict[str, Any]], trained: list[fm.Trained]
) -> None:
    state = fm.load(next(t for t in trained if t.algorithm == "random_forest").artefact)
    txns = fm.parse(rows[-40:])
    got = [o["fraud_probability"] for o in fm.score(state, txns, None)]
    history = {a: state["history"][a] for a in {t.account for t in txns} if a in state["history"]}
    x = np.array(fm.features(txns, copy.deepcopy(history), state["categories"]))
    assert got == pytest.approx(state["model"].predict_proba(x)[:, 1].tolist(), abs=1e-6)


def test_the_forest_explains_each_prediction(
    rows: list[dict[str, Any]], trained: list[fm.Trained]
) -> None:
    state = fm.load(next(t for t in trained if t.algorithm == "random_forest").artefact)
    txns = fm.parse([r for r in rows if r["is_fraud"]][-2:] + rows[-3:])
    out = fm.score(state, txns, None, top=1000)
    history = {a: state["history"][a] for a in {t.account for t in txns} if a in state["history"]}
    ordered = sorted(txns, key=lambda t: t.ts)
    x = np.array(fm.features(ordered, copy.deepcopy(history), state["categories"]))
    contributions, bias = fm.forest_contributions(np, state, x)
    for t, row in zip(ordered, contributions, strict=True):
        o = next(o for o in out if o["transaction_id"] == t.id)
        # base rate + contributions = the forest's probability (Saabas' decomposition)
        assert bias + row.sum() == pytest.approx(o["fraud_probability"], abs=1e-5)
        total = sum(d["contribution"] for d in o["drivers"])
        assert total == pytest.approx(row.sum(), abs=1e-3)  # every nonzero one listed
    assert fm.explanation_kind(state).startswith("saabas")
