"""The WebSockets of a real `imperium serve` process, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.slow

WITHIN = 30.0


def receive(conn: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(conn.recv(timeout=WITHIN))
    return message


def test_events_and_learning_events_stream_from_the_server(
    database_url: str, server_factory: Any
) -> None:
    server = server_factory(database_url)
    server.wait_ready()
    ws_url = server.url.replace("http", "ws", 1)
    http = httpx.Client(base_url=server.url, trust_env=False, timeout=WITHIN)
    events = connect(f"{ws_url}/api/v1/events/ws?types=task.", proxy=None, open_timeout=WITHIN)
    learning = connect(f"{ws_url}/ws/imperium/learning-analytics", proxy=None)
    with http, events, learning:
        assert receive(events)["type"] == "welcome"
        assert receive(learning)["client_count"] == 1

        task = http.post("/api/v1/tasks", json={"type": "echo", "payload": 7}).json()
        kinds = []
        while not kinds or kinds[-1] != "task.succeeded":
            message = receive(events)
            if message["event"]["task_id"] == task["id"]:
                kinds.append(message["event"]["event_type"])
        body = {"event_type": "internet_learning", "agent_id": "imperium", "impact_score": 0.8}
        assert http.post("/api/imperium/persistence/log-learning-event", json=body).is_success
        learned = receive(learning)

        assert kinds[-2:] == ["task.running", "task.succeeded"]
        assert learned["type"] == "learning_event"
        assert {k: learned["data"][k] for k in body} == body
        assert server.stop() == 0  # with both clients still connected

    log = server.log.read_text()
    assert "Traceback" not in log
    assert "ERROR" not in log
