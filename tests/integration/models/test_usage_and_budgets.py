"""Tokens and cost per agent, task type and day (API and CLI), and a daily token budget
reached by an llm agent against the local OpenAI-schema server: the agent is held, the
waiting task and ``/usage/budgets`` say why, and ``agent.budget_spent`` is written once."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import learning_logs
from imperium.domain.budgets import utc_date
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.interfaces.cli.main import app
from imperium.interfaces.dashboard import create_app as dashboard_app
from imperium.runtime import Imperium
from tests.support.openai_server import OpenAIServer

from .conftest import KEY_ENV


async def submit(client: httpx.AsyncClient, payload: str, wait: float = 20) -> dict[str, Any]:
    params = {"wait": wait} if wait else {}
    response = await client.post("/api/v1/tasks", params=params,
                                 json={"type": "chat", "payload": payload})  # fmt: skip
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def set_aside(client: httpx.AsyncClient, task_id: str) -> list[str]:
    """The reasons of the task's ``task.unplaceable`` events, once there is one (10 s)."""
    async with asyncio.timeout(10):
        while True:
            events = (await client.get(f"/api/v1/tasks/{task_id}/events")).json()["items"]
            found = [e["data"]["reason"] for e in events if e["event_type"] == "task.unplaceable"]
            if found:
                return found
            await asyncio.sleep(0.02)


async def budget_events(im: Imperium) -> list[dict[str, Any]]:
    assert isinstance(im.store, SqlStore)
    query = sa.select(learning_logs.c.event_data).where(
        learning_logs.c.event_type == "agent.budget_spent"
    )
    async with im.store.database.reading() as conn:
        return [row[0] for row in (await conn.execute(query)).all()]


async def test_a_token_budget_holds_the_agent_and_usage_shows_the_spend(
    im: Imperium, client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    agent = {
        "agent_id": "chatter", "type": "llm", "capabilities": ["chat"],
        "config": {"base_url": server.base_url, "model": "m", "api_key_env": KEY_ENV,
                   "price_per_1k_input": 1.0, "price_per_1k_output": 1.0,
                   "budget": {"tokens_per_day": 5}},
    }  # fmt: skip
    assert (await client.post("/api/v1/agents", json=agent)).status_code == 201
    for _ in range(2):  # "hello" -> "echo: hello": 1 + 2 tokens each, 6 >= 5 after two
        assert (await submit(client, "hello"))["state"] == "succeeded"
    waiting = await submit(client, "hello", wait=0)
    reasons = await set_aside(client, waiting["id"])
    assert (await client.get(f"/api/v1/tasks/{waiting['id']}")).json()["state"] == "queued"
    assert "chatter has spent its daily token budget (6 of 5)" in reasons[0]
    [event] = await budget_events(im)
    assert (event["agent_id"], event["kind"], event["limit"], event["spent"]) == (
        "chatter", "tokens", 5, 6)  # fmt: skip
    assert len(server.requests) == 2

    by_agent = (await client.get("/api/v1/usage", params={"by": "agent"})).json()
    assert by_agent["rows"] == [
        {"key": "chatter", "attempts": 2, "reported": 2, "tokens": 6, "cost": pytest.approx(0.006)}
    ]
    by_type = (await client.get("/api/v1/usage", params={"by": "task_type"})).json()
    assert [(r["key"], r["tokens"]) for r in by_type["rows"]] == [("chat", 6)]
    by_day = (await client.get("/api/v1/usage", params={"by": "day", "days": 1})).json()
    assert [(r["key"], r["tokens"]) for r in by_day["rows"]] == [(utc_date(time.time()), 6)]

    [budget] = (await client.get("/api/v1/usage/budgets")).json()["items"]
    assert (budget["agent_id"], budget["tokens_spent"], budget["held"]) == ("chatter", 6, True)
    assert "until" in budget["reason"]
    await the_agents_page_shows_the_usage(im)
    # the router's cost term weighs the recorded cost: its mean per attempt for the arm
    arms = (await client.get("/api/v1/learning/router", params={"task_type": "chat"})).json()
    assert [(a["agent_id"], a["cost"]) for a in arms["arms"]] == [("chatter", 0.003)]

    raised = {"config": {**agent["config"], "budget": {"tokens_per_day": 100}}}  # type: ignore[dict-item]
    assert (await client.patch("/api/v1/agents/chatter", json=raised)).status_code == 200
    for _ in range(500):  # 10 s at most
        if (await client.get(f"/api/v1/tasks/{waiting['id']}")).json()["state"] == "succeeded":
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("a raised budget did not free the waiting task")


async def test_usage_refuses_an_unknown_grouping(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/usage", params={"by": "colour"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/usage/cycles")).json() == {"items": []}
    assert (await client.get("/api/v1/usage/cycles", params={"limit": 0})).status_code == 422


async def test_a_malformed_budget_is_refused_at_registration(client: httpx.AsyncClient) -> None:
    body = {"agent_id": "e", "type": "echo", "config": {"budget": {"tokens_per_day": -1}}}
    response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 422
    assert "tokens_per_day must be a whole number" in response.json()["detail"]


def _seed(url: str, executions: list[Execution]) -> None:
    async def seed() -> None:
        store = await SqlStore.connect(url)
        await store.import_executions(executions)
        await store.close()

    asyncio.run(seed())


def _attempt(task: str, agent: str, task_type: str, tokens: int | None, cost: float | None,
             at: float) -> Execution:  # fmt: skip
    return Execution(task, 1, agent, task_type, 1.0, at - 1, at, Outcome.SUCCEEDED, 1,
                     tokens=tokens, cost=cost)  # fmt: skip


@pytest.fixture
def cli(migrated_database_url: str) -> Callable[..., Result]:
    runner = CliRunner()
    env = {"DATABASE_URL": migrated_database_url, "COLUMNS": "200"}
    return lambda *args: runner.invoke(app, [*args], env=env)


def test_the_cli_shows_usage_per_agent_type_and_day(
    cli: Callable[..., Result], migrated_database_url: str
) -> None:
    now = time.time()
    _seed(migrated_database_url, [
        _attempt("t1", "a", "summarise", 100, 0.5, now),
        _attempt("t2", "a", "chat", 50, None, now),
        _attempt("t3", "b", "chat", None, None, now),
        _attempt("t4", "b", "chat", 7, 0.1, now - 30 * 86_400),  # outside 7 days
    ])  # fmt: skip
    result = cli("usage", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [(r["key"], r["attempts"], r["reported"], r["tokens"]) for r in body["rows"]] == [
        ("a", 2, 2, 150), ("b", 1, 0, 0)]  # fmt: skip
    assert body["total"]["cost"] == pytest.approx(0.5)
    result = cli("usage", "--by", "task_type", "--days", "31")
    assert result.exit_code == 0
    assert "summarise" in result.output
    assert "157" in result.output  # the total over 31 days
    result = cli("usage", "--by", "weekday")
    assert result.exit_code == 1
    assert "grouped by one of agent, task_type, day" in result.output


def test_the_cli_shows_budgets(cli: Callable[..., Result], migrated_database_url: str) -> None:
    assert cli("usage", "budgets").output.startswith("no agent has a daily budget")
    result = cli("agents", "register", "spender", "--type", "echo", "--config",
                 '{"budget": {"cost_per_day": 0.5}}')  # fmt: skip
    assert result.exit_code == 0, result.output
    _seed(migrated_database_url, [_attempt("t1", "spender", "echo", 10, 0.75, time.time())])
    body = json.loads(cli("usage", "budgets", "--json").output)
    [budget] = body["items"]
    assert (budget["cost_spent"], budget["held"]) == (0.75, True)
    assert "daily cost budget (0.75 of 0.5)" in budget["reason"]


def test_status_names_the_agents_held_by_their_budget(
    cli: Callable[..., Result], migrated_database_url: str
) -> None:
    cli("agents", "register", "spender", "--type", "echo", "--config",
        '{"budget": {"tokens_per_day": 10}}')  # fmt: skip
    _seed(migrated_database_url, [_attempt("t1", "spender", "echo", 12, None, time.time())])
    body = json.loads(cli("status", "--json").output)
    assert "spender has spent its daily token budget (12 of 10)" in (
        body["agents"]["budget_spent"]["spender"])  # fmt: skip
    assert "budget spent" in cli("status").output


def test_the_cli_and_api_show_usage_per_learning_cycle(
    cli: Callable[..., Result], migrated_database_url: str
) -> None:
    from imperium.domain.learning import CycleStatus, LearningCycle

    now = time.time()
    assert "fewer than two learning cycles" in cli("usage", "cycles").output

    async def seed_cycles() -> None:
        store = await SqlStore.connect(migrated_database_url)
        for cycle_id, start in (("c1", now - 600), ("c2", now - 60)):
            await store.save_cycle(LearningCycle(cycle_id, start, start + 1, (), None, 0, 0, 0,
                                                 CycleStatus.COMPLETED, {}))  # fmt: skip
        await store.close()

    asyncio.run(seed_cycles())
    _seed(migrated_database_url, [_attempt("t1", "a", "chat", 40, 0.2, now - 300),
                                  _attempt("t2", "a", "chat", 9, None, now - 30)])  # fmt: skip
    [row] = json.loads(cli("usage", "cycles", "--json").output)
    assert (row["cycle_id"], row["attempts"], row["tokens"], row["cost"]) == ("c2", 1, 40, 0.2)


async def the_agents_page_shows_the_usage(im: Imperium) -> None:
    """The dashboard's Usage panel (Agents page): the same figures as /api/v1/usage."""
    transport = httpx.ASGITransport(app=dashboard_app(im))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = (await http.get("/agents")).text
    panel = re.search(r'<section class="panel" id="usage">.*?</section>', page, re.S)
    assert panel is not None
    row = re.search(r'<tr data-usage-key="chat">(.*?)</tr>', panel.group(0), re.S)
    assert row is not None
    cells = re.findall(r'class="usage-(\w+)">([^<]*)<', row.group(1))
    assert cells == [("attempts", "2"), ("reported", "2"), ("tokens", "6"), ("cost", "0.0060")]
    assert f'data-usage-key="{utc_date(time.time())}"' in panel.group(0)
    budget = re.search(r'data-budget-agent-id="chatter">(.*?)</tr>', panel.group(0), re.S)
    assert budget is not None
    assert "6 / 5" in budget.group(1)
    assert "held" in budget.group(1)
