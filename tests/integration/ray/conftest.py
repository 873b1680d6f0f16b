"""One real local Ray for every Ray test: started once per session (two CPUs, a custom
resource ``A`` on this head node, a 100 MB object store, no dashboard) and shut down at
the end. Every Ray test module sets ``pytestmark = pytest.mark.xdist_group("ray")``, so
one worker runs them all
(``make test`` distributes with ``--dist loadgroup``). Without Ray installed the tests are
skipped, or fail when ``CI`` is set."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imperium.runtime import Imperium
from imperium.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    try:
        import ray
    except ImportError as exc:
        reason = f"ray is not installed ({exc}): pip install 'imperium[ray]'"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the Ray tests must run)", pytrace=False)
        pytest.skip(reason)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address="local",  # a new instance, never a cluster someone started here
        num_cpus=2,
        resources={"A": 1},
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
        configure_logging=False,
        # the workers import this checkout's imperium (src/) and the tests' agents (root)
        runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}},
    )
    gcs_address = ray.get_runtime_context().gcs_address
    yield ray
    ray.shutdown()
    _forget_cluster(gcs_address)


def _forget_cluster(gcs_address: str) -> None:
    """Ray leaves this (stopped) head's address in /tmp/ray/ray_current_cluster, which a
    later `ray.init()` or `ray start --address=auto` on this machine would try to join."""
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    with contextlib.suppress(OSError):
        if current.read_text().strip() == gcs_address:
            current.unlink()


@pytest.fixture
def make_ray_imperium(
    ray_cluster: Any, make_database_url: Callable[[str], str]
) -> Callable[..., Any]:
    """An Imperium on SQLite whose agents run on the session's Ray by default."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": make_database_url("sqlite"),
            "default_runtime": "ray",
            "ray_address": "local",  # Ray is already up in this process: joined as is
            "retry_base_seconds": 0.01,
            "retry_cap_seconds": 0.05,
            "poll_interval": 0.05,
            "drain_seconds": 0.5,
            "builtin_agents": "none",
        }
        return Settings(**(values | overrides))

    return make


@pytest.fixture
async def im(make_ray_imperium: Callable[..., Settings]) -> AsyncIterator[Imperium]:
    app = await Imperium.open(make_ray_imperium())
    await app.start()
    yield app
    await app.close()
