"""Fixtures for the sandbox's real runs.

- ``sandbox_host``: how this machine isolates runs (the default policy's probe). Where
  bubblewrap cannot run, tests that need it are skipped with the reason — or fail when
  ``CI`` is set, as CI installs bubblewrap.
"""

from __future__ import annotations

import os

import pytest

from imperium.adapters.sandbox import Host, SandboxPolicy, SandboxUnavailableError, probe


@pytest.fixture
def sandbox_host() -> Host:
    try:
        return probe(SandboxPolicy())
    except SandboxUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: the sandbox tests must run)", pytrace=False)
        pytest.skip(str(exc))
