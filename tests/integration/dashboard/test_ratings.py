"""The task page's "Rate this result" form, in-process on a started runtime over SQLite:
a rating is stored through the feedback service as the signed-in key and listed on the
page, refusals come back as notices, CSRF and roles are enforced by the server."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx

from imperium.domain.auth import Role
from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from tests.integration.dashboard.test_pages import Inline, browser, csrf_of, sign_in, submit

WAIT = 20


async def done(im: Imperium) -> str:
    """A task the echo agent has finished: it can be rated."""
    task = await im.engine.submit(TaskSpec(type="echo", payload="hi"))
    await asyncio.wait_for(im.engine.wait_for(task.id), WAIT)
    return task.id


def notice_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["notice"][0]


async def test_a_rating_is_stored_as_the_dashboard_and_listed(im: Imperium) -> None:
    task_id = await done(im)
    async with browser(im) as http:
        page = (await http.get(f"/tasks/{task_id}")).text
        assert 'id="rate"' in page
        assert "no rating yet" in page
        parser = Inline()
        parser.feed(page)
        assert parser.problems == []
        url, csrf = f"/tasks/{task_id}/feedback", csrf_of(page)
        thumbs = await http.post(url, data={"csrf": csrf, "thumbs": "down", "comment": "useless"})
        assert notice_of(thumbs) == "rated 0 as dashboard (no keys in force)"
        scored = await http.post(url, data={"csrf": csrf, "score": "0.75", "comment": ""})
        assert notice_of(scored).startswith("rated 0.75")
        after = (await http.get(thumbs.headers["location"])).text
    stored = await im.store.feedback_for(task_id)
    assert [(r.score, r.comment, r.agent_id) for r in stored] == [
        (0.0, "useless", "echo"),
        (0.75, None, "echo"),
    ]
    assert {r.given_by for r in stored} == {"dashboard (no keys in force)"}
    listed = after.split('id="ratings"')[1].split("</table>")[0]
    assert listed.count("<tr>") == 3  # the head and two ratings
    assert "useless" in listed
    assert "0.75" in listed
    assert "dashboard (no keys in force)" in listed


async def test_ratings_that_cannot_be_given_come_back_as_notices(im: Imperium) -> None:
    queued, rated = await submit(im), await done(im)
    async with browser(im) as http:
        page = (await http.get(f"/tasks/{queued}")).text
        assert 'id="rate"' not in page  # not ended: no form
        csrf = csrf_of(page)
        running = await http.post(f"/tasks/{queued}/feedback", data={"csrf": csrf, "thumbs": "up"})
        assert "only a task that has ended" in notice_of(running)
        await im.engine.cancel(queued)
        assert 'id="rate"' not in (await http.get(f"/tasks/{queued}")).text
        empty = await http.post(f"/tasks/{queued}/feedback", data={"csrf": csrf, "thumbs": "up"})
        assert "without a result" in notice_of(empty)
        url = f"/tasks/{rated}/feedback"
        for score, told in (
            ("1.5", "score must be between 0 and 1"),
            ("nan", "score must be between 0 and 1"),
            ("lots", "score must be a number from 0 to 1"),
            ("", "give either a score"),
        ):
            response = await http.post(url, data={"csrf": csrf, "score": score})
            assert told in notice_of(response), score
        both = await http.post(url, data={"csrf": csrf, "score": "1", "thumbs": "up"})
        assert "not both" in notice_of(both)
        missing = await http.post("/tasks/nope/feedback", data={"csrf": csrf, "thumbs": "up"})
        assert missing.status_code == 404
    assert await im.store.feedback_for(rated) == []
    assert await im.store.feedback_for(queued) == []


async def test_a_rating_without_its_csrf_token_is_refused(im: Imperium) -> None:
    task_id = await done(im)
    url = f"/tasks/{task_id}/feedback"
    async with browser(im) as http:
        page = (await http.get(f"/tasks/{task_id}")).text
        assert (await http.post(url, data={"thumbs": "up"})).status_code == 403
        wrong = await http.post(url, data={"csrf": "x" + csrf_of(page), "thumbs": "up"})
        assert wrong.status_code == 403
    async with browser(im) as stranger:  # no session, so no valid token
        refused = await stranger.post(url, data={"csrf": csrf_of(page), "thumbs": "up"})
        assert refused.status_code == 403
    assert await im.store.feedback_for(task_id) == []


async def test_with_keys_a_read_only_key_sees_ratings_but_cannot_rate(im: Imperium) -> None:
    task_id = await done(im)
    await im.feedback.rate(task_id, thumbs="up", comment="spot on", given_by="cli")
    admin_key, admin = await im.keys.create("admin", Role.ADMIN)
    _, reader = await im.keys.create("reader", Role.READ_ONLY)
    url = f"/tasks/{task_id}/feedback"
    async with browser(im) as http:
        await sign_in(http, reader)
        page = (await http.get(f"/tasks/{task_id}")).text
        assert 'id="rate"' not in page
        assert "<button" not in page.split("</header>")[1]
        assert "spot on" in page.split('id="ratings"')[1]
        forced = await http.post(url, data={"csrf": csrf_of(page), "thumbs": "down"})
        assert forced.status_code == 403
        assert "read-only" in forced.text
    assert len(await im.store.feedback_for(task_id)) == 1
    async with browser(im) as http:
        await sign_in(http, admin)
        page = (await http.get(f"/tasks/{task_id}")).text
        assert 'id="rate"' in page
        rated = await http.post(url, data={"csrf": csrf_of(page), "thumbs": "down"})
        assert notice_of(rated) == f"rated 0 as key:{admin_key.id}"
    stored = await im.store.feedback_for(task_id)
    assert [(r.score, r.given_by) for r in stored] == [(1.0, "cli"), (0.0, f"key:{admin_key.id}")]
