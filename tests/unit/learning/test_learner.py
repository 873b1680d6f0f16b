"""The learner's cycles on the in-memory store: what a cycle writes, that the router keeps
what it observed while a cycle was fitting, how drift alarms are reported, and what a
recommendation says. (Against SQLite and PostgreSQL: tests/integration.)"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Sequence

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.learning import (
    CycleStatus,
    InsightType,
    LearningCycle,
    ModelReport,
    Prediction,
    Query,
    RouterMode,
    counts,
)
from imperium.domain.models import AgentSpec, Execution
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.states import Outcome
from imperium.services.learning.service import Learner, LearnerConfig, latest_insights
from tests.support.learning_history import T0, history


class Clock:
    def __init__(self) -> None:
        self.t = T0 + 10**6

    def now(self) -> float:
        self.t += 1.0
        return self.t


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id-{self.n}"


class Gated(PairRates):
    """PairRates whose fit waits (in its worker thread) until the test opens the gate."""

    def __init__(self, started: threading.Event, gate: threading.Event) -> None:
        super().__init__()
        self.started, self.gate = started, gate

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().fit(executions, now)


async def make_learner(
    mode: RouterMode = RouterMode.AUTONOMOUS, **config: object
) -> tuple[Learner, MemoryStore]:
    store = MemoryStore()
    for agent in ("good", "bad"):
        await store.insert_agent(
            AgentSpec(id=agent, type="remote", capabilities=frozenset({"review"}))
        )
    router = Router(random.Random(1), RouterConfig(mode=mode, **config))  # type: ignore[arg-type]
    learner = Learner(store, Clock(), Ids(), router, PairRates, config=LearnerConfig())
    return learner, store


async def test_a_cycle_learns_from_stored_executions_and_writes_everything() -> None:
    learner, store = await make_learner()
    await store.import_executions(history(400))

    cycle = await learner.run_cycle()

    assert cycle.status is CycleStatus.COMPLETED
    assert cycle.participating_agents == ("bad", "good")
    assert cycle.success_count + cycle.failure_count == 400
    assert (await store.list_cycles(5))[0] == cycle
    assert (await store.list_models(5))[0].version == cycle.metadata["model"]["version"]  # type: ignore[index]
    scores = {a.agent_id: a.learning_score for a in (await store.agent_learning()).values()}
    assert scores["good"] > 80 > 40 > scores["bad"]
    assert learner.router.estimate("review", "good").samples == 200  # rebuilt from storage


async def test_what_the_engine_reports_during_a_cycle_is_kept() -> None:
    learner, store = await make_learner()
    await store.import_executions(history(200))
    started, gate = threading.Event(), threading.Event()
    learner.make_predictor = lambda: Gated(started, gate)

    running = asyncio.create_task(learner.run_cycle())
    assert await asyncio.to_thread(started.wait, 10)
    late = [e._replace(task_id=f"late-{i}", finished_at=T0 + 10**5 + i) for i, e in
            enumerate(history(50, seed=9))]  # fmt: skip
    learner.router.observe_all(late)  # as the engine does, while the cycle fits
    gate.set()
    cycle = await running

    assert cycle.status is CycleStatus.COMPLETED
    samples = sum(learner.router.estimate("review", a).samples for a in ("good", "bad"))
    assert samples == 250  # 200 read from storage + 50 observed meanwhile, none twice


async def test_drift_alarms_are_reported_once_even_beyond_the_deque() -> None:
    learner, store = await make_learner(
        max_alarms=2, drift_window=10, drift_min_history=10, drift_z=3.0
    )
    reported: list[int] = []
    rng = random.Random(3)
    t = T0
    for phase in range(4):
        rate = 0.95 if phase % 2 == 0 else 0.05
        batch = []
        for i in range(40):
            t += 1
            ok = rng.random() < rate
            batch.append(
                Execution(
                    f"p{phase}-{i}",
                    1,
                    "good",
                    "review",
                    1.0,
                    t - 1,
                    t,
                    Outcome.SUCCEEDED if ok else Outcome.FAILED,
                    1,
                )
            )
        await store.import_executions(batch)  # recorded, as the engine's are
        learner.router.observe_all(batch)
        raised_before = learner.router.alarms_raised
        cycle = await learner.run_cycle()
        alarms = cycle.metadata["drift_alarms"]
        assert isinstance(alarms, list)
        reported.append(len(alarms))
        assert len(alarms) <= 2  # never more than the deque holds
        assert learner.router.alarms_raised >= raised_before
    assert sum(reported) >= 3  # every phase change after the first is an alarm
    assert learner._alarms_reported == learner.router.alarms_raised


async def test_recommendation_and_its_risks() -> None:
    learner, store = await make_learner()
    await store.import_executions(history(400))
    await learner.run_cycle()
    await learner.run_cycle()  # a second cycle must not repeat the first one's risks

    rec = await learner.recommend("review", 2.0)

    assert rec.primary.agent_id == "good"
    assert rec.primary.confidence > 0.99
    assert [o.agent_id for o in rec.alternatives] == ["bad"]
    alone = await learner.recommend("review", 2.0, limit=1)
    assert alone.alternatives == []
    latest = await latest_insights(store, 100)
    assert len(latest) == (await store.list_cycles(1))[0].insights_generated  # no repeats
    assert [i.confidence for i in latest] == sorted((i.confidence for i in latest), reverse=True)
    avoid = next(i for i in latest if i.insight_type is InsightType.AVOID_PATTERN)
    bad_option = next(o for o in [rec.primary, *rec.alternatives] if o.agent_id == "bad")
    risks = learner._risks("review", bad_option, latest)
    assert risks.count(avoid.description) == 1
    with pytest.raises(NotFoundError, match="no registered agent can take"):
        await learner.recommend("translation", 1.0)


async def test_observe_mode_recommends_nothing() -> None:
    learner, _ = await make_learner(RouterMode.OBSERVE)
    with pytest.raises(ConflictError, match="observe mode"):
        await learner.recommend("review", 1.0)


async def test_whoever_sees_a_cycle_ended_can_start_the_next() -> None:
    """The row says ``completed`` only once the learner no longer reports the cycle as
    running: a client polling the rows and then triggering starts a new cycle (CI saw the
    old order answer ``already_running`` on PostgreSQL). A trigger that lands while the
    ended cycle is still saving starts the next one, which the old one does not clear."""
    learner, store = await make_learner()
    await store.import_executions(history(200))
    seen: dict[str, object] = {}
    save = store.save_cycle

    async def saving(cycle: LearningCycle) -> None:
        if cycle.status is CycleStatus.COMPLETED and not seen:
            seen["running"] = learner.running
            seen["next"] = await learner.trigger()  # as the poller would, at once
        await save(cycle)

    store.save_cycle = saving  # type: ignore[method-assign]
    first = await learner.run_cycle()
    assert first.status is CycleStatus.COMPLETED
    assert seen["running"] is None
    next_id, started = seen["next"]  # type: ignore[misc]
    assert started
    assert next_id != first.cycle_id
    assert learner.running == next_id  # not cleared by the first cycle's ending
    await asyncio.gather(*learner._background)
    assert learner.running is None
    assert [c.status for c in await store.list_cycles(5)] == [CycleStatus.COMPLETED] * 2


async def test_a_failed_cycle_is_recorded_as_failed() -> None:
    learner, store = await make_learner()

    class Broken(PairRates):
        def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
            raise RuntimeError("disk on fire")

        def predict(self, queries: Sequence[Query]) -> list[Prediction]:
            return super().predict(queries)

    learner.make_predictor = Broken
    cycle = await learner.run_cycle()
    assert cycle.status is CycleStatus.FAILED
    assert "disk on fire" in str(cycle.metadata["error"])
    assert (await store.list_cycles(1))[0].status is CycleStatus.FAILED
    assert learner.running is None  # the next cycle may run


def test_an_attempt_lost_to_a_scheduler_crash_is_not_the_agents_fault() -> None:
    crash = Execution("t", 1, "good", "review", 1.0, T0, T0 + 1, Outcome.LOST, 1,
                      error_kind="scheduler_restart")  # fmt: skip
    expired = crash._replace(error_kind="lease_expired")
    assert not counts(crash)
    assert counts(expired)


async def test_a_cycle_left_running_by_a_dead_process_is_recorded_as_failed() -> None:
    learner, store = await make_learner()
    old = LearningCycle("stale", T0, None, (), None, 0, 0, 0, CycleStatus.RUNNING, {})
    fresh_start = learner.clock.now()
    fresh = LearningCycle("fresh", fresh_start, None, (), None, 0, 0, 0, CycleStatus.RUNNING, {})
    await store.save_cycle(old)
    await store.save_cycle(fresh)
    await learner.warm_up()
    cycles = {c.cycle_id: c for c in await store.list_cycles(5)}
    assert cycles["stale"].status is CycleStatus.FAILED
    assert "interrupted" in str(cycles["stale"].metadata["error"])
    assert cycles["fresh"].status is CycleStatus.RUNNING  # maybe another process's, alive


async def test_a_cycle_cancelled_after_its_row_says_completed_stays_completed() -> None:
    """The server stopping while a finished cycle announces itself must not rewrite the
    completed row as failed."""

    logging = asyncio.Event()

    class Hanging:
        async def log(self, event: object) -> None:
            logging.set()  # the completed row is saved before the event is logged
            await asyncio.Event().wait()  # never returns: cancelled by close()

    learner, store = await make_learner()
    await store.import_executions(history(200))
    learner.events = Hanging()  # type: ignore[assignment]
    cycle_id, started = await learner.trigger()
    assert started
    async with asyncio.timeout(10):
        await logging.wait()
    assert (await store.list_cycles(1))[0].status is CycleStatus.COMPLETED
    await learner.close()  # cancels the cycle's task, still logging its event
    [saved] = await store.list_cycles(5)
    assert (saved.cycle_id, saved.status) == (cycle_id, CycleStatus.COMPLETED)
    assert "error" not in saved.metadata


async def test_a_cycle_that_outlives_its_time_limit_is_recorded_as_failed() -> None:
    learner, store = await make_learner()
    learner.config = LearnerConfig(cycle_timeout=0.2)
    await store.import_executions(history(200))
    started, gate = threading.Event(), threading.Event()
    learner.make_predictor = lambda: Gated(started, gate)  # its fit never ends by itself
    try:
        cycle = await learner.run_cycle()
    finally:
        gate.set()  # lets the abandoned worker thread end
    assert cycle.status is CycleStatus.FAILED
    assert "timed out after 0.2 s" in str(cycle.metadata["error"])
    assert "IMPERIUM_LEARNING_CYCLE_TIMEOUT" in str(cycle.metadata["error"])
    assert (await store.list_cycles(1))[0].status is CycleStatus.FAILED
    assert learner.running is None
    assert (await learner.run_cycle()).status is CycleStatus.COMPLETED  # the next one runs
