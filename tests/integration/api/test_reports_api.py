"""``GET /api/v1/reports/weekly``: the report of tasks really run (SQLite and PostgreSQL)
as JSON and HTML, a PDF from the installed Chromium, a plain 503 without a renderer, and
problems for bad parameters."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import problem, register, submit, until_ended

FAILS = "tests.support.agents:always_fails"


async def test_the_report_counts_the_tasks_run(client: httpx.AsyncClient) -> None:
    await register(client, "fails", FAILS)
    echoes = [await submit(client, type="echo", payload={"i": i}) for i in range(3)]
    dead = await submit(client, type="fails", max_attempts=1)
    for task in [*echoes, dead]:
        await until_ended(client, task["id"])

    response = await client.get("/api/v1/reports/weekly", params={"period_days": 7})
    assert response.status_code == 200, response.text
    report = response.json()
    throughput = report["throughput"]
    assert throughput["attempts_by_outcome"] == {"failed": 1, "succeeded": 3}
    assert throughput["tasks_ended"] == {"dead": 1, "succeeded": 3}
    assert report["success_by_type"]["echo"]["attempts"] == 3
    assert report["success_by_type"]["echo"]["success_rate"] == 1.0
    assert report["success_by_type"]["fails"]["succeeded"] == 0
    assert report["best_agents"] == []  # nobody has 5 counted attempts
    assert sorted(report["unranked_agents"]) == ["echo", "fails"]
    assert "no cost recorded: no attempt in this period recorded tokens or cost" in report["notes"]

    page = await client.get("/api/v1/reports/weekly", params={"format": "html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text
    assert "Success per task type" in page.text


@pytest.mark.parametrize(
    ("params", "where"),
    [({"period_days": 0}, "period_days"), ({"period_days": 400}, "period_days"),
     ({"period_days": "a week"}, "period_days"), ({"format": "xml"}, "format")],
)  # fmt: skip
async def test_bad_parameters_are_problems(
    memory_client: httpx.AsyncClient, params: dict[str, object], where: str
) -> None:
    response = await memory_client.get("/api/v1/reports/weekly", params=params)
    problem(response, 422, where)


@pytest.fixture
async def runtime_without_renderer(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                        report_pdf_renderer="no-such-browser")  # fmt: skip
    runtime = Imperium.build(settings, MemoryStore())
    await runtime.start()
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http
    await runtime.close()


async def test_without_a_renderer_a_pdf_is_refused_plainly(
    runtime_without_renderer: httpx.AsyncClient,
) -> None:
    response = await runtime_without_renderer.get(
        "/api/v1/reports/weekly", params={"format": "pdf"}
    )
    problem(response, 503, "'no-such-browser'", "HTML only", "format=html")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium here")
async def test_a_pdf_from_chromium(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.get(
        "/api/v1/reports/weekly", params={"format": "pdf", "period_days": 1}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "imperium-report-1d.pdf" in response.headers["content-disposition"]
