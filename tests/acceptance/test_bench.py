"""The benchmarks run and report what they measured (figures are not asserted: tests never
judge wall-clock time; the README quotes measured runs)."""

from __future__ import annotations

import json

import pytest

from imperium.benchmarks.throughput import run_commit_latency
from tests.acceptance.conftest import imperium

pytestmark = pytest.mark.slow


def test_http_bench_reports_both_phases(database_url: str) -> None:
    out = imperium(
        database_url, "bench", "http", "--duration", "1", "--rate", "20",
        "--connections", "4", "--database", database_url, "--json", timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["errors"] == {}
    assert result["max"]["submitted"] > 0
    assert result["fixed"]["submitted"] == 20  # 20/s for 1 s, every one answered
    assert result["client_processes"] == 2  # the load comes from worker processes
    for phase in ("max", "fixed"):
        figures = result[phase]
        assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["server_cpu_ms_per_request"] > 0  # read from /proc (Linux)
        assert figures["client_cpu_seconds"] >= 0
    assert result["database"] == database_url.split(":")[0].split("+")[0]


def test_throughput_bench_runs_every_task(database_url: str) -> None:
    out = imperium(
        database_url, "bench", "throughput", "--tasks", "300", "--concurrency", "50",
        "--batch", "100", "--database", database_url, "--json", timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["tasks"], result["succeeded"]) == (300, 300)
    assert result["tasks_per_s"] > 0


async def test_commit_latency_bench_commits_each_task_on_its_own(database_url: str) -> None:
    result = await run_commit_latency(5, database_url)
    assert result["tasks"] == 5
    assert result["group_commits"] >= 10  # per task: its insert, then its outcome
    assert 0 < result["submit_p50_ms"] <= result["submit_p90_ms"]
    assert result["cpu_ms_per_commit"] > 0
    assert result["loop_cpu_ms_per_commit"] > 0
    assert result["database"] == database_url.split(":")[0].split("+")[0]
