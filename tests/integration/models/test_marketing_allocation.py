"""The marketing intelligence through the API and the engine on SQLite and PostgreSQL: a
marketing agent without a model backend is ready and allocates the budget on curves
fitted from the history (the creative plan saying what to set); with the local
OpenAI-schema server configured the campaign copy is there too; bounds that cannot hold
the budget are a 422 saying so."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from tests.support.openai_server import OpenAIServer, Scripted, completion

from .conftest import KEY_ENV

BASE = "/api/v1/intelligence"


def curve(a: float, b: float, spend: float) -> float:
    return a * (1 - math.exp(-spend / b))


HISTORY = [{"channel": "social", "spend": s, "outcome": round(curve(900, 6000, s), 3)}
           for s in (1000, 3000, 6000, 9000)] + [
          {"channel": "email", "spend": s, "outcome": round(curve(400, 2500, s), 3)}
           for s in (500, 1500, 3000, 5000)]  # fmt: skip
CAMPAIGN = {"product": {"name": "Smart Watch Pro"},
            "target_audience": {"age": "25-45", "interests": ["fitness", "tech"]},
            "channels": ["social", "email", "web"], "budget": 25000,
            "history": HISTORY}  # fmt: skip


async def register(client: httpx.AsyncClient, **config: Any) -> None:
    body = {"agent_id": "marketer", "type": "marketing", "capabilities": ["marketing"],
            "config": config}  # fmt: skip
    response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text


async def test_without_a_model_the_allocation_is_served(client: httpx.AsyncClient) -> None:
    await register(client)
    listed = (await client.get(f"{BASE}/list")).json()["items"]
    assert [i["status"] for i in listed if i["type"] == "marketing"] == ["ready"]
    response = await client.post(f"{BASE}/marketing/execute", json=CAMPAIGN)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    allocation = result["allocation"]
    spends = [row["spend"] for row in allocation["channels"].values()]
    assert abs(sum(spends) - 25000) <= 0.02
    assert allocation["expected_outcome"] >= allocation["even_split"]["expected_outcome"]
    assert (allocation["fitted_channels"], allocation["default_channels"]) == (
        ["social", "email"], ["web"])  # fmt: skip
    assert allocation["curves"]["social"]["r_squared"] > 0.999
    assert "assumptions, not measurements" in result["allocation_reason"]
    assert result["creative"]["status"] == "not_configured"
    assert "set base_url and model" in result["creative"]["reason"]
    assert {k["kpi"] for k in result["kpis"]} == {"expected_outcome", "cost_per_outcome"}
    figures = (await client.get(f"{BASE}/marketing/metrics")).json()
    assert (figures["attempts"], figures["succeeded"], figures["tokens"]) == (1, 1, 0)


async def test_with_a_model_the_creative_plan_is_there(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await register(client, base_url=server.base_url, model="m", api_key_env=KEY_ENV)
    copy = {"social": ["Smart Watch Pro: every run, mapped."],
            "email": ["Meet Smart Watch Pro: GPS and heart rate on your wrist."],
            "web": ["Smart Watch Pro. Train smarter."]}  # fmt: skip
    server.script(Scripted(200, completion(json.dumps(copy), "m", 60, 25)))
    response = await client.post(f"{BASE}/marketing/execute", json={**CAMPAIGN, "variants": 1})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["creative"]["status"] == "ok"
    assert result["creative"]["constraints_met"] is True
    assert result["creative"]["channels"]["web"][0]["text"] == copy["web"][0]
    prompt = server.requests[0].body["messages"][1]["content"]
    assert '"allocation": {"social": ' in prompt
    assert abs(sum(r["spend"] for r in result["allocation"]["channels"].values()) - 25000) <= 0.02
    figures = (await client.get(f"{BASE}/marketing/metrics")).json()
    assert figures["tokens"] == 85


async def test_bounds_that_cannot_hold_the_budget_are_422(client: httpx.AsyncClient) -> None:
    await register(client)
    bounds = {c: {"max": 5000} for c in CAMPAIGN["channels"]}
    response = await client.post(f"{BASE}/marketing/execute", json={**CAMPAIGN, "bounds": bounds})
    assert response.status_code == 422
    assert "the maximums to 15000" in response.json()["detail"]
