"""The dashboard in-process (httpx over ASGI) on a started runtime over SQLite: its pages
show real data, filter and page, its forms act through the engine, CSRF tokens and roles
are enforced by the server, and no page carries inline script or style (the CSP)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from imperium.domain.auth import Role
from imperium.domain.specs import TaskSpec
from imperium.domain.states import PriorityLevel, TaskState
from imperium.interfaces.dashboard import create_app
from imperium.interfaces.dashboard.pages import DASHBOARD_CSP
from imperium.runtime import Imperium

PAGES = ("/", "/tasks", "/agents", "/ui/overview", "/ui/tasks")


def browser(im: Imperium) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(im))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def submit(im: Imperium, task_type: str = "nobody-does-this", **fields: object) -> str:
    """A task no agent can take: it stays queued."""
    task = await im.engine.submit(TaskSpec(type=task_type, **fields))  # type: ignore[arg-type]
    return task.id


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no element {element_id}"
    return found.group(1).strip()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


class Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.problems.append("a script without src")
        if tag == "style":
            self.problems.append("a <style> element")
        self.problems += [f"{tag}[{n}]" for n in names if n.startswith("on") or n == "style"]
        self.problems += [f"{tag}[{n}]=javascript:" for n, v in attrs if "javascript:" in (v or "")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")


async def test_every_page_has_the_csp_and_nothing_inline(im: Imperium) -> None:
    task_id = await submit(im)
    async with browser(im) as http:
        for path in (*PAGES, f"/tasks/{task_id}"):
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-security-policy"] == DASHBOARD_CSP
            assert "'unsafe-inline'" not in DASHBOARD_CSP
            assert "script-src 'self'" in DASHBOARD_CSP
            assert response.headers["x-frame-options"] == "DENY"
            parser = Inline()
            parser.feed(response.text)
            assert parser.problems == [], path
        assert (
            (await http.get("/api/v1/tasks"))
            .headers["content-security-policy"]
            .startswith("default-src 'none'")
        )


async def test_the_overview_shows_live_counts_and_the_last_hour(im: Imperium) -> None:
    for priority in (PriorityLevel.HIGH, PriorityLevel.HIGH, PriorityLevel.LOW):
        await submit(im, priority=priority)
    async with browser(im) as http:
        page = (await http.get("/")).text
        assert text_of(page, "count-queued") == "3"
        assert text_of(page, "queued-high") == "2"
        assert text_of(page, "queued-low") == "1"
        assert text_of(page, "scheduler-status") == "running"
        assert text_of(page, "database-status") == "ok"
        assert text_of(page, "hour-succeeded") == "0"
        series = (await http.get("/ui/series", params={"hours": 6})).json()
        assert len(series["t"]) == len(series["succeeded"]) == len(series["success_rate"])
        assert series["bucket_seconds"] == 6 * 3600 / 60


async def test_the_task_list_filters_and_pages(im: Imperium) -> None:
    ids = [await submit(im, "alpha") for _ in range(52)]
    beta = await submit(im, "beta")
    await im.engine.cancel(ids[0])
    async with browser(im) as http:
        first = (await http.get("/tasks", params={"type": "alpha"})).text
        listed = re.findall(r'data-task-id="([^"]+)"', first)
        assert len(listed) == 50
        assert beta not in listed
        assert listed[0] == ids[-1]  # newest first
        next_url = re.search(r'id="next-page" href="([^"]+)"', first)
        assert next_url
        second = (await http.get(next_url.group(1).replace("&amp;", "&"))).text
        assert re.findall(r'data-task-id="([^"]+)"', second) == [ids[1], ids[0]]
        cancelled = (await http.get("/tasks", params={"state": "cancelled"})).text
        assert re.findall(r'data-task-id="([^"]+)"', cancelled) == [ids[0]]
        by_id = (await http.get("/tasks", params={"id": beta, "since": "1h"})).text
        assert re.findall(r'data-task-id="([^"]+)"', by_id) == [beta]
        prefix = (await http.get("/tasks", params={"id": ids[5][:-1]})).text
        found = re.findall(r'data-task-id="([^"]+)"', prefix)
        assert ids[5] in found
        assert all(i.startswith(ids[5][:-1]) for i in found)


async def test_cancel_from_the_task_page_cancels_the_task_in_the_store(im: Imperium) -> None:
    task_id = await submit(im, payload={"text": "<b>escaped</b>"})
    async with browser(im) as http:
        page = (await http.get(f"/tasks/{task_id}")).text
        assert "&lt;b&gt;escaped&lt;/b&gt;" in page
        assert 'id="cancel"' in page
        response = await http.post(f"/tasks/{task_id}/cancel", data={"csrf": csrf_of(page)})
        assert response.status_code == 303
        stored = await im.store.get_task(task_id)
        assert stored is not None
        assert stored.state is TaskState.CANCELLED
        after = (await http.get(response.headers["location"])).text
        assert text_of(after, "task-state") == "cancelled"
        assert 'id="cancel"' not in after


async def test_a_form_without_its_csrf_token_is_refused(im: Imperium) -> None:
    task_id = await submit(im)
    async with browser(im) as http:
        page = (await http.get(f"/tasks/{task_id}")).text
        assert (await http.post(f"/tasks/{task_id}/cancel")).status_code == 403
        wrong = await http.post(f"/tasks/{task_id}/cancel", data={"csrf": "x" + csrf_of(page)})
        assert wrong.status_code == 403
    async with browser(im) as stranger:  # another browser: no session, so no valid token
        refused = await stranger.post(f"/tasks/{task_id}/cancel", data={"csrf": csrf_of(page)})
        assert refused.status_code == 403
    stored = await im.store.get_task(task_id)
    assert stored is not None
    assert stored.state is TaskState.QUEUED


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await http.get("/login")
    assert form.status_code == 200
    return await http.post("/login", data={"key": key, "csrf": csrf_of(form.text)})


async def test_with_keys_a_session_signs_in_once_and_a_read_only_key_cannot_act(
    im: Imperium,
) -> None:
    task_id = await submit(im)
    _, admin = await im.keys.create("admin", Role.ADMIN)
    _, reader = await im.keys.create("reader", Role.READ_ONLY)
    async with browser(im) as http:
        refused = await http.get(f"/tasks/{task_id}")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/login")
        assert (await http.get("/ui/overview")).status_code == 401
        bad = await sign_in(http, admin[:-1] + ("a" if admin[-1] != "a" else "b"))
        assert bad.status_code == 401
        assert "unknown or revoked" in bad.text
        signed_in = await sign_in(http, reader)
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        page = (await http.get(f"/tasks/{task_id}")).text
        assert "<button" not in page.split("</header>")[1]  # no write button
        assert "<button" not in (await http.get("/agents")).text.split("</header>")[1]
        forced = await http.post(f"/tasks/{task_id}/cancel", data={"csrf": csrf_of(page)})
        assert forced.status_code == 403
        assert "read-only" in forced.text
    stored = await im.store.get_task(task_id)
    assert stored is not None
    assert stored.state is TaskState.QUEUED
    async with browser(im) as http:
        await sign_in(http, admin)
        page = (await http.get(f"/tasks/{task_id}")).text
        assert 'id="cancel"' in page
        done = await http.post(f"/tasks/{task_id}/cancel", data={"csrf": csrf_of(page)})
        assert done.status_code == 303


async def test_agents_show_whether_their_code_loaded_and_can_be_paused(im: Imperium) -> None:
    async with browser(im) as http:
        page = (await http.get("/agents")).text
        echo = re.search(r'data-agent-id="echo".*?</tr>', page, re.S)
        assert echo
        assert "active" in echo.group(0)
        response = await http.post("/agents/echo/pause", data={"csrf": csrf_of(page)})
        assert response.status_code == 303
    assert (await im.agents.get("echo")).status == "paused"


async def test_agents_show_their_success_per_task_type(im: Imperium) -> None:
    ids = [await submit(im, "echo", payload=n) for n in range(3)]
    for task_id in ids:
        assert (await im.engine.wait_for(task_id)).state is TaskState.SUCCEEDED
    async with browser(im) as http:
        page = (await http.get("/agents")).text
    echo = re.search(r'data-agent-id="echo".*?</tr>', page, re.S)
    assert echo
    rate = re.search(r'data-task-type="echo">([^<]*)<', echo.group(0))
    assert rate
    assert rate.group(1) == "echo 100.0% of 3"
