"""A new training's best fraud model becomes current only if its held-out PR-AUC is at
least the current version's (or make_current is asked); the answer says which version is
current and why. Training itself is replaced by candidates with set scores: what is under
test is the choice, not the models."""

from __future__ import annotations

from typing import Any

import pytest

from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.agents import _fraud_models as fm
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.fraud import FraudAgent

ROWS = [{"timestamp": i, "account_id": "a", "amount": 1, "is_fraud": 0} for i in range(3)]


def candidates(*scores: float | None) -> list[fm.Trained]:
    kind = "supervised" if scores[0] is not None else "unsupervised"
    return [
        fm.Trained(f"algo{i}", kind, {"pr_auc": s} if s is not None else {}, b"x", {})
        for i, s in enumerate(scores)
    ]


async def train(
    monkeypatch: pytest.MonkeyPatch, store: MemoryMarketStore, *scores: float | None, **kw: Any
) -> dict[str, Any]:
    monkeypatch.setattr(fm, "train", lambda txns: candidates(*scores))
    payload = {"transactions": ROWS, **kw}
    ctx = TaskContext("t1", "fraud_train", payload, 1, "a", services={"markets": store})
    result: dict[str, Any] = await FraudAgent().run(ctx)
    return result


async def test_a_worse_model_does_not_replace_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryMarketStore()
    first = await train(monkeypatch, store, 0.8, 0.6)
    assert (first["current"]["version"], first["promoted"]) == (2, True)
    assert "no model was current" in first["why_current"]

    worse = await train(monkeypatch, store, 0.5, 0.4)
    assert [m["version"] for m in worse["models"]] == [4, 3]  # stored all the same
    assert (worse["current"]["version"], worse["promoted"]) == (2, False)
    assert "version 2 (algo0) stays current: its held-out PR-AUC 0.8 is above the new " \
        "best's 0.5" in worse["why_current"]  # fmt: skip
    assert [m.version for m in await store.models("fraud") if m.current] == [2]

    better = await train(monkeypatch, store, 0.8, 0.1)  # ties count as at least
    assert (better["current"]["version"], better["promoted"]) == (6, True)

    forced = await train(monkeypatch, store, 0.3, 0.2, make_current=True)
    assert (forced["current"]["version"], forced["promoted"]) == (8, True)
    assert "make_current was asked" in forced["why_current"]


async def test_unsupervised_never_replaces_supervised_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryMarketStore()
    await train(monkeypatch, store, None)
    supervised = await train(monkeypatch, store, 0.2, 0.1)
    assert (supervised["current"]["version"], supervised["promoted"]) == (3, True)
    unlabelled = await train(monkeypatch, store, None)
    assert (unlabelled["current"]["version"], unlabelled["promoted"]) == (3, False)
    assert "the new model is unsupervised" in unlabelled["why_current"]
    with pytest.raises(TaskFailed, match="make_current must be true or false"):
        await train(monkeypatch, store, 0.9, make_current="yes")
