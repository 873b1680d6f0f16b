"""The dashboard's server time with a large history: fills a database with N tasks and N
executions (bulk inserts: sqlite3 ``executemany`` in one transaction, PostgreSQL ``COPY``),
then times every page's handling in process (httpx over ASGI, the same app ``imperium
serve`` serves) and prints one JSON object: p50 and p99 per page, in milliseconds.

    python bench/dashboard.py [--tasks 1000000] [--requests 9]
    python bench/dashboard.py --database postgresql://postgres@127.0.0.1/bench_dashboard

The PostgreSQL database is emptied first (its tables dropped): give one made for this.

History spreads over the last 30 days: one task in ten belongs to a workflow of ten (a
chain), the newest 1,000 wait in the queue (a type no agent offers), the rest ended
(90% succeeded; failed, dead, cancelled, timed out) on one of 8 remote agents, each with
its attempt; a few tasks have a second attempt so the executions number exactly N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.tables import agent_task_executions, tasks
from imperium.domain.models import AgentSpec
from imperium.interfaces.dashboard import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings

DAYS = 30
QUEUED = 1000
AGENTS = 8
TYPES = 10
ENDED = ("succeeded",) * 90 + ("failed",) * 4 + ("dead",) * 2 + ("cancelled",) * 2 + (
    "timed_out",
) * 2  # fmt: skip
OUTCOME = {"succeeded": "succeeded", "failed": "failed", "dead": "failed",
           "cancelled": "cancelled", "timed_out": "timed_out"}  # fmt: skip


def task_id(i: int) -> str:
    return f"{i:032x}"


def task_rows(n: int, now: float) -> Iterator[dict[str, Any]]:
    step = DAYS * 86400 / n
    first = now - DAYS * 86400
    for i in range(n):
        created = first + i * step
        queued = i >= n - QUEUED
        in_workflow = (i // 10) % 10 == 0 and i // 10 < (n - QUEUED) // 10
        state = "queued" if queued else ENDED[(i * 7919) % len(ENDED)]
        duration = 0.05 + (i % 97) / 20
        yield {
            "id": task_id(i),
            "type": "nobody-offers-this" if queued else f"type-{i % TYPES}",
            "payload": json.dumps({"n": i}),
            "capabilities": "[]",
            "priority": ("high", "normal", "low")[i % 3],
            "complexity": 1.0 + i % 5,
            "deadline": None,
            "timeout": None,
            "max_attempts": 3,
            "resources": "{}",
            "pinned_agent": None,
            "depends_on": json.dumps([task_id(i - 1)] if in_workflow and i % 10 else []),
            "workflow_id": f"wf-{i // 10:08d}" if in_workflow else None,
            "name": f"step-{i % 10}" if in_workflow else None,
            "estimated_duration": None,
            "dependents": 1 if in_workflow and i % 10 != 9 else 0,
            "state": state,
            "attempts": 0 if queued else 1,
            "restarts": 0,
            "lease_token": 0 if queued else 1,
            "agent_id": None if queued else f"agent-{i % AGENTS}",
            "lease_expires_at": None,
            "not_before": None,
            "started_at": None if queued else created + 0.01,
            "finished_at": None if queued else created + 0.01 + duration,
            "result": None if queued or state != "succeeded" else json.dumps({"ok": i}),
            "error_kind": None if state in ("queued", "succeeded") else "RuntimeError",
            "error_message": None if state in ("queued", "succeeded") else "bench failure",
            "score": 50.0,
            "created_at": created,
            "updated_at": created,
            "cancel_requested_at": None,
        }


def execution_rows(n: int, now: float, sqlite: bool) -> Iterator[dict[str, Any]]:
    """One per ended task, then second attempts until there are ``n``."""
    made = 0
    for attempt in (1, 2):
        for t in task_rows(n, now):
            if t["state"] == "queued":
                continue
            if made == n:
                return
            made += 1
            outcome = OUTCOME[t["state"]] if attempt == 1 else "succeeded"
            started = t["started_at"] + (attempt - 1) * 10
            finished = t["finished_at"] + (attempt - 1) * 10
            yield {
                "task_id": t["id"],
                "attempt": attempt,
                "agent_id": t["agent_id"],
                "agents_used": json.dumps([t["agent_id"]]),
                "task_type": t["type"],
                "complexity": t["complexity"],
                "started_at": started,
                "finished_at": finished,
                "duration_seconds": finished - started,
                "success": (outcome == "succeeded") if not sqlite else int(outcome == "succeeded"),
                "outcome": outcome,
                "error_kind": t["error_kind"] if attempt == 1 else None,
                "error_message": t["error_message"] if attempt == 1 else None,
                "resources": "{}",
                "tokens": 100 + t["complexity"] * 50,
                "cost": 0.001 * t["complexity"],
                "lease_token": attempt,
                "user_satisfaction": None,
                "created_at": finished,
            }


def columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.columns if c.name != "id" or table is tasks]


def insert_sql(table: sa.Table, names: list[str]) -> str:
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"


def fill_sqlite(path: str, n: int, now: float) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-200000")
    with db:
        filled = ((tasks, task_rows(n, now)),
                  (agent_task_executions, execution_rows(n, now, sqlite=True)))  # fmt: skip
        for table, rows in filled:
            names = columns(table)
            db.executemany(insert_sql(table, names), (tuple(r[c] for c in names) for r in rows))
    db.execute("ANALYZE")
    db.close()


async def fill_postgresql(url: str, n: int, now: float) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        filled = ((tasks, task_rows(n, now)),
                  (agent_task_executions, execution_rows(n, now, sqlite=False)))  # fmt: skip
        for table, rows in filled:
            names = columns(table)
            records = (tuple(r[c] for c in names) for r in rows)
            await conn.copy_records_to_table(table.name, records=records, columns=names)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def reset_postgresql(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def pages(n: int) -> list[str]:
    some_task = task_id(n // 2)
    workflow = f"wf-{(n - QUEUED - 100) // 100 * 10:08d}"
    return [
        "/", "/ui/overview", "/ui/series?hours=1", "/ui/series?hours=24", "/ui/series?hours=168",
        "/tasks", "/ui/tasks", "/tasks?state=dead", "/tasks?type=type-3",
        "/tasks?agent=agent-5", f"/tasks?workflow={workflow}", "/tasks?since=1h",
        f"/tasks/{some_task}", "/workflows", f"/workflows/{workflow}", "/agents",
        "/learning", "/learning?task_type=type-3&complexity=2", "/ui/learning/models",
        "/ui/learning/decisions?task_type=type-3&hours=24",
        "/ui/learning/decisions?task_type=type-3&hours=168",
        "/teams", "/custody", "/proposals", "/events",
    ]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


async def time_pages(url: str, n: int, requests: int) -> dict[str, Any]:
    settings = Settings(database_url=url, builtin_agents="none", learning_cycle_interval=0)
    im = await Imperium.open(settings, migrate=False)
    started = time.perf_counter()
    await im.start()
    start_seconds = time.perf_counter() - started
    for k in range(AGENTS):
        spec = AgentSpec(id=f"agent-{k}", type="remote",
                         capabilities=frozenset(f"type-{t}" for t in range(TYPES)))  # fmt: skip
        await im.agents.ensure(spec)
    out: dict[str, Any] = {}
    try:
        transport = httpx.ASGITransport(app=create_app(im))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            for path in pages(n):
                status = (await http.get(path)).status_code  # warm
                times = []
                for _ in range(requests):
                    began = time.perf_counter()
                    response = await http.get(path)
                    times.append((time.perf_counter() - began) * 1000)
                    status = response.status_code
                out[path] = {
                    "status": status,
                    "p50_ms": round(statistics.median(times), 1),
                    "p99_ms": round(percentile(times, 0.99), 1),
                }
    finally:
        await im.close()
    return {"start_seconds": round(start_seconds, 2), "pages": out}


async def run(n: int, requests: int, database: str | None, tmp: str) -> dict[str, Any]:
    now = time.time()
    began = time.perf_counter()
    if database is None:
        path = str(Path(tmp) / "dashboard.db")
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_database(url)
        fill_sqlite(path, n, now)
    else:
        url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
        await reset_postgresql(url)
        await upgrade_database(url)
        await fill_postgresql(url, n, now)
    fill_seconds = time.perf_counter() - began
    timed = await time_pages(url, n, requests)
    over = sorted(p for p, t in timed["pages"].items() if t["p50_ms"] > 100)
    return {
        "database": url.split(":", 1)[0],
        "tasks": n,
        "executions": n,
        "fill_seconds": round(fill_seconds, 1),
        "requests_per_page": requests,
        **timed,
        "pages_over_100ms_p50": over,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(args.tasks, args.requests, args.database, tmp))))


if __name__ == "__main__":
    main()
