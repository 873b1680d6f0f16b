"""The dashboard's workflow, learning, teams, custody, proposals and events pages and the
agents page's additions, in-process (httpx over ASGI) on a started runtime over SQLite:
each shows real data, each form acts on the store, CSRF and roles are enforced."""

from __future__ import annotations

import asyncio
import re

from imperium.domain.auth import Role
from imperium.domain.models import AgentSpec
from imperium.domain.proposals import ProposalStatus, new_proposal
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.interfaces.dashboard.pages import DASHBOARD_CSP
from imperium.interfaces.dashboard.workflows import depths
from imperium.runtime import Imperium
from imperium.services.teams import TeamRequest
from tests.integration.dashboard.test_pages import Inline, browser, csrf_of, sign_in, text_of

PAGES = ("/workflows", "/learning", "/teams", "/custody", "/proposals", "/events")
WAIT = 20


def main_of(page: str) -> str:
    return page.split("</header>")[1]


async def workflow(im: Imperium) -> tuple[str, dict[str, str]]:
    """Three tasks no agent takes: ``first``, and two depending on it (one on both)."""
    workflow_id, tasks = await im.engine.submit_workflow(WorkflowSpec((
        TaskSpec(type="nobody-does-this", name="first"),
        TaskSpec(type="nobody-does-this", name="second", depends_on=("first",)),
        TaskSpec(type="nobody-does-this", name="third", depends_on=("first", "second")),
    )))  # fmt: skip
    return workflow_id, {t.name or "": t.id for t in tasks}


async def echo(im: Imperium, n: int) -> None:
    done = [await im.engine.submit(TaskSpec(type="echo", payload=i)) for i in range(n)]
    for task in done:
        await asyncio.wait_for(im.engine.wait_for(task.id), WAIT)


async def test_every_new_page_has_the_csp_and_nothing_inline(im: Imperium) -> None:
    workflow_id, _ = await workflow(im)
    async with browser(im) as http:
        for path in (*PAGES, f"/workflows/{workflow_id}"):
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-security-policy"] == DASHBOARD_CSP
            parser = Inline()
            parser.feed(response.text)
            assert parser.problems == [], path
        for path in PAGES:
            assert f'href="{path}"' in response.text  # in the navigation
        assert (await http.get("/workflows/no-such-workflow")).status_code == 404


async def test_workflows_are_listed_with_counts_and_drawn_as_a_graph(im: Imperium) -> None:
    workflow_id, ids = await workflow(im)
    await im.engine.submit(TaskSpec(type="nobody-does-this"))  # outside any workflow
    async with browser(im) as http:
        listing = (await http.get("/workflows")).text
        row = re.search(rf'data-workflow-id="{workflow_id}".*?</tr>', listing, re.S)
        assert row
        assert re.findall(r'class="state state-(\w+)">(\d+)<', row.group(0)) == [
            ("pending", "2"), ("queued", "1"),
        ]  # fmt: skip
        page = (await http.get(f"/workflows/{workflow_id}")).text
    graph = re.search(r'<svg id="dag".*?</svg>', page, re.S)
    assert graph
    drawn = graph.group(0)
    assert sorted(re.findall(r'<a href="/tasks/([^"]+)"', drawn)) == sorted(ids.values())
    assert drawn.count("<line") == 3  # first->second, first->third, second->third
    assert 'node node-queued" x="0.0"' in drawn.replace(f"/tasks/{ids['first']}", "")
    assert drawn.count("node-pending") == 2


def test_depth_is_one_more_than_the_deepest_dependency() -> None:
    from tests.integration.storage.storage_factories import make_task

    a = make_task(id="a", depends_on=(), created_at=1.0)
    b = make_task(id="b", depends_on=("a",), created_at=2.0)
    c = make_task(id="c", depends_on=("a", "b", "elsewhere"), created_at=3.0)
    assert depths([c, a, b]) == {"a": 0, "b": 1, "c": 2}


async def test_learning_shows_posteriors_predicts_and_triggers_a_cycle(im: Imperium) -> None:
    await echo(im, 3)
    async with browser(im) as http:
        page = (await http.get("/learning")).text
        table = re.search(r'data-task-type="echo".*?</table>', page, re.S)
        assert table
        assert 'data-agent-id="echo"' in table.group(0)
        assert "95% interval" in page
        predicted = (await http.get("/learning", params={"task_type": "echo"})).text
        assert text_of(predicted, "predicted-agent") == "echo"
        unknown = (await http.get("/learning", params={"task_type": "no-such-type"})).text
        assert "no registered agent can take tasks" in text_of(unknown, "predict-error")
        assert (await http.post("/learning/cycles")).status_code == 403  # no CSRF token
        response = await http.post("/learning/cycles", data={"csrf": csrf_of(page)})
        assert response.status_code == 303
        assert "started" in response.headers["location"]
        for _ in range(200):
            cycles = await im.store.list_cycles(5)
            if cycles and cycles[0].status != "running":
                break
            await asyncio.sleep(0.05)
        assert cycles
        assert cycles[0].status == "completed"
        after = (await http.get("/learning")).text
        assert f'data-cycle-id="{cycles[0].cycle_id}"' in after
        series = (await http.get("/ui/learning/models")).json()
        assert len(series["t"]) == len(series["auc"]) == len(series["brier"])
        assert len(series["t"]) >= 1  # the cycle trained (or fell back) and stored a report


async def test_learning_charts_the_routers_decisions_for_the_busiest_type(im: Imperium) -> None:
    await echo(im, 3)
    async with browser(im) as http:
        page = (await http.get("/learning")).text
        assert '<option value="echo" selected>echo</option>' in page  # the busiest
        assert 'data-series="/ui/learning/decisions"' in page
        assert "which agent the router chose" in page.lower()
        series = (await http.get("/ui/learning/decisions", params={"task_type": "echo"})).json()
        assert len(series["t"]) == 61  # 60 buckets over 24 h and the one under way
        assert [a["agent_id"] for a in series["agents"]] == ["echo"]
        (agent,) = series["agents"]
        assert sum(agent["attempts"]) == 3
        assert {r for r in agent["success_rate"] if r is not None} == {1.0}
        params = {"task_type": "translate", "hours": "168"}
        other = (await http.get("/ui/learning/decisions", params=params)).json()
        assert other["agents"] == []
        assert other["bucket_seconds"] == 168 * 3600 / 60
        assert (await http.get("/ui/learning/decisions")).status_code == 422
        chosen = (await http.get("/learning", params={"decisions_type": "translate"})).text
        assert '<option value="translate" selected>translate</option>' in chosen


async def test_teams_and_their_combinations_are_listed(im: Imperium) -> None:
    await im.agents.register(_agent("echo-2"))
    run = await im.teams.submit(TeamRequest(type="echo", members=("echo", "echo-2"), payload=1))
    for task_id in run.task_ids:
        await asyncio.wait_for(im.engine.wait_for(task_id), WAIT)
    await im.teams.settle_one(run.team_id)
    async with browser(im) as http:
        page = (await http.get("/teams")).text
    row = re.search(rf'data-team-id="{run.team_id}".*?</tr>', page, re.S)
    assert row
    assert "succeeded" in row.group(0)
    combinations = re.search(r'id="combinations".*?</table>', page, re.S)
    assert combinations
    assert "echo, echo-2" in combinations.group(0)


def _agent(agent_id: str) -> AgentSpec:
    return AgentSpec(id=agent_id, type="echo", capabilities=frozenset({"echo", agent_id}))


async def test_custody_shows_standings_and_each_check(im: Imperium) -> None:
    answerer = AgentSpec(id="answerer", type="echo", capabilities=frozenset({"answer"}))
    await im.agents.register(answerer)
    run = await im.custody.test("answerer")  # it answers with the question: graded, failed
    async with browser(im) as http:
        page = (await http.get("/custody")).text
        agents = (await http.get("/agents")).text
    standing = re.search(r'data-agent-id="answerer".*?</tr>', page, re.S)
    assert standing
    assert f"<td>{run.record.xp}</td>" in standing.group(0)
    result = re.search(rf'data-result-id="{run.result.result_id}".*?</article>', page, re.S)
    assert result
    checks = run.result.grader_output["checks"]
    assert isinstance(checks, list)
    assert result.group(0).count("<tr>") == len(checks) + 1  # a row per check, and the head
    row = re.search(r'data-agent-id="answerer".*?</tr>', agents, re.S)
    assert row
    assert f"level {run.record.level} · {run.record.xp} XP" in row.group(0)


async def _proposal(im: Imperium, proposal_id: str = "p-1") -> str:
    title = f"Cache the answers ({proposal_id})"
    proposal = new_proposal(proposal_id, "echo", title, "why", None, None, [], 1.0)
    await im.store.insert_proposal(proposal)
    return proposal_id


async def test_proposals_are_approved_and_applied_as_the_dashboard(im: Imperium) -> None:
    proposal_id = await _proposal(im)
    async with browser(im) as http:
        page = (await http.get("/proposals")).text
        assert (await http.post(f"/proposals/{proposal_id}/approve")).status_code == 403
        approved = await http.post(
            f"/proposals/{proposal_id}/approve", data={"csrf": csrf_of(page), "note": "fine"}
        )
        assert approved.status_code == 303
        stored = await im.store.get_proposal(proposal_id)
        assert stored is not None
        assert stored.status is ProposalStatus.APPROVED
        assert (stored.decided_by, stored.decision_note) == ("dashboard (no keys in force)", "fine")
        again = await http.post(f"/proposals/{proposal_id}/reject", data={"csrf": csrf_of(page)})
        shown = (await http.get(again.headers["location"])).text
        assert "it can become applied" in shown  # the lifecycle's refusal, shown
        await http.post(f"/proposals/{proposal_id}/apply", data={"csrf": csrf_of(page)})
        stored = await im.store.get_proposal(proposal_id)
        assert stored is not None
        assert stored.status is ProposalStatus.APPLIED
        filtered = (await http.get("/proposals", params={"status": "pending"})).text
        assert f'data-proposal-id="{proposal_id}"' not in filtered


async def test_with_keys_proposals_are_decided_as_the_key_and_read_only_cannot(
    im: Imperium,
) -> None:
    rejected, refused = await _proposal(im, "p-1"), await _proposal(im, "p-2")
    admin_key, admin = await im.keys.create("admin", Role.ADMIN)
    _, reader = await im.keys.create("reader", Role.READ_ONLY)
    async with browser(im) as http:
        await sign_in(http, reader)
        for path in ("/proposals", "/learning", "/agents", "/workflows", "/custody", "/teams"):
            page = (await http.get(path)).text
            assert 'method="post"' not in main_of(page), path  # no write form
        page = (await http.get("/proposals")).text
        csrf = csrf_of(page)  # the sign-out form's
        for url in (f"/proposals/{refused}/reject", "/learning/cycles", "/agents"):
            forced = await http.post(url, data={"csrf": csrf, "agent_id": "x", "type": "echo"})
            assert forced.status_code == 403, url
    assert await im.store.get_agent("x") is None
    assert not await im.store.list_cycles(5)
    async with browser(im) as http:
        await sign_in(http, admin)
        page = (await http.get("/proposals")).text
        done = await http.post(f"/proposals/{rejected}/reject", data={"csrf": csrf_of(page)})
        assert done.status_code == 303
    stored, untouched = await im.store.get_proposal(rejected), await im.store.get_proposal(refused)
    assert stored is not None
    assert untouched is not None
    assert (stored.status, stored.decided_by) == (ProposalStatus.REJECTED, f"key:{admin_key.id}")
    assert untouched.status is ProposalStatus.PENDING


async def test_agents_are_registered_from_the_page(im: Imperium) -> None:
    await echo(im, 2)
    async with browser(im) as http:
        page = (await http.get("/agents")).text
        row = re.search(r'data-agent-id="echo".*?</tr>', page, re.S)
        assert row
        assert "<td>2</td>" in row.group(0)  # attempts
        form = {
            "agent_id": "helper",
            "type": "echo",
            "capabilities": "a, b",
            "max_concurrency": "3",
        }
        assert (await http.post("/agents", data=form)).status_code == 403  # no CSRF token
        response = await http.post("/agents", data={**form, "csrf": csrf_of(page)})
        assert response.status_code == 303
        assert "registered" in response.headers["location"]
        twice = await http.post("/agents", data={**form, "csrf": csrf_of(page)})
        assert "not registered" in (await http.get(twice.headers["location"])).text
        bad = {**form, "agent_id": "a/b", "csrf": csrf_of(page)}
        shown = (await http.get((await http.post("/agents", data=bad)).headers["location"])).text
        assert "not registered: agent_id" in shown
    stored = await im.store.get_agent("helper")
    assert stored is not None
    assert (stored.type, stored.capabilities, stored.max_concurrency) == (
        "echo", frozenset({"a", "b"}), 3,
    )  # fmt: skip


async def test_the_events_page_holds_the_live_list(im: Imperium) -> None:
    async with browser(im) as http:
        page = (await http.get("/events")).text
    assert re.search(r'<ol id="live-events"[^>]*data-max="200"', page)  # the script fills it
