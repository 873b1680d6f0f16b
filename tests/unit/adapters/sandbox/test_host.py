"""Where bubblewrap is missing the sandbox refuses to run code, saying what to do, unless
the operator allowed unsafe runs (no process is started: the bwrap path does not exist)."""

from __future__ import annotations

import pytest

from imperium.adapters.sandbox import (
    PYTHON,
    SandboxPolicy,
    SandboxUnavailableError,
    probe,
    run_isolated,
    run_pytest,
)
from imperium.settings import Settings

MISSING = "/nonexistent/bwrap"


def test_without_bubblewrap_the_probe_refuses_and_says_what_to_do() -> None:
    with pytest.raises(SandboxUnavailableError) as refused:
        probe(SandboxPolicy(bwrap=MISSING))
    message = str(refused.value)
    assert f"bubblewrap ({MISSING}) is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert "IMPERIUM_SANDBOX_UNSAFE=1" in message


def test_runs_are_refused_before_anything_is_started() -> None:
    policy = SandboxPolicy(bwrap=MISSING)
    with pytest.raises(SandboxUnavailableError):
        run_isolated([PYTHON, "-c", "print(1)"], policy=policy)
    with pytest.raises(SandboxUnavailableError):
        run_pytest({"test_a.py": "def test_a(): pass\n"}, policy=policy)


def test_unsafe_runs_are_allowed_only_when_the_operator_says_so() -> None:
    host = probe(SandboxPolicy(bwrap=MISSING, unsafe=True))
    assert host.bwrap is None
    assert host.run_as is None
    assert host.problem == f"bubblewrap ({MISSING}) is not installed"


def test_the_settings_give_the_sandbox_uid_and_the_unsafe_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings(_env_file=None)
    assert (defaults.sandbox_uid, defaults.sandbox_unsafe) == (65534, False)
    monkeypatch.setenv("IMPERIUM_SANDBOX_UNSAFE", "1")
    monkeypatch.setenv("IMPERIUM_SANDBOX_UID", "4242")
    chosen = Settings(_env_file=None)
    assert (chosen.sandbox_uid, chosen.sandbox_unsafe) == (4242, True)
    monkeypatch.setenv("IMPERIUM_SANDBOX_UID", "0")
    with pytest.raises(ValueError, match=r"sandbox_uid|IMPERIUM_SANDBOX_UID"):
        Settings(_env_file=None)
