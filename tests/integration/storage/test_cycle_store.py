"""Contract of ``CycleStore`` (executions to learn from, imported executions, learning
cycles, insights, model versions, agents' learning figures) for every store, and the
migration that adds its tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.cycles import IMPORT_CHUNK
from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import (
    agent_metrics,
    agent_task_executions,
    learning_insights,
    learning_models,
)
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.ports import AgentLearning, Store, WriteBatch
from tests.integration.storage.storage_factories import (
    T0,
    TOLERANCE,
    assert_same,
    make_agent,
    make_execution,
)

OWNER = "scheduler-1"
# JSON that must come back exactly: floats that are whole or not exactly representable,
# nulls at every depth, unicode.
AWKWARD_JSON: dict[str, object] = {
    "rate": 0.1,
    "whole": 1.0,
    "tiny": 1e-300,
    "negative": -2.5,
    "count": 7,
    "absent": None,
    "nested": {"values": [0.3, None, 2.0, {"deep": None}], "label": "héllo ✓"},
    "empty": [],
}


def make_cycle(cycle_id: str = "cycle-1", **overrides: Any) -> LearningCycle:
    fields: dict[str, Any] = {
        "cycle_id": cycle_id,
        "start_time": T0 + 10.25,
        "end_time": T0 + 12.5,
        "participating_agents": ("alpha", "bravo"),
        "total_learning_value": 0.3125,
        "success_count": 40,
        "failure_count": 9,
        "insights_generated": 3,
        "status": CycleStatus.COMPLETED,
        "metadata": {"model_version": "v-1", "scores": AWKWARD_JSON, "executions_read": 49},
        "trigger": "schedule",
    }
    fields.update(overrides)
    return LearningCycle(**fields)


def make_insight(**overrides: Any) -> Insight:
    fields: dict[str, Any] = {
        "insight_type": InsightType.BEST_COMBO,
        "task_type": "summarise",
        "agents": ("alpha", "bravo"),
        "description": "alpha beats bravo on summarise",
        "confidence": 0.875,
        "sample_size": 120,
        "data": AWKWARD_JSON,
        "created_at": T0 + 20.5,
    }
    fields.update(overrides)
    return Insight(**fields)


def make_model(version: str = "v-1", **overrides: Any) -> ModelReport:
    fields: dict[str, Any] = {
        "version": version,
        "kind": "logistic",
        "trained_at": T0 + 30.75,
        "train_samples": 800,
        "held_out": 200,
        "auc": 0.8125,
        "brier": 0.1525,
        "mae_log_duration": 0.41,
        "baseline_brier": 0.2475,
        "fallback_reason": "too few failures for a fit",
    }
    fields.update(overrides)
    return ModelReport(**fields)


def make_figures(agent_id: str = "alpha", **overrides: Any) -> AgentFigures:
    fields: dict[str, Any] = {
        "agent_id": agent_id,
        "executions": 50,
        "success_rate": 0.82,
        "failure_rate": 0.18,
        "learning_score": 69.5,
        "last_success": T0 + 40.5,
        "last_failure": T0 + 39.25,
        "learning_patterns": [
            {"task_type": "summarise", "attempts": 30, "success_rate": 0.9, "p50": None},
            {"task_type": "translate", "attempts": 20, "success_rate": 0.7, "p50": 2.0},
        ],
        "improvement_suggestions": ["stop taking translate tasks with complexity above 4"],
    }
    fields.update(overrides)
    return AgentFigures(**fields)


async def _record(store: Store, *executions: Execution) -> None:
    """Write ``executions`` the way the engine does: through a group commit."""
    lock = await store.read_lock()
    if lock is None:
        assert await store.swap_lock(None, OWNER, T0 + 3600)
    await store.apply(WriteBatch(executions=list(executions)), OWNER, T0 + 3600)


def _keys(executions: list[Execution]) -> list[tuple[str, int]]:
    return [(e.task_id, e.attempt) for e in executions]


# ------------------------------------------------------------------------- cycles
async def test_a_cycle_round_trips_with_every_field(store: Store) -> None:
    cycle = make_cycle()
    await store.save_cycle(cycle)

    (stored,) = await store.list_cycles(10)

    assert_same(stored, cycle)
    assert stored.metadata == cycle.metadata
    assert isinstance(stored.status, CycleStatus)
    assert stored.participating_agents == ("alpha", "bravo")
    whole = stored.metadata["scores"]
    assert isinstance(whole, dict)
    assert isinstance(whole["whole"], float)


async def test_saving_a_cycle_again_replaces_its_row(store: Store) -> None:
    running = make_cycle(
        end_time=None,
        participating_agents=(),
        total_learning_value=None,
        success_count=0,
        failure_count=0,
        insights_generated=0,
        status=CycleStatus.RUNNING,
        metadata={},
        trigger="manual",
    )
    await store.save_cycle(running)
    (first,) = await store.list_cycles(10)
    assert_same(first, running)
    assert first.end_time is None
    assert first.total_learning_value is None

    completed = make_cycle(trigger="manual")
    await store.save_cycle(completed)

    assert len(await store.list_cycles(10)) == 1
    (second,) = await store.list_cycles(10)
    assert_same(second, completed)
    assert second.status is CycleStatus.COMPLETED


async def test_cycles_list_newest_first_up_to_the_limit(store: Store) -> None:
    for n, start in [(1, 5.0), (2, 1.0), (3, 9.0), (4, 3.0)]:
        await store.save_cycle(make_cycle(f"cycle-{n}", start_time=T0 + start))

    newest = await store.list_cycles(3)

    assert [c.cycle_id for c in newest] == ["cycle-3", "cycle-1", "cycle-4"]
    assert [c.cycle_id for c in await store.list_cycles(10)] == [
        "cycle-3",
        "cycle-1",
        "cycle-4",
        "cycle-2",
    ]


# ------------------------------------------------------------------------- insights
async def test_insights_round_trip(store: Store) -> None:
    insight = make_insight()
    await store.save_insights("cycle-1", [insight])

    (stored,) = await store.list_insights(10)

    assert_same(stored, insight)
    assert stored.insight_type is InsightType.BEST_COMBO
    assert stored.agents == ("alpha", "bravo")
    assert stored.data == AWKWARD_JSON
    assert isinstance(stored.data["whole"], float)


async def test_insights_list_newest_first_and_filter_by_type(store: Store) -> None:
    await store.save_insights(
        "cycle-1",
        [
            make_insight(description="a", created_at=T0 + 1),
            make_insight(
                description="b", created_at=T0 + 3, insight_type=InsightType.AVOID_PATTERN
            ),
            make_insight(description="c", created_at=T0 + 2, insight_type=InsightType.DRIFT),
        ],
    )
    await store.save_insights(
        "cycle-2",
        [
            make_insight(
                description="d", created_at=T0 + 3, insight_type=InsightType.AVOID_PATTERN
            ),
            make_insight(description="e", created_at=T0 + 4, agents=()),
        ],
    )
    await store.save_insights("cycle-3", [])

    everything = await store.list_insights(10)
    avoid = await store.list_insights(10, InsightType.AVOID_PATTERN)

    # newest first; "b" and "d" share a time: in the order saved (a cycle saves its
    # insights most confident first, and that order must survive)
    assert [i.description for i in everything] == ["e", "b", "d", "c", "a"]
    assert everything[0].agents == ()
    assert [i.description for i in await store.list_insights(2)] == ["e", "b"]
    assert [i.description for i in avoid] == ["b", "d"]
    of_cycle_2 = await store.list_insights(10, cycle_id="cycle-2")
    assert [i.description for i in of_cycle_2] == ["e", "d"]
    assert await store.list_insights(10, InsightType.DRIFT, "cycle-2") == []
    assert all(i.insight_type is InsightType.AVOID_PATTERN for i in avoid)
    assert [i.description for i in await store.list_insights(1, InsightType.BEST_COMBO)] == ["e"]
    assert await store.list_insights(10, InsightType.BOTTLENECK) == []


# ------------------------------------------------------------------------- models
async def test_models_round_trip_with_unmeasured_scores(store: Store) -> None:
    measured = make_model("v-1", fallback_reason=None)
    unmeasured = make_model(
        "v-2",
        trained_at=T0 + 60.5,
        held_out=0,
        auc=None,
        brier=None,
        mae_log_duration=None,
        baseline_brier=None,
    )
    await store.save_model("cycle-1", measured)
    await store.save_model(None, unmeasured)

    newest, oldest = await store.list_models(10)

    assert_same(newest, unmeasured)
    assert (newest.auc, newest.brier, newest.mae_log_duration, newest.baseline_brier) == (
        None,
        None,
        None,
        None,
    )
    assert newest.fallback_reason == "too few failures for a fit"
    assert_same(oldest, measured)
    assert oldest.fallback_reason is None
    assert oldest.brier_skill == pytest.approx(1 - 0.1525 / 0.2475)


async def test_saving_a_model_version_again_replaces_it(store: Store) -> None:
    await store.save_model("cycle-1", make_model("v-1", auc=None))
    replaced = make_model("v-1", auc=0.9, train_samples=900)

    await store.save_model("cycle-2", replaced)

    (stored,) = await store.list_models(10)
    assert_same(stored, replaced)


async def test_models_list_newest_first_up_to_the_limit(store: Store) -> None:
    for version, at in [("v-a", 2.0), ("v-b", 7.0), ("v-c", 4.0)]:
        await store.save_model("cycle-1", make_model(version, trained_at=T0 + at))

    assert [m.version for m in await store.list_models(2)] == ["v-b", "v-c"]
    assert [m.version for m in await store.list_models(10)] == ["v-b", "v-c", "v-a"]


# ------------------------------------------------------------------------- agent figures
async def test_agent_figures_are_written_and_counted(store: Store) -> None:
    await store.insert_agent(make_agent("alpha"))
    await store.insert_agent(make_agent("bravo"))
    updated_at = {a.id: a.updated_at for a in await store.list_agents()}
    first = make_figures("alpha")

    written = await store.save_agent_figures([first, make_figures("ghost")], T0 + 100.25)

    assert written == 1  # "ghost" is not registered
    learning = await store.agent_learning()
    assert learning["bravo"] == AgentLearning("bravo", 0.0, 0, None, [], [])
    alpha = learning["alpha"]
    assert alpha.learning_score == pytest.approx(69.5)
    assert alpha.total_learning_cycles == 1
    assert alpha.last_learning_cycle == pytest.approx(T0 + 100.25, abs=TOLERANCE)
    assert alpha.learning_patterns == first.learning_patterns
    assert alpha.improvement_suggestions == first.improvement_suggestions

    second = make_figures("alpha", learning_score=12.25, learning_patterns=[])
    written = await store.save_agent_figures(
        [second, make_figures("bravo", improvement_suggestions=[])], T0 + 200.5
    )

    assert written == 2
    learning = await store.agent_learning()
    assert learning["alpha"].total_learning_cycles == 2
    assert learning["alpha"].learning_score == pytest.approx(12.25)
    assert learning["alpha"].last_learning_cycle == pytest.approx(T0 + 200.5, abs=TOLERANCE)
    assert learning["alpha"].learning_patterns == []
    assert learning["bravo"].total_learning_cycles == 1
    assert learning["bravo"].improvement_suggestions == []
    # updated_at is the scheduler's change marker: learning figures leave it alone
    assert {a.id: a.updated_at for a in await store.list_agents()} == updated_at
    assert await store.agents_changed_since(T0 + 101) == []


async def test_agent_figures_survive_an_update_of_the_agent(store: Store) -> None:
    await store.insert_agent(make_agent("alpha"))
    await store.save_agent_figures([make_figures("alpha")], T0 + 100)

    await store.update_agent(make_agent("alpha", description="changed", updated_at=T0 + 300))

    (alpha,) = (await store.agent_learning("alpha")).values()
    assert alpha.total_learning_cycles == 1
    assert alpha.learning_score == pytest.approx(69.5)


async def test_no_figures_update_nothing(store: Store) -> None:
    await store.insert_agent(make_agent("alpha"))

    assert await store.save_agent_figures([], T0) == 0
    assert await store.save_agent_figures([make_figures("ghost")], T0) == 0
    assert (await store.agent_learning("alpha"))["alpha"].total_learning_cycles == 0


# ------------------------------------------------------------------------- executions
async def test_recent_executions_are_those_that_finished_last_in_time_order(
    store: Store,
) -> None:
    # the time they finished decides, then the recorded order (ids)
    await _record(
        store,
        make_execution("t1", finished_at=T0 + 50),
        make_execution("t2", finished_at=T0 + 20),
    )
    await _record(store, make_execution("t3", outcome=Outcome.SUCCEEDED))
    await _record(
        store,
        make_execution("t1", 2, outcome=Outcome.CANCELLED),
        make_execution("t4", agent_id=None, outcome=Outcome.LOST),
    )

    assert _keys(await store.recent_executions(3)) == [("t4", 1), ("t2", 1), ("t1", 1)]
    everything = await store.recent_executions(100)
    assert _keys(everything) == [("t3", 1), ("t1", 2), ("t4", 1), ("t2", 1), ("t1", 1)]
    assert_same(everything[4], make_execution("t1", finished_at=T0 + 50))
    assert everything[2].agent_id is None
    assert await store.recent_executions(0) == []


async def test_imported_old_history_does_not_count_as_recent(store: Store) -> None:
    await _record(store, make_execution("new", started_at=T0 + 900, finished_at=T0 + 1000))
    old = [make_execution(f"old-{i}", started_at=T0, finished_at=T0 + i) for i in range(5)]
    assert await store.import_executions(old) == 5
    assert _keys(await store.recent_executions(2)) == [("old-4", 1), ("new", 1)]


async def test_recent_executions_of_an_empty_store(store: Store) -> None:
    assert await store.recent_executions(10) == []


async def test_import_skips_recorded_attempts_and_counts_the_new(store: Store) -> None:
    await _record(store, make_execution("t1"), make_execution("t2"))
    incoming = [
        make_execution("t1", error_message="already recorded"),  # skipped
        make_execution("t1", 2, outcome=Outcome.SUCCEEDED, error_kind=None, error_message=None),
        make_execution("t3", agent_id=None, tokens=None, cost=None, resources={}),
        make_execution("t3", error_message="twice in the import"),  # skipped
        make_execution("t5", outcome=Outcome.TIMED_OUT, resources={"cpu": 0.25, "gpu": 1.0}),
    ]

    assert await store.import_executions(incoming) == 3

    recent = await store.recent_executions(10)
    assert _keys(recent) == [("t1", 1), ("t2", 1), ("t1", 2), ("t3", 1), ("t5", 1)]
    for got, want in zip(recent[2:], [incoming[1], incoming[2], incoming[4]], strict=True):
        assert_same(got, want)
    assert recent[0].error_message == "bad input"  # the recorded row was kept
    assert await store.import_executions(incoming) == 0
    assert await store.import_executions([]) == 0
    counts = await store.count_executions_by_outcome()
    assert (counts[Outcome.SUCCEEDED], counts[Outcome.FAILED], counts[Outcome.TIMED_OUT]) == (
        1,
        3,
        1,
    )


async def test_imported_executions_count_in_agent_stats(store: Store) -> None:
    await store.import_executions(
        [
            make_execution("t1", outcome=Outcome.SUCCEEDED, finished_at=T0 + 15),
            make_execution("t2", outcome=Outcome.FAILED, finished_at=T0 + 14),
        ]
    )

    stats = (await store.agent_stats("agent-a"))["agent-a"]

    assert (stats.executions, stats.succeeded, stats.failed) == (2, 1, 1)
    assert stats.last_success == pytest.approx(T0 + 15, abs=TOLERANCE)
    assert stats.mean_duration == pytest.approx((5.0 + 4.0) / 2)


async def test_a_large_import_in_several_statements(store: Store) -> None:
    count = IMPORT_CHUNK * 2 + 37
    incoming = [
        make_execution(f"bulk-{n:05d}", outcome=Outcome.SUCCEEDED if n % 3 else Outcome.FAILED)
        for n in range(count)
    ]
    await _record(store, incoming[1500])

    assert await store.import_executions(incoming) == count - 1

    recent = await store.recent_executions(count)
    assert len(recent) == count
    assert recent[0].task_id == "bulk-01500"
    assert [e.task_id for e in recent[1:]] == [
        e.task_id for n, e in enumerate(incoming) if n != 1500
    ]


async def test_import_accepts_whole_number_times(store: Store) -> None:
    """Records read from elsewhere may carry ints where the domain has floats."""
    whole = make_execution(
        "t1", started_at=int(T0), finished_at=int(T0) + 3, complexity=2, cost=1, tokens=0
    )

    assert await store.import_executions([whole]) == 1

    (stored,) = await store.recent_executions(1)
    assert stored.finished_at == pytest.approx(int(T0) + 3)
    assert stored.duration == pytest.approx(3.0)
    assert stored.cost == pytest.approx(1.0)


# ------------------------------------------------------------------------- SQL only
async def test_imported_rows_fill_every_column_as_the_engine_does(sql_store: SqlStore) -> None:
    """Columns outside ``Execution`` (agents_used, success, duration_seconds, created_at)
    are written as the group commit writes them."""
    await _record(sql_store, make_execution("engine", outcome=Outcome.SUCCEEDED))
    await _record(sql_store, make_execution("engine-2", agent_id=None))
    await sql_store.import_executions(
        [
            make_execution("imported", outcome=Outcome.SUCCEEDED),
            make_execution("imported-2", agent_id=None),
        ]
    )
    ex = agent_task_executions
    async with sql_store.engine.connect() as conn:
        rows = {
            r.task_id: {k: v for k, v in r._mapping.items() if k not in ("id", "task_id")}
            for r in await conn.execute(sa.select(ex))
        }

    assert rows["imported"] == rows["engine"]
    assert rows["imported-2"] == rows["engine-2"]
    assert rows["imported"]["agents_used"] == ["agent-a"]
    assert rows["imported-2"]["agents_used"] == []
    assert rows["imported"]["success"] is True
    assert rows["imported-2"]["success"] is False
    assert rows["imported"]["duration_seconds"] == pytest.approx(2.5)
    assert rows["imported"]["created_at"] == pytest.approx(T0 + 12.5)


async def test_every_learning_column_of_an_agent_is_written(sql_store: SqlStore) -> None:
    await sql_store.insert_agent(make_agent("alpha"))
    await sql_store.insert_agent(make_agent("bravo"))
    figures = make_figures("alpha")

    await sql_store.save_agent_figures([figures], T0 + 100.25)
    await sql_store.save_agent_figures([make_figures("bravo", last_success=None)], T0 + 101)

    am = agent_metrics
    async with sql_store.engine.connect() as conn:
        rows = {r.agent_id: r for r in await conn.execute(sa.select(am).order_by(am.c.agent_id))}
    alpha, bravo = rows["alpha"], rows["bravo"]
    assert (alpha.success_rate, alpha.failure_rate) == pytest.approx((0.82, 0.18))
    assert alpha.learning_score == pytest.approx(69.5)
    assert alpha.last_success == pytest.approx(T0 + 40.5, abs=TOLERANCE)
    assert alpha.last_failure == pytest.approx(T0 + 39.25, abs=TOLERANCE)
    assert alpha.last_learning_cycle == pytest.approx(T0 + 100.25, abs=TOLERANCE)
    assert alpha.learning_patterns == figures.learning_patterns
    assert alpha.improvement_suggestions == figures.improvement_suggestions
    assert alpha.updated_at == pytest.approx(T0 + 100.5, abs=TOLERANCE)
    assert bravo.last_success is None
    assert bravo.total_learning_cycles == 1


async def test_insights_and_models_keep_their_cycle(sql_store: SqlStore) -> None:
    await sql_store.save_insights("cycle-7", [make_insight(), make_insight(created_at=T0)])
    await sql_store.save_model("cycle-7", make_model("v-1"))
    await sql_store.save_model(None, make_model("v-2"))

    async with sql_store.engine.connect() as conn:
        insight_cycles = (await conn.execute(sa.select(learning_insights.c.cycle_id))).all()
        model_cycles = dict(
            (
                await conn.execute(sa.select(learning_models.c.version, learning_models.c.cycle_id))
            ).all()
        )

    assert [c for (c,) in insight_cycles] == ["cycle-7", "cycle-7"]
    assert model_cycles == {"v-1": "cycle-7", "v-2": None}


async def test_upgrade_from_0003_keeps_the_data_and_adds_the_tables(database_url: str) -> None:
    await upgrade_database(database_url, "0003")
    store = await SqlStore.connect(database_url)
    try:
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        assert "learning_cycles" not in tables
        await store.insert_agent(make_agent("alpha"))
        await _record(store, make_execution("t1"), make_execution("t2", outcome=Outcome.SUCCEEDED))
    finally:
        await store.close()

    await upgrade_database(database_url)

    store = await SqlStore.connect(database_url)
    try:
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        assert {"learning_cycles", "learning_insights", "learning_models"} <= tables
        assert _keys(await store.recent_executions(10)) == [("t1", 1), ("t2", 1)]
        agent = await store.get_agent("alpha")
        assert agent is not None
        assert dataclasses.asdict(agent) == dataclasses.asdict(make_agent("alpha"))
        assert await store.save_agent_figures([make_figures("alpha")], T0 + 100) == 1
        await store.save_cycle(make_cycle())
        assert [c.cycle_id for c in await store.list_cycles(5)] == ["cycle-1"]
    finally:
        await store.close()
