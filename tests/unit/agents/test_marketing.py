"""The marketing agent without a model backend: the allocation, KPIs and segments are
computed and the creative plan says what to set; payloads it cannot use are refused
saying why; the maths runs off the event loop. (With a scripted model:
test_intelligence_agents.py.)"""

from __future__ import annotations

import json
import math
import sys
import threading
from typing import Any

import pytest

from imperium.adapters.models.stub import StubChat
from imperium.agents import _marketing_plan as plan
from imperium.agents._allocation import Curve
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.marketing import MarketingAgent
from imperium.domain.llm import ChatReply, ModelCallError, ModelConfig


def ctx(payload: Any) -> TaskContext:
    return TaskContext("t-1", "marketing", payload, 1, "a-1")


def history(channel: str, curve: Curve, spends: list[float]) -> list[dict[str, Any]]:
    return [{"channel": channel, "spend": s, "outcome": round(curve.outcome(s), 6)}
            for s in spends]  # fmt: skip


SOCIAL, SEARCH = Curve(900, 6000), Curve(1500, 20_000)
HISTORY = (history("social", SOCIAL, [1000, 3000, 6000, 9000, 12_000])
           + history("search", SEARCH, [2000, 8000, 16_000, 30_000])
           + [{"channel": "email", "spend": 1000, "outcome": 40},
              {"channel": "tv", "spend": 5000, "outcome": 90}])  # fmt: skip
REQUEST = {"channels": ["social", "search", "email"], "budget": 30_000, "history": HISTORY,
           "value_per_outcome": 25}  # fmt: skip


async def run(payload: Any, **config: Any) -> dict[str, Any]:
    out = await MarketingAgent(config).run(ctx(payload))
    value: dict[str, Any] = out.value
    json.dumps(value, allow_nan=False)  # no NaN or infinity reaches the JSON
    return value


async def test_without_a_model_the_allocation_succeeds_and_the_creative_says_what_to_set() -> None:
    value = await run(REQUEST)
    allocation = value["allocation"]
    spends = {c: r["spend"] for c, r in allocation["channels"].items()}
    assert sum(spends.values()) == pytest.approx(30_000, abs=0.02)
    assert allocation["expected_outcome"] >= allocation["even_split"]["expected_outcome"]
    assert allocation["uplift"] == pytest.approx(
        allocation["expected_outcome"] - allocation["even_split"]["expected_outcome"], abs=1e-5
    )
    curves = allocation["curves"]
    assert (curves["social"]["a"], curves["social"]["b"]) == (
        pytest.approx(900, rel=1e-4), pytest.approx(6000, rel=1e-4))  # fmt: skip
    assert (allocation["fitted_channels"], allocation["default_channels"]) == (
        ["social", "search"], ["email"])  # fmt: skip
    assert curves["email"]["reason"] == "insufficient data (n=1 distinct spends, need 3)"
    assert "email on default curves" in value["allocation_reason"]
    assert "assumptions, not measurements" in value["allocation_reason"]
    assert allocation["ignored_history_rows"] == {"tv": 1}
    assert allocation["channels"]["social"]["beyond_observed_spend"] is False
    assert allocation["channels"]["email"]["beyond_observed_spend"] is None
    assert value["creative"]["status"] == "not_configured"
    assert "set base_url and model" in value["creative"]["reason"]
    assert (value["segments"], value["segments_reason"]) == (
        None, 'no "customers" records in the payload')  # fmt: skip


async def test_kpis_are_computed_from_the_allocation() -> None:
    value = await run(REQUEST)
    allocation = value["allocation"]
    kpis = {(k["kpi"], k["channel"]): k["target"] for k in value["kpis"]}
    total = allocation["expected_outcome"]
    assert kpis[("expected_outcome", None)] == total
    assert kpis[("cost_per_outcome", None)] == pytest.approx(30_000 / total, rel=1e-6)
    assert kpis[("expected_revenue", None)] == pytest.approx(25 * total, abs=0.01)
    assert kpis[("roas", None)] == pytest.approx(25 * total / 30_000, rel=1e-6)
    social = allocation["channels"]["social"]
    assert kpis[("cost_per_outcome", "social")] == pytest.approx(
        social["spend"] / social["expected_outcome"], rel=1e-6)  # fmt: skip
    without_value = await run({**REQUEST, "value_per_outcome": None})
    assert {k["kpi"] for k in without_value["kpis"]} == {"expected_outcome", "cost_per_outcome"}


async def test_bounds_shape_the_allocation() -> None:
    bounds = {"social": {"min": 2000, "max": 4000}, "email": [5000, 6000]}
    value = await run({**REQUEST, "bounds": bounds})
    rows = value["allocation"]["channels"]
    assert 2000 - 1e-6 <= rows["social"]["spend"] <= 4000 + 1e-6
    assert 5000 - 1e-6 <= rows["email"]["spend"] <= 6000 + 1e-6
    assert (rows["search"]["min"], rows["search"]["max"]) == (0, 30_000)
    assert value["allocation"]["even_split"]["within_bounds"] is False


async def test_customers_are_segmented_and_identifiers_left_out() -> None:
    customers = [{"customer_id": i, "age": 25 + 30 * (i % 2) + (i % 5) * 0.1,
                  "orders": 1 + 8 * (i % 2), "name": f"c{i}"} for i in range(40)]  # fmt: skip
    value = await run({"customers": customers})
    assert value["allocation"] is None
    assert value["allocation_reason"] == 'no "budget" in the payload: nothing to allocate'
    segments = value["segments"]
    assert segments["fields"] == ["age", "orders"]
    assert segments["ignored_fields"] == ["customer_id", "name"]
    assert sorted(g["size"] for g in segments["segments"]) == [20, 20]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (
            {**REQUEST, "bounds": {"social": {"min": 20_000}, "search": {"min": 20_000}}},
            "the minimums add up to 40000",
        ),
        (
            {**REQUEST, "bounds": {c: {"max": 1000} for c in REQUEST["channels"]}},
            "the maximums to 3000",
        ),
        ({**REQUEST, "bounds": {"tv": [0, 1]}}, "keyed by requested channels"),
        ({**REQUEST, "bounds": {"social": {"min": 5, "max": 1}}}, "min 5 is above max 1"),
        ({**REQUEST, "budget": 0}, "budget must be a finite number > 0"),
        ({**REQUEST, "budget": "lots"}, "budget must be a finite number > 0"),
        (
            {**REQUEST, "history": [{"channel": "social", "spend": -1, "outcome": 1}]},
            "history row 1: spend must be",
        ),
        (
            {**REQUEST, "history": [{"channel": "social", "spend": 1, "outcome": math.nan}]},
            "history row 1: outcome must be",
        ),
        ({**REQUEST, "history": [["social", 1, 2]]}, "history row 1 must be an object"),
        ({**REQUEST, "channels": ["tv"]}, "channels must be a list"),
        ({"customers": [{"age": 3}], "segment_fields": ["height"]}, "those here: age"),
        ({"channels": ["social"]}, "nothing to do"),
        ([1, 2], "must be a JSON object"),
    ],
)
async def test_a_payload_it_cannot_use_is_refused_saying_why(payload: Any, words: str) -> None:
    with pytest.raises(TaskFailed) as failed:
        await MarketingAgent({}).run(ctx(payload))
    assert (failed.value.kind, failed.value.retryable) == ("bad_payload", False)
    assert words in str(failed.value)


def scripted_agent(*items: ChatReply | ModelCallError) -> tuple[MarketingAgent, StubChat]:
    stub = StubChat(list(items))

    class Scripted(MarketingAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:
            return stub

    return Scripted({"base_url": "http://127.0.0.1:9/v1", "model": "m"}), stub


async def test_a_refused_copy_call_leaves_the_allocation_standing() -> None:
    agent, _ = scripted_agent(ModelCallError("provider_error", "overloaded", retryable=True))
    out = await agent.run(ctx({**REQUEST, "product": {"name": "Watch"}}))
    assert out.value["allocation"]["expected_outcome"] > 0
    assert out.value["creative"] == {"status": "failed", "kind": "provider_error",
                                     "reason": "overloaded", "attempts": 1}  # fmt: skip


async def test_copy_needs_a_product_even_with_a_model() -> None:
    agent, stub = scripted_agent()
    out = await agent.run(ctx(REQUEST))
    assert out.value["creative"]["status"] == "missing_input"
    assert stub.requests == []


async def test_the_maths_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = plan.compute

    def compute(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr("imperium.agents.marketing.compute", compute)
    await run(REQUEST)
    assert threads
    assert threading.get_ident() not in threads


async def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    customers = [{"age": 20 + i, "orders": i % 4} for i in range(20)]
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    value = await run({**REQUEST, "customers": customers})
    assert value["segments"] is None
    assert "scikit-learn, which is not installed" in value["segments_reason"]
    assert "imperium[learning]" in value["segments_reason"]
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(TaskFailed) as failed:
        await MarketingAgent({}).run(ctx(REQUEST))
    assert failed.value.kind == "not_installed"
    assert "needs scipy" in str(failed.value)
