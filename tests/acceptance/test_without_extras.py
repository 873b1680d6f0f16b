"""`imperium serve` without the optional extras (their modules hidden in the server's
process): it starts and serves, and the built-in agents that need an extra fail their
tasks saying which one to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import ROOT, Server, cli_env

pytestmark = pytest.mark.slow

HIDDEN = ("bandit", "radon", "ruff", "pytest", "sklearn", "numpy", "scipy", "jsonschema")
# `import x` fails for a module set to None in sys.modules, as for one not installed.
LAUNCH = (
    "import runpy, sys\n"
    f"sys.modules.update(dict.fromkeys({HIDDEN!r}))\n"
    "runpy.run_module('imperium', run_name='__main__', alter_sys=True)\n"
)


class BareServer(Server):
    """``imperium serve`` with the extras' modules hidden."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.log = log
        self.url = ""
        self._fh = log.open("w")
        env = cli_env(database_url, IMPERIUM_POLL_INTERVAL="0.05", IMPERIUM_BUILTIN_AGENTS="all")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "serve", "--port", "0"],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def run(http: httpx.Client, task_type: str, payload: Any) -> dict[str, Any]:
    body = {"type": task_type, "payload": payload, "max_attempts": 1}
    response = http.post("/api/v1/tasks", params={"wait": 60}, json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def test_serve_starts_without_the_extras_and_names_them(tmp_path: Path) -> None:
    server = BareServer(f"sqlite:///{tmp_path / 'bare.db'}", tmp_path / "serve.log")
    try:
        server.wait_ready(timeout=60)
        with httpx.Client(base_url=server.url, timeout=90) as http:
            assert http.get("/api/health").json()["status"] == "healthy"
            review = run(http, "code_review", {"code": "x = 1\n"})
            assert (review["state"], review["error_kind"]) == ("failed", "not_installed")
            assert "pip install 'imperium[guardian]'" in review["error_message"]
            tests = run(http, "run_tests", {"files": {"test_a.py": "def test_a(): pass\n"}})
            assert (tests["state"], tests["error_kind"]) == ("failed", "sandbox_unavailable")
            assert "pip install 'imperium[sandbox]'" in tests["error_message"]
            assert run(http, "echo", {"hello": "world"})["result"] == {"hello": "world"}
    finally:
        code = server.stop()
    log = server.log.read_text()
    assert code == 0, log
    assert "Traceback" not in log
