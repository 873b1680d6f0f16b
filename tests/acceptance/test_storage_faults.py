"""Real storage faults under load against `imperium serve`: PostgreSQL stopped and started
again, and SQLite on a filesystem that fills up and is freed. The server rides both out
without a restart: new work gets a quick 503 naming the cause, `/api/health` says why,
and every acknowledged task succeeds exactly once.

The PostgreSQL test stops and starts a private PostgreSQL cluster of its own (initdb in a
temporary directory, on a free port), never the machine's shared server, so it runs beside
the rest of the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from imperium.adapters.storage.sql import SqlStore
from imperium.domain.states import Outcome, TaskState

pytestmark = pytest.mark.slow


class Load(threading.Thread):
    """Submits echo tasks one after another until stopped; keeps what was acknowledged
    (201) and what was refused (status, detail, Retry-After). A submission admitted just
    before the fault waits for its write until the database is back: the client gives up
    on it after a few seconds (its task may or may not be stored) and goes on."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acked: list[str] = []
        self.refused: list[tuple[int, str, str | None]] = []
        self.unanswered = 0
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=3) as client:
            i = 0
            while not self._halt.is_set():
                i += 1
                try:
                    response = client.post("/api/v1/tasks", json={"type": "echo", "payload": i})
                except httpx.TimeoutException:
                    self.unanswered += 1
                    continue
                except httpx.HTTPError as exc:  # the server must stay up: none expected
                    self.errors.append(repr(exc))
                    time.sleep(0.1)
                    continue
                if response.status_code == 201:
                    self.acked.append(response.json()["id"])
                else:
                    body = response.json()
                    self.refused.append(
                        (response.status_code, body["detail"], response.headers.get("retry-after"))
                    )
                    time.sleep(0.05)
                time.sleep(0.005)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=180)


def until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def health(url: str) -> httpx.Response:
    return httpx.get(f"{url}/api/health", timeout=10)


async def _inspect(url: str, ids: list[str]) -> tuple[dict[str, TaskState], dict[str, list]]:
    store = await SqlStore.connect(url)
    try:
        return await store.task_states(ids), {i: await store.executions_for(i) for i in ids}
    finally:
        await store.close()


def all_succeeded(database_url: str, acked: list[str]) -> bool:
    states, _ = asyncio.run(_inspect(database_url, acked))
    return len(states) == len(acked) and all(s is TaskState.SUCCEEDED for s in states.values())


def assert_each_succeeded_once(database_url: str, acked: list[str]) -> None:
    states, executions = asyncio.run(_inspect(database_url, acked))
    assert set(states) == set(acked), "an acknowledged task was lost"
    assert all(s is TaskState.SUCCEEDED for s in states.values()), states
    for task_id, rows in executions.items():
        assert [e.outcome for e in rows].count(Outcome.SUCCEEDED) == 1, (task_id, rows)


def ride_out(database_url: str, server, fault: Callable[[], None], heal: Callable[[], None],
             cause: str) -> None:  # fmt: skip
    """Load, fault, check the refusals and the health, heal, check that all is done."""
    load = Load(server.url)
    load.start()
    try:
        until(lambda: len(load.acked) >= 50, 60, "acknowledged submissions before the fault")
        fault()
        until(lambda: any(cause in d for _, d, _ in load.refused), 60, f"a 503 naming {cause}")
        answer = health(server.url)
        assert answer.status_code == 503
        assert cause in str(answer.json())  # the whole reason, or its kind for anonymous callers
        acked_during = len(load.acked)
        # longer than the old retry schedule (8.25 s), which stopped the server; the README's
        # 60 s figure: IMPERIUM_TEST_OUTAGE_SECONDS=60
        time.sleep(float(os.environ.get("IMPERIUM_TEST_OUTAGE_SECONDS", "10")))
        assert server.proc.poll() is None, server.log.read_text()
        assert len(load.acked) <= acked_during + 20  # nothing is acknowledged while down
    finally:
        heal()
    until(lambda: health(server.url).status_code == 200, 60, "the server to recover")
    until(lambda: len(load.acked) >= acked_during + 50, 60, "submissions after the fault")
    load.stop()
    assert load.errors == [], load.errors[:5]
    assert load.unanswered <= 5  # only those admitted before the fault was known
    assert {status for status, _, _ in load.refused} == {503}
    assert all(retry_after for _, _, retry_after in load.refused)
    until(lambda: all_succeeded(database_url, load.acked), 60, "every acknowledged task to end")
    assert server.proc.poll() is None
    assert "database writes work again" in server.log.read_text()
    assert_each_succeeded_once(database_url, load.acked)


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own: made by initdb (as the ``postgres`` user
    when run as root, since the server refuses root), on a free port, with its socket in
    its directory; stopped and started at will, and removed at the end."""

    def __init__(self, root: Path) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not versions:
            pytest.fail("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = versions[-1].parent
        self.root = root
        self.data = root / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.user = "postgres" if os.geteuid() == 0 else None
        root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            shutil.chown(root, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")  # fmt: skip
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def ready(self) -> bool:
        probe = [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    # not under tmp_path: the postgres user must be able to reach the directory
    root = Path(tempfile.mkdtemp(prefix="imperium-pg-"))
    root.chmod(0o755)
    cluster = PrivatePostgres(root / "cluster")
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_the_server_rides_out_postgresql_going_away(private_postgres, server_factory) -> None:
    server = server_factory(private_postgres.url)
    server.wait_ready()

    def heal() -> None:
        private_postgres.start()
        until(private_postgres.ready, 60, "PostgreSQL to accept connections")

    ride_out(private_postgres.url, server, private_postgres.stop, heal, "database unreachable")


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs (mounting needs root; skipped with the reason where not allowed)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_server_rides_out_a_full_disk(small_filesystem: Path, server_factory) -> None:
    database_url = f"sqlite+aiosqlite:///{small_filesystem / 'imperium.db'}"
    server = server_factory(database_url)
    filler = small_filesystem / "filler"
    try:
        server.wait_ready()

        def fill() -> None:
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)

        ride_out(database_url, server, fill, lambda: filler.unlink(), "disk full")
    finally:
        server.stop()
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
