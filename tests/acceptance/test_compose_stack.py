"""docker-compose.yml's Imperium services, started as the processes compose would start,
with the same command and environment, on this machine (no Docker engine here).

What differs from the stack, and why:
- DATABASE_URL is a fresh database on the test PostgreSQL server, not ``postgres:5432``;
- each server gets its own port (compose maps each container's 8000);
- the first test leaves IMPERIUM_RAY_ADDRESS out; the second starts the Ray head and
  worker with their compose commands and environment (Ray's token authentication
  included, the token generated as a user puts it in .env) and points the server at the
  head's Ray Client port. Ports are free ones instead of 6379 and 10001, each node gets
  one CPU instead of two and a 100 MB object store (compose gives 2 GB of /dev/shm),
  and Ray's dashboard is left out (its packages are in the image, not installed here);
- the first key is made with the command the README gives (``keys create``), as a
  one-off ``docker compose run`` would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.acceptance.conftest import imperium

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"
NOT_HERE = {"DATABASE_URL", "IMPERIUM_RAY_ADDRESS"}  # see the module's docstring


def env_file() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )


def interpolated(environment: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """A service's `environment`, with compose's ``${NAME:?message}`` read from ``values``
    (what .env holds)."""
    return {
        k: re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: values[m.group(1)], str(v))
        for k, v in environment.items()
    }


def compose_service(name: str) -> tuple[dict[str, str], list[str]]:
    """The service's environment (its env_file, .env.example here, then `environment`)
    and its command after `serve`, without the port."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]
    env = env_file()
    env.update(interpolated(service["environment"], env))
    command = list(service["command"])
    assert command[0] == "serve", command
    at = command.index("--port")
    del command[at : at + 2]
    assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    return {k: v for k, v in env.items() if k not in NOT_HERE}, command[1:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthcheck(port: int, *flags: str) -> int:
    url = f"http://127.0.0.1:{port}/api/health"
    return subprocess.run([sys.executable, str(HEALTHCHECK), *flags, url], timeout=30).returncode


def wait_for(text: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in log.read_text(), log.read_text()


def test_the_compose_services_serve_and_the_standby_takes_over(
    make_database_url, server_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, active_args = compose_service("imperium")
    standby_env, standby_args = compose_service("imperium-standby")
    assert standby_env == env
    assert "--standby" in standby_args
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    database_url = make_database_url("postgresql")
    key = imperium(database_url, "keys", "create", "--name", "admin", "--role", "admin")
    assert key.returncode == 0, key.stderr  # 0.0.0.0 needs a key: the README's first step

    active_port, standby_port = free_port(), free_port()
    active = server_factory(database_url, *active_args, "--port", str(active_port))
    active.wait_ready()
    with urllib.request.urlopen(f"http://127.0.0.1:{active_port}/api/health") as response:
        assert response.status == 200
    assert healthcheck(active_port) == 0

    standby = server_factory(database_url, *standby_args, "--port", str(standby_port))
    wait_for("standby: scheduler lock held by", standby.log)
    assert healthcheck(standby_port) == 1  # not ready: the Service sends it nothing
    assert healthcheck(standby_port, "--alive") == 0  # alive: not restarted

    active.proc.send_signal(signal.SIGKILL)
    active.proc.wait(timeout=10)
    standby.wait_ready(timeout=30)
    assert f":{standby_port}" in standby.url
    assert healthcheck(standby_port) == 0


class RayNode:
    """A compose Ray service (``ray-head``, ``ray-worker``) as the process compose starts:
    its command, with this machine's ports, and its environment."""

    def __init__(self, name: str, ports: dict[str, int], env: dict[str, str], log: Path) -> None:
        service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]
        assert service["entrypoint"] == ["ray"]
        self.command = [str(Path(sys.executable).with_name("ray"))]
        for arg in service["command"]:
            self.command.extend(self.here(arg, ports))
        self.health = [
            str(Path(sys.executable).with_name("ray")) if part == "ray" else part
            for arg in service["healthcheck"]["test"][1:]
            for part in self.here(arg, ports)
        ]
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        self.env.update(interpolated(service["environment"], env))
        self.log = log
        self.proc = subprocess.Popen(
            self.command, env=self.env, start_new_session=True,
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    @staticmethod
    def here(arg: str, ports: dict[str, int]) -> list[str]:
        """One argument of the compose command, on this machine (the module docstring)."""
        arg = arg.replace("ray-head:6379", f"127.0.0.1:{ports['gcs']}")
        arg = arg.replace("127.0.0.1:6379", f"127.0.0.1:{ports['gcs']}")
        if arg == "--port=6379":
            return [f"--port={ports['gcs']}"]
        if arg == "--ray-client-server-port=10001":
            return [f"--ray-client-server-port={ports['client']}"]
        if arg == "--dashboard-host=0.0.0.0":
            return ["--include-dashboard=false"]
        if arg == "--num-cpus=2":
            return ["--num-cpus=1", f"--object-store-memory={100 * 1024 * 1024}"]
        return [arg]

    def wait_healthy(self, timeout: float = 90) -> None:
        """Until the service's own healthcheck passes, as compose's `service_healthy`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            if subprocess.run(self.health, env=self.env, capture_output=True,
                              timeout=30).returncode == 0:  # fmt: skip
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.command} never became healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Its whole process group (Ray's GCS, raylet and workers); a head asked politely
        takes 15 s and more to go."""
        for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 15)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def ray_nodes(tmp_path: Path) -> Iterator[list[RayNode]]:
    """Stopped after the servers (request it before ``server_factory``): a server whose
    Ray went away first waits for Ray Client's reconnection on the way out."""
    nodes: list[RayNode] = []
    yield nodes
    for node in reversed(nodes):
        node.stop()


def test_the_compose_stack_runs_an_agent_on_its_ray_head_and_worker(
    make_database_url, ray_nodes: list[RayNode], server_factory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    dotenv = env_file() | {"RAY_AUTH_TOKEN": secrets.token_hex(32)}  # as a user sets it
    ports = {"gcs": free_port(), "client": free_port()}
    head = RayNode("ray-head", ports, dotenv, tmp_path / "ray-head.log")
    ray_nodes.append(head)
    head.wait_healthy()
    worker = RayNode("ray-worker", ports, dotenv, tmp_path / "ray-worker.log")
    ray_nodes.append(worker)
    worker.wait_healthy()
    assert head.env["RAY_AUTH_MODE"] == "token"

    env, args = compose_service("imperium")
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["imperium"]
    env.update(interpolated(service["environment"], dotenv))
    env["IMPERIUM_RAY_ADDRESS"] = env["IMPERIUM_RAY_ADDRESS"].replace(
        "ray-head:10001", f"127.0.0.1:{ports['client']}"
    )
    assert (env["RAY_AUTH_MODE"], env["RAY_AUTH_TOKEN"]) == ("token", dotenv["RAY_AUTH_TOKEN"])
    for key, value in env.items():
        if key != "DATABASE_URL":
            monkeypatch.setenv(key, value)
    database_url = make_database_url("postgresql")
    registered = imperium(database_url, "agents", "register", "on-ray", "--type", "echo",
                          "--runtime", "ray")  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    key = imperium(database_url, "keys", "create", "--name", "admin", "--role", "admin")
    assert key.returncode == 0, key.stderr  # 0.0.0.0 needs a key (the first test)
    server = server_factory(database_url, *args)
    server.wait_ready()
    done = imperium(database_url, "submit", "on-ray", "--payload", '{"n": 7}', "--wait",
                    "--wait-timeout", "120", "--json", timeout=150)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr + server.log.read_text()
    task = json.loads(done.stdout)
    assert (task["state"], task["result"]) == ("succeeded", {"n": 7})
