"""``/api/v1/intelligence`` on SQLite and PostgreSQL: the list says what is built and
served; product_content runs through the engine on a product_content agent calling the
local OpenAI-schema server, is measured in code and retried once when it breaks a limit;
nothing configured is a 503 saying what to configure; metrics come from the recorded
attempts. (The other three intelligences: test_intelligences_built.py.)"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.openai_server import OpenAIServer, Scripted, completion, error_body

from .conftest import KEY_ENV

BASE = "/api/v1/intelligence"
WATCH = {
    "product_details": {"name": "Smart Watch Pro", "category": "Wearables",
                        "features": ["Heart rate monitoring", "GPS", "Water resistant"]},
    "content_type": "meta_description", "tone": "professional", "keywords": ["GPS"],
}  # fmt: skip


async def register(client: httpx.AsyncClient, **config: Any) -> None:
    body = {"agent_id": "copywriter", "type": "product_content",
            "capabilities": ["product_content"], "config": config}  # fmt: skip
    response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text


async def test_the_list_says_what_is_built_and_how_to_serve_it(client: httpx.AsyncClient) -> None:
    items = {i["type"]: i for i in (await client.get(f"{BASE}/list")).json()["items"]}
    assert set(items) == {"product_content", "marketing", "web_app_builder", "advanced_media"}
    assert items["product_content"]["status"] == "no_agent"
    assert "--type product_content" in items["product_content"]["configure"]
    assert items["marketing"]["status"] == "no_agent"
    assert all(item["built"] for item in items.values())


async def test_nothing_configured_is_503(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{BASE}/product_content/execute", json=WATCH)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "no active agent serves product_content" in response.json()["detail"]
    response = await client.post(f"{BASE}/marketing/execute", json={"budget": 25000})
    assert response.status_code == 503
    assert "--type marketing" in response.json()["detail"]
    assert "a model backend in its config is optional" in response.json()["detail"]
    assert (await client.post(f"{BASE}/poetry/execute", json={})).status_code == 404

    await register(client)  # an agent, but no model backend
    [item] = [i for i in (await client.get(f"{BASE}/list")).json()["items"]
              if i["type"] == "product_content"]  # fmt: skip
    assert (item["status"], item["agents"]) == ("not_configured", ["copywriter"])
    assert "set base_url and model in the config of copywriter" in item["configure"]
    response = await client.post(f"{BASE}/product_content/execute", json=WATCH)
    assert response.status_code == 503
    assert "set base_url and model" in response.json()["detail"]


async def test_product_content_is_measured_and_retried_once_when_over_a_limit(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await register(client, base_url=server.base_url, model="m", api_key_env=KEY_ENV)
    listed = (await client.get(f"{BASE}/list")).json()["items"]
    assert [i["status"] for i in listed if i["type"] == "product_content"] == ["ready"]
    long_text = "Smart Watch Pro with GPS, " + "precise tracking " * 12
    short_text = "Smart Watch Pro: GPS, heart rate monitoring and water resistance."
    server.script(Scripted(200, completion(long_text, "m", 40, 30)),
                  Scripted(200, completion(short_text, "m", 60, 12)))  # fmt: skip
    response = await client.post(f"{BASE}/product_content/execute", json=WATCH)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["text"] == short_text
    assert result["attempts"] == 2
    measured = result["measured"]
    assert measured["characters"] == len(short_text)
    assert measured["limits_met"] is True
    assert measured["keyword_density_percent"] == {"GPS": 10.0}
    assert isinstance(measured["flesch_reading_ease"], float)
    retry_prompt = server.requests[1].body["messages"][1]["content"]
    assert "broke these limits: max_160_characters" in retry_prompt

    figures = (await client.get(f"{BASE}/product_content/metrics")).json()
    assert (figures["attempts"], figures["succeeded"], figures["tokens"]) == (1, 1, 142)
    assert figures["duration_p50"] is not None
    assert (await client.get(f"{BASE}/marketing/metrics")).json()["attempts"] == 0


async def test_a_payload_it_cannot_use_is_422(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await register(client, base_url=server.base_url, model="m", api_key_env=KEY_ENV)
    response = await client.post(f"{BASE}/product_content/execute", json={"tone": "warm"})
    assert response.status_code == 422
    assert "product_details" in response.json()["detail"]


async def test_what_answered_calls_spent_is_kept_when_a_later_call_is_refused(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await register(client, base_url=server.base_url, model="m", api_key_env=KEY_ENV,
                   max_retries=0, price_per_1k_input=1.0, price_per_1k_output=2.0)  # fmt: skip
    long_text = "Smart Watch Pro with GPS, " + "precise tracking " * 12
    refusal = error_body("context too long", "invalid_request_error")
    server.script(Scripted(200, completion(long_text, "m", 40, 30)), Scripted(400, refusal))
    response = await client.post(f"{BASE}/product_content/execute", json=WATCH)
    assert response.status_code >= 400
    listed = await client.get("/api/v1/tasks", params={"type": "product_content"})
    [task] = listed.json()["items"]
    [row] = (await client.get(f"/api/v1/tasks/{task['id']}/executions")).json()["items"]
    assert row["outcome"] == "failed"
    assert (row["tokens"], row["cost"]) == (70, (40 * 1.0 + 30 * 2.0) / 1000)
    figures = (await client.get(f"{BASE}/product_content/metrics")).json()
    assert figures["tokens"] == 70


async def test_an_agent_of_a_type_that_needs_no_model_counts_as_configured(
    client: httpx.AsyncClient,
) -> None:
    body = {"agent_id": "echoer", "type": "echo", "capabilities": ["product_content"]}
    assert (await client.post("/api/v1/agents", json=body)).status_code == 201
    [item] = [i for i in (await client.get(f"{BASE}/list")).json()["items"]
              if i["type"] == "product_content"]  # fmt: skip
    assert (item["status"], item["agents"], item["configure"]) == ("ready", ["echoer"], None)
