"""The weekly report rendered from a real database (memory, SQLite, PostgreSQL) holding
known executions, events, ratings and cycles; its figures are checked against the
database's own rows (raw SQL on the SQL stores), and the intervals against the Wilson
formula written out here."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.reports import MemoryReportStore
from imperium.adapters.storage.reports import SqlReportStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.feedback import Feedback
from imperium.domain.learning import CycleStatus, Insight, InsightType, LearningCycle
from imperium.domain.models import Event, Execution
from imperium.domain.states import Outcome
from imperium.ports import Store
from imperium.services.reports.html import render_html
from imperium.services.reports.service import ReportService

NOW = 1_800_000_000.0  # a Friday, 08:00 UTC
DAY = 86_400.0
SINCE = NOW - 7 * DAY
AGENTS = {"alpha": 0.9, "beta": 0.6, "gamma": 0.3, "delta": 0.75, "rare": 0.5}
TYPES = ("summarise", "translate", "review")


class Clock:
    def now(self) -> float:
        return NOW

    def monotonic(self) -> float:
        return NOW


def history() -> list[Execution]:
    """400 attempts over 10 days (some before the period), outcomes drawn per agent; alpha
    records tokens and cost, the rest nothing; ``rare`` has only 3 attempts in the period."""
    rng = random.Random(14)
    rows = []
    for i in range(400):
        agent = rng.choice(["alpha", "beta", "gamma", "delta"])
        finished = NOW - rng.uniform(0, 10 * DAY)
        draw = rng.random()
        if draw < 0.05:
            outcome = Outcome.CANCELLED
        elif draw < 0.1:
            outcome = Outcome.TIMED_OUT
        else:
            outcome = Outcome.SUCCEEDED if rng.random() < AGENTS[agent] else Outcome.FAILED
        tokens, cost = (rng.randint(100, 900), round(rng.uniform(0.001, 0.02), 5)) if (
            agent == "alpha"
        ) else (None, None)  # fmt: skip
        rows.append(
            Execution(f"t{i}", 1, agent, rng.choice(TYPES), 1.0, finished - 2.0, finished,
                      outcome, 1, tokens=tokens, cost=cost)
        )  # fmt: skip
    for i in range(3):
        rows.append(
            Execution(f"r{i}", 1, "rare", "review", 1.0, NOW - DAY, NOW - DAY + i,
                      Outcome.SUCCEEDED, 1)
        )  # fmt: skip
    return rows


def ratings() -> list[Feedback]:
    scores = [1.0, 1.0, 0.0, 0.8, 0.2, 1.0]
    rows = [
        Feedback(
            f"f{i}", f"t{i}", 1, "beta", "summarise", True, s, None, "tester", NOW - 1 - i * 3600
        )
        for i, s in enumerate(scores)
    ]
    rows.append(Feedback("old", "t99", 1, "beta", "summarise", True, 1.0, None, "tester",
                         SINCE - 10))  # fmt: skip
    return rows


async def seed(store: Store) -> None:
    await store.import_executions(history())
    for i in range(5):
        await store.log_event(Event("task.succeeded", NOW - 1 - i * 100, f"t{i}", "alpha"))
    await store.log_event(Event("task.dead", NOW - 50, "t9", "gamma", {"error_kind": "x"}))
    await store.log_event(Event("task.dead", SINCE - 50, "t8", "gamma"))  # before the period
    drift = {"task_type": "translate", "before_rate": 0.8, "recent_rate": 0.3,
             "direction": "degraded", "at": NOW - 3 * DAY}  # fmt: skip
    await store.log_event(Event("agent.drift", NOW - 3 * DAY, None, "gamma", drift))
    for f in ratings():
        await store.add_feedback(f)
    done = LearningCycle("c1", NOW - 2 * DAY, NOW - 2 * DAY + 5, ("alpha",), 0.1, 10, 2, 1,
                         CycleStatus.COMPLETED, {})  # fmt: skip
    failed = LearningCycle("c2", NOW - DAY, NOW - DAY + 1, (), None, 0, 0, 0,
                           CycleStatus.FAILED, {"error": "boom"})  # fmt: skip
    old = LearningCycle("c0", SINCE - DAY, SINCE - DAY + 1, (), None, 0, 0, 0,
                        CycleStatus.COMPLETED, {})  # fmt: skip
    for cycle in (done, failed, old):
        await store.save_cycle(cycle)
    insight = Insight(InsightType.BEST_COMBO, "summarise", ("alpha",),
                      "alpha is best at summarise", 0.93, 40, {}, NOW - 2 * DAY)  # fmt: skip
    await store.save_insights("c1", [insight])


def reports(store: Store) -> ReportService:
    figures = (
        SqlReportStore(store.database)
        if isinstance(store, SqlStore)
        else MemoryReportStore(store.state)  # type: ignore[attr-defined]
    )
    return ReportService(figures, store, Clock())


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


async def database_counts(store: Store) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(agent, task type, outcome) -> (attempts, attempts recording tokens) in the period,
    read from the database's rows (the stored history, for the memory store)."""
    if isinstance(store, SqlStore):
        query = sa.text(
            "SELECT agent_id, task_type, outcome, count(*), count(tokens) "
            "FROM agent_task_executions WHERE finished_at >= :since AND finished_at < :until "
            "GROUP BY agent_id, task_type, outcome"
        )
        async with store.engine.connect() as conn:
            rows = (await conn.execute(query, {"since": SINCE, "until": NOW})).all()
        return {(a, t, o): (n, k) for a, t, o, n, k in rows}
    assert isinstance(store, MemoryStore)
    out: dict[tuple[str, str, str], tuple[int, int]] = {}
    for e in store.state.executions.values():
        if SINCE <= e.finished_at < NOW:
            key = (e.agent_id or "", e.task_type, str(e.outcome))
            n, k = out.get(key, (0, 0))
            out[key] = (n + 1, k + (e.tokens is not None))
    return out


async def database_spend(store: Store) -> tuple[int, float]:
    if isinstance(store, SqlStore):
        query = sa.text(
            "SELECT sum(tokens), sum(cost) FROM agent_task_executions "
            "WHERE finished_at >= :since AND finished_at < :until"
        )
        async with store.engine.connect() as conn:
            tokens, cost = (await conn.execute(query, {"since": SINCE, "until": NOW})).one()
        return int(tokens), float(cost)
    rows = [e for e in history() if SINCE <= e.finished_at < NOW and e.tokens is not None]
    return sum(e.tokens or 0 for e in rows), sum(e.cost or 0.0 for e in rows)


COUNTED = ("succeeded", "failed", "timed_out", "lost")


@pytest.fixture
async def seeded(store: Store) -> Store:
    await seed(store)
    return store


async def test_the_figures_match_the_database(seeded: Store) -> None:
    report = await reports(seeded).report(7, until=NOW)
    counts = await database_counts(seeded)
    assert sum(n for n, _ in counts.values()) > 200  # most of the 403 rows fall in 7 days

    by_outcome: dict[str, int] = {}
    for (_, _, outcome), (n, _) in counts.items():
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    assert report.attempts_by_outcome == by_outcome

    for task_type in TYPES:
        n = sum(c for (_, t, o), (c, _) in counts.items() if t == task_type and o in COUNTED)
        ok = sum(c for (_, t, o), (c, _) in counts.items() if t == task_type and o == "succeeded")
        rate = report.by_type[task_type]
        assert (rate.attempts, rate.succeeded) == (n, ok)
        assert rate.interval == pytest.approx(wilson(ok, n), abs=1e-12)

    per_agent = {}
    for agent in AGENTS:
        n = sum(c for (a, _, o), (c, _) in counts.items() if a == agent and o in COUNTED)
        ok = sum(c for (a, _, o), (c, _) in counts.items() if a == agent and o == "succeeded")
        per_agent[agent] = (n, ok)
    shown = {a.agent_id: a for a in report.agents}
    for agent, (n, ok) in per_agent.items():
        assert (shown[agent].rate.attempts, shown[agent].rate.succeeded) == (n, ok)
        assert shown[agent].rate.rate == pytest.approx(ok / n)
        assert shown[agent].rate.interval == pytest.approx(wilson(ok, n), abs=1e-12)

    eligible = {a: v for a, v in per_agent.items() if v[0] >= 5}
    assert report.unranked == ["rare"]  # 3 attempts: too few to rank
    by_lower = sorted(eligible, key=lambda a: -wilson(eligible[a][1], eligible[a][0])[0])
    assert [a.agent_id for a in report.best] == by_lower[:3]
    assert [a.agent_id for a in report.worst] == [by_lower[3]]
    assert report.best[0].agent_id == "alpha"
    assert report.worst[0].agent_id == "gamma"

    tokens, cost = await database_spend(seeded)
    assert report.tokens == tokens
    assert report.cost == pytest.approx(cost)
    assert shown["alpha"].tokens == tokens
    assert shown["beta"].tokens is None
    assert report.tasks_ended == {"succeeded": 5, "dead": 1}
    [fb] = report.feedback
    assert (fb.agent_id, fb.ratings, fb.positive) == ("beta", 6, 4)
    assert fb.mean_score == pytest.approx(sum([1.0, 1.0, 0.0, 0.8, 0.2, 1.0]) / 6)
    [drift] = report.drift
    assert (drift.agent_id, drift.task_type, drift.direction) == ("gamma", "translate", "degraded")
    assert report.cycles == {"completed": 1, "failed": 1}
    assert [i.description for i in report.insights] == ["alpha is best at summarise"]
    assert report.notes == []

    data = report.as_json()
    throughput = data["throughput"]
    assert isinstance(throughput, dict)
    assert throughput["attempts"] == sum(by_outcome.values())
    days = throughput["per_day"]
    assert sum(d["succeeded"] for d in days) == by_outcome["succeeded"]
    assert len(days) == 8  # a 7-day period starting mid-day touches 8 UTC days

    html = render_html(report)
    assert html.count("<svg") == 4  # per day, per type, best, worst
    assert "<script" not in html
    alpha = report.best[0].rate
    assert f"{alpha.rate:.1%}" in html
    assert "alpha is best at summarise" in html


async def test_an_empty_period_says_what_is_missing(seeded: Store) -> None:
    report = await reports(seeded).report(1, until=NOW + 30 * DAY)
    assert report.attempts_by_outcome == {}
    assert report.best == []
    assert report.agents == []
    assert report.tokens is None
    assert report.cost is None
    assert "no attempt finished in this period" in report.notes
    assert any(n.startswith("no cost recorded") for n in report.notes)
    html = render_html(report)
    assert "No cost recorded" in html
    assert "Nobody rated a result" in html
