"""The sandbox's plan for a run — the command line, the uid, the environment and the
isolation report — for hosts with and without bubblewrap (no process is started)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

from imperium.adapters.sandbox import Host, Limits, SandboxPolicy
from imperium.adapters.sandbox.bwrap import bwrap_command, sandbox_command
from imperium.adapters.sandbox.host import _needs_mount
from imperium.adapters.sandbox.plan import make_plan

PYENV = "/root/.pyenv/versions/3.11.7"
BWRAP_HOST = Host("/usr/bin/bwrap", 65534, (PYENV,))
UNSAFE_HOST = Host(None, None, (), "bubblewrap is not installed")


def pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    """The two arguments after each ``option`` in ``argv``."""
    return [(argv[i + 1], argv[i + 2]) for i, arg in enumerate(argv) if arg == option]


def test_every_namespace_is_new_and_only_the_work_directory_is_writable() -> None:
    argv = bwrap_command(
        "bwrap", [("/opt/venv", "/opt/venv")], network=False, tmp_bytes=1 << 20,
        workdir=Path("/tmp/x/work"),
    )  # fmt: skip
    for flag in ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc"):
        assert flag in argv
    for flag in ("--unshare-uts", "--die-with-parent", "--disable-userns", "--new-session"):
        assert flag in argv
    assert pairs(argv, "--bind") == [("/tmp/x/work", "/sandbox")]
    read_only = dict(pairs(argv, "--ro-bind"))
    assert "/" not in read_only  # not the host's root: only what is listed
    assert {"/usr", "/opt/venv"} <= set(read_only)
    assert ("--proc", "/proc") in itertools.pairwise(argv)
    at = argv.index("--tmpfs")
    assert argv[at - 2 : at + 2] == ["--size", str(1 << 20), "--tmpfs", "/tmp"]
    assert argv[-1] == "--"


def test_the_network_is_the_hosts_only_when_allowed() -> None:
    argv = bwrap_command("bwrap", [], network=True, tmp_bytes=1, workdir=None)
    assert "--unshare-net" not in argv
    assert "--bind" not in argv


def test_as_its_own_user_the_server_starts_bubblewrap_directly(tmp_path: Path) -> None:
    argv = sandbox_command(
        "bwrap", ["/opt/venv"], None, tmp_path, network=False, tmp_bytes=1, workdir=None
    )
    assert argv[0] == "bwrap"
    assert ("/opt/venv", "/opt/venv") in pairs(argv, "--ro-bind")


def test_a_root_server_drops_to_the_uid_before_bubblewrap_with_its_python_staged(
    tmp_path: Path,
) -> None:
    """bubblewrap, run as uid 65534, could not open a Python under /root: it is bind-mounted
    onto a directory that uid can reach, in a mount namespace of the starter's own."""
    argv = sandbox_command(
        "bwrap", [PYENV], 65534, tmp_path, network=False, tmp_bytes=1, workdir=None
    )
    assert argv[:4] == [sys.executable, "-I", "-S", "-c"]
    config = json.loads(argv[5])
    stage = str(tmp_path / "mount0")
    assert config == {"uid": 65534, "binds": [[PYENV, stage]]}
    assert Path(stage).is_dir()
    assert argv[6] == "bwrap"
    assert (stage, PYENV) in pairs(argv, "--ro-bind")
    assert "unshare" in argv[4]
    assert "setuid" in argv[4]


def test_a_bwrap_plan_runs_as_the_unprivileged_uid_and_says_what_holds(tmp_path: Path) -> None:
    limits = Limits(timeout=10, cpu_seconds=5, memory_mb=256, file_size_mb=4, max_processes=8)
    plan = make_plan(BWRAP_HOST, limits, False, tmp_path, {"EXTRA": "1"})
    assert plan.nproc
    assert plan.python == sys.executable
    isolation = plan.isolation
    assert isolation["sandbox"] == "bubblewrap"
    assert isolation["user"].startswith("uid 65534, gid 65534, no other groups (not root)")
    assert set(isolation["namespaces"]) == {"user", "mount", "pid", "ipc", "uts", "net"}
    assert isolation["network"].startswith("none")
    assert isolation["writable"] == ["/sandbox (the work directory)", "/tmp (private, 4 MB)"]
    assert PYENV in isolation["read_only"]
    assert isolation["rlimits"]["max_processes"] == 8
    assert isolation["timeout_seconds"] == 10
    assert (plan.env["HOME"], plan.env["TMPDIR"], plan.env["EXTRA"]) == ("/sandbox", "/tmp", "1")


def test_the_environment_is_built_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@localhost/db")
    for host in (BWRAP_HOST, UNSAFE_HOST):
        plan = make_plan(host, Limits(), False, tmp_path, None)
        assert "secret" not in repr(plan.env)
        assert set(plan.env) == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE"}


def test_an_unsafe_plan_says_there_is_no_isolation(tmp_path: Path) -> None:
    plan = make_plan(UNSAFE_HOST, Limits(), True, tmp_path, None)
    assert plan.prefix == []
    assert not plan.nproc
    isolation = plan.isolation
    assert isolation["sandbox"] == (
        "unsafe: no isolation (IMPERIUM_SANDBOX_UNSAFE=1; bubblewrap is not installed)"
    )
    assert isolation["namespaces"] == []
    assert isolation["network"] == "host network (no isolation)"
    assert isolation["rlimits"]["max_processes"].startswith("not enforced")
    assert plan.env["HOME"] == str(tmp_path / "work")


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/usr", False),
        ("/usr/local", False),
        ("/", False),
        ("/usrx", True),
        (PYENV, True),
        ("/opt/venv", True),
    ],
)
def test_python_directories_outside_the_system_ones_are_mounted(path: str, needed: bool) -> None:
    assert _needs_mount(path) is needed


@pytest.mark.parametrize("uid", [0, -1, True, "65534"])
def test_the_sandbox_uid_is_never_root(uid: object) -> None:
    with pytest.raises(ValueError, match="not root"):
        SandboxPolicy(uid=uid)  # type: ignore[arg-type]


def test_an_interpreter_under_tmp_stays_visible_over_the_private_tmp() -> None:
    """A virtualenv under /tmp (a CI clone, say) is mounted after the sandbox's private
    /tmp, or the tmpfs would hide it and the sandbox would find no Python."""
    argv = bwrap_command(
        "bwrap", [("/tmp/ci/.venv", "/tmp/ci/.venv")], network=False, tmp_bytes=1,
        workdir=None,
    )  # fmt: skip
    venv = [
        i for i, arg in enumerate(argv) if arg == "--ro-bind" and argv[i + 2] == "/tmp/ci/.venv"
    ]
    assert venv
    assert argv.index("--tmpfs") < venv[0]
