"""Input the API refuses: always a problem response saying what to fix, never a 500.

Parsing a request does not depend on the database, so these run on the in-memory stores; the
refusals that need the database are in the resource modules.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

from tests.integration.api.conftest import problem


def case(method: str, path: str, body: Any, status: int, *phrases: str, raw: bool = False) -> Any:
    return pytest.param(method, path, body, raw, status, phrases, id=f"{method} {path} {body!r}")


CASES = [
    # malformed JSON and bodies that are not objects
    case("POST", "/api/v1/tasks", b'{"type": ', 422, "JSON decode error", raw=True),
    case("POST", "/api/v1/tasks", b"", 422, "body: Field required", raw=True),
    case("POST", "/api/v1/tasks", ["echo"], 422, "body: Input should be a valid dictionary"),
    case("POST", "/api/v1/workflows", b"{tasks: []}", 422, "JSON decode error", raw=True),
    case("POST", "/api/v1/agents", b"not json", 422, "JSON decode error", raw=True),
    case("PATCH", "/api/v1/agents/echo", b"{", 422, "JSON decode error", raw=True),
    case("POST", "/api/v1/tasks/x/retry", b"{", 422, "JSON decode error", raw=True),
    # tasks: missing, wrongly typed, out of range and unknown fields
    case("POST", "/api/v1/tasks", {}, 422, "body.type: Field required"),
    case("POST", "/api/v1/tasks", {"type": 5}, 422, "body.type: Input should be a valid string"),
    case("POST", "/api/v1/tasks", {"type": ""}, 422, "body.type"),
    case("POST", "/api/v1/tasks", {"type": "echo", "priorty": "high"}, 422,
         "body.priorty: Extra inputs are not permitted"),
    case("POST", "/api/v1/tasks", {"type": "echo", "priority": "urgent"}, 422,
         "body.priority", "critical, high, normal, low, background"),
    case("POST", "/api/v1/tasks", {"type": "echo", "max_attempts": "3"}, 422,
         "body.max_attempts: Input should be a valid integer"),
    case("POST", "/api/v1/tasks", {"type": "echo", "max_attempts": 101}, 422,
         "body.max_attempts", "less than or equal to 100"),
    case("POST", "/api/v1/tasks", {"type": "echo", "timeout": 0}, 422, "body.timeout"),
    case("POST", "/api/v1/tasks", {"type": "echo", "resources": {"cpu": -1}}, 422,
         "body.resources", "finite number >= 0"),
    case("POST", "/api/v1/tasks", {"type": "echo", "deadline": "soon"}, 422,
         "deadline 'soon' is not an ISO time"),
    case("POST", "/api/v1/tasks", {"type": "echo", "deadline": "+5y"}, 422,
         "must look like +30s, +5m, +2h"),
    case("POST", "/api/v1/tasks", b'{"type": "echo", "deadline": Infinity}', 422,
         "deadline must be a finite number", raw=True),
    case("POST", "/api/v1/tasks", {"type": "echo", "payload": 10**30}, 422,
         "the payload cannot be stored as JSON"),
    case("POST", "/api/v1/tasks?wait=61", {"type": "echo"}, 422,
         "query.wait", "less than or equal to 60"),
    case("POST", "/api/v1/tasks?wait=-1", {"type": "echo"}, 422, "query.wait"),
    case("POST", "/api/v1/tasks?wait=soon", {"type": "echo"}, 422, "query.wait"),
    case("POST", "/api/v1/tasks?wait=nan", {"type": "echo"}, 422, "query.wait", "finite"),
    # task lists and events
    case("GET", "/api/v1/tasks?limit=0", None, 422, "query.limit"),
    case("GET", "/api/v1/tasks?limit=1001", None, 422, "query.limit", "1000"),
    case("GET", "/api/v1/tasks?limit=ten", None, 422, "query.limit"),
    case("GET", "/api/v1/tasks?offset=-1", None, 422, "query.offset"),
    case("GET", "/api/v1/tasks?offset=99999999999999999999999", None, 422, "query.offset"),
    case("GET", "/api/v1/tasks/x/events?limit=0", None, 422, "query.limit"),
    # retry
    case("POST", "/api/v1/tasks/x/retry", {"attempts": 0}, 422, "body.attempts"),
    case("POST", "/api/v1/tasks/x/retry", {"attempts": 101}, 422, "body.attempts"),
    case("POST", "/api/v1/tasks/x/retry", {"attempts": "two"}, 422, "body.attempts"),
    case("POST", "/api/v1/tasks/x/retry", {"attempts": 1, "now": True}, 422, "body.now"),
    # workflows
    case("POST", "/api/v1/workflows", {}, 422, "body.tasks: Field required"),
    case("POST", "/api/v1/workflows", {"tasks": []}, 422, "body.tasks", "at least 1"),
    case("POST", "/api/v1/workflows", {"tasks": [{"type": "echo"}]}, 422,
         "workflow task #1 has no name"),
    case("POST", "/api/v1/workflows", {"tasks": [{"name": "a", "type": "echo", "x": 1}]}, 422,
         "body.tasks.0.x: Extra inputs are not permitted"),
    case("POST", "/api/v1/workflows", {"tasks": [{"name": "a", "type": "echo"}], "x": 1}, 422,
         "body.x"),
    case("POST", "/api/v1/workflows",
         {"tasks": [{"name": "a", "type": "echo"}, {"name": "a", "type": "echo"}]}, 422,
         "'a' is used twice"),
    case("POST", "/api/v1/workflows",
         {"tasks": [{"name": "a", "type": "echo", "depends_on": ["a"]}]}, 422,
         "'a' depends on itself"),
    case("POST", "/api/v1/workflows",
         {"tasks": [{"name": "a", "type": "echo", "depends_on": ["b"]}]}, 422,
         "depends on unknown task(s) b"),
    case("POST", "/api/v1/workflows",
         {"tasks": [{"name": "a", "type": "echo", "deadline": "later"}]}, 422,
         "the workflow is invalid", "deadline 'later'"),
    # agents
    case("POST", "/api/v1/agents", {}, 422, "body.agent_id: Field required",
         "body.type: Field required"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "priority": "urgent"},
         422, "body.priority", "'high', 'medium' or 'low'"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "max_concurrency": 0},
         422, "body.max_concurrency"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "max_concurrency": "2"},
         422, "body.max_concurrency: Input should be a valid integer"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "resources": {"cpu": -2}},
         422, "body.resources.cpu"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "config": [1]},
         422, "body.config"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "capabilities": "x"},
         422, "body.capabilities"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "capabilities": [" "]},
         422, "capabilities must be non-empty strings"),
    case("POST", "/api/v1/agents",
         {"agent_id": "a", "type": "echo", "config": {"autoscale": {"min": 5, "max": 2}}},
         422, "autoscale needs 1 <= min <= max"),
    case("POST", "/api/v1/agents",
         {"agent_id": "a", "type": "echo", "config": {"autoscale": {"min": 1, "max": 2, "x": 1}}},
         422, "unknown autoscale keys: x"),
    case("POST", "/api/v1/agents", {"agent_id": "a", "type": "echo", "status": "active"},
         422, "body.status: Extra inputs are not permitted"),
    case("POST", "/api/v1/agents", {"agent_id": "a/b", "type": "echo"}, 422,
         "must not contain '/'"),
    case("POST", "/api/v1/agents", {"agent_id": " a", "type": "echo"}, 422,
         "without surrounding spaces"),
    case("PATCH", "/api/v1/agents/echo", {}, 422, "nothing to change", "capabilities"),
    case("PATCH", "/api/v1/agents/echo", {"type": "other"}, 422,
         "body.type: Extra inputs are not permitted"),
    # deadlines: not NaN, not infinite, not past the year 9999
    *(case("POST", "/api/v1/tasks", {"type": "echo", "deadline": d}, 422,
           f"deadline '{d}' is not a time between the years 1 and 9999")
      for d in ("+nan", "+inf", "+-inf", "+1e308", "+1e300h")),
    case("POST", "/api/v1/tasks", {"type": "echo", "deadline": 1e308}, 422,
         "deadline 1e+308 is not a time between the years 1 and 9999"),
    case("POST", "/api/v1/tasks", {"type": "echo", "deadline": -1e20}, 422,
         "is not a time between the years 1 and 9999"),
    case("POST", "/api/v1/tasks", {"type": "echo", "deadline": "0001-01-01T00:00:00"}, 422,
         "is not an ISO time"),
    case("PATCH", "/api/v1/agents/echo", {"priority": None}, 422,
         "body.priority", "cannot be null"),
    case("PATCH", "/api/v1/agents/echo", {"capabilities": []}, 422, "body.capabilities"),
    case("PATCH", "/api/v1/agents/echo", {"max_concurrency": 100_001}, 422,
         "body.max_concurrency"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "raw", "status", "phrases"), CASES)
async def test_bad_input_is_a_problem(
    memory_client: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    raw: bool,
    status: int,
    phrases: tuple[str, ...],
) -> None:
    if raw:
        headers = {"content-type": "application/json"}
        response = await memory_client.request(method, path, content=body, headers=headers)
    elif body is None:
        response = await memory_client.request(method, path)
    else:
        response = await memory_client.request(method, path, json=body)
    problem(response, status, *phrases)


async def test_a_body_sent_without_a_json_content_type(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.post(
        "/api/v1/tasks", content=b'{"type": "echo"}', headers={"content-type": "text/plain"}
    )
    problem(response, 422, "body: Input should be a valid dictionary")


async def test_invalid_fields_are_listed_one_by_one(memory_client: httpx.AsyncClient) -> None:
    body = {"type": 1, "max_attempts": 0, "extra": True}
    found = problem(await memory_client.post("/api/v1/tasks", json=body), 422)
    assert {e["where"] for e in found["errors"]} == {"body.type", "body.max_attempts", "body.extra"}
    assert all(e["message"] for e in found["errors"])


FIELDS = [
    "type", "payload", "priority", "deadline", "timeout", "max_attempts", "resources",
    "depends_on", "agent", "name", "tasks", "agent_id", "capabilities", "max_concurrency",
    "config", "description", "attempts",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["echo", "+5m", "high", "2026-01-01T00:00:00Z", "a"])
)
KEYS = st.sampled_from(FIELDS) | st.text(max_size=10)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=15,
)
BODIES = st.dictionaries(KEYS, JSON_VALUES, max_size=6) | JSON_VALUES


def sample(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    drawn: list[Any] = []

    @hypothesis.settings(max_examples=count, derandomize=True, database=None)
    @hypothesis.given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


VALID = [
    ("POST", "/api/v1/tasks", {"type": "echo"}),
    ("POST", "/api/v1/workflows", {"name": "a", "type": "echo"}),  # the workflow's one task
    ("POST", "/api/v1/agents", {"agent_id": "agent", "type": "echo"}),
    ("PATCH", "/api/v1/agents/echo", {"description": "d"}),
    ("POST", "/api/v1/tasks/nope/retry", {"attempts": 1}),
]


async def test_no_body_gives_a_server_error(memory_client: httpx.AsyncClient) -> None:
    """Arbitrary JSON (odd types, huge numbers, NaN, known and unknown fields), alone and
    as changes to a valid body, sent to every route that takes a body: a success or a
    problem, never a 500."""
    headers = {"content-type": "application/json"}
    changes = st.dictionaries(KEYS, JSON_VALUES, max_size=3)
    for body, change in sample(st.tuples(BODIES, changes), 150):
        for method, path, valid in VALID:
            changed = {**valid, **change}
            if path.endswith("/workflows"):
                changed = {"tasks": [changed]}
            for sent in (body, changed):
                content = json.dumps(sent)  # NaN and Infinity too: Python's parser takes them
                response = await memory_client.request(
                    method, path, content=content, headers=headers
                )
                assert response.status_code < 500, (method, path, sent, response.text)
                if response.status_code >= 400:
                    problem(response, response.status_code)
