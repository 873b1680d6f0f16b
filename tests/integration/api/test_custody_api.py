"""The custody protocol and proposals through the HTTP API on a real server (SQLite and
PostgreSQL): real built-in agents pass their tests, a deliberately bad agent fails, levels
and eligibility follow the seed's rules, and proposals are gated by them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings

BAD = "tests.support.agents:wrong_answers"


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await Imperium.open(
        Settings(
            database_url=migrated_database_url, poll_interval=0.05, drain_seconds=0.2,
            builtin_agents="echo,guardian,conquest",
        ),
        migrate=False,
    )  # fmt: skip
    await runtime.start()
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(im: Imperium) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(im))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", timeout=120
    ) as http:
        yield http


async def custody_test(client: httpx.AsyncClient, agent: str, **params: str) -> dict[str, Any]:
    response = await client.post(f"/api/custody/test/{agent}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


async def test_a_real_agent_passes_and_levels_up_then_may_propose(
    client: httpx.AsyncClient,
) -> None:
    runs = [await custody_test(client, "guardian") for _ in range(3)]
    for run in runs:
        result = run["test_result"]
        assert result["passed"], result["evaluation"]
        assert result["score"] >= result["threshold"]
        assert run["test_category"] in {"security_awareness", "code_quality"}
        assert run["test_difficulty"] == "basic"
        assert result["test_content"]["task_type"] == "code_review"
        assert result["ai_response"]["findings"]  # Guardian's real answer is stored
    given = [r["test_result"]["test_id"] for r in runs]
    assert given[0] != given[1]  # the least recently given item comes next
    status = (await client.get("/api/custody/test/guardian/status")).json()
    assert (status["custody_xp"], status["custody_level"]) == (150, 2)
    assert status["consecutive_successes"] == 3
    assert status["can_level_up"] is True
    assert status["can_create_proposals"] is True
    assert len(status["test_history"]) == 3

    detail = (
        await client.get(f"/api/custody/results/{runs[0]['test_result']['result_id']}")
    ).json()
    assert detail["evaluation"]["checks"]
    assert all(check["ok"] for check in detail["evaluation"]["checks"])

    body = {"agent_id": "guardian", "title": "Scan tests/ weekly", "description": "…",
            "evidence": [{"result_id": detail["result_id"]}]}  # fmt: skip
    created = await client.post("/api/proposals", json=body)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert proposal["status"] == "pending"
    duplicate = await client.post("/api/proposals", json={**body, "title": " scan TESTS/ weekly"})
    assert duplicate.status_code == 409
    assert proposal["id"] in duplicate.json()["detail"]
    empty = await client.post("/api/proposals", json={"agent_id": "guardian", "title": "x"})
    assert empty.status_code == 422
    assert "empty proposal" in empty.json()["detail"]

    early = await client.post(f"/api/proposals/{proposal['id']}/apply", json={"decided_by": "ops"})
    assert early.status_code == 409  # a pending proposal cannot be applied
    approved = await client.post(
        f"/api/proposals/{proposal['id']}/approve", json={"decided_by": "ops", "note": "ok"}
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "ops")
    applied = (
        await client.post(f"/api/proposals/{proposal['id']}/apply", json={"decided_by": "ci"})
    ).json()
    assert (applied["status"], applied["applied_by"]) == ("applied", "ci")
    assert applied["applied_at"] is not None
    listed = (await client.get("/api/proposals", params={"status": "applied"})).json()
    assert [p["id"] for p in listed["proposals"]] == [proposal["id"]]

    seed = (await client.get("/api/imperium/agents")).json()["agents"]["guardian"]
    assert (seed["xp"], seed["level"]) == (150, 2)


async def test_a_deliberately_bad_agent_fails_and_may_not_propose(
    client: httpx.AsyncClient,
) -> None:
    registered = await client.post(
        "/api/v1/agents",
        json={"agent_id": "bad", "type": BAD, "capabilities": ["code_review", "answer"]},
    )
    assert registered.status_code == 201, registered.text
    for _ in range(4):
        run = await custody_test(client, "bad", test_category="security_awareness")
        assert run["test_result"]["passed"] is False
        assert run["test_result"]["score"] < run["test_result"]["threshold"]
    status = (await client.get("/api/custody/test/bad/status")).json()
    assert (status["custody_xp"], status["custody_level"], status["total_tests_failed"]) == (
        4, 1, 4,
    )  # fmt: skip
    assert status["can_create_proposals"] is False
    refused = await client.post(
        "/api/proposals", json={"agent_id": "bad", "title": "Trust me", "description": "x"}
    )
    assert refused.status_code == 403
    assert "may not submit proposals" in refused.json()["detail"]
    recommendations = (await client.get("/api/custody/recommendations")).json()
    assert any("fails" in tip for tip in recommendations["data"]["recommendations"]["bad"])


async def test_categories_filter_and_errors(client: httpx.AsyncClient) -> None:
    categories = (await client.get("/api/custody/test-categories")).json()
    assert len(categories["categories"]) == 8
    assert [d["time_limit_seconds"] for d in categories["difficulties"]] == [
        300, 600, 900, 1200, 1800, 3600,
    ]  # fmt: skip
    for category in categories["categories"]:
        assert all(n >= 2 for n in category["items_per_difficulty"].values()), category

    run = await custody_test(client, "conquest", test_category="knowledge_verification")
    assert run["test_category"] == "knowledge_verification"
    assert run["test_result"]["passed"], run["test_result"]["evaluation"]

    unknown = await client.post("/api/custody/test/nobody")
    assert unknown.status_code == 404
    unfit = await client.post("/api/custody/test/echo")
    assert unfit.status_code == 422
    assert "no custody test" in unfit.json()["detail"]
    overview = (await client.get("/api/custody")).json()
    assert overview["data"]["total_agents_tested"] == 1
    analytics = (await client.get("/api/custody/analytics")).json()
    assert analytics["data"]["by_agent"]["conquest"]["tests"] == 1
