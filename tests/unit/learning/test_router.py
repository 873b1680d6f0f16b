"""The learned router: exploration, exploitation, secondary objectives, drift, modes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from imperium.domain.learning import RouterMode
from imperium.domain.models import AgentSpec, AgentState, Execution, Task
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.selection import LeastLoaded
from imperium.domain.states import Outcome

T0 = 1_700_000_000.0


class History:
    """Builds executions with increasing finish times."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(
        self,
        agent: str,
        ok: bool,
        *,
        task_type: str = "review",
        duration: float = 10.0,
        outcome: Outcome | None = None,
        cost: float | None = None,
    ) -> Execution:
        self.n += 1
        end = T0 + self.n
        return Execution(
            task_id=f"t{self.n}",
            attempt=1,
            agent_id=agent,
            task_type=task_type,
            complexity=1.0,
            started_at=end - duration,
            finished_at=end,
            outcome=outcome or (Outcome.SUCCEEDED if ok else Outcome.FAILED),
            lease_token=1,
            cost=cost,
        )


def feed(
    router: Router, history: History, agent: str, successes: int, failures: int, **kw: object
) -> None:
    """Outcomes spread evenly (not all successes first, which would look like drift)."""
    n = successes + failures
    for i in range(n):
        ok = (i + 1) * successes // n > i * successes // n
        router.observe(history(agent, ok, **kw))  # type: ignore[arg-type]


def states(*ids: str, running: int = 0) -> list[AgentState]:
    return [
        AgentState(
            AgentSpec(id=i, type="stub", capabilities=frozenset({"review"}), max_concurrency=4),
            running=running,
        )
        for i in ids
    ]


def task(task_type: str = "review") -> Task:
    return Task(id="x", type=task_type, created_at=T0)


def picks(router: Router, agents: list[str], n: int, task_type: str = "review") -> Counter[str]:
    return Counter(router.pick(task_type, agents) for _ in range(n))


def test_a_proven_agent_is_exploited() -> None:
    router, history = Router(random.Random(1)), History()
    feed(router, history, "good", 95, 5)
    feed(router, history, "poor", 20, 80)
    counts = picks(router, ["good", "poor"], 1000)
    assert counts["good"] >= 995


def test_a_new_agent_is_explored_but_not_trusted_blindly() -> None:
    router, history = Router(random.Random(2)), History()
    feed(router, history, "veteran", 80, 20)
    counts = picks(router, ["veteran", "newcomer"], 2000)
    # Beta(1,1) against Beta(81,21): P(newcomer draws higher) = 0.21
    assert 300 < counts["newcomer"] < 560


def test_thompson_sampling_converges_on_the_best_agent() -> None:
    truth = {"a": 0.8, "b": 0.5, "c": 0.3}
    env, router, history = random.Random(7), Router(random.Random(3)), History()
    chosen: list[str] = []
    for _ in range(2000):
        agent = router.pick("review", list(truth))
        chosen.append(agent)
        router.observe(history(agent, env.random() < truth[agent]))
    early = Counter(chosen[:200])["a"] / 200
    late = Counter(chosen[-500:])["a"] / 500
    assert late > 0.9
    assert late > early


def test_with_little_evidence_speed_leans_the_choice() -> None:
    def fast_share(config: RouterConfig) -> float:
        router, history = Router(random.Random(4), config), History()
        feed(router, history, "fast", 8, 2, duration=10.0)
        feed(router, history, "slow", 8, 2, duration=40.0)
        return picks(router, ["fast", "slow"], 20_000)["fast"] / 20_000

    # 10 attempts each: the 4x slower one pays 2 x 0.02 x 20/30; without speed, a coin
    assert fast_share(RouterConfig()) > fast_share(RouterConfig(duration_weight=0.0)) + 0.03


def test_with_evidence_success_decides_not_speed() -> None:
    def picked(config: RouterConfig) -> Counter[str]:
        router, history = Router(random.Random(4), config), History()
        feed(router, history, "fast", 400, 100, duration=10.0)
        feed(router, history, "slow-but-surer", 420, 80, duration=160.0)
        return picks(router, ["fast", "slow-but-surer"], 1000)

    # 84% against 80% at 16x the time: after 500 attempts speed weighs 4 x 0.02 x 20/520
    assert picked(RouterConfig())["slow-but-surer"] > 850
    # a lasting trade-off (no fading) gives up those 4 points of success for speed
    assert picked(RouterConfig(duration_fade=0.0))["fast"] > 850


def test_success_comes_first_then_duration_when_speed_never_fades() -> None:
    router, history = Router(random.Random(4), RouterConfig(duration_fade=0.0)), History()
    feed(router, history, "fast", 400, 100, duration=10.0)
    feed(router, history, "slow", 400, 100, duration=40.0)
    counts = picks(router, ["fast", "slow"], 1000)
    assert counts["fast"] > 900  # same success: the 4x slower one pays 2 x 0.02
    feed(router, history, "slow-but-sure", 490, 10, duration=40.0)
    counts = picks(router, ["fast", "slow-but-sure"], 1000)
    assert counts["slow-but-sure"] > 990  # 98% beats 80% even at 4x the time


def test_the_speed_weight_fades_with_attempts() -> None:
    config = RouterConfig(duration_weight=0.02, duration_fade=20.0)
    assert config.speed_weight(0) == pytest.approx(0.02)
    assert config.speed_weight(20) == pytest.approx(0.01)
    assert config.speed_weight(180) == pytest.approx(0.002)
    assert RouterConfig(duration_fade=0.0).speed_weight(10_000) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="duration_fade"):
        RouterConfig(duration_fade=-1.0)
    with pytest.raises(ValueError, match="duration_fade"):
        RouterConfig(duration_fade=float("inf"))


def test_cost_is_a_secondary_objective_too() -> None:
    router, history = Router(random.Random(5)), History()
    feed(router, history, "cheap", 400, 100, cost=0.01)
    feed(router, history, "dear", 400, 100, cost=0.08)
    assert picks(router, ["cheap", "dear"], 1000)["cheap"] > 900


def test_attempts_stopped_from_outside_teach_nothing() -> None:
    router, history = Router(random.Random(6)), History()
    router.observe(history("a", False, outcome=Outcome.CANCELLED))
    router.observe(history("a", False, outcome=Outcome.INTERRUPTED))
    assert router.estimate("review", "a").samples == 0
    router.observe(history("a", False, outcome=Outcome.TIMED_OUT))
    assert router.estimate("review", "a").samples == 1


def test_a_degrading_agent_raises_a_drift_alarm_and_is_routed_around() -> None:
    env, router, history = random.Random(11), Router(random.Random(8)), History()
    feed(router, history, "steady", 70, 30)
    for _ in range(300):
        router.observe(history("star", env.random() < 0.95))
    assert not router.alarms
    assert picks(router, ["star", "steady"], 500)["star"] > 480
    fired_after = None
    for i in range(60):
        alarm = router.observe(history("star", env.random() < 0.2))
        if alarm is not None:
            fired_after = i + 1
            break
    assert fired_after is not None
    assert fired_after <= 30
    alarm = router.alarms[-1]
    assert (alarm.agent_id, alarm.task_type, alarm.direction) == ("star", "review", "degraded")
    assert alarm.before_rate > 0.9
    assert alarm.recent_rate < 0.8
    assert 0.999 < alarm.confidence <= 1.0
    # the old evidence is gone: within a few dozen decisions the router routes around it
    truth = {"star": 0.2, "steady": 0.7}
    chosen = []
    for _ in range(300):
        agent = router.pick("review", list(truth))
        chosen.append(agent)
        router.observe(history(agent, env.random() < truth[agent]))
    assert Counter(chosen[-200:])["steady"] > 180


def test_a_stable_agent_raises_no_alarm() -> None:
    env, router, history = random.Random(12), Router(random.Random(9)), History()
    for _ in range(5000):
        router.observe(history("a", env.random() < 0.9))
    assert not router.alarms


@pytest.mark.parametrize("mode", [RouterMode.OBSERVE, RouterMode.RECOMMEND])
def test_only_autonomous_mode_dispatches(mode: RouterMode) -> None:
    router, history = Router(random.Random(10), RouterConfig(mode=mode)), History()
    feed(router, history, "b", 100, 0)
    feed(router, history, "a", 0, 100)
    candidates = states("a", "b")
    assert router.choose(task(), candidates) is LeastLoaded().choose(task(), candidates)
    assert router.estimate("review", "b").samples == 100  # it still learns


def test_autonomous_mode_dispatches_on_evidence() -> None:
    router, history = Router(random.Random(10)), History()
    feed(router, history, "b", 100, 0)
    feed(router, history, "a", 0, 100)
    candidates = states("a", "b")
    assert all(router.choose(task(), candidates) is candidates[1] for _ in range(50))


def test_disabled_learning_records_nothing_and_dispatches_least_loaded() -> None:
    router, history = Router(random.Random(10), RouterConfig(enabled=False)), History()
    feed(router, history, "b", 100, 0)
    assert router.estimate("review", "b").samples == 0
    assert not router.dispatching
    candidates = states("a", "b")
    assert router.choose(task(), candidates) is candidates[0]


def test_rank_puts_a_proven_agent_before_a_lucky_newcomer() -> None:
    router, history = Router(random.Random(1)), History()
    feed(router, history, "proven", 90, 10)
    feed(router, history, "lucky", 2, 0)
    ranked = router.rank("review", ["lucky", "proven", "unknown"])
    assert [e.agent_id for e in ranked] == ["proven", "lucky", "unknown"]
    proven = ranked[0]
    assert proven.samples == 100
    assert proven.lower < 0.9 < proven.upper
    assert proven.success == pytest.approx(91 / 102)
    assert proven.duration == pytest.approx(10.0)


def test_pick_refuses_an_empty_candidate_list() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        Router(random.Random(1)).pick("review", [])


@pytest.mark.parametrize(
    ("field", "value"),
    [("drift_window", 2), ("drift_min_history", 0), ("drift_z", 0.0), ("duration_weight", -1.0)],
)
def test_config_rejects_nonsense(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RouterConfig(**{field: value})  # type: ignore[arg-type]


def test_probability_best_reflects_the_evidence() -> None:
    router, history = Router(random.Random(3)), History()
    feed(router, history, "strong", 90, 10)
    feed(router, history, "weak", 50, 50)
    p = router.probability_best("review", ["strong", "weak", "unknown"], draws=4000)
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["weak"] < 0.01
    # Beta(1,1) beats Beta(91,11) with probability 1 - 91/102 = 0.108
    assert p["unknown"] == pytest.approx(0.108, abs=0.02)
    assert p["strong"] > 0.85
    assert router.decisions == 0  # asking is not deciding


def test_after_an_alarm_the_next_test_compares_newer_outcomes_only() -> None:
    env, router, history = random.Random(21), Router(random.Random(2)), History()
    for _ in range(200):
        router.observe(history("a", env.random() < 0.95))
    while not router.alarms:
        router.observe(history("a", env.random() < 0.3))
    arm = router.arms[("review", "a")]
    assert arm.quarantine == router.config.drift_window
    assert (arm.older_n, arm.post_n) == (0, router.config.drift_window)
    # the agent stays at its new level: no second alarm "back up" from the alarm's window
    for _ in range(500):
        router.observe(history("a", env.random() < 0.3))
    assert len(router.alarms) == 1
    assert arm.older_n == 500 - router.config.drift_window


def test_without_forgetting_an_abandoned_agent_keeps_its_old_evidence() -> None:
    router, history = Router(random.Random(3)), History()
    feed(router, history, "intern", 30, 20)
    feed(router, history, "senior", 900, 100)
    assert router.estimate("review", "intern").samples == 50


def test_forgetting_fades_evidence_about_an_agent_that_is_no_longer_chosen() -> None:
    router = Router(random.Random(3), RouterConfig(forgetting=0.999))
    history = History()
    feed(router, history, "intern", 30, 20)
    feed(router, history, "senior", 900, 100)
    intern = router.estimate("review", "intern")
    assert intern.samples == 18  # 50 x 0.999^1000 = 18.4 of its 50 outcomes remain
    assert 0.55 < intern.success < 0.6  # its rate (0.6), with less evidence behind it
    # fading evidence means it is tried again now and then
    assert picks(router, ["intern", "senior"], 2000)["intern"] > 0
    senior = router.estimate("review", "senior")
    assert senior.samples < 1000  # the senior's own old outcomes fade as well


def test_the_speed_and_cost_settings_reach_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    from imperium.settings import Settings
    from imperium.wiring.services import make_learner

    monkeypatch.setenv("IMPERIUM_ROUTER_DURATION_WEIGHT", "0.05")
    monkeypatch.setenv("IMPERIUM_ROUTER_DURATION_FADE", "0")
    monkeypatch.setenv("IMPERIUM_ROUTER_COST_WEIGHT", "0")
    settings = Settings(database_url="sqlite+aiosqlite:///./unused.db")
    config = make_learner(settings, store=None).router.config  # type: ignore[arg-type]
    assert (config.duration_weight, config.duration_fade, config.cost_weight) == (0.05, 0.0, 0.0)
    for name in ("DURATION_WEIGHT", "DURATION_FADE", "COST_WEIGHT"):
        monkeypatch.delenv(f"IMPERIUM_ROUTER_{name}")
    settings = Settings(database_url="sqlite+aiosqlite:///./unused.db")
    assert make_learner(settings, None).router.config == RouterConfig()  # type: ignore[arg-type]


def test_a_negative_speed_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from imperium.settings import Settings

    monkeypatch.setenv("IMPERIUM_ROUTER_DURATION_FADE", "-1")
    with pytest.raises(ValidationError, match=r"(?i)router_duration_fade"):
        Settings(database_url="sqlite+aiosqlite:///./unused.db")
