"""/api/v1/l20: prioritize, strategize, coordinate, optimize-resources and metrics over a
running engine (SQLite and PostgreSQL), and the input each refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import problem, register, submit, until_ended

FAILS = "tests.support.agents:always_fails"
HANGS = "tests.support.agents:hangs"
LONG_AGO = "2020-01-01T00:00:00Z"  # a deadline long past, a creation time long ago


async def post(http: httpx.AsyncClient, path: str, body: Any = None, **params: Any) -> Any:
    response = await http.post(f"/api/v1/l20/{path}", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------------- prioritize
async def test_prioritize_ranks_with_the_engine_score(client: httpx.AsyncClient) -> None:
    tasks = [
        {"id": "report", "type": "write", "priority": "low", "note": {"keep": [1, 2]}},
        {"id": "fix", "priority": "critical"},
        {"id": "deploy", "priority": 2, "dependencies": ["report"]},
        {"id": "late", "priority": "medium", "deadline": LONG_AGO},
        {"id": "heavy", "priority": "high", "resources": {"cpu": 8, "memory": 8192, "gpu": 1}},
    ]
    body = await post(client, "prioritize", {"tasks": tasks})
    ranked = body["prioritized_tasks"]
    assert body["total_tasks"] == 5
    got = [(t["id"], t["priority_score"], t["priority_level"]) for t in ranked]
    assert got == [
        ("fix", 97.0, "critical"),  # 90 + unknown duration 2 + no resources 5
        ("deploy", 77.0, "high"),  # 70 + 2 + 5
        ("heavy", 72.0, "high"),  # 70 + 2 + (5 - 8/4 - 1*2 - 8192/8192)
        ("late", 67.0, "normal"),  # 40 + overdue 20 + 2 + 5
        ("report", 28.0, "low"),  # 20 + one task depends on it + 2 + 5
    ]
    report = ranked[-1]
    assert (report["type"], report["note"], report["priority"]) == (
        "write",
        {"keep": [1, 2]},
        "low",
    )
    assert report["priority_points"]["dependents"] == 1
    assert ranked[3]["priority_points"]["deadline_urgency"] == 20


async def test_prioritize_clamps_but_keeps_the_dispatch_order(client: httpx.AsyncClient) -> None:
    tasks = [
        {"id": "newer", "priority": "critical", "created_at": "2020-01-02T00:00:00Z"},
        {"id": "older", "priority": 1, "created_at": LONG_AGO, "deadline": LONG_AGO},
        {"task_id": 7, "priority": "background"},
    ]
    ranked = (await post(client, "prioritize", {"tasks": tasks}))["prioritized_tasks"]
    assert [t.get("id", t.get("task_id")) for t in ranked] == ["older", "newer", 7]
    assert [t["priority_score"] for t in ranked[:2]] == [100.0, 100.0]  # both aged far past 100
    assert ranked[0]["priority_points"]["age"] > ranked[1]["priority_points"]["age"]
    assert (ranked[2]["priority_score"], ranked[2]["priority_level"]) == (7.0, "background")


async def test_prioritize_nothing(memory_client: httpx.AsyncClient) -> None:
    assert await post(memory_client, "prioritize", {"tasks": []}) == {
        "prioritized_tasks": [],
        "total_tasks": 0,
    }


BAD_TASKS = [
    ({"priority": "urgent"}, "priority 'urgent' is unknown", "critical, high"),
    ({"priority": 0}, "priority 0 is not a level number", "1 (critical)"),
    ({"priority": True}, "priority must be a level name or a number", "not True"),
    ({"priority": 2.5}, "body.tasks.0.priority", "not 2.5"),
    (
        {"deadline": "soon"},
        "deadline: deadline 'soon' is not an ISO time",
    ),
    ({"created_at": "+5m"}, "created_at must be epoch seconds or an ISO time"),
    ({"deadline": "+nan"}, "deadline: deadline '+nan' is not a time between the years 1 and 9999"),
    ({"deadline": "+inf"}, "deadline '+inf' is not a time between"),
    ({"deadline": "+1e308"}, "deadline '+1e308' is not a time between"),
    ({"deadline": "+-1e308s"}, "deadline '+-1e308s' is not a time between"),
    ({"deadline": 1e308}, "deadline: deadline 1e+308 is not a time between"),
    ({"created_at": -1e20}, "created_at: deadline -1e+20 is not a time between"),
    ({"resources": {"cpu": 1025}}, "body.tasks.0.resources.cpu", "less than or equal to 1024"),
    ({"resources": {"memory": 1_024_001}}, "resources.memory", "less than or equal to 1024000"),
    ({"resources": {"gpu": 65}}, "resources.gpu", "less than or equal to 64"),
    ({"resources": {"gpu": -1}}, "resources.gpu", "greater than or equal to 0"),
    ({"resources": {"disk": 5}}, "resources.disk: Extra inputs are not permitted"),
    ({"resources": {"cpu": True}}, "resources.cpu: Input should be a valid number"),
    ({"complexity": "3"}, "body.tasks.0.complexity: Input should be a valid number"),
    ({"estimated_duration": -1}, "estimated_duration", "greater than or equal to 0"),
    ({"id": "a", "task_id": "b"}, "id and task_id differ"),
    ({"dependencies": ["a"], "depends_on": ["a"]}, "dependencies or depends_on, not both"),
]


@pytest.mark.parametrize(("task", "phrases"), [(t, p) for t, *p in BAD_TASKS])
async def test_prioritize_refuses_bad_tasks(
    memory_client: httpx.AsyncClient, task: dict[str, Any], phrases: list[str]
) -> None:
    response = await memory_client.post("/api/v1/l20/prioritize", json={"tasks": [task]})
    problem(response, 422, *phrases)


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"tasks": [{}] * 10_001}, "10000"),
        ({"tasks": "all"}, "body.tasks"),
        ({}, "body.tasks: Field required"),
        ({"tasks": [], "sort": "asc"}, "body.sort: Extra inputs are not permitted"),
    ],
)
async def test_prioritize_refuses_bad_bodies(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/l20/prioritize", json=body), 422, phrase)


# ---------------------------------------------------------------------------- strategize
async def test_strategize_plans_from_the_registered_agents(client: httpx.AsyncClient) -> None:
    scanner = {"capabilities": ["code_scan"], "description": "Finds security issues in code"}
    await register(client, "scanner", "echo", **scanner)
    await register(client, "writer", "echo", capabilities=["report"])
    await client.post("/api/v1/agents/writer/pause")
    done = await submit(client, wait=20, type="code_scan")  # one recorded run to estimate from
    assert done["state"] == "succeeded"
    objective = "Scan the code, then write the report and publish a video"
    body = await post(client, "strategize", {"objective": objective, "constraints": {"budget": 5}})
    assert (body["objective"], body["constraints"]) == (objective, {"budget": 5})
    assert any("constraints are echoed but do not change the plan" in n for n in body["notes"])
    scan, report, video = body["phases"]
    assert (scan["phase_id"], scan["type"], scan["dependencies"]) == ("phase_1", "code_scan", [])
    assert (scan["agents"], scan["matched_terms"], scan["executable"]) == (
        ["scanner"],
        ["code", "scan"],
        True,
    )
    assert scan["duration_samples"] == 1
    assert isinstance(scan["estimated_duration"], float)
    assert scan["estimated_duration"] >= 0
    assert (report["type"], report["dependencies"], report["executable"]) == (
        "report",
        ["phase_1"],
        False,
    )
    assert report["unavailable_agents"] == [{"agent_id": "writer", "reason": "paused"}]
    assert report["estimated_duration"] is None
    assert (video["type"], video["capability"], video["dependencies"]) == (
        "unassigned",
        None,
        ["phase_1"],
    )
    assert "no registered agent offers this work" in video["note"]
    assert body["estimated_complexity"] == 3 + 2  # phases + dependencies
    assert body["complexity_basis"] == {
        "phases": 3,
        "dependency_edges": 2,
        "stages": 2,
        "unassigned_phases": 1,
    }
    assert body["recommended_intelligences"] == [
        {
            "agent_id": "scanner",
            "capabilities": ["code_scan"],
            "phases": ["phase_1"],
            "executions": 1,
            "success_rate": 1.0,
        }
    ]


async def test_strategize_without_history_says_so(client: httpx.AsyncClient) -> None:
    body = await post(client, "strategize", {"objective": "echo something"})
    (phase,) = body["phases"]
    assert (phase["type"], phase["estimated_duration"], phase["duration_samples"]) == (
        "echo",
        None,
        0,
    )
    assert phase["note"] == "no succeeded task of type 'echo' is recorded yet"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"objective": "x" * 1001}, "body.objective: String should have at most 1000 characters"),
        ({"objective": ""}, "body.objective"),
        ({"objective": "the and of, then a"}, "the objective has no words to plan from"),
        ({}, "body.objective: Field required"),
        ({"objective": "scan", "constraints": []}, "body.constraints"),
        ({"objective": "scan", "deadline": 5}, "body.deadline: Extra inputs are not permitted"),
    ],
)
async def test_strategize_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/l20/strategize", json=body), 422, phrase)


# ---------------------------------------------------------------------------- coordinate
async def test_coordinate_runs_domains_in_dependency_order(client: httpx.AsyncClient) -> None:
    await register(client, "research", "echo")
    await register(client, "writing", "echo")
    specs = {
        "research": {"topic": "tides"},
        "writing": {"words": 100, "depends_on": ["research"]},
    }
    body = await post(
        client, "coordinate", {"domains": ["writing", "research"], "task_specs": specs}
    )
    assert body["status"] == "completed"
    assert body["execution_order"] == ["research", "writing"]
    assert body["dependencies"] == {"writing": ["research"], "research": []}
    assert body["task_specs"] == specs
    results = {r["domain"]: r for r in body["results"]}
    assert [r["domain"] for r in body["results"]] == ["research", "writing"]
    assert results["research"]["result"] == {"topic": "tides"}
    assert results["writing"]["result"] == {"words": 100}  # depends_on is not payload
    assert {r["status"] for r in body["results"]} == {"completed"}  # the seed's word
    assert {r["task_state"] for r in body["results"]} == {"succeeded"}
    first = (await client.get(f"/api/v1/tasks/{results['research']['task_id']}")).json()
    then = (await client.get(f"/api/v1/tasks/{results['writing']['task_id']}")).json()
    assert first["finished_at"] <= then["started_at"]
    listed = await client.get(f"/api/v1/tasks?workflow_id={body['coordination_id']}")
    assert {t["id"] for t in listed.json()["items"]} == {first["id"], then["id"]}


async def test_coordinate_reports_failures_as_failures(client: httpx.AsyncClient) -> None:
    await register(client, "broken", FAILS)
    await register(client, "after", "echo")
    body = {"domains": ["broken", "after"], "task_specs": {"after": {"dependencies": ["broken"]}}}
    result = await post(client, "coordinate", body)
    assert result["status"] == "failed"
    broken, after = result["results"]
    assert (broken["domain"], broken["status"], broken["error"]) == (
        "broken",
        "failed",  # the seed's word; the task is dead: its attempts ran out
        "this agent always fails",
    )
    assert broken["task_state"] == "dead"
    assert (after["status"], after["task_state"], after["error_kind"]) == (
        "failed", "failed", "dependency_failed",
    )  # fmt: skip
    assert "result" not in broken or broken["result"] is None


async def test_coordinate_that_does_not_finish_in_time_reports_the_tasks(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "hang", HANGS)
    result = await post(client, "coordinate", {"domains": ["hang"]}, wait=0)
    assert result["status"] == "running"
    (hang,) = result["results"]
    assert hang["status"] == "running"  # the seed's word for a task still active
    assert hang["task_state"] in {"pending", "queued", "running"}
    task = (await client.get(f"/api/v1/tasks/{hang['task_id']}")).json()
    assert task["payload"] == {}
    await client.post(f"/api/v1/tasks/{hang['task_id']}/cancel")


async def test_coordinate_needs_an_agent_per_domain(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/l20/coordinate", json={"domains": ["echo", "ghost"]})
    problem(response, 409, "no registered agent offers ghost", "POST /api/v1/agents")
    assert (await client.get("/api/v1/tasks")).json()["items"] == []  # nothing was submitted


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"domains": ["echo", "echo"]}, "domain 'echo' is listed twice"),
        ({"domains": ["echo"], "task_specs": {"x": {}}}, "specs for x, which domains does not"),
        ({"domains": ["echo"], "task_specs": {"echo": {"depends_on": ["x"]}}}, "names x"),
        ({"domains": []}, "body.domains"),
        ({"domains": [""]}, "body.domains.0"),
        ({"domains": ["echo"], "task_specs": {"echo": 5}}, "body.task_specs.echo"),
    ],
)
async def test_coordinate_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/l20/coordinate", json=body), 422, phrase)


async def test_coordinate_refuses_a_cycle_and_a_long_wait(memory_client: httpx.AsyncClient) -> None:
    specs = {"echo": {"depends_on": ["b"]}, "b": {"depends_on": ["echo"]}}
    response = await memory_client.post(
        "/api/v1/l20/coordinate", json={"domains": ["echo", "b"], "task_specs": specs}
    )
    problem(response, 422, "form a cycle: echo -> b -> echo")
    response = await memory_client.post(
        "/api/v1/l20/coordinate", json={"domains": ["echo"]}, params={"wait": 61}
    )
    problem(response, 422, "query.wait", "less than or equal to 60")


# ---------------------------------------------------------------------------- resources
async def test_optimize_resources_given_everything(memory_client: httpx.AsyncClient) -> None:
    body = {
        "available_resources": {"cpu": 4, "memory": 1000, "gpu": 1},
        "pending_tasks": [
            {"id": "big", "priority": "critical", "resources": {"gpu": 2, "memory": 500}},
            {"priority": "low", "resources": {"cpu": 2}},
            {"id": "mid", "priority": "high", "resources": {"cpu": 2, "memory": 1000}},
            {"id": "last", "priority": "background", "resources": {"cpu": 1}},
        ],
    }
    result = await post(memory_client, "optimize-resources", body)
    assert result["available_resources"] == {"cpu": 4, "memory": 1000, "gpu": 1}
    assert result["task_count"] == 4
    allocations = [
        (a["task_id"], a["allocated_cpu"], a["allocated_memory"], a["allocated_gpu"])
        for a in result["allocations"]
    ]
    assert allocations == [("mid", 2, 1000, 0), ("pending_tasks[1]", 2, 0, 0)]
    big, last = result["unallocated"]
    assert big["task_id"] == "big"
    assert big["shortfalls"] == [
        {"resource": "gpu", "requested": 2, "available": 1, "short_by": 1}
    ]  # its memory would have fitted when its turn came: only gpu is named
    assert big["reason"] == "needs 2 gpu, 1 left (short by 1)"
    assert last["reason"] == "needs 1 cpu, 0 left (short by 1)"
    assert result["remaining_resources"] == {"cpu": 0, "memory": 0, "gpu": 1}
    assert result["sources"]["resources"] == result["sources"]["tasks"] == "request"


async def test_optimize_resources_from_the_engine(client: httpx.AsyncClient) -> None:
    pool = {"capabilities": ["other"], "resources": {"cpu": 8, "memory_mb": 4096}}
    await register(client, "pool", "echo", **pool)
    await register(client, "held", "echo")
    await client.post("/api/v1/agents/held/pause")  # its tasks stay queued
    ids = {}
    for level in ("normal", "critical", "high"):
        task = await submit(client, type="held", priority=level, resources={"cpu": 3})
        ids[task["id"]] = level
    result = await post(client, "optimize-resources")
    assert result["sources"] == {
        "resources": "agents",
        "tasks": "queued",
        "counted_agents": ["pool"],  # the paused agent's capacity is not counted
        "undeclared_agents": ["echo"],
    }
    assert result["available_resources"] == {"cpu": 8, "memory": 4096, "gpu": 0}
    assert [ids[a["task_id"]] for a in result["allocations"]] == ["critical", "high"]
    (missed,) = result["unallocated"]
    assert (ids[missed["task_id"]], missed["reason"]) == (
        "normal",
        "needs 3 cpu, 2 left (short by 1)",
    )
    assert any("declare no resources" in n for n in result["notes"])
    await client.post("/api/v1/agents/held/resume")


async def test_optimize_resources_takes_more_than_1000_pending_tasks(
    memory_client: httpx.AsyncClient,
) -> None:
    """Its schema takes up to 10,000; the generic 1,000-item list limit must not cut it."""
    tasks = [{"id": f"t{i}", "resources": {"cpu": 1}} for i in range(1500)]
    body = {"available_resources": {"cpu": 1000, "memory": 0, "gpu": 0}, "pending_tasks": tasks}
    result = await post(memory_client, "optimize-resources", body)
    assert (result["task_count"], len(result["allocations"])) == (1500, 1000)
    too_many: dict[str, Any] = {"pending_tasks": [{}] * 10_001}
    response = await memory_client.post("/api/v1/l20/optimize-resources", json=too_many)
    problem(response, 422, "10000")


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        (
            {"available_resources": {"cpu": 1025, "memory": 0, "gpu": 0}},
            "less than or equal to 1024",
        ),
        ({"available_resources": {"cpu": 1, "memory": -1, "gpu": 0}}, "available_resources.memory"),
        ({"available_resources": {"cpu": 1, "memory": 1, "gpu": 65}}, "less than or equal to 64"),
        (
            {"available_resources": {"cpu": 1, "memory": 1}},
            "available_resources.gpu: Field required",
        ),
        ({"available_resources": {"cpu": "4", "memory": 1, "gpu": 0}}, "valid number"),
        ({"pending_tasks": [{"priority": "soon"}]}, "pending_tasks.0.priority"),
        ({"pending_tasks": [{"resources": {"cpu": 2000}}]}, "pending_tasks.0.resources.cpu"),
        ({"tasks": []}, "body.tasks: Extra inputs are not permitted"),
    ],
)
async def test_optimize_resources_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    response = await memory_client.post("/api/v1/l20/optimize-resources", json=body)
    problem(response, 422, phrase)


# ---------------------------------------------------------------------------- metrics
async def test_metrics_count_what_happened(client: httpx.AsyncClient) -> None:
    for payload in (1, 2):
        assert (await submit(client, wait=20, type="echo", payload=payload))["state"] == "succeeded"
    await register(client, "broken", FAILS)
    dead = await submit(client, type="broken", max_attempts=1)
    assert (await until_ended(client, dead["id"]))["state"] == "dead"  # with its attempt
    await register(client, "held", "echo")
    await client.post("/api/v1/agents/held/pause")
    for level in ("high", "background"):
        await submit(client, type="held", priority=level)
    body = (await client.get("/api/v1/l20/metrics")).json()
    by_state = body["tasks"]["by_state"]
    assert (by_state["succeeded"], by_state["dead"], by_state["queued"]) == (2, 1, 2)
    assert body["tasks"]["total"] == 5
    queued = body["queued_by_priority"]
    assert queued == {"critical": 0, "high": 1, "normal": 0, "low": 0, "background": 1}
    assert body["scheduler"] == {"queued": 2, "pending": 0, "running": 0}
    assert body["agents"] == {"total": 3, "by_condition": {"active": 2, "paused": 1}}
    executions = body["executions"]
    assert (executions["succeeded"], executions["failed"], executions["total"]) == (2, 1, 3)
    assert executions["by_outcome"]["failed"] == 1
    assert executions["success_rate"] == pytest.approx(2 / 3)
    assert not {"learning_score", "learning_metrics"} & set(body)  # not invented
    await client.post("/api/v1/agents/held/resume")


# ---------------------------------------------------------------------------- documentation
SEED_ROUTES = {
    ("post", "/api/v1/l20/prioritize"),
    ("post", "/api/v1/l20/strategize"),
    ("post", "/api/v1/l20/coordinate"),
    ("post", "/api/v1/l20/optimize-resources"),
    ("get", "/api/v1/l20/metrics"),
    ("post", "/api/v1/swarm/dispatch"),
    ("get", "/api/v1/swarm/status"),
    ("get", "/api/v1/swarm/metrics"),
    ("post", "/api/v1/swarm/scale"),
    ("post", "/api/v1/swarm/optimize"),
    ("post", "/api/v1/orchestrate"),
    ("get", "/api/v1/status"),
}


async def test_the_seed_routes_are_documented(memory_client: httpx.AsyncClient) -> None:
    paths = (await memory_client.get("/openapi.json")).json()["paths"]
    for method, path in SEED_ROUTES:
        responses = paths[path][method]["responses"]
        assert "$ref" in str(responses["200"]["content"]["application/json"]["schema"])
        for code, answer in responses.items():
            if code != "200":
                assert list(answer["content"]) == ["application/problem+json"], (path, code)
    assert "get" in paths["/api/v1/health"]
