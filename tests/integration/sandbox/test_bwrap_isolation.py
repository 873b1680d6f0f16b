"""The sandbox is a boundary, also when the server (here: the test) runs as root: the code
runs as an unprivileged uid, reaches no network (not by entering a host process's network
namespace either), cannot read the server's files, its environment or the database, writes
nowhere but its work directory and cannot fork without limit — and ``isolation`` says so.

Each case tries the attack for real; before bubblewrap, code run as root did all of it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.sandbox import DEFAULT_UID, PYTHON, Host, RunResult, run_isolated

pytestmark = pytest.mark.slow

RUN_AS = DEFAULT_UID if os.geteuid() == 0 else os.getuid()


def run(code: str, **kwargs: Any) -> tuple[dict[str, Any], RunResult]:
    """Run ``code``, which prints one JSON object last; (that object, the result)."""
    result = run_isolated([PYTHON, "-c", code], timeout=120, **kwargs)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), result


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on the host's loopback that accepts connections (like the API's)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def unix_listeners(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A Unix socket anyone may connect to (like PostgreSQL's), and an abstract one."""
    path = str(tmp_path / ".s.PGSQL.5432")
    abstract = f"\0imperium-test-{uuid.uuid4().hex}"
    servers = []
    for address in (path, abstract):
        server = socket.socket(socket.AF_UNIX)
        server.bind(address)
        server.listen()
        servers.append(server)
    os.chmod(path, 0o777)
    yield path, abstract
    for server in servers:
        server.close()


ATTEMPTS = r"""
import json, os, socket
def attempt(name, action):
    try:
        action()
        outcome[name] = "done"
    except OSError as exc:
        outcome[name] = f"refused: {exc.__class__.__name__} {exc.errno}"
outcome = {}
"""


def test_no_network_not_even_through_a_host_processs_namespace(
    listener: int, unix_listeners: tuple[str, str], sandbox_host: Host
) -> None:
    unix_path, abstract = unix_listeners
    socket.create_connection(("127.0.0.1", listener), timeout=5).close()  # the host can
    code = ATTEMPTS + (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def enter(pid):\n"  # setns(2), as os.setns is Python 3.12's
        "    fd = os.open(f'/proc/{pid}/ns/net', os.O_RDONLY)\n"
        "    if libc.setns(fd, 0x40000000) != 0:\n"
        "        raise OSError(ctypes.get_errno(), 'setns')\n"
        "def unix(address):\n"
        "    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(address)\n"
        f"attempt('setns to the test process', lambda: enter({os.getpid()}))\n"
        "attempt('setns to pid 1', lambda: enter(1))\n"
        f"attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {listener}), 5))\n"
        f"attempt('unix', lambda: unix({unix_path!r}))\n"
        f"attempt('abstract', lambda: unix({abstract!r}))\n"
        f"attempt('/run', lambda: os.listdir('/run'))\n"
        f"attempt('/var', lambda: os.listdir('/var'))\n"
        f"print(json.dumps(outcome))\n"
    )
    outcome, result = run(code)
    assert [name for name, how in outcome.items() if how == "done"] == [], outcome
    assert "net" in result.isolation["namespaces"]
    assert result.isolation["network"].startswith("none")


def test_the_servers_files_environment_and_database_are_out_of_reach(
    tmp_path: Path, sandbox_host: Host
) -> None:
    database = tmp_path / "imperium.db"
    database.write_text("api keys and payloads")
    database.chmod(0o600)
    shared = tmp_path / "readable.db"  # readable by anyone, but not in the sandbox at all
    shared.write_text("readable by others")
    shared.chmod(0o644)
    code = ATTEMPTS + (
        f"attempt('database', lambda: open({str(database)!r}).read())\n"
        f"attempt('readable database', lambda: open({str(shared)!r}).read())\n"
        f"attempt('environ', lambda: open('/proc/{os.getpid()}/environ', 'rb').read())\n"
        f"attempt('shadow', lambda: open('/etc/shadow').read())\n"
        "outcome['/root holds'] = os.listdir('/root') if os.path.isdir('/root') else []\n"
        f"print(json.dumps(outcome))\n"
    )
    outcome, result = run(code)
    # at most the way to a Python installed under /root (pyenv), nothing else of root's
    allowed = {Path(p).parts[2] for p in sandbox_host.python_dirs if p.startswith("/root/")}
    assert set(outcome.pop("/root holds")) <= allowed
    assert [name for name, how in outcome.items() if how == "done"] == [], outcome
    assert result.isolation["filesystem"].startswith("only the paths below are mounted")
    assert not any(str(tmp_path).startswith(p) for p in result.isolation["read_only"])


def test_nothing_is_written_outside_the_work_directory(tmp_path: Path, sandbox_host: Host) -> None:
    root_owned = tmp_path / "server"
    root_owned.mkdir(mode=0o755)
    tag = uuid.uuid4().hex
    targets = [
        root_owned / "planted.py",
        Path("/etc") / f"imperium-sandbox-{tag}",
        Path("/usr") / f"imperium-sandbox-{tag}",
        *(Path(p) / f"imperium-sandbox-{tag}" for p in sandbox_host.python_dirs),
    ]
    code = ATTEMPTS + (
        "def write(path):\n"
        "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        "    open(path, 'w').write('planted')\n"
        f"for target in {[str(t) for t in targets]!r}:\n"
        "    attempt(target, lambda: write(target))\n"
        "attempt('work directory', lambda: write('/sandbox/ok.txt'))\n"
        "print(json.dumps(outcome))\n"
    )
    try:
        outcome, result = run(code, collect=["ok.txt"])
        planted = [str(t) for t in targets if t.exists()]
    finally:
        for target in targets:
            if target.exists():
                target.unlink()
    assert planted == []
    assert outcome["work directory"] == "done"
    assert result.collected == {"ok.txt": "planted"}
    # the one outside path it could "write" is under its own private /tmp
    inside = [name for name, how in outcome.items() if how == "done"]
    assert inside in (["work directory"], [str(targets[0]), "work directory"])
    assert result.isolation["writable"][0] == "/sandbox (the work directory)"


def test_forks_stop_at_the_process_limit(sandbox_host: Host) -> None:
    fork_bomb = (
        "import json, os, time\n"
        "forks, errno = 0, None\n"
        "try:\n"
        "    while forks < 200:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        forks += 1\n"
        "except OSError as exc:\n"
        "    errno = exc.errno\n"
        "print(json.dumps({'forks': forks, 'errno': errno}))\n"
    )
    outcome, result = run(fork_bomb, max_processes=8)
    assert outcome["errno"] == 11  # EAGAIN
    assert outcome["forks"] < 8
    assert result.isolation["rlimits"]["max_processes"] == 8


def test_the_code_runs_as_an_unprivileged_uid_seen_from_the_host(
    sandbox_host: Host,
) -> None:
    marker = uuid.uuid4().hex
    code = (
        f"# {marker}\n"
        "import json, os, time\n"
        "deadline = time.monotonic() + 100\n"
        "while not os.path.exists('go') and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups()}))\n"
    )
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(run(code)[0]))
    thread.start()
    try:
        seen = _uids_of(marker)
    finally:
        thread.join(timeout=180)
    assert seen  # bwrap, its init, the launcher and the command
    assert set(seen.values()) == {(RUN_AS, RUN_AS)}, seen
    assert RUN_AS != 0
    assert outcome == {"uid": RUN_AS, "gid": RUN_AS, "groups": []}


def _uids_of(marker: str) -> dict[int, tuple[int, int]]:
    """(real uid, real gid) of each process of the run, read from the host's /proc while
    it waits; then lets it finish (writes ``go`` in its work directory)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found, go = {}, None
        for entry in Path("/proc").iterdir():
            try:
                if marker.encode() not in (entry / "cmdline").read_bytes():
                    continue
                fields = dict(
                    line.split(":", 1) for line in (entry / "status").read_text().splitlines()
                )
                cwd = os.readlink(entry / "cwd")
            except (OSError, ValueError):
                continue
            uids, gids = fields["Uid"].split(), fields["Gid"].split()
            assert len(set(uids)) == 1, uids  # real = effective = saved = file system
            assert len(set(gids)) == 1, gids
            found[int(entry.name)] = (int(uids[0]), int(gids[0]))
            if cwd == "/sandbox":  # as the process sees it; root can go through the link
                go = entry / "cwd" / "go"
        if go is not None:
            go.write_text("")
            return found
        time.sleep(0.05)
    raise AssertionError("the run's processes never showed up")
