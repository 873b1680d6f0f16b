"""docker-compose.yml's Imperium services, started as the processes compose would start,
with the same command and environment, on this machine (no Docker engine here).

What differs from the stack, and why:
- DATABASE_URL is a fresh database on the test PostgreSQL server, not ``postgres:5432``;
- each server gets its own port (compose maps each container's 8000);
- IMPERIUM_RAY_ADDRESS is left out, and no Ray node is started: the Ray executor has not
  landed yet, and no agent here runs on Ray;
- the first key is made with the command the README gives (``keys create``), as a
  one-off ``docker compose run`` would.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.acceptance.conftest import imperium

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"
NOT_HERE = {"DATABASE_URL", "IMPERIUM_RAY_ADDRESS"}  # see the module's docstring


def compose_service(name: str) -> tuple[dict[str, str], list[str]]:
    """The service's environment (its env_file, .env.example here, then `environment`)
    and its command after `serve`, without the port."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]
    env = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    env.update({k: str(v) for k, v in service["environment"].items()})
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
