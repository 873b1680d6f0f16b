"""Contract of ``LearningStore`` (learning events, analytics, agents' learning columns) and
of ``agent_stats`` for one agent, for every store."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import agent_metrics
from imperium.domain.models import Event
from imperium.domain.states import Outcome
from imperium.ports import (
    AgentLearning,
    LearningFilter,
    LearningLog,
    LearningTotals,
    Store,
    WriteBatch,
)
from tests.integration.storage.storage_factories import (
    T0,
    TOLERANCE,
    assert_same,
    make_agent,
    make_event,
    make_execution,
)

OWNER = "scheduler-1"


def entry(event_type: str, at: float, agent: str | None, impact: float) -> LearningLog:
    return LearningLog(event_type, T0 + at, agent, impact_score=impact)


# Six learning events, two engine events and a learning event logged as a plain Event.
LOGS = [
    entry("internet_learning", 1, "imperium", 0.5),
    entry("internet_learning", 2, "guardian", 1.5),
    entry("cycle_completed", 3, "imperium", 2.0),
    entry("internet_learning", 4, "imperium", 0.25),
    entry("cycle_completed", 5, None, 4.0),
    entry("topic_added", 6, "sandbox", -1.0),
]


def _totals(totals: list[LearningTotals]) -> dict[tuple[str, str | None], tuple[int, float]]:
    return {(t.event_type, t.agent_id): (t.events, round(t.total_impact, 6)) for t in totals}


@pytest.fixture
async def logged(store: Store) -> Store:
    for log in LOGS:
        await store.log_learning(log)
    await store.log_event(make_event("task-1", "task.succeeded", created_at=T0 + 3.5))
    await store.log_event(make_event(None, "agent.registered", created_at=T0 + 3.6))
    await store.log_event(Event("Scheduler.started", T0 + 3.7, None, None, None))
    await store.log_event(Event("learning.note", T0 + 7, None, "guardian", {"why": "x"}))
    return store


async def test_a_learning_event_round_trips_with_every_column(store: Store) -> None:
    full = LearningLog(
        event_type="internet_learning",
        created_at=T0 + 1.5,
        agent_id="imperium",
        agent_type="Imperium",
        topic="AI orchestration ✓",
        results_count=5,
        results_sample=[{"title": "a"}, "b", 3],
        insights=["more tests", {"k": [1, None]}],
        error_message="one source failed",
        processing_time=2.25,
        impact_score=0.8,
        event_data={"source": "arxiv", "nested": {"n": 1.5}},
    )
    await store.log_learning(full)

    found = await store.learning_analytics(LearningFilter())

    assert len(found.logs) == 1
    assert_same(found.logs[0], full)
    assert found.totals == [LearningTotals("internet_learning", "imperium", 1, 0.8)]


async def test_absent_values_stay_absent(store: Store) -> None:
    await store.log_learning(LearningLog("bare", T0))

    (stored,) = (await store.learning_analytics(LearningFilter())).logs

    assert stored == LearningLog("bare", stored.created_at)


async def test_analytics_count_learning_events_only(logged: Store) -> None:
    found = await logged.learning_analytics(LearningFilter(limit=100))

    assert _totals(found.totals) == {
        ("internet_learning", "imperium"): (2, 0.75),
        ("internet_learning", "guardian"): (1, 1.5),
        ("cycle_completed", "imperium"): (1, 2.0),
        ("cycle_completed", None): (1, 4.0),
        ("topic_added", "sandbox"): (1, -1.0),
        ("learning.note", "guardian"): (1, 0.0),  # logged as an Event: no impact
    }
    times = [round(log.created_at - T0, 3) for log in found.logs]
    assert times == [7, 6, 5, 4, 3, 2, 1]  # newest first, the engine's events left out
    assert found.logs[0].event_data == {"why": "x"}


@pytest.mark.parametrize(
    ("flt", "expected_totals", "expected_times"),
    [
        pytest.param(
            LearningFilter(agent_id="imperium"),
            {
                ("internet_learning", "imperium"): (2, 0.75),
                ("cycle_completed", "imperium"): (1, 2.0),
            },
            [4, 3, 1],
            id="agent",
        ),
        pytest.param(
            LearningFilter(event_types=("cycle_completed", "topic_added")),
            {
                ("cycle_completed", "imperium"): (1, 2.0),
                ("cycle_completed", None): (1, 4.0),
                ("topic_added", "sandbox"): (1, -1.0),
            },
            [6, 5, 3],
            id="types",
        ),
        pytest.param(
            LearningFilter(since=T0 + 2, until=T0 + 4),  # both ends inclusive
            {
                ("internet_learning", "guardian"): (1, 1.5),
                ("cycle_completed", "imperium"): (1, 2.0),
                ("internet_learning", "imperium"): (1, 0.25),
            },
            [4, 3, 2],
            id="time-range",
        ),
        pytest.param(
            LearningFilter(since=T0 + 5.5),
            {("topic_added", "sandbox"): (1, -1.0), ("learning.note", "guardian"): (1, 0.0)},
            [7, 6],
            id="since",
        ),
        pytest.param(
            LearningFilter(agent_id="imperium", event_types=("internet_learning",), until=T0 + 3),
            {("internet_learning", "imperium"): (1, 0.5)},
            [1],
            id="combined",
        ),
        pytest.param(
            LearningFilter(event_types=("task.succeeded", "agent.registered")), {}, [], id="engine"
        ),
        pytest.param(LearningFilter(agent_id="nobody"), {}, [], id="nothing"),
    ],
)
async def test_analytics_filters(
    logged: Store,
    flt: LearningFilter,
    expected_totals: dict[tuple[str, str | None], tuple[int, float]],
    expected_times: list[float],
) -> None:
    found = await logged.learning_analytics(flt)

    assert _totals(found.totals) == expected_totals
    assert [round(log.created_at - T0, 3) for log in found.logs] == expected_times


async def test_the_limit_bounds_the_logs_not_the_totals(logged: Store) -> None:
    found = await logged.learning_analytics(LearningFilter(limit=2))

    assert [round(log.created_at - T0, 3) for log in found.logs] == [7, 6]
    assert sum(t.events for t in found.totals) == 7


async def test_events_at_the_same_time_list_the_later_logged_first(store: Store) -> None:
    for name in ("first", "second", "third"):
        await store.log_learning(LearningLog(name, T0))

    found = await store.learning_analytics(LearningFilter())

    assert [log.event_type for log in found.logs] == ["third", "second", "first"]


async def test_agent_learning_of_registered_agents(store: Store) -> None:
    await store.insert_agent(make_agent("alpha"))
    await store.insert_agent(make_agent("bravo"))

    everyone = await store.agent_learning()

    assert everyone == {
        "alpha": AgentLearning("alpha", 0.0, 0, None, [], []),
        "bravo": AgentLearning("bravo", 0.0, 0, None, [], []),
    }
    assert await store.agent_learning("bravo") == {"bravo": everyone["bravo"]}
    assert await store.agent_learning("nobody") == {}


async def test_agent_stats_for_one_agent(store: Store) -> None:
    assert await store.swap_lock(None, OWNER, T0 + 30)
    executions = [
        make_execution("t1", agent_id="alpha", outcome=Outcome.SUCCEEDED),
        make_execution("t2", agent_id="alpha", outcome=Outcome.FAILED),
        make_execution("t3", agent_id="bravo", outcome=Outcome.SUCCEEDED),
    ]
    await store.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    everyone = await store.agent_stats()
    alpha = await store.agent_stats("alpha")

    assert set(everyone) == {"alpha", "bravo"}
    assert alpha == {"alpha": everyone["alpha"]}
    assert (alpha["alpha"].executions, alpha["alpha"].succeeded) == (2, 1)
    assert await store.agent_stats("nobody") == {}


# ------------------------------------------------------------------------- SQL only
async def test_learning_columns_are_read_as_stored(sql_store: SqlStore) -> None:
    """What learning cycles will write: read back column for column."""
    await sql_store.insert_agent(make_agent("alpha"))
    learned = {
        "learning_score": 7.5,
        "total_learning_cycles": 3,
        "last_learning_cycle": T0 + 50.25,
        "learning_patterns": ["retries help", {"k": 1}],
        "improvement_suggestions": ["shorter prompts"],
    }
    async with sql_store.engine.begin() as conn:
        await conn.execute(
            sa.update(agent_metrics).where(agent_metrics.c.agent_id == "alpha").values(**learned)
        )

    (stored,) = (await sql_store.agent_learning("alpha")).values()

    assert stored.agent_id == "alpha"
    assert (stored.learning_score, stored.total_learning_cycles) == (7.5, 3)
    assert stored.last_learning_cycle == pytest.approx(T0 + 50.25, abs=TOLERANCE)
    assert stored.learning_patterns == ["retries help", {"k": 1}]
    assert stored.improvement_suggestions == ["shorter prompts"]


async def test_analytics_read_learning_events_through_their_index(sql_store: SqlStore) -> None:
    """The partial index is what keeps analytics off the engine's many events."""
    from imperium.adapters.storage.learning import learning_where
    from imperium.adapters.storage.tables import learning_logs

    query = (
        sa.select(learning_logs.c.id)
        .where(*learning_where(LearningFilter(since=T0)))
        .order_by(learning_logs.c.created_at.desc())
        .limit(10)
    )
    async with sql_store.engine.connect() as conn:
        compiled = query.compile(conn.engine, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET enable_seqscan = off")
            plan = (await conn.exec_driver_sql(f"EXPLAIN {compiled}")).scalars().all()
        else:
            plan = [r[-1] for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]

    assert "ix_learning_logs_learning_events" in " ".join(plan)
