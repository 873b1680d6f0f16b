"""The README's agent example, followed literally in real processes: ``myagents.py`` in the
working directory, no PYTHONPATH, the ``imperium`` console script (which, unlike
``python -m``, does not put the working directory on the import path by itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import Server, cli_env

pytestmark = pytest.mark.slow

IMPERIUM = str(Path(sys.executable).with_name("imperium"))
MYAGENTS = """\
from imperium import TaskContext, agent

@agent
async def summarise(ctx: TaskContext) -> dict:
    text = ctx.payload["text"]
    return {"summary": text[:100], "words": len(text.split())}
"""


def _here(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(database_url), "PYTHONPATH": ""}  # only what the user would have
    return subprocess.run(
        [IMPERIUM, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


class ServerHere(Server):
    """``imperium serve`` (the console script) started in ``cwd``."""

    def __init__(self, database_url: str, log: Path, cwd: Path) -> None:
        self.log, self.url = log, ""
        self._fh = log.open("w")
        env = {**cli_env(database_url, IMPERIUM_POLL_INTERVAL="0.05"), "PYTHONPATH": ""}
        self.proc = subprocess.Popen(
            [IMPERIUM, "serve", "--port", "0"], env=env, stdout=self._fh,
            stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    here = tmp_path / "project"
    here.mkdir()
    (here / "myagents.py").write_text(MYAGENTS)
    return here


def test_the_readme_agent_runs_from_the_directory_holding_it(
    project: Path, tmp_path: Path, database_url: str
) -> None:
    server = ServerHere(database_url, tmp_path / "serve.log", project)
    try:
        server.wait_ready()
        registered = _here(project, database_url, "agents", "register", "summariser-1",
                           "--type", "myagents:summarise", "-c", "summarise")  # fmt: skip
        assert registered.returncode == 0, registered.stderr
        assert "the scheduler loaded it" in registered.stdout
        out = _here(project, database_url, "submit", "summarise", "--payload",
                    '{"text": "a b c"}', "--wait", "--wait-timeout", "30", "--json")  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["result"] == {"summary": "a b c", "words": 3}
    finally:
        assert server.stop() == 0, server.log.read_text()


def test_code_the_server_cannot_import_is_reported_not_loaded(
    project: Path, database_url: str, server_factory
) -> None:
    server = server_factory(database_url)  # started elsewhere: myagents is not importable
    server.wait_ready()
    registered = _here(project, database_url, "agents", "register", "summariser-1",
                       "--type", "myagents:summarise")  # fmt: skip
    assert registered.returncode == 1
    assert "not loaded" in registered.stderr
    assert "No module named 'myagents'" in registered.stderr
    [agent] = [
        a
        for a in json.loads(_here(project, database_url, "agents", "list", "--json").stdout)
        if a["agent_id"] == "summariser-1"
    ]
    assert (agent["status"], agent["loaded"]) == ("active", False)
    assert "No module named 'myagents'" in agent["load_error"]
