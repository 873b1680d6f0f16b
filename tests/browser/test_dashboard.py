"""The dashboard in chromium against a real ``imperium serve``: counts on the overview, a
task submitted after the page loaded shown within 2 s without a reload, the task filter,
Cancel from the page cancelling the task in the database, a read-only key seeing no write
button, and no Content-Security-Policy violation on any page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Served

LIVE_MS = 2000  # a new event shows within this, without a reload


class Tab:
    """A page that records console errors (CSP violations are reported there)."""

    def __init__(self, browser: Any, base_url: str, artifacts: Path) -> None:
        self.context = browser.new_context(base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.artifacts = artifacts

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]

    def close(self) -> None:
        self.context.close()  # before the server stops: its event stream would hold it


@pytest.fixture
def tab(chromium: Any, served: Served, artifacts: Path) -> Iterator[Tab]:
    opened = Tab(chromium, served.url, artifacts)
    yield opened
    opened.close()


def submit(served: Served, task_type: str, **fields: Any) -> str:
    body = {"type": task_type, **fields}
    response = httpx.post(f"{served.url}/api/v1/tasks", json=body, timeout=10)
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


def test_the_dashboard_in_chromium(tab: Tab, served: Served) -> None:
    page = tab.page
    stuck = [submit(served, "nobody-takes-this", priority="high") for _ in range(2)]
    page.goto("/")
    assert page.locator("#count-queued").inner_text() == "2"
    assert page.locator("#queued-high").inner_text() == "2"
    page.wait_for_selector("#live.on")  # the event stream is open
    page.wait_for_selector("#throughput canvas")  # uPlot drew the chart

    later = submit(served, "nobody-takes-this", priority="low")  # after the page loaded
    page.wait_for_selector(f"#live-events a[href='/tasks/{later}']", timeout=LIVE_MS)
    expect(page.locator("#count-queued")).to_have_text("3", timeout=LIVE_MS)
    tab.shot("overview")

    page.goto("/tasks")
    ran = submit(served, "echo", payload={"text": "hi"})
    page.wait_for_selector(f"tr[data-task-id='{ran}']", timeout=LIVE_MS)  # live, no reload
    page.select_option("select[name=state]", "queued")
    page.fill("input[name=type]", "nobody-takes-this")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/tasks?*state=queued*")
    listed = page.locator("tr[data-task-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.taskId)"
    )
    assert sorted(listed) == sorted([*stuck, later])
    tab.shot("tasks")

    page.click(f"tr[data-task-id='{stuck[0]}'] a")
    page.wait_for_selector("#cancel")
    assert json.loads(page.locator("#payload").inner_text()) is None
    tab.shot("task")
    page.click("#cancel")
    page.wait_for_selector(".notice")
    assert page.locator("#task-state").inner_text() == "cancelled"
    stored = httpx.get(f"{served.url}/api/v1/tasks/{stuck[0]}", timeout=10).json()
    assert stored["state"] == "cancelled"  # as the database has it

    page.goto("/agents")
    page.wait_for_selector("tr[data-agent-id='echo']")
    tab.shot("agents")
    tour(tab, served)
    assert tab.csp_violations() == []
    assert tab.errors == []


def tour(tab: Tab, served: Served) -> None:
    """The other pages once each, with real data: a screenshot of each, and the events
    page receiving an event without a reload."""
    page = tab.page
    body = {"tasks": [{"type": "nobody-takes-this", "name": "a"},
                      {"type": "nobody-takes-this", "name": "b", "depends_on": ["a"]}]}  # fmt: skip
    response = httpx.post(f"{served.url}/api/v1/workflows", json=body, timeout=10)
    assert response.status_code == 201, response.text
    workflow_id = response.json()["workflow_id"]
    for path, ready, name in (
        ("/workflows", f"tr[data-workflow-id='{workflow_id}']", "workflows"),
        (f"/workflows/{workflow_id}", "#dag a", "workflow"),
        # the prediction, and the router's decisions charted by uPlot
        (
            "/learning?task_type=echo",
            "main:has(#predicted-agent) #decisions-chart canvas",
            "learning",
        ),
        ("/teams", "#combinations", "teams"),
        ("/custody", "#standings", "custody"),
        ("/proposals", "#proposals", "proposals"),
    ):
        page.goto(path)
        page.wait_for_selector(ready)
        tab.shot(name)
    page.goto("/reports")  # the report the page links to: inline SVG charts, no script
    page.click("#report-links a[href='/reports/weekly?period_days=7']")
    page.wait_for_selector("svg[aria-label='attempts per day']")
    tab.shot("report")
    page.goto("/events")
    page.wait_for_selector("#live.on")
    later = submit(served, "nobody-takes-this")
    page.wait_for_selector(f"#live-events a[href='/tasks/{later}']", timeout=LIVE_MS)
    tab.shot("events")


def test_a_read_only_key_sees_no_write_button(
    chromium: Any, served_alone: Served, artifacts: Path
) -> None:
    """On a server of its own: once a key exists the server requires keys."""
    served = served_alone
    tab = Tab(chromium, served.url, artifacts)
    try:
        task_id = submit(served, "nobody-takes-this")
        reader = json.loads(
            served.cli("keys", "create", "--name", "reader", "--role", "read-only", "--json")
        )["key"]
        page = tab.page
        deadline = time.monotonic() + 10  # the server caches "no key exists" up to 5 s
        while "/login" not in page.url and time.monotonic() < deadline:
            page.goto(f"/tasks/{task_id}")
        assert "/login" in page.url
        page.fill("input[name=key]", reader)
        page.click("form button[type=submit]")
        page.wait_for_url(f"**/tasks/{task_id}")
        assert page.locator("main button").count() == 0
        assert page.locator("#task-state").inner_text() == "queued"
        tab.shot("task-read-only")
        page.goto("/agents")
        assert page.locator("main button").count() == 0
        assert tab.csp_violations() == []
    finally:
        tab.close()
