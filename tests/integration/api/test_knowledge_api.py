"""The knowledge base through the API on SQLite and PostgreSQL: a local directory as a
trusted source, ingested, searched and listed; an agent's task that searches it, recorded
on the attempt; the learning impact; and refusals as problems."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, register, submit, until_ended

NOTES = {
    "leases.md": "# Leases\n\nA lease expires unless the worker renews it with a heartbeat.",
    "pools.md": "# Connection pools\n\nA pool bounds how many database connections are open.",
    "asyncio.txt": "Asyncio task groups\nA TaskGroup cancels the other tasks when one fails.",
}


def notes(tmp_path: Path) -> Path:
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


async def add_files_source(client: httpx.AsyncClient, path: Path) -> None:
    body = {"id": "notes", "kind": "files", "url": str(path), "trust": 0.9}
    response = await client.post("/api/v1/knowledge/sources", json=body)
    assert response.status_code == 201, response.text


async def test_a_local_source_ingested_searched_and_listed(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await add_files_source(client, notes(tmp_path))
    ingested = (await client.post("/api/v1/knowledge/ingest", json={})).json()
    assert [(r["source"], r["status"], r["stored"]) for r in ingested["items"]] == [
        ("notes", "ok", 3)]  # fmt: skip
    again = (await client.post("/api/v1/knowledge/ingest", json={"source_ids": ["notes"]})).json()
    assert (again["stored"], again["items"][0]["merged"]) == (0, 3)  # nothing new

    found = (await client.get("/api/v1/knowledge/search", params={"q": "lease heartbeat"})).json()
    assert found["items"][0]["title"] == "Leases"
    assert found["items"][0]["url"].startswith("file://")
    docs = (await client.get("/api/v1/knowledge/documents")).json()
    assert docs["total"] == 3
    assert "text" not in docs["items"][0]
    one = (await client.get(f"/api/v1/knowledge/documents/{docs['items'][0]['id']}")).json()
    assert one["text"]
    assert one["content_hash"]
    log = (await client.get("/api/v1/knowledge/ingests")).json()["items"]
    assert [r["stored"] for r in log] == [0, 3]
    shown = (await client.get("/api/v1/knowledge/sources/notes")).json()
    assert shown["trust"] == 0.9
    assert shown["state"]["last_run_at"]


async def test_refusals_are_problems(client: httpx.AsyncClient, tmp_path: Path) -> None:
    await add_files_source(client, tmp_path)
    sources = "/api/v1/knowledge/sources"
    twice = {"id": "notes", "kind": "files", "url": str(tmp_path)}
    problem(await client.post(sources, json=twice), 409, "notes")
    bad_id = {"id": "Bad Id!", "kind": "rss", "url": "https://x/f"}
    problem(await client.post(sources, json=bad_id), 422)
    problem(await client.post(sources, json={"id": "x", "kind": "github", "url": "ftp://x"}), 422)
    secret = {"id": "gh", "kind": "github", "params": {"token_env": "DATABASE_URL"}}
    problem(await client.post(sources, json=secret), 422, "IMPERIUM_MODEL_KEY_ENVS")
    elsewhere = {"id": "gh", "kind": "github", "url": "https://evil.example/api",
                 "params": {"token_env": "GITHUB_API_KEY"}}  # fmt: skip
    problem(await client.post(sources, json=elsewhere), 422, "only to api.github.com")
    seed = "/api/imperium/trusted-sources"
    huge = {"id": "q", "url": "https://blog.example.com/feed", "daily_quota": 10**12}
    problem(await client.post(seed, json=huge), 422, "daily_quota")
    problem(
        await client.post(seed, json={**huge, "daily_quota": 5, "allowed_domains": ["x" * 300]}),
        422,
    )
    se = {"id": "se", "kind": "stackexchange", "params": {"key_env": "IMPERIUM_API_KEYS"}}
    problem(await client.post(sources, json=se), 422, "IMPERIUM_MODEL_KEY_ENVS")
    problem(await client.post("/api/v1/knowledge/ingest", json={"source_ids": ["none"]}), 404)
    problem(await client.get("/api/v1/knowledge/search", params={"q": "x", "k": 0}), 422)
    problem(await client.get("/api/v1/knowledge/documents/999"), 404)
    problem(await client.delete("/api/v1/knowledge/sources/none"), 404)
    unknown_task = {"query": "x", "task_id": "nope", "attempt": 1}
    problem(await client.post("/api/v1/knowledge/search", json=unknown_task), 404)
    problem(await client.post("/api/v1/knowledge/search", json={"query": "x", "task_id": "t"}),
            422, "together")  # fmt: skip


async def test_the_api_refuses_a_source_outside_the_roots(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    sources = "/api/v1/knowledge/sources"
    for url in ("/proc/self/environ", "/etc", "file:///proc/self/environ"):
        for kind in ("files", "rss"):
            answer = await client.post(sources, json={"id": "x", "kind": kind, "url": url})
            assert answer.status_code == 422, (url, kind, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
    inside = await client.post(sources, json={"id": "n", "kind": "files", "url": str(tmp_path)})
    assert inside.status_code == 201, inside.text


async def test_an_agent_uses_knowledge_and_the_impact_counts_it(
    client: httpx.AsyncClient, im: Imperium, tmp_path: Path
) -> None:
    await add_files_source(client, notes(tmp_path))
    await client.post("/api/v1/knowledge/ingest", json={})
    await register(client, "researcher", "tests.support.knowledge_agents:researcher")
    await register(client, "plain", "tests.support.knowledge_agents:plain")
    ids = []
    for fail in (False, False, True):
        task = await submit(client, type="answer", capabilities=["researcher"],
                            payload={"query": "connection pools", "fail": fail})  # fmt: skip
        ids.append(task["id"])
    for fail in (False, True, True):
        task = await submit(client, type="answer", capabilities=["plain"], payload={"fail": fail})
        ids.append(task["id"])
    ended = [await until_ended(client, task_id) for task_id in ids]
    assert ended[0]["state"] == "succeeded"
    assert "pools.md" in ended[0]["result"]["urls"][0]

    uses = (await client.get(f"/api/v1/knowledge/uses/{ids[0]}")).json()["items"]
    assert [(u["attempt"], u["agent_id"], u["query"]) for u in uses] == [
        (1, "researcher", "connection pools")]  # fmt: skip
    assert len(uses[0]["document_ids"]) >= 1

    impact = (await client.get("/api/v1/knowledge/impact")).json()["items"]
    assert [i["task_type"] for i in impact] == ["answer"]
    assert impact[0]["with_knowledge"]["attempts"] == 3
    assert impact[0]["with_knowledge"]["succeeded"] == 2
    assert impact[0]["without_knowledge"] == {**impact[0]["without_knowledge"],
                                              "attempts": 3, "succeeded": 1}  # fmt: skip
    assert "insufficient data (n=3 with knowledge, 3 without" in impact[0]["insight"]


async def test_the_seed_routes(client: httpx.AsyncClient, tmp_path: Path) -> None:
    feed = tmp_path / "feed.rss"
    from tests.support.knowledge_server import RSS

    feed.write_text(RSS)
    source = {"name": "blog", "url": feed.as_uri(), "trust_level": 0.7}
    added = await client.post("/api/imperium/trusted-sources", json=source)
    assert added.status_code == 200
    assert added.json()["source"]["trust"] == 0.7
    listed = (await client.get("/api/imperium/trusted-sources")).json()
    assert [s["id"] for s in listed["sources"]] == ["blog"]
    assert listed["count"] == 1

    topics = await client.post("/api/imperium/internet-learning/topics",
                               json={"topics": ["asyncio", "sqlalchemy"]})  # fmt: skip
    assert topics.json()["topics"] == ["asyncio", "sqlalchemy"]
    await client.post("/api/imperium/internet-learning/topics",
                      json={"topics": ["leases"], "agent_id": "echo"})  # fmt: skip
    shown = (await client.get("/api/imperium/internet-learning/topics")).json()
    assert shown["topics"] == ["asyncio", "sqlalchemy"]
    assert shown["agent_topics"] == {"echo": ["leases"]}

    triggered = (await client.post("/api/imperium/internet-learning/trigger")).json()
    assert triggered["status"] == "success"
    assert triggered["results_stored"] == 2
    by_agent = (await client.post("/api/imperium/internet-learning/agent/echo")).json()
    assert by_agent["topics"] == ["leases"]
    assert by_agent["results_stored"] == 0
    problem(await client.post("/api/imperium/internet-learning/agent/nobody"), 404)
    log = (await client.get("/api/imperium/internet-learning/log")).json()
    assert log["count"] == 2
    assert log["logs"][0]["source"] == "blog"

    interval = (await client.get("/api/imperium/internet-learning/interval")).json()
    assert interval["interval_seconds"] == 1800.0
    assert interval["interval_minutes"] == 30.0
    changed = await client.post("/api/imperium/internet-learning/interval",
                                json={"interval_minutes": 60})  # fmt: skip
    assert changed.json()["interval_seconds"] == 3600.0
    problem(await client.post("/api/imperium/internet-learning/interval",
                              json={"interval_seconds": 5}), 422, "60 seconds")  # fmt: skip

    results = "/api/imperium/persistence/internet-learning-result"
    found = {"url": "https://elsewhere/x", "title": "Found",
             "content": "a result found by a client", "source": "blog"}  # fmt: skip
    result = await client.post(results, json=found)
    assert result.json()["stored"] == 1
    mirrored = {
        "url": "https://mirror/x",
        "title": "Found",
        "content": "A result, found by a client!",
    }
    copy = await client.post(results, json=mirrored)
    assert (copy.json()["stored"], copy.json()["merged"]) == (0, 1)
    for unsafe in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>"):
        refused = await client.post(results, json={**found, "url": unsafe})
        problem(refused, 422, "url must be an http(s) link")

    impact = (await client.get("/api/imperium/internet-learning/impact")).json()
    assert impact["impact"] == []
    assert impact["documents"] == 3

    removed = await client.delete("/api/imperium/trusted-sources", params={"source_id": "blog"})
    assert removed.status_code == 200
    problem(await client.delete("/api/imperium/trusted-sources"), 422)
    gone = await client.delete("/api/imperium/trusted-sources", params={"source_id": "blog"})
    problem(gone, 404)


async def test_a_remote_worker_searches_through_the_api(im: Imperium, tmp_path: Path) -> None:
    from imperium.agents.base import TaskContext
    from imperium.domain.models import AgentSpec
    from imperium.domain.specs import TaskSpec
    from imperium.interfaces.api import create_app
    from imperium.worker import Worker

    async def far_researcher(ctx: TaskContext) -> list[str]:
        return [hit.title for hit in await ctx.knowledge.search("task group cancels", 2)]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(im)),
                                 base_url="http://127.0.0.1") as client:  # fmt: skip
        await add_files_source(client, notes(tmp_path))
        await client.post("/api/v1/knowledge/ingest", json={})
    await im.agents.register(AgentSpec(id="far", type="remote", capabilities=frozenset({"job"})))
    transport = httpx.ASGITransport(app=create_app(im))
    worker = Worker("http://127.0.0.1", "far", far_researcher, lease_wait=1, transport=transport)
    running = asyncio.create_task(worker.run())
    task = await im.engine.submit(TaskSpec(type="job", max_attempts=1))
    done = await asyncio.wait_for(im.engine.wait_for(task.id), timeout=20)
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert done.result == ["Asyncio task groups"]
    [use] = await im.knowledge.store.uses_for(task.id)
    assert (use.attempt, use.agent_id, use.task_type) == (1, "far", "job")


async def test_a_remote_worker_with_an_agent_key_searches_its_own_attempts(
    im: Imperium, tmp_path: Path
) -> None:
    """With keys in force: an agent key may search, and record a search only for its own
    agent's attempts (the agent taken from the key)."""
    from imperium.agents.base import TaskContext
    from imperium.domain.auth import Role
    from imperium.domain.specs import TaskSpec
    from imperium.interfaces.api import create_app
    from imperium.worker import Worker

    _, admin = await im.keys.create("admin", Role.ADMIN)
    _, far_key = await im.keys.create("far", Role.AGENT, "far", ("job",))
    _, other_key = await im.keys.create("other", Role.AGENT, "other", ("job",))
    seen: list[tuple[str, int]] = []

    async def far_researcher(ctx: TaskContext) -> list[str]:
        seen.append((ctx.task_id, ctx.attempt))
        return [hit.title for hit in await ctx.knowledge.search("task group cancels", 2)]

    app = create_app(im)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:  # fmt: skip
        client.headers["authorization"] = f"Bearer {admin}"
        await add_files_source(client, notes(tmp_path))
        await client.post("/api/v1/knowledge/ingest", json={})
        transport = httpx.ASGITransport(app=app)
        worker = Worker("http://127.0.0.1", "far", far_researcher, lease_wait=1,
                        capabilities=["job"], api_key=far_key, transport=transport)  # fmt: skip
        running = asyncio.create_task(worker.run())
        task = await im.engine.submit(TaskSpec(type="job", max_attempts=1))
        done = await asyncio.wait_for(im.engine.wait_for(task.id), timeout=20)
        worker.stop()
        await asyncio.wait_for(running, timeout=10)
        assert done.result == ["Asyncio task groups"], done.error_message
        [use] = await im.knowledge.store.uses_for(task.id)
        assert (use.attempt, use.agent_id) == (1, "far")

        far = {"authorization": f"Bearer {far_key}"}
        other = {"authorization": f"Bearer {other_key}"}
        search = "/api/v1/knowledge/search"
        plain = await client.get(search, params={"q": "lease"}, headers=other)
        assert plain.status_code == 200, plain.text
        assert (await client.post(search, json={"query": "lease"}, headers=other)).is_success
        not_its = {"query": "lease", "task_id": task.id, "attempt": 1}
        problem(await client.post(search, json=not_its, headers=other), 403, "own attempts")
        posing = {**not_its, "agent_id": "far"}
        problem(await client.post(search, json=posing, headers=other), 403, "agent 'far'")
        problem(await client.post(search, json={**not_its, "attempt": 2}, headers=far), 403)
        mine = await client.post(search, json=not_its, headers=far)  # agent from the key
        assert mine.status_code == 200, mine.text
    uses = await im.knowledge.store.uses_for(task.id)
    assert [(u.attempt, u.agent_id) for u in uses] == [(1, "far"), (1, "far")]


async def test_a_learning_cycle_reports_the_impact_per_task_type(
    client: httpx.AsyncClient, im: Imperium, tmp_path: Path
) -> None:
    await add_files_source(client, notes(tmp_path))
    await client.post("/api/v1/knowledge/ingest", json={})
    await register(client, "researcher", "tests.support.knowledge_agents:researcher")
    await register(client, "plain", "tests.support.knowledge_agents:plain")
    ids = []
    for n in range(10):  # with knowledge 9 of 10 succeed, without 3 of 10
        for agent, fails in (("researcher", n == 0), ("plain", n >= 3)):
            task = await submit(client, type="answer", capabilities=[agent],
                                payload={"query": "leases", "fail": fails})  # fmt: skip
            ids.append(task["id"])
    for task_id in ids:
        await until_ended(client, task_id)
    cycle = await im.learner.run_cycle()
    insights = await im.store.list_insights(50, cycle_id=cycle.cycle_id)
    [found] = [i for i in insights if i.insight_type.value == "knowledge"]
    assert found.task_type == "answer"
    assert found.sample_size == 20
    assert found.description == (
        "answer: attempts that used knowledge succeed 90% vs 30% without (n=10 vs 10)"
    )
    assert 0.99 < found.confidence <= 1.0  # 1 - p of the two-proportion z-test


async def test_out_of_range_ids_and_urls_are_422s(client: httpx.AsyncClient) -> None:
    """Each of these was a 500: an offset or a document id beyond a database integer, an
    attempt number beyond one, and a URL with an unclosed IPv6 bracket."""
    docs = "/api/v1/knowledge/documents"
    for offset in (10**9 + 1, 2**63, 10**20):
        problem(await client.get(docs, params={"offset": offset}), 422, "query.offset")
    assert (await client.get(docs, params={"offset": 10**9})).json()["items"] == []
    for document_id in (2**31, 2**63, 10**20):
        problem(await client.get(f"{docs}/{document_id}"), 422, "path.document_id")
    problem(await client.get(f"{docs}/{2**31 - 1}"), 404, "no document")
    task = (await client.post("/api/v1/tasks", json={"type": "echo"})).json()["id"]
    for attempt in (2**31, 2**63):
        problem(await client.post("/api/v1/knowledge/search",
                                  json={"query": "x", "task_id": task, "attempt": attempt}),
                422, "body.attempt")  # fmt: skip
    bracket = {"id": "v6", "kind": "rss", "url": "http://[::1"}
    problem(await client.post("/api/v1/knowledge/sources", json=bracket), 422,
            "cannot be read as a URL")  # fmt: skip
    seed = {"id": "v6", "url": "https://[::1/feed"}
    problem(await client.post("/api/imperium/trusted-sources", json=seed), 422,
            "cannot be read as a URL")  # fmt: skip
