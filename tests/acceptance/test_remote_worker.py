"""Remote workers as real processes over real HTTP: `imperium serve` schedules, `imperium
worker` processes lease, and the CLI submits and inspects through the database."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.acceptance.conftest import ROOT, cli_env, imperium

pytestmark = pytest.mark.slow

T = TypeVar("T")
ENDED = {"succeeded", "failed", "dead", "cancelled", "timed_out"}


class WorkerProcess:
    """An `imperium worker` running tests.support.agents:sleepy with capability nap."""

    def __init__(
        self, database_url: str, server_url: str, agent_id: str, log: Path, *args: str
    ) -> None:
        self.agent_id = agent_id
        self.log = log
        self._fh = log.open("w")
        command = [
            *(sys.executable, "-m", "imperium", "worker", "tests.support.agents:sleepy"),
            *("--agent-id", agent_id, "--capability", "nap", "--server", server_url, *args),
        ]
        self.proc = subprocess.Popen(
            command,
            env=cli_env(database_url),
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def wait_joined(self, timeout: float = 30) -> None:
        until(lambda: "leasing from" in self.log.read_text(), timeout, self.log.read_text)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._fh.close()


@pytest.fixture
def workers(server_factory: object, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(database_url: str, server_url: str, agent_id: str, *args: str) -> WorkerProcess:
        log = tmp_path / f"{agent_id}.log"
        worker = WorkerProcess(database_url, server_url, agent_id, log, *args)
        started.append(worker)
        return worker

    yield start  # torn down before server_factory: no long-poll holds the server's stop
    for worker in started:
        worker.stop()


def until(check: Callable[[], T], timeout: float, explain: Callable[[], str] = str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s: {explain()}")


def submit(database_url: str, payload: dict[str, Any]) -> str:
    out = imperium(database_url, "submit", "nap", "--payload", json.dumps(payload), "--json")
    assert out.returncode == 0, out.stderr
    task_id: str = json.loads(out.stdout)["id"]
    return task_id


def show(database_url: str, task_id: str) -> dict[str, Any]:
    out = imperium(database_url, "tasks", "show", task_id, "--json")
    assert out.returncode == 0, out.stderr
    task: dict[str, Any] = json.loads(out.stdout)
    return task


def until_started(started: Path, task_id: str, timeout: float = 60) -> str:
    """The agent that started ``task_id``'s first attempt, once ``sleepy`` has written it
    (no polling race with an attempt that ends first on a slow machine)."""
    line = until(
        lambda: started.exists() and started.read_text().splitlines()[:1],
        timeout,
        lambda: started.read_text() if started.exists() else "not started",
    )
    task, attempt, agent_id = line[0].split()
    assert (task, attempt) == (task_id, "1")
    return agent_id


def until_ended(server_url: str, database_url: str, task_id: str, timeout: float) -> dict:
    """The task once ended, polled over the server's HTTP API (a CLI process per poll is
    slow on a loaded machine), then read with `imperium tasks show`."""
    import httpx

    def ended() -> bool:
        try:
            task = httpx.get(f"{server_url}/api/v1/tasks/{task_id}", timeout=10).json()
        except httpx.HTTPError:
            return False  # the server is restarting
        return task.get("state") in ENDED

    until(ended, timeout, lambda: str(show(database_url, task_id)))
    return show(database_url, task_id)


def test_a_worker_killed_mid_task_loses_its_lease_and_the_task_runs_once_elsewhere(
    database_url: str, server_factory, workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPERIUM_LEASE_SECONDS", "2")
    monkeypatch.setenv("IMPERIUM_RETRY_BASE", "0.1")
    server = server_factory(database_url)
    server.wait_ready()
    pool = {name: workers(database_url, server.url, name) for name in ("w1", "w2")}
    for worker in pool.values():
        worker.wait_joined()
    runs = tmp_path / "runs.log"  # sleepy appends "task attempt" once it has slept
    started = tmp_path / "started.log"
    # The first attempt sleeps far longer than the test lasts: the kill lands mid-attempt.
    payload = {"first_sleep": 600, "sleep": 0.5, "log": str(runs), "started": str(started)}
    task_id = submit(database_url, payload)

    victim = pool[until_started(started, task_id)]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    survivor = next(w for w in pool.values() if w is not victim)

    done = until_ended(server.url, database_url, task_id, timeout=60)
    assert (done["state"], done["agent_id"]) == ("succeeded", survivor.agent_id)
    assert done["result"] == payload
    outcomes = [(e["agent_id"], e["outcome"], e["error_kind"]) for e in done["executions"]]
    assert outcomes == [
        (victim.agent_id, "lost", "lease_expired"),
        (survivor.agent_id, "succeeded", None),
    ]
    assert runs.read_text().splitlines() == [f"{task_id} 2"]  # ran to the end once
    assert "Traceback" not in survivor.log.read_text()


def test_sigterm_lets_the_running_attempt_finish(
    database_url: str,
    server_factory,
    workers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMPERIUM_LEASE_SECONDS", "2")
    server = server_factory(database_url)
    server.wait_ready()
    worker = workers(database_url, server.url, "w1")
    worker.wait_joined()
    started = tmp_path / "started.log"
    task_id = submit(database_url, {"sleep": 4, "started": str(started)})
    until_started(started, task_id)  # still running when SIGTERM lands
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=30) == 0
    task = show(database_url, task_id)
    assert task["state"] == "succeeded"
    assert [e["outcome"] for e in task["executions"]] == ["succeeded"]
    log = worker.log.read_text()
    assert "finishing 1 running attempt" in log
    assert "Traceback" not in log


def test_a_worker_stopped_while_polling_takes_no_task_with_it(
    database_url: str, server_factory, workers
) -> None:
    server = server_factory(database_url)
    server.wait_ready()
    worker = workers(database_url, server.url, "w1", "--lease-wait", "30")
    worker.wait_joined()
    time.sleep(0.5)  # now in a long-poll of 30 s
    worker.proc.send_signal(signal.SIGTERM)
    until(lambda: "stopping:" in worker.log.read_text(), 30, worker.log.read_text)
    # a long-poll waited out rather than abandoned would still be open: it would take this
    task_id = submit(database_url, {"sleep": 0})
    assert worker.proc.wait(timeout=60) == 0
    time.sleep(1.0)  # the server admits it within its 0.05 s poll
    assert show(database_url, task_id)["state"] == "queued"  # the dropped poll took nothing


@pytest.mark.parametrize(
    ("target", "server_url", "phrase"),
    [
        ("no_such_module:run", "http://127.0.0.1:9", "cannot import module 'no_such_module'"),
        ("tests.support.agents:sleepy", "http://127.0.0.1:9", "cannot reach the server"),
    ],
)
def test_worker_errors_are_messages(
    target: str, server_url: str, phrase: str, make_database_url
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "imperium",
            "worker",
            target,
            "--agent-id",
            "w",
            "--server",
            server_url,
        ],
        env=cli_env(make_database_url("sqlite")),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 1
    assert phrase in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr


def test_a_result_finished_while_the_server_was_down_is_reported_when_it_is_back(
    make_database_url, server_factory, workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server is killed while an attempt runs and stays down longer than the worker's
    first tries to report: the worker keeps trying (and heart-beating) within the lease,
    the restarted server resumes the lease, and the result is recorded once."""
    database_url = make_database_url("sqlite")
    monkeypatch.setenv("IMPERIUM_LEASE_SECONDS", "30")
    with socket.socket() as probe:  # the restarted server must come back on the same port
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = server_factory(database_url, "--port", port)
    server.wait_ready()
    worker = workers(database_url, server.url, "w1")
    worker.wait_joined()
    runs = tmp_path / "runs.log"
    started = tmp_path / "started.log"
    task_id = submit(database_url, {"sleep": 3, "log": str(runs), "started": str(started)})
    until_started(started, task_id)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    until(lambda: "reporting failed" in worker.log.read_text(), 30, worker.log.read_text)
    time.sleep(8)  # the worker's first tries (0.5 s apart, doubling) would all have failed
    back = server_factory(database_url, "--port", port)
    back.wait_ready()
    done = until_ended(back.url, database_url, task_id, timeout=60)
    assert done["state"] == "succeeded", done
    assert [(e["attempt"], e["outcome"]) for e in done["executions"]] == [(1, "succeeded")]
    assert runs.read_text().splitlines() == [f"{task_id} 1"]
