"""An llm agent registered over the API and reached through the engine (SQLite and
PostgreSQL), calling a local server that speaks the OpenAI schema: the provider's usage
and the configured prices land on the execution row; a refusal is a failed attempt with
the provider's reason; no backend is ``not_configured``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.openai_server import OpenAIServer, Scripted, error_body

from .conftest import KEY_ENV


def llm_agent(agent_id: str, capability: str, **config: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "type": "llm", "capabilities": [capability], "config": config}


async def run_task(client: httpx.AsyncClient, task_type: str, payload: Any,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        "/api/v1/tasks", params={"wait": 20},
        json={"type": task_type, "payload": payload, **extra},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def executions(client: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tasks/{task_id}/executions")
    rows: list[dict[str, Any]] = response.json()["items"]
    return rows


async def test_one_registration_gives_a_model_backed_agent_with_usage_and_cost(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    body = llm_agent(
        "writer", "summarise", base_url=server.base_url, model="local-model",
        api_key_env=KEY_ENV, system_prompt="Be brief.", prompt_template="Summarise: {text}",
        price_per_1k_input=2.0, price_per_1k_output=4.0,
    )  # fmt: skip
    assert (await client.post("/api/v1/agents", json=body)).status_code == 201
    task = await run_task(client, "summarise", {"text": "the quick brown fox"})
    assert task["state"] == "succeeded", task
    assert task["result"]["text"] == "echo: Summarise: the quick brown fox"
    [row] = await executions(client, task["id"])
    # the server counts words: 2 (system) + 5 (user) in, 6 out
    assert (row["tokens"], row["cost"]) == (13, pytest.approx((7 * 2.0 + 6 * 4.0) / 1000))
    assert server.requests[0].body["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_a_refusal_is_a_failed_attempt_with_the_reason_then_a_retry(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    body = llm_agent("writer", "chat", base_url=server.base_url, model="m",
                     api_key_env=KEY_ENV, max_retries=0)  # fmt: skip
    await client.post("/api/v1/agents", json=body)
    server.script(
        Scripted(
            429,
            error_body("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
            {"Retry-After": "0"},
        )
    )
    task = await run_task(client, "chat", "hello", max_attempts=2)
    assert task["state"] == "succeeded"
    first, second = await executions(client, task["id"])
    assert first["outcome"] == "failed"
    assert first["error_kind"] == "rate_limited"
    assert "Rate limit reached for requests" in first["error_message"]
    assert second["outcome"] == "succeeded"
    assert second["tokens"] == 3


async def test_without_a_backend_the_task_fails_not_configured(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await client.post("/api/v1/agents", json=llm_agent("bare", "chat"))
    task = await run_task(client, "chat", "hello")
    assert task["state"] == "failed"
    assert task["error_kind"] == "not_configured"
    assert "set base_url and model" in task["error_message"]
    assert server.requests == []


async def test_a_malformed_config_is_refused_at_registration(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/agents", json=llm_agent("w", "c", temperature="hot"))
    assert response.status_code == 422
    assert "'temperature' must be a number" in response.json()["detail"]


async def test_a_malformed_config_is_refused_on_update_too(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/agents", json=llm_agent("w", "c"))
    response = await client.patch("/api/v1/agents/w", json={"config": {"max_tokens": 0}})
    assert response.status_code == 422
    assert "'max_tokens' must be a whole number" in response.json()["detail"]
    response = await client.patch("/api/v1/agents/w", json={"config": {"model": "m2"}})
    assert response.status_code == 200


async def test_a_key_or_a_server_variable_is_refused_at_registration_and_update(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/agents", json=llm_agent("w", "c", api_key_env="IMPERIUM_SMTP_PASSWORD")
    )
    assert response.status_code == 422
    assert "may not name a server setting" in response.json()["detail"]
    response = await client.post(
        "/api/v1/agents", json=llm_agent("w", "c", api_key="sk-live-4f9a1c77e2")
    )
    assert response.status_code == 422
    assert "api_key_env" in response.json()["detail"]
    assert "4f9a1c77e2" not in response.text
    assert (await client.post("/api/v1/agents", json=llm_agent("w", "c"))).status_code == 201
    response = await client.patch(
        "/api/v1/agents/w", json={"config": {"api_key_env": "DATABASE_URL"}}
    )
    assert response.status_code == 422
    response = await client.patch("/api/v1/agents/w", json={"config": {"token": "t-4f9a1c77e2"}})
    assert response.status_code == 422
    assert "4f9a1c77e2" not in response.text
    assert "4f9a1c77e2" not in (await client.get("/api/v1/agents/w")).text
