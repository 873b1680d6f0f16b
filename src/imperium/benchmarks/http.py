"""HTTP load: task submissions against a real ``imperium serve`` process over real HTTP.

Two phases, each ``duration`` seconds, after a short warm-up:

- **max**: ``connections`` clients each submit ``POST /api/v1/tasks`` (the echo agent)
  back to back; reports the submit rate the server sustains and its latencies.
- **fixed**: requests are sent on a fixed schedule of ``rate`` per second whatever the
  answers do (an open loop). Latency is measured from each request's *scheduled* time, so
  a server that falls behind shows it in the tail instead of silently slowing the client
  (no coordinated omission).

Every submission returns after its task is durable, and the echo agent runs the tasks
meanwhile, so the server does all its normal work. The load generator runs on the same
machine and competes with the server for CPU; ``server_cpu_seconds`` says how much of the
machine the server itself used. Rate limits are raised for the run (the native API's
default of 6000/minute per client per endpoint would otherwise be what is measured).
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

import httpx

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


class _Load:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.sent = 0
        self.errors: dict[str, int] = {}

    async def submit(self) -> bool:
        self.sent += 1
        try:
            response = await self.http.post(
                "/api/v1/tasks", json={"type": "echo", "payload": {"n": self.sent}}
            )
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
        else:
            if response.status_code == 201:
                return True
            kind = str(response.status_code)
        self.errors[kind] = self.errors.get(kind, 0) + 1
        return False


async def _max_rate(load: _Load, connections: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + duration

    async def client() -> None:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            if await load.submit():
                latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {
        "connections": connections,
        "submitted": len(latencies),
        "submits_per_second": round(len(latencies) / elapsed, 1),
        **percentiles(latencies),
    }


async def _fixed_rate(load: _Load, rate: float, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    total = int(rate * duration)
    started = time.perf_counter()
    in_flight: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        if await load.submit():
            latencies.append(time.perf_counter() - scheduled)

    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        job = asyncio.create_task(one(scheduled))
        in_flight.add(job)
        job.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    elapsed = time.perf_counter() - started
    return {
        "target_rate": rate,
        "submitted": len(latencies),
        "achieved_rate": round(len(latencies) / elapsed, 1),
        **percentiles(latencies),
    }


async def run_http_load(cfg: HttpLoadConfig, progress: Progress | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="imperium-http-bench-") as tmp:
        url = cfg.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        server = _Server(url, Path(tmp) / "serve.log")
        try:
            await server.ready()
            limits = httpx.Limits(max_connections=max(cfg.connections, 1000))
            async with httpx.AsyncClient(base_url=server.url, timeout=60.0, limits=limits) as http:
                load = _Load(http)
                await _max_rate(load, cfg.connections, WARMUP_SECONDS)
                if progress:
                    progress(0, 2)
                cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
                max_phase = await _max_rate(load, cfg.connections, cfg.duration)
                if progress:
                    progress(1, 2)
                fixed_phase = await _fixed_rate(load, cfg.rate, cfg.duration)
                if progress:
                    progress(2, 2)
                cpu_after, wall_after = server.cpu_seconds(), time.perf_counter()
        finally:
            server.stop()
    if max_phase["submitted"] == 0 or fixed_phase["submitted"] == 0:
        raise ImperiumError(f"the server refused the benchmark's requests: {load.errors}")
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = round(cpu_after - cpu_before, 2)
    return {
        "benchmark": "http_load",
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "duration_per_phase_s": cfg.duration,
        "max": max_phase,
        "fixed": fixed_phase,
        "errors": load.errors,
        "server_cpu_seconds": cpu,
        "wall_seconds": round(wall_after - wall_before, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
