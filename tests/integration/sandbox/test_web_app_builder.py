"""The web/app builder's generated projects pass their own tests in the real Sandbox
(bubblewrap) for three different requirement sets, one with a model's copy full of
quotes; a project whose tests fail is a failed attempt carrying the report; and the
agent registered with no model config answers through the API with the archive and the
report. Each project's pytest run takes about a second."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from typing import Any

import httpx
import pytest

from imperium.adapters.models.stub import StubChat
from imperium.adapters.sandbox import SandboxUnavailableError
from imperium.agents import web_app_builder
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.web_app_builder import WebAppBuilderAgent
from imperium.domain.llm import ChatReply, ModelConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox_host")]

CRUD_API = {
    "app_type": "api",
    "name": "Library",
    "requirements": {
        "features": ["crud"],
        "entities": [
            {"name": "Author", "fields": {"name": "str", "born": "int"}},
            {"name": "BookCopy", "fields": {"title": "str", "rating": "float", "lent": "bool"}},
        ],
    },
}
AUTH_DASHBOARD_REACT = {
    "app_type": "web",
    "framework": "React",
    "requirements": {
        "features": ["user_auth", "dashboard"],
        "entities": [{"name": "Task", "fields": {"title": "str", "done": "bool"}}],
    },
}
ANALYTICS_PAYMENTS_VANILLA = {"app_type": "app", "framework": "vanilla", "name": "Shop",
    "requirements": {"features": ["analytics"], "requires_payments": True,
                     "entities": [{"name": "Product", "fields": {"name": "str",
                                   "price": "float", "stock": "int"}}]}}  # fmt: skip
TRICKY_COPY = {"title": 'Bob\'s "Best" Shop & Co \\ ünïcode', "tagline": "Prices in €; 100% real.",
               "readme_intro": "It's *ours*.", "headings": {"products": "L'atelier"}}  # fmt: skip


def ctx(payload: Any) -> TaskContext:
    return TaskContext("t-1", "web_app_builder", payload, 1, "a-1")


def with_model(*texts: str) -> WebAppBuilderAgent:
    stub = StubChat([ChatReply(t, "m", "stop", 10, 5) for t in texts])

    class Scripted(WebAppBuilderAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:
            return stub

    return Scripted({"base_url": "http://127.0.0.1:9/v1", "model": "m"})


def unpack(archive: dict[str, Any]) -> dict[str, str]:
    data = base64.b64decode(archive["base64"])
    assert (len(data), hashlib.sha256(data).hexdigest()) == (archive["bytes"], archive["sha256"])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "endpoints", "copy"),
    [
        (CRUD_API, 11, None),
        (AUTH_DASHBOARD_REACT, 11, None),
        (ANALYTICS_PAYMENTS_VANILLA, 12, TRICKY_COPY),
    ],
    ids=["crud-api-2-entities", "auth-dashboard-react", "analytics-payments-vanilla-model-copy"],
)
async def test_generated_projects_pass_their_own_tests_in_the_sandbox(
    payload: dict[str, Any], endpoints: int, copy: dict[str, Any] | None
) -> None:
    agent = with_model(json.dumps(copy)) if copy else WebAppBuilderAgent({})
    value = (await agent.run(ctx(payload))).value
    tests = value["tests"]
    assert tests["ok"] is True, tests
    assert tests["failed"] == tests["errors"] == 0
    assert tests["passed"] == tests["total"] >= 10
    assert tests["isolation"]["sandbox"] == "bubblewrap"
    assert len(value["endpoints"]) == endpoints
    files = unpack(value["archive"])
    assert set(files) == {f"{value['project']}/{f['path']}" for f in value["files"]}
    assert all(f["check"]["ok"] for f in value["files"])
    if copy:
        assert (value["copy"]["source"], value["copy"]["refused"]) == ("model", [])
        assert "TITLE = " + repr(copy["title"]) in files["shop/backend/app/config.py"]


async def test_a_project_whose_tests_fail_is_a_failed_attempt_with_the_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = web_app_builder.generate

    def broken(*args: Any) -> dict[str, str]:
        files = real(*args)
        files["backend/tests/test_health.py"] += (
            "\n\ndef test_broken() -> None:\n    assert 1 == 2\n"
        )
        return files

    monkeypatch.setattr(web_app_builder, "generate", broken)
    with pytest.raises(TaskFailed) as failed:
        await WebAppBuilderAgent({}).run(ctx({"app_type": "api", "requirements": {}}))
    assert (failed.value.kind, failed.value.retryable) == ("tests_failed", False)
    message = str(failed.value)
    assert "1 failed, 0 errors" in message
    assert "test_broken" in message
    assert "assert 1 == 2" in message


async def test_without_a_sandbox_it_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise SandboxUnavailableError("bubblewrap is not installed: apt-get install bubblewrap")

    monkeypatch.setattr(web_app_builder, "run_pytest", unavailable)
    with pytest.raises(TaskFailed) as failed:
        await WebAppBuilderAgent({}).run(ctx({"requirements": {}}))
    assert (failed.value.kind, failed.value.retryable) == ("sandbox_unavailable", False)
    assert "apt-get install bubblewrap" in str(failed.value)


@pytest.fixture
async def client(api_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return api_client


async def test_through_the_api_without_a_model(client: httpx.AsyncClient) -> None:
    body = {"agent_id": "builder-1", "type": "web_app_builder",
            "capabilities": ["web_app_builder"], "config": {}}  # fmt: skip
    assert (await client.post("/api/v1/agents", json=body)).status_code == 201
    listed = (await client.get("/api/v1/intelligence/list")).json()["items"]
    [builder] = [i for i in listed if i["type"] == "web_app_builder"]
    assert (builder["status"], builder["agents"]) == ("ready", ["builder-1"])
    wanted = {"framework": "vanilla", "requirements": {"features": ["dashboard", "crud"]}}
    response = await client.post("/api/v1/intelligence/web_app_builder/execute", json=wanted)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["tests"]["ok"] is True
    assert result["tests"]["passed"] == result["tests"]["total"] > 0
    assert result["copy"] == {"source": "deterministic", "model": None}
    files = unpack(result["archive"])
    assert "generated-app/frontend/index.html" in files
    refused = await client.post("/api/v1/intelligence/web_app_builder/execute",
                                json={"framework": "angular", "requirements": {}})  # fmt: skip
    assert refused.status_code == 422
    assert "known: vanilla, react" in refused.json()["detail"]
