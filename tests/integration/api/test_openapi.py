"""The OpenAPI document describes every /api/v1 route, its body and its problem answers,
and the response schemas match the records the routes return."""

from __future__ import annotations

import httpx

from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.states import Outcome
from imperium.interfaces.api import schemas
from imperium.interfaces.records import agent_dict, event_dict, execution_dict, task_dict

ROUTES = {
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents"),
    ("get", "/api/v1/agents/{agent_id}"),
    ("patch", "/api/v1/agents/{agent_id}"),
    ("post", "/api/v1/agents/{agent_id}/pause"),
    ("post", "/api/v1/agents/{agent_id}/resume"),
    ("post", "/api/v1/agents/{agent_id}/retire"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{task_id}"),
    ("post", "/api/v1/tasks/{task_id}/cancel"),
    ("post", "/api/v1/tasks/{task_id}/retry"),
    ("get", "/api/v1/tasks/{task_id}/executions"),
    ("get", "/api/v1/tasks/{task_id}/events"),
    ("post", "/api/v1/workflows"),
}


async def test_every_route_is_documented(memory_client: httpx.AsyncClient) -> None:
    doc = (await memory_client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert {(m, p) for p, ops in paths.items() for m in ops} >= ROUTES
    for method, path in ROUTES:
        responses = paths[path][method]["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert len(success) == 1, (method, path)
        assert "$ref" in str(responses[success[0]]["content"]["application/json"]["schema"])
        for code, answer in responses.items():
            if not code.startswith("2"):  # every problem is documented as problem+json
                assert list(answer["content"]) == ["application/problem+json"], (path, code)
    body = paths["/api/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/TaskIn")
    assert paths["/api/v1/tasks"]["post"]["responses"].keys() >= {"201", "404", "409", "422"}


async def test_the_key_schemes_are_documented(memory_client: httpx.AsyncClient) -> None:
    doc = (await memory_client.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": "imp_… key"}
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    assert doc["security"] == [{"bearer": []}, {"apiKey": []}]


async def test_docs_page_is_served(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_response_schemas_have_the_fields_of_the_records() -> None:
    task = Task(id="t", type="echo", created_at=0.0)
    execution = Execution("t", 1, "echo", "echo", 1.0, 0.0, 1.0, Outcome.SUCCEEDED, 1)
    pairs = [
        (schemas.TaskOut, task_dict(task)),
        (schemas.ExecutionOut, execution_dict(execution)),
        (schemas.EventOut, event_dict(Event("task.queued", 0.0, "t"))),
        (schemas.AgentOut, agent_dict(AgentSpec(id="a", type="echo"), None)),
    ]
    for model, record in pairs:
        assert set(model.model_fields) == set(record), model.__name__
        assert model.model_validate(record).model_dump(mode="json") == record
