"""HTTP load: task submissions against a real ``imperium serve`` process over real HTTP.

Two phases, each ``duration`` seconds, after a short warm-up:

- **max**: ``connections`` clients each submit ``POST /api/v1/tasks`` (the echo agent)
  back to back; reports the submit rate the server sustains and its latencies.
- **fixed**: requests are sent on a fixed schedule of ``rate`` per second whatever the
  answers do (an open loop). Latency is measured from each request's *scheduled* time, so
  a server that falls behind shows it in the tail instead of silently slowing the client
  (no coordinated omission).

Every submission returns after its task is durable, and the echo agent runs the tasks
meanwhile, so the server does all its normal work. The requests come from ``processes``
worker processes with a lean client (:mod:`._http_client`), so that the client is not what
is measured; it still shares the machine with the server. Each phase reports the CPU time
the server used per answered request and the CPU time the client used in all. Rate limits
are raised for the run (the native API's default of 6000/minute per client per endpoint
would otherwise be what is measured).
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imperium.benchmarks._http_client import ClientError, Clients, Outcome, Phase, PhaseKind
from imperium.domain.errors import ImperiumError

Progress = Callable[[int, int], None]
BENCH_RATE_LIMITS = "native=100000000/minute"
WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class HttpLoadConfig:
    rate: float = 200.0
    duration: float = 10.0
    connections: int = 16
    database_url: str | None = None
    processes: int = 2  # load-generating processes


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max in milliseconds (None when there was nothing to measure)."""
    if not latencies:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": at(1.0)}


class _Server:
    """``imperium serve --port 0`` in a child process."""

    def __init__(self, database_url: str, log: Path) -> None:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url, LOG_LEVEL="WARNING", IMPERIUM_RATE_LIMITS=BENCH_RATE_LIMITS
        )
        self.log = log
        self._fh = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imperium", "serve", "--port", "0"],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )
        self.url = ""

    async def ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = re.search(r"API on (http://\S+?) ", self.log.read_text().replace("\n", " "))
            if found:
                self.url = found.group(1)
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise ImperiumError(f"imperium serve did not start:\n{self.log.read_text()[-2000:]}")

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server so far (Linux), else None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class _Load:
    """The phases, run by :class:`Clients` against one server."""

    def __init__(self, clients: Clients, server: _Server, connections: int) -> None:
        host, _, port = server.url.removeprefix("http://").rpartition(":")
        self.clients = clients
        self.server = server
        self.host, self.port = host, int(port)
        self.connections = _shares(max(connections, clients.count), clients.count)
        self.errors: dict[str, int] = {}

    def phase(self, kind: PhaseKind, duration: float, rate: float = 0.0) -> dict[str, Any]:
        workers = len(self.connections)
        phases = [
            Phase(kind, self.host, self.port, duration, connections, rate, worker, workers)
            for worker, connections in enumerate(self.connections)
        ]
        cpu_before = self.server.cpu_seconds()
        outcomes = self.clients.run(phases)
        cpu_after = self.server.cpu_seconds()
        for outcome in outcomes:
            for what, n in outcome.errors.items():
                self.errors[what] = self.errors.get(what, 0) + n
        server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return _figures(outcomes, server_cpu)


def _figures(outcomes: list[Outcome], server_cpu: float | None) -> dict[str, Any]:
    latencies = [seconds for outcome in outcomes for seconds in outcome.latencies]
    elapsed = max(outcome.elapsed for outcome in outcomes)
    per_request = None
    if server_cpu is not None and latencies:
        per_request = round(server_cpu * 1000 / len(latencies), 3)
    return {
        "submitted": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1) if elapsed > 0 else None,
        **percentiles(latencies),
        "server_cpu_ms_per_request": per_request,
        "client_cpu_seconds": round(sum(outcome.cpu_seconds for outcome in outcomes), 2),
    }


def _run_phases(cfg: HttpLoadConfig, server: _Server, progress: Progress | None) -> _Result:
    clients = Clients(cfg.processes)
    try:
        load = _Load(clients, server, cfg.connections)
        load.phase("max", WARMUP_SECONDS)
        load.errors.clear()
        if progress:
            progress(0, 2)
        cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
        max_phase = load.phase("max", cfg.duration)
        if progress:
            progress(1, 2)
        fixed_phase = load.phase("fixed", cfg.duration, cfg.rate)
        if progress:
            progress(2, 2)
        cpu_after, wall_after = server.cpu_seconds(), time.perf_counter()
    except ClientError as exc:
        raise ImperiumError(f"the load generator failed: {exc}") from exc
    finally:
        clients.close()
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = round(cpu_after - cpu_before, 2)
    return _Result(max_phase, fixed_phase, load.errors, cpu, round(wall_after - wall_before, 2))


@dataclass(frozen=True)
class _Result:
    max: dict[str, Any]
    fixed: dict[str, Any]
    errors: dict[str, int]
    server_cpu_seconds: float | None
    wall_seconds: float


async def run_http_load(cfg: HttpLoadConfig, progress: Progress | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="imperium-http-bench-") as tmp:
        url = cfg.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        server = _Server(url, Path(tmp) / "serve.log")
        try:
            await server.ready()
            result = await asyncio.to_thread(_run_phases, cfg, server, progress)
        finally:
            server.stop()
    if result.max["submitted"] == 0 or result.fixed["submitted"] == 0:
        raise ImperiumError(f"the server refused the benchmark's requests: {result.errors}")
    max_phase = {"connections": max(cfg.connections, cfg.processes), **result.max}
    max_phase["submits_per_second"] = max_phase.pop("per_second")
    fixed_phase = {"target_rate": cfg.rate, **result.fixed}
    fixed_phase["achieved_rate"] = fixed_phase.pop("per_second")
    return {
        "benchmark": "http_load",
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "duration_per_phase_s": cfg.duration,
        "client_processes": cfg.processes,
        "max": max_phase,
        "fixed": fixed_phase,
        "errors": result.errors,
        "server_cpu_seconds": result.server_cpu_seconds,
        "wall_seconds": result.wall_seconds,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
