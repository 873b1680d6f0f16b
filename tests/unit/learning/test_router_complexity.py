"""The router's use of the task's complexity (domain/routing/slopes.py): each pair's draw moves
along its learned slope, once the candidates' slopes differ."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from imperium.domain.feedback import Feedback
from imperium.domain.models import AgentSpec, AgentState, Execution, Task
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.states import Outcome

T0 = 1_700_000_000.0


def truth(agent: str, complexity: float) -> float:
    """``easy`` is best on easy tasks, ``hard`` on hard ones (they cross at 3)."""
    if agent == "easy":
        return 0.95 - 0.15 * (complexity - 1)  # 0.95 at 1, 0.35 at 5
    return 0.5 + 0.1 * (complexity - 1)  # 0.50 at 1, 0.90 at 5


def execution(n: int, agent: str, complexity: float, ok: bool, kind: str = "code") -> Execution:
    return Execution(
        task_id=f"t{n}",
        attempt=1,
        agent_id=agent,
        task_type=kind,
        complexity=complexity,
        started_at=T0 + n - 5,
        finished_at=T0 + n,
        outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
        lease_token=1,
    )


def candidates(*ids: str) -> list[AgentState]:
    return [AgentState(AgentSpec(id=i, type="stub", max_concurrency=100)) for i in ids]


def run(router: Router, tasks: int, seed: int = 3) -> tuple[list[float], list[str]]:
    """``tasks`` tasks of uniform complexity in [1, 5], chosen by ``router`` and learned
    from; returns each task's regret (best true success - chosen's) and the choices."""
    env = random.Random(seed)
    agents = candidates("easy", "hard")
    regret: list[float] = []
    chosen: list[str] = []
    for n in range(tasks):
        c = env.uniform(1, 5)
        task = Task(id=f"t{n}", type="code", created_at=T0, complexity=c)
        agent = router.choose(task, agents).spec.id
        chosen.append(agent)
        regret.append(max(truth("easy", c), truth("hard", c)) - truth(agent, c))
        router.observe(execution(n, agent, c, env.random() < truth(agent, c)))
    return regret, chosen


def picks_at(router: Router, complexity: float, n: int = 200) -> Counter[str]:
    return Counter(router.pick("code", ["easy", "hard"], complexity) for _ in range(n))


def test_it_learns_that_complexity_reverses_the_best_agent() -> None:
    router = Router(random.Random(1))
    regret, _ = run(router, 1500)
    easy, hard = picks_at(router, 1.2), picks_at(router, 4.8)
    assert easy["easy"] > 0.9 * 200  # the easy specialist on easy tasks
    assert hard["hard"] > 0.9 * 200  # the other on hard ones
    blind = Router(random.Random(1), RouterConfig(complexity_prior=0))
    blind_regret, _ = run(blind, 1500)
    # ignoring complexity, one agent is chosen whatever the task: once learned (the last
    # third), a fraction of the regret
    assert sum(regret[1000:]) < 0.25 * sum(blind_regret[1000:])
    assert sum(regret) < 0.8 * sum(blind_regret)


def test_the_choice_is_deterministic_with_a_seeded_rng() -> None:
    first = run(Router(random.Random(11)), 400)
    second = run(Router(random.Random(11)), 400)
    assert first == second


def test_one_slope_for_every_agent_changes_no_choice() -> None:
    """A common slope (harder tasks fail more for everyone) must not tilt the choice: the
    choices are the plain Beta draws', as without complexity."""

    def common(seed: int, prior: float) -> list[str]:
        router = Router(random.Random(seed), RouterConfig(complexity_prior=prior))
        env = random.Random(seed)
        base = {"a": 0.9, "b": 0.8, "c": 0.7}
        out = []
        for n in range(600):
            c = env.uniform(1, 5)
            task = Task(id=f"t{n}", type="code", created_at=T0, complexity=c)
            agent = router.choose(task, candidates(*base)).spec.id
            out.append(agent)
            ok = env.random() < base[agent] - 0.05 * (c - 1)
            router.observe(execution(n, agent, c, ok))
        return out

    assert common(5, 0.1) == common(5, 0.0)


def test_a_type_is_marked_sloped_only_when_its_agents_slopes_differ() -> None:
    env, router = random.Random(6), Router(random.Random(6))
    for n in range(2000):  # one slope for all, three levels
        agent, c = "abc"[n % 3], env.uniform(1, 5)
        ok = env.random() < {"a": 0.9, "b": 0.8, "c": 0.7}[agent] - 0.05 * (c - 1)
        router.observe(execution(n, agent, c, ok, kind="common"))
    assert router.sloped == set()
    run(router, 300)
    assert router.sloped == {"code"}


def test_once_marked_a_type_moves_with_complexity_whichever_agents_are_free() -> None:
    """The candidates free at a decision may be too few, or too little known, for their
    own slopes to differ significantly (here a newcomer with 24 attempts): the type's
    mark, from all its agents, keeps the draws moving with complexity."""
    env, router, n = random.Random(2), Router(random.Random(2)), 0
    for agent, count in (("easy", 300), ("hard", 300), ("hard2", 24)):
        for _ in range(count):
            c = env.uniform(1, 5)
            ok = env.random() < truth("hard" if agent == "hard2" else agent, c)
            router.observe(execution(n, agent, c, ok))
            n += 1
    assert router.sloped == {"code"}
    marked = Counter(router.pick("code", ["easy", "hard2"], 4.8) for _ in range(2000))
    router.sloped.clear()  # as before the mark: the pair's own test decides
    unmarked = Counter(router.pick("code", ["easy", "hard2"], 4.8) for _ in range(2000))
    # at 4.8, hard is the better agent (0.88 against 0.38)
    assert marked["hard2"] > 1950
    assert unmarked["hard2"] < 1700


def test_constant_complexity_gives_the_plain_draws() -> None:
    with_prior = Router(random.Random(2))
    without = Router(random.Random(2), RouterConfig(complexity_prior=0))
    for n in range(60):
        for router in (with_prior, without):
            router.observe(execution(n, "easy" if n % 3 else "hard", 1.0, n % 4 != 0))
    assert [with_prior.pick("code", ["easy", "hard"], 1.0) for _ in range(100)] == [
        without.pick("code", ["easy", "hard"], 1.0) for _ in range(100)
    ]


def test_the_state_is_rebuilt_from_stored_executions_and_ratings() -> None:
    """What the engine learns live (executions, then a rating) equals what a router
    rebuilt from the same history learns: the same sums and the same choices."""
    live = Router(random.Random(4))
    live.record()
    run(live, 300)
    rating = Feedback(
        feedback_id="f1", task_id="t10", attempt=1, agent_id="easy", task_type="code",
        success=True, score=0.0, comment=None, given_by="cli", created_at=T0 + 1000,
    )  # fmt: skip
    live.rate(rating)
    history = live.recorded()
    rebuilt = Router(random.Random(9))
    rebuilt.replay(history)
    for key, arm in live.arms.items():
        other = rebuilt.arms[key]
        for name in ("post_successes", "post_n", "post_x", "post_xx", "post_xy"):
            assert getattr(other, name) == pytest.approx(getattr(arm, name)), name
    assert rebuilt.sloped == live.sloped == {"code"}
    live.rng, rebuilt.rng = random.Random(5), random.Random(5)
    assert [live.pick("code", ["easy", "hard"], c / 10) for c in range(10, 50)] == [
        rebuilt.pick("code", ["easy", "hard"], c / 10) for c in range(10, 50)
    ]


def test_a_rating_moves_the_level_not_the_slope() -> None:
    router = Router(random.Random(1))
    run(router, 300)
    arm = router.arms[("code", "easy")]
    before = arm.centred()
    rating = Feedback(
        feedback_id="f", task_id="t0", attempt=1, agent_id="easy", task_type="code",
        success=True, score=0.0, comment=None, given_by="cli", created_at=T0,
    )  # fmt: skip
    assert router.rate(rating) < 0
    mean, sxx, sxy = arm.centred()
    assert (mean, sxx) == pytest.approx(before[:2])
    assert sxy == pytest.approx(before[2])


def test_a_drift_alarm_restarts_the_complexity_sums_from_its_window() -> None:
    router = Router(random.Random(1), RouterConfig(drift_window=20, drift_min_history=20))
    n = 0
    for i in range(60):
        router.observe(execution(n, "easy", 1 + i % 5, True))
        n += 1
    alarm = None
    for i in range(40):
        alarm = router.observe(execution(n, "easy", 1 + i % 5, False))
        n += 1
        if alarm is not None:
            break
    assert alarm is not None
    arm = router.arms[("code", "easy")]
    assert arm.post_n == len(arm.window) == 20
    assert arm.post_x == pytest.approx(sum(arm.window_x))
    assert arm.post_xx == pytest.approx(sum(x * x for x in arm.window_x))
    ok_x = sum(x for x, ok in zip(arm.window_x, arm.window, strict=True) if ok)
    assert arm.post_xy == pytest.approx(ok_x)


def test_config_refuses_a_negative_complexity_prior() -> None:
    with pytest.raises(ValueError, match="complexity_prior"):
        RouterConfig(complexity_prior=-0.1)


def test_a_router_adopting_a_rebuilt_one_takes_its_marks() -> None:
    rebuilt, live = Router(random.Random(4)), Router(random.Random(8))
    run(rebuilt, 600)
    live.adopt(rebuilt)
    assert live.sloped == rebuilt.sloped == {"code"}
