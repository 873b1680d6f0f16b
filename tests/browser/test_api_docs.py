"""The API docs in chromium against a real ``imperium serve``: /docs (Swagger UI) and
/redoc draw the API's operations from files the server serves itself, ask no other host
for anything, and break no Content-Security-Policy rule (but ReDoc's logo, below)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Served

# ReDoc draws a Redocly logo from cdn.redoc.ly in its side menu; the CSP refuses it, and
# ReDoc then hides it (static/docs/README.md).
REDOC_LOGO = "https://cdn.redoc.ly/"


class Tab:
    """A page that records console errors and every URL it asks for."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.context = browser.new_context(base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(90_000)  # 3 MB of script on a loaded, slow machine
        self.errors: list[str] = []
        self.requested: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requested.append(r.url))


@pytest.fixture
def tab(chromium: Any, served: Served) -> Iterator[Tab]:
    opened = Tab(chromium, served.url)
    yield opened
    opened.context.close()


def elsewhere(tab: Tab, served: Served) -> list[str]:
    own = (f"{served.url}/", "data:", "blob:")
    return [url for url in tab.requested if not url.startswith(own)]


def test_swagger_ui_draws_the_operations(tab: Tab, served: Served, artifacts: Path) -> None:
    tab.page.goto("/docs")
    tab.page.wait_for_selector(".opblock-summary-path")
    paths = tab.page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/health" in paths, paths
    # Swagger UI draws a long spec's operations lazily, as they are reached: that it read
    # every section of the spec is asked of its own state, not of the page
    tags = tab.page.evaluate("window.ui.specSelectors.taggedOperations().keySeq().toJS()")
    assert {"agents", "tasks", "workflows", "learning", "knowledge"} <= set(tags), tags
    tab.page.screenshot(path=str(artifacts / "api-docs.png"))
    assert tab.errors == []
    assert elsewhere(tab, served) == []


def test_redoc_draws_the_operations(tab: Tab, served: Served, artifacts: Path) -> None:
    tab.page.goto("/redoc")
    tab.page.wait_for_selector("[role=menuitem]")
    tab.page.get_by_text("/api/v1/tasks").first.wait_for(state="attached")
    tab.page.screenshot(path=str(artifacts / "api-redoc.png"))
    assert [e for e in tab.errors if REDOC_LOGO not in e] == []
    assert [url for url in elsewhere(tab, served) if not url.startswith(REDOC_LOGO)] == []
