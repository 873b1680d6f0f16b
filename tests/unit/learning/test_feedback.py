"""User feedback as reward: the router's update, its replay, insights, and the rating
service's checks (in memory; through the API and CLI: tests/integration)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from imperium.adapters.storage.memory import MemoryFeedbackStore, MemoryState, MemoryStore
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.feedback import (
    Feedback,
    feedback_insights,
    feedback_summary,
    in_time_order,
    rating_score,
)
from imperium.domain.learning import InsightType
from imperium.domain.models import AgentSpec, Execution, Task
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.states import Outcome, TaskState
from imperium.services.feedback import FeedbackService
from imperium.services.learning.service import Learner

T0 = 1_700_000_000.0


def execution(i: int, agent: str, ok: bool = True, task_type: str = "summarise") -> Execution:
    return Execution(
        task_id=f"t{i}",
        attempt=1,
        agent_id=agent,
        task_type=task_type,
        complexity=1.0,
        started_at=T0 + i - 1,
        finished_at=T0 + i,
        outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
        lease_token=1,
    )


def rating(e: Execution, score: float, at: float, n: int = 0) -> Feedback:
    assert e.agent_id is not None
    return Feedback(
        feedback_id=f"f-{e.task_id}-{n}",
        task_id=e.task_id,
        attempt=e.attempt,
        agent_id=e.agent_id,
        task_type=e.task_type,
        success=e.outcome is Outcome.SUCCEEDED,
        score=score,
        comment=None,
        given_by="test",
        created_at=at,
    )


def equal_history(n: int = 40) -> list[Execution]:
    """Agents a and b alternate on summarise; both succeed 9 times in 10."""
    return [execution(i, "a" if i % 2 else "b", ok=i % 10 not in (1, 2)) for i in range(1, n + 1)]


def choices(router: Router, draws: int = 400) -> dict[str, int]:
    picked = {"a": 0, "b": 0}
    for _ in range(draws):
        picked[router.pick("summarise", ["a", "b"])] += 1
    return picked


def test_bad_ratings_turn_the_router_away_from_an_agent_that_succeeded() -> None:
    history = equal_history()
    before = Router(random.Random(7))
    before.observe_all(history)
    assert before.estimate("summarise", "a").success == before.estimate("summarise", "b").success

    after = Router(random.Random(7))
    after.observe_all(history)
    rated_a = [e for e in history if e.agent_id == "a" and e.outcome is Outcome.SUCCEEDED]
    for k, e in enumerate(rated_a):
        after.rate(rating(e, 0.0, T0 + 1000 + k))
    assert after.estimate("summarise", "a").success < after.estimate("summarise", "b").success
    assert choices(after)["b"] > 3 * choices(after)["a"]
    # the same draws without the ratings split the choice
    assert 100 < choices(before)["a"] < 300


def test_the_reward_blends_success_and_the_mean_rating_with_the_weight() -> None:
    e = execution(1, "a")
    for weight, expected in ((0.5, 0.5), (0.0, 1.0), (1.0, 0.0)):
        router = Router(random.Random(1), RouterConfig(feedback_weight=weight))
        router.observe(e)
        router.rate(rating(e, 0.0, T0 + 10))
        assert router.arms[("summarise", "a")].post_successes == pytest.approx(expected)
    # a second rating moves the attempt to the mean of its ratings, it does not add up
    router = Router(random.Random(1))
    router.observe(e)
    router.rate(rating(e, 0.0, T0 + 10, 1))
    router.rate(rating(e, 1.0, T0 + 11, 2))
    assert router.arms[("summarise", "a")].post_successes == pytest.approx(0.75)
    # a good rating of a failure counts partly for the agent
    failed = execution(2, "b", ok=False)
    router.observe(failed)
    router.rate(rating(failed, 1.0, T0 + 12))
    assert router.arms[("summarise", "b")].post_successes == pytest.approx(0.5)


def test_a_replay_in_time_order_rebuilds_the_live_posterior() -> None:
    history = equal_history(60)
    live = Router(random.Random(1), RouterConfig(forgetting=0.95))
    ratings = []
    for e in history:
        live.observe(e)
        if e.agent_id == "a" and int(e.task_id[1:]) % 3 == 0:
            ratings.append(rating(e, 0.2, e.finished_at + 0.5))
            live.rate(ratings[-1])
    rebuilt = Router(random.Random(1), RouterConfig(forgetting=0.95))
    rebuilt.replay(in_time_order(history, ratings))
    for agent in ("a", "b"):
        assert rebuilt.estimate("summarise", agent) == live.estimate("summarise", agent)
    assert live.estimate("summarise", "a").success < live.estimate("summarise", "b").success


def test_a_rating_of_an_unknown_pair_or_with_learning_off_changes_nothing() -> None:
    e = execution(1, "a")
    router = Router(random.Random(1))
    assert router.rate(rating(e, 0.0, T0)) == 0.0
    off = Router(random.Random(1), RouterConfig(enabled=False))
    off.observe(e)
    assert off.rate(rating(e, 0.0, T0)) == 0.0
    with pytest.raises(ValueError, match="feedback_weight"):
        RouterConfig(feedback_weight=1.5)


@pytest.mark.parametrize(
    ("score", "thumbs", "expected"),
    [(None, "up", 1.0), (None, "down", 0.0), (0.8, None, 0.8), (0, None, 0.0)],
)
def test_a_rating_is_a_score_or_thumbs(
    score: float | None, thumbs: str | None, expected: float
) -> None:
    assert rating_score(score, thumbs) == expected


@pytest.mark.parametrize(
    ("score", "thumbs"), [(None, None), (0.5, "up"), (1.2, None), (float("nan"), None), (None, "x")]
)
def test_a_bad_rating_is_refused(score: float | None, thumbs: str | None) -> None:
    with pytest.raises(ValidationError):
        rating_score(score, thumbs)


def test_feedback_insights_need_enough_ratings_and_say_the_rates() -> None:
    history = equal_history(40)
    a_runs = [e for e in history if e.agent_id == "a"]
    ratings = [rating(e, 1.0 if k % 3 else 0.0, T0 + 100 + k) for k, e in enumerate(a_runs[:9])]
    ratings += [rating(e, 1.0, T0 + 200) for e in history if e.agent_id == "b"][:2]
    insights = feedback_insights(history, ratings, T0 + 300)
    assert len(insights) == 1  # b has 2 ratings, fewer than the 5 needed
    (insight,) = insights
    assert insight.insight_type is InsightType.FEEDBACK
    assert insight.agents == ("a",)
    assert insight.sample_size == 9
    assert insight.description == "a: 80% success, 67% positive feedback on summarise (9 ratings)"
    assert 0.0 <= insight.confidence < 6 / 9
    assert "insufficient" in feedback_summary(ratings[-2:])
    assert "no feedback yet" in feedback_summary([])
    assert "1 agent/task type pairs" in feedback_summary(ratings)


# ---------------------------------------------------------------------- the service
class Records(MemoryFeedbackStore):
    def __init__(self) -> None:
        super().__init__(MemoryState())
        self.tasks: dict[str, Task] = {}
        self.executions: dict[str, list[Execution]] = {}

    async def get_task(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    async def executions_for(self, task_id: str) -> list[Execution]:
        return self.executions.get(task_id, [])


class Clock:
    def now(self) -> float:
        return T0 + 5000

    def monotonic(self) -> float:
        return 0.0


def service_with(router: Router | None = None) -> tuple[FeedbackService, Records]:
    records = Records()
    done = Task(id="t1", type="summarise", created_at=T0, state=TaskState.SUCCEEDED)
    records.tasks["t1"] = replace(done, result={"text": "ok"})
    records.executions["t1"] = [execution(1, "a", ok=False), execution(1, "a")._replace(attempt=2)]
    records.tasks["t2"] = Task(id="t2", type="summarise", created_at=T0, state=TaskState.RUNNING)
    records.tasks["t3"] = Task(id="t3", type="summarise", created_at=T0, state=TaskState.CANCELLED)
    records.tasks["t4"] = replace(done, id="t4")
    ids = iter(f"f{i}" for i in range(100))
    return FeedbackService(records, Clock(), lambda: next(ids), router), records


async def test_a_rating_is_stored_for_the_last_attempt_and_reaches_the_router() -> None:
    router = Router(random.Random(1))
    router.observe(execution(1, "a"))
    service, _ = service_with(router)
    given = await service.rate("t1", thumbs="down", comment="  wrong summary ", given_by="cli")
    assert (given.attempt, given.agent_id, given.success, given.score) == (2, "a", True, 0.0)
    assert given.comment == "wrong summary"
    assert given.given_by == "cli"
    assert given.created_at == T0 + 5000
    assert await service.for_task("t1") == [given]
    assert router.estimate("summarise", "a").success == pytest.approx(1.5 / 3)


@pytest.mark.parametrize(
    ("task_id", "error", "message"),
    [
        ("nope", NotFoundError, "no task with id nope"),
        ("t2", ConflictError, "is running"),
        ("t3", ConflictError, "without a result"),
        ("t4", ConflictError, "no attempt by an agent"),
    ],
)
async def test_only_an_ended_task_with_a_result_can_be_rated(
    task_id: str, error: type[Exception], message: str
) -> None:
    service, records = service_with()
    with pytest.raises(error, match=message):
        await service.rate(task_id, score=0.5, given_by="cli")
    assert await records.recent_feedback(10) == []


# ---------------------------------------------------------------------- the learner
async def test_a_restart_and_a_cycle_rebuild_the_rated_posterior_and_report_feedback() -> None:
    store = MemoryStore()
    for agent in ("a", "b"):
        await store.insert_agent(
            AgentSpec(id=agent, type="remote", capabilities=frozenset({"summarise"}))
        )
    history = equal_history(40)
    await store.import_executions(history)
    live = Router(random.Random(1))
    live.observe_all(history)
    for k, e in enumerate(e for e in history if e.agent_id == "a"):
        await store.add_feedback(rating(e, 0.0, T0 + 100 + k))
        live.rate(rating(e, 0.0, T0 + 100 + k))

    learner = Learner(store, Clock(), lambda: "c1", Router(random.Random(1)), PairRates)
    learner.feedback = store
    await learner.warm_up(fit=False)
    for agent in ("a", "b"):
        assert learner.router.estimate("summarise", agent) == live.estimate("summarise", agent)

    cycle = await learner.run_cycle()
    assert cycle.metadata["feedback_read"] == 20
    assert "1 agent/task type pairs" in str(cycle.metadata["feedback"])
    insights = await store.list_insights(50, InsightType.FEEDBACK, cycle.cycle_id)
    assert [i.description for i in insights] == [
        "a: 80% success, 0% positive feedback on summarise (20 ratings)"
    ]
    for agent in ("a", "b"):
        assert learner.router.estimate("summarise", agent) == live.estimate("summarise", agent)
