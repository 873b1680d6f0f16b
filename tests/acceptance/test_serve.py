"""`imperium serve` with the CLI against it, over a real database, in real processes.

What depends on the database (the scheduler lock, standby, submitting, cancelling, a
workflow) runs on SQLite and PostgreSQL; what is about the HTTP server and the process
(docs, keys on a public address, a port in use, unknown routes, agent code that exits)
runs on SQLite only: each is a server start of seconds, and the database adds nothing."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.acceptance.conftest import imperium

pytestmark = pytest.mark.slow


def test_submit_wait_returns_the_echo_result(database_url: str, server_factory) -> None:
    server = server_factory(database_url)
    server.wait_ready()
    out = imperium(
        database_url,
        "submit",
        "echo",
        "--payload",
        '{"hello": "world"}',
        "--wait",
        "--wait-timeout",
        "30",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    task = json.loads(out.stdout)
    assert task["state"] == "succeeded"
    assert task["result"] == {"hello": "world"}
    shown = json.loads(imperium(database_url, "tasks", "show", task["id"], "--json").stdout)
    assert [e["outcome"] for e in shown["executions"]] == ["succeeded"]
    kinds = [e["event_type"] for e in shown["events"]]
    assert kinds == ["task.submitted", "task.queued", "task.running", "task.succeeded"]
    assert server.stop() == 0


def test_second_scheduler_refuses_to_start(database_url: str, server_factory) -> None:
    first = server_factory(database_url)
    first.wait_ready()
    second = server_factory(database_url)
    assert second.proc.wait(timeout=60) == 1
    log = second.log.read_text()
    assert "another scheduler is running on this database" in log
    assert "--standby" in log
    assert "Traceback" not in log


def test_standby_takes_over_when_the_first_stops(database_url: str, server_factory) -> None:
    first = server_factory(database_url)
    first.wait_ready()
    standby = server_factory(database_url, "--standby")
    assert standby.proc.poll() is None
    assert first.stop() == 0
    standby.wait_ready(timeout=60)
    out = imperium(
        database_url, "submit", "echo", "--payload", "7", "--wait", "--wait-timeout", "30", "--json"
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"] == 7


def test_sigterm_drains_and_exits_cleanly(database_url: str, server_factory) -> None:
    server = server_factory(database_url)
    server.wait_ready()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    assert "Traceback" not in server.log.read_text()


def test_workflow_from_a_file_runs_in_dependency_order(
    database_url: str, server_factory, tmp_path
) -> None:
    wf = tmp_path / "wf.json"
    wf.write_text(
        json.dumps(
            {
                "name": "demo",
                "tasks": [
                    {"name": "fetch", "type": "echo", "payload": 1},
                    {"name": "report", "type": "echo", "payload": 3, "depends_on": ["parse"]},
                    {"name": "parse", "type": "echo", "payload": 2, "depends_on": ["fetch"]},
                ],
            }
        )
    )
    server = server_factory(database_url)
    server.wait_ready()
    out = imperium(database_url, "submit", "--workflow", str(wf), "--wait", "--json")
    assert out.returncode == 0, out.stderr
    tasks = {t["name"]: t for t in json.loads(out.stdout)["tasks"]}
    assert {t["state"] for t in tasks.values()} == {"succeeded"}
    assert tasks["fetch"]["finished_at"] <= tasks["parse"]["started_at"]
    assert tasks["parse"]["finished_at"] <= tasks["report"]["started_at"]


def test_cancel_from_the_cli_reaches_the_scheduler(database_url: str, server_factory) -> None:
    reg = imperium(
        database_url,
        "agents",
        "register",
        "sleeper",
        "--type",
        "tests.support.agents:sleepy",
        "-c",
        "nap",
    )
    assert reg.returncode == 0, reg.stderr
    server = server_factory(database_url)
    server.wait_ready()
    import httpx  # submitted and read over HTTP: the CLI's part here is cancel and watch

    body = {"type": "nap", "payload": {"sleep": 30}}
    task = httpx.post(f"{server.url}/api/v1/tasks", json=body, timeout=10).json()
    out = imperium(database_url, "tasks", "cancel", task["id"])
    assert out.returncode == 0, out.stderr
    waited = imperium(database_url, "tasks", "watch", task["id"], "--interval", "0.1")
    assert waited.returncode == 1  # not succeeded
    shown = httpx.get(f"{server.url}/api/v1/tasks/{task['id']}", timeout=10).json()
    assert shown["state"] == "cancelled"


def test_a_waiting_standby_stops_on_sigterm(database_url: str, server_factory) -> None:
    first = server_factory(database_url)
    first.wait_ready()
    standby = server_factory(database_url, "--standby")
    deadline = time.monotonic() + 60
    while "standby" not in standby.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "standby" in standby.log.read_text(), standby.log.read_text()  # now it waits
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=15) == 0
    assert "stopped while waiting for the scheduler lock" in standby.log.read_text()
    assert first.proc.poll() is None  # the active scheduler is untouched


def test_health_docs_and_unknown_routes_served(sqlite_database_url: str, server_factory) -> None:
    database_url = sqlite_database_url
    import httpx

    server = server_factory(database_url)
    server.wait_ready()
    health = httpx.get(f"{server.url}/api/health", timeout=10)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy"
    assert body["database"]["status"] == "ok"
    assert body["scheduler"]["status"] == "running"
    assert httpx.get(f"{server.url}/openapi.json", timeout=10).json()["info"]["title"] == "Imperium"
    # unknown routes and methods are problems too (same server: one start fewer)
    missing = httpx.get(f"{server.url}/api/v1/nothing-here", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "see /docs" in missing.json()["detail"]
    wrong_method = httpx.delete(f"{server.url}/api/health", timeout=10)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"].startswith("application/problem+json")


def test_a_public_address_needs_api_keys(sqlite_database_url: str, server_factory) -> None:
    database_url = sqlite_database_url
    import httpx

    out = imperium(database_url, "serve", "--host", "0.0.0.0")
    assert out.returncode == 1
    assert "refusing to listen on 0.0.0.0 without API keys" in out.stderr
    assert "imperium keys create" in out.stderr
    assert "Traceback" not in out.stderr

    created = imperium(database_url, "keys", "create", "--name", "ops", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]
    server = server_factory(database_url, "--host", "0.0.0.0")
    server.wait_ready()
    assert "API keys required" in server.log.read_text()
    url = server.url.replace("0.0.0.0", "127.0.0.1")
    refused = httpx.get(f"{url}/api/v1/tasks", timeout=10)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    allowed = httpx.get(f"{url}/api/v1/tasks", headers={"X-API-Key": key}, timeout=10)
    assert allowed.status_code == 200, allowed.text
    assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200  # probes need no key


def test_serve_reports_a_port_in_use(sqlite_database_url: str, server_factory) -> None:
    database_url = sqlite_database_url
    first = server_factory(database_url)
    first.wait_ready()
    port = first.url.rsplit(":", 1)[1]
    other = imperium(database_url, "serve", "--port", port, "--standby", timeout=60)
    assert other.returncode == 1  # at once: the port is checked before the scheduler lock
    assert f"cannot listen on 127.0.0.1:{port}" in other.stderr
    assert "Traceback" not in other.stderr


def test_agent_code_that_calls_sys_exit_does_not_stop_the_server(
    sqlite_database_url: str, server_factory
) -> None:
    database_url = sqlite_database_url
    server = server_factory(database_url)
    server.wait_ready()
    registered = imperium(database_url, "agents", "register", "quitter", "--type", "sys:exit")
    assert registered.returncode == 0, registered.stderr
    out = imperium(
        database_url,
        "submit",
        "quitter",
        "--max-attempts",
        "1",
        "--wait",
        "--wait-timeout",
        "30",
        "--json",
    )
    task = json.loads(out.stdout)
    assert task["state"] == "dead", out.stdout + out.stderr
    assert task["error_kind"] == "SystemExit"
    assert server.proc.poll() is None, server.log.read_text()
    echoed = imperium(database_url, "submit", "echo", "--payload", "1", "--wait", "--json")
    assert json.loads(echoed.stdout)["state"] == "succeeded"
    assert server.stop() == 0
