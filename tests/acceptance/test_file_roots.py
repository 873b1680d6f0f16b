"""What the built-in agents of a real ``imperium serve`` may read, as an outside probe saw
it: serve runs in a project directory (the default file root) beside its SQLite database;
a link in that directory leads to a secret outside it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import Server, cli_env

# one worker runs this module's tests one after the other, so the served project (module
# scope, a real `imperium serve`) starts once rather than on each worker they spread to
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("file_roots")]

DATABASE_URL = "sqlite+aiosqlite:///./imperium.db"  # as `make run` has it: in the directory
SECRET = "hunter2_the_secret_of_the_outside"


def submit(project: Path, task_type: str, payload: object) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "imperium", "submit", task_type, "--payload",
         json.dumps(payload), "--max-attempts", "1", "--wait", "--wait-timeout", "60", "--json"],
        env=cli_env(DATABASE_URL), capture_output=True, text=True, timeout=120, cwd=project,
    )  # fmt: skip
    assert done.stdout, done.stderr
    task: dict[str, object] = json.loads(done.stdout)
    return task


class ProjectServer(Server):
    """``imperium serve`` started in ``project`` (the default file root is where it runs)."""

    def __init__(self, project: Path, log: Path) -> None:
        self.log, self.url = log, ""
        self._fh = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imperium", "serve", "--port", "0"],
            env=cli_env(DATABASE_URL, IMPERIUM_BUILTIN_AGENTS="echo,guardian,conquest,sandbox",
                        IMPERIUM_POLL_INTERVAL="0.05"),
            stdout=self._fh, stderr=subprocess.STDOUT, cwd=project,
        )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A served project: ./imperium.db, a Python file, and links to a secret outside."""
    base = tmp_path_factory.mktemp("file-roots")
    project, outside = base / "project", base / "outside"
    project.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text(f'password = "{SECRET}"\n')
    (outside / "secret.log").write_text(f"FAILED test_it - AssertionError: {SECRET}\n")
    (project / "app.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n")
    (project / "leak.py").symlink_to(outside / "secret.py")
    (project / "leak.log").symlink_to(outside / "secret.log")
    (project / "db.py").symlink_to(project / "imperium.db")
    server = ProjectServer(project, base / "serve.log")
    try:
        server.wait_ready(timeout=60)
        assert (project / "imperium.db").is_file()  # the relative DATABASE_URL landed here
        yield project
    finally:
        assert server.stop() == 0


def test_guardian_skips_links_out_of_the_roots_and_the_database(project: Path) -> None:
    task = submit(project, "code_review", {"path": "."})
    assert task["state"] == "succeeded", task
    assert SECRET not in json.dumps(task)
    result = task["result"]
    assert isinstance(result, dict)
    assert result["skipped"] == [
        {"file": "db.py", "reason": "the server's database"},
        {"file": "leak.py", "reason": "outside IMPERIUM_FILE_ROOTS"},
    ]
    assert {f["file"] for f in result["findings"]} == {"app.py"}


@pytest.mark.parametrize(
    ("task_type", "payload", "refusal"),
    [
        ("log_analysis", {"path": "leak.log"}, "is outside the allowed roots"),
        ("log_analysis", {"path": "imperium.db"}, "is the server's database"),
        ("log_analysis", {"path": "imperium.db-wal"}, "is the server's database"),
        ("performance_analysis", {"profile_path": "db.py"}, "is the server's database"),
        ("run_tests", {"path": "."}, "holds the server's database"),
    ],
)
def test_the_database_and_links_out_are_refused(
    project: Path, task_type: str, payload: object, refusal: str
) -> None:
    task = submit(project, task_type, payload)
    assert task["state"] == "failed", task
    assert refusal in str(task["error_message"])
    assert SECRET not in json.dumps(task)
