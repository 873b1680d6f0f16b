"""Team tasks: when a team has ended, what a team request may ask, and how the team router
chooses combinations of agents and learns from their outcomes."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.models import Execution
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.states import Outcome, TaskState
from imperium.domain.stats import wilson_interval
from imperium.domain.teams import (
    MAX_COMBINATIONS,
    MAX_SIZE,
    MIN_SIZE,
    TeamEstimate,
    TeamRouter,
    TeamRun,
    TeamState,
    at_least,
    check_team_request,
    team_state,
)

T0 = 1_700_000_000.0
S, F = TaskState.SUCCEEDED, TaskState.FAILED
NOT_ENDED = [TaskState.SUBMITTED, TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING]
ENDED_BADLY = [TaskState.FAILED, TaskState.DEAD, TaskState.CANCELLED, TaskState.TIMED_OUT]


def feed(
    router: Router, agent: str, successes: int, failures: int, task_type: str = "review"
) -> None:
    """Individual records for ``agent``, outcomes spread evenly (no drift alarm)."""
    n = successes + failures
    for i in range(n):
        ok = (i + 1) * successes // n > i * successes // n
        end = T0 + i
        router.observe(
            Execution(
                task_id=f"{agent}-{task_type}-{i}",
                attempt=1,
                agent_id=agent,
                task_type=task_type,
                complexity=1.0,
                started_at=end - 10.0,
                finished_at=end,
                outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
                lease_token=1,
            )
        )


def team_run(
    members: Iterable[str], state: TeamState, task_type: str = "review", quorum: int | None = None
) -> TeamRun:
    members = tuple(members)
    return TeamRun(
        team_id="team-1",
        task_type=task_type,
        members=members,
        task_ids=tuple(f"task-{m}" for m in members),
        quorum=len(members) if quorum is None else quorum,
        chosen_by="router",
        created_at=T0,
        state=state,
        finished_at=None if state is TeamState.RUNNING else T0 + 60.0,
    )


def observe(teams: TeamRouter, members: Iterable[str], wins: int, losses: int, **kw: str) -> None:
    for i in range(wins + losses):
        state = TeamState.SUCCEEDED if i < wins else TeamState.FAILED
        teams.observe(team_run(members, state, **kw))


def router(seed: int) -> Router:
    return Router(random.Random(seed))


def draws(
    teams: TeamRouter, agents: Sequence[str], size: int, n: int, task_type: str = "review"
) -> Counter[tuple[str, ...]]:
    return Counter(teams.choose(task_type, agents, size) for _ in range(n))


def names(n: int) -> list[str]:
    return [f"agent-{i:02d}" for i in range(n)]


class CountingRng:
    """A seeded random source that counts the draws asked of it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.calls = 0

    def betavariate(self, alpha: float, beta: float) -> float:
        self.calls += 1
        return self.rng.betavariate(alpha, beta)


# ---------------------------------------------------------------------- team_state
@pytest.mark.parametrize("waiting", NOT_ENDED)
@pytest.mark.parametrize("quorum", [1, 2, 3])
def test_a_team_has_not_ended_while_a_member_task_has_not(waiting: TaskState, quorum: int) -> None:
    assert team_state([S, S, waiting], quorum) is None
    assert team_state([waiting, F, F], quorum) is None


@pytest.mark.parametrize(
    ("states", "quorum", "expected"),
    [
        # all of them (the default quorum)
        ([S, S, S], 3, TeamState.SUCCEEDED),
        ([S, S, F], 3, TeamState.FAILED),
        ([S, S, TaskState.CANCELLED], 3, TeamState.FAILED),
        # any one of them
        ([F, TaskState.DEAD, S], 1, TeamState.SUCCEEDED),
        ([F, TaskState.DEAD, TaskState.TIMED_OUT], 1, TeamState.FAILED),
        # a majority
        ([S, F, S], 2, TeamState.SUCCEEDED),
        ([S, F, TaskState.CANCELLED], 2, TeamState.FAILED),
        ([S, S, F, F, S], 3, TeamState.SUCCEEDED),
        ([S, S, F, F, TaskState.DEAD], 3, TeamState.FAILED),
    ],
)
def test_an_ended_team_succeeds_by_quorum(
    states: list[TaskState], quorum: int, expected: TeamState
) -> None:
    assert team_state(states, quorum) is expected


def test_team_state_reads_any_iterable_once() -> None:
    assert team_state((s for s in [S, F, S]), 2) is TeamState.SUCCEEDED
    assert team_state((s for s in [S, TaskState.RUNNING]), 1) is None


@given(
    st.lists(st.sampled_from(list(TaskState)), min_size=MIN_SIZE, max_size=MAX_SIZE),
    st.integers(min_value=1, max_value=MAX_SIZE),
)
def test_team_state_matches_its_definition(states: list[TaskState], quorum: int) -> None:
    result = team_state(states, quorum)
    if any(s not in {S, *ENDED_BADLY} for s in states):
        assert result is None
    elif states.count(S) >= quorum:
        assert result is TeamState.SUCCEEDED
    else:
        assert result is TeamState.FAILED


def test_a_team_run_counts_its_succeeded_members() -> None:
    run = TeamRun(
        team_id="team-1",
        task_type="review",
        members=("a", "b", "c"),
        task_ids=("t1", "t2", "t3"),
        quorum=2,
        chosen_by="user",
        created_at=T0,
        member_states={"a": "succeeded", "b": "failed", "c": TaskState.SUCCEEDED.value},
    )
    assert run.succeeded_members == 2
    assert run.state is TeamState.RUNNING
    assert team_run("ab", TeamState.RUNNING).succeeded_members == 0


# ---------------------------------------------------------------------- check_team_request
@pytest.mark.parametrize("size", [-1, 0, 1, MAX_SIZE + 1, 20])
def test_a_team_has_two_to_eight_members(size: int) -> None:
    with pytest.raises(ValueError, match=f"2 to 8 members, not {size}$"):
        check_team_request(size, None, names(30))


@pytest.mark.parametrize("size", range(MIN_SIZE, MAX_SIZE + 1))
def test_the_quorum_defaults_to_the_whole_team(size: int) -> None:
    assert check_team_request(size, None, names(size)) == size


@pytest.mark.parametrize(("size", "quorum"), [(2, 1), (2, 2), (3, 2), (5, 3), (8, 1), (8, 8)])
def test_a_quorum_between_one_and_the_size_is_kept(size: int, quorum: int) -> None:
    assert check_team_request(size, quorum, names(size + 1)) == quorum


@pytest.mark.parametrize(("size", "quorum"), [(2, 0), (2, 3), (3, -1), (8, 9)])
def test_a_quorum_outside_one_to_the_size_is_refused(size: int, quorum: int) -> None:
    with pytest.raises(ValueError, match=rf"1 to the team size \({size}\), not {quorum}$"):
        check_team_request(size, quorum, names(size))


def test_too_few_able_agents_says_how_many_can_and_which() -> None:
    with pytest.raises(ValueError, match="needs 3 different active agents") as caught:
        check_team_request(3, None, ["coder", "reviewer"])
    message = str(caught.value)
    assert "a team of 3 needs 3 different active agents" in message
    assert "2 can (coder, reviewer)" in message
    assert "register more or ask for a smaller team" in message


def test_no_able_agent_at_all_is_said_plainly() -> None:
    with pytest.raises(ValueError, match=r"0 can \(none\)"):
        check_team_request(2, 1, [])


def test_the_size_is_checked_before_the_agents() -> None:
    with pytest.raises(ValueError, match="2 to 8 members"):
        check_team_request(9, None, ["a"])


# ---------------------------------------------------------------------- choose: shape
@pytest.mark.parametrize(("n", "size"), [(2, 2), (3, 2), (5, 3), (8, 8), (9, 4), (20, 4)])
def test_choose_returns_distinct_sorted_agents_among_the_candidates(n: int, size: int) -> None:
    agents = names(n)
    shuffled = random.Random(n).sample(agents, n)
    teams = TeamRouter(router(1))
    for _ in range(200):
        team = teams.choose("review", shuffled + shuffled[:1], size)  # a duplicate too
        assert isinstance(team, tuple)
        assert len(team) == size
        assert len(set(team)) == size
        assert list(team) == sorted(team)
        assert set(team) <= set(agents)


@pytest.mark.parametrize(("agents", "size"), [(["a"], 2), (["a", "b"], 3), (["a", "a", "b"], 3)])
def test_choose_refuses_fewer_different_agents_than_the_size(agents: list[str], size: int) -> None:
    with pytest.raises(ValueError, match=f"{len(set(agents))} agents cannot make a team of {size}"):
        TeamRouter(router(1)).choose("review", agents, size)


def test_choose_draws_from_the_routers_random_source_only() -> None:
    agents = names(6)
    one, two = TeamRouter(router(42)), TeamRouter(router(42))
    first = [one.choose("review", agents, 3) for _ in range(100)]
    second = [two.choose("review", agents, 3) for _ in range(100)]
    assert first == second
    assert len(set(first)) > 5  # and it does draw


# ---------------------------------------------------------------------- choose: learning
@pytest.mark.parametrize(("n", "size"), [(4, 2), (5, 3), (6, 5)])
def test_without_any_data_every_combination_is_tried(n: int, size: int) -> None:
    agents = names(n)
    combos = math.comb(n, size)
    counts = draws(TeamRouter(router(3)), agents, size, 400 * combos)
    assert len(counts) == combos
    # each one a fair share (400 expected): no combination starved or favoured
    assert min(counts.values()) > 250
    assert max(counts.values()) < 550


def test_teams_of_individually_good_agents_are_preferred() -> None:
    individual = router(4)
    feed(individual, "good-1", 95, 5)
    feed(individual, "good-2", 95, 5)
    feed(individual, "poor", 20, 80)
    counts = draws(TeamRouter(individual), ["poor", "good-2", "good-1"], 2, 2000)
    assert counts[("good-1", "good-2")] > 0.8 * 2000
    assert counts[("good-1", "poor")] > 0  # still explored, a little
    assert counts[("good-1", "poor")] < 0.1 * 2000
    assert counts[("good-2", "poor")] < 0.1 * 2000


def test_a_bad_member_spoils_every_team_it_is_in() -> None:
    individual = router(5)
    for agent in "abcd":
        feed(individual, agent, 95, 5)
    feed(individual, "x", 20, 80)
    feed(individual, "y", 20, 80)
    counts = draws(TeamRouter(individual), list("abcdxy"), 2, 2000)
    with_a_bad_member = sum(v for team, v in counts.items() if {"x", "y"} & set(team))
    assert with_a_bad_member < 0.05 * 2000
    # the good ones are interchangeable: each of their six teams gets its share
    good_teams = [t for t in counts if not {"x", "y"} & set(t)]
    assert len(good_teams) == 6
    assert min(counts[t] for t in good_teams) > 200


def test_a_combination_that_keeps_failing_together_is_dropped() -> None:
    individual = router(6)
    for agent in "abc":
        feed(individual, agent, 95, 5)
    teams = TeamRouter(individual)
    before = draws(teams, list("abc"), 2, 2000)
    assert before[("a", "b")] > 0.25 * 2000  # individually as good as the others
    observe(teams, "ba", 0, 20)
    after = draws(teams, list("abc"), 2, 2000)
    assert after[("a", "b")] < 0.01 * 2000
    assert after[("a", "c")] > 0.4 * 2000
    assert after[("b", "c")] > 0.4 * 2000
    # what the members did apart is untouched: the team's record lives in the team router
    assert individual.estimate("review", "a").samples == 100


def test_a_combination_that_succeeds_together_beats_its_members_records() -> None:
    individual = router(7)
    feed(individual, "a", 95, 5)
    feed(individual, "b", 95, 5)
    feed(individual, "weak", 20, 80)
    teams = TeamRouter(individual)
    observe(teams, ["weak", "a"], 30, 0)
    observe(teams, ["a", "b"], 20, 10)
    counts = draws(teams, ["a", "b", "weak"], 2, 2000)
    assert counts[("a", "weak")] > 0.9 * 2000


def test_choosing_and_observing_converges_away_from_a_clashing_pair() -> None:
    world, teams = random.Random(100), TeamRouter(router(8))
    for agent in "abcd":
        feed(teams.router, agent, 90, 10)
    truth = {("a", "b"): 0.1}  # individually good, together they clash; other pairs: 0.8
    chosen = []
    for _ in range(500):
        team = teams.choose("review", list("abcd"), 2)
        chosen.append(team)
        ok = world.random() < truth.get(team, 0.8)
        teams.observe(team_run(team, TeamState.SUCCEEDED if ok else TeamState.FAILED))
    assert Counter(chosen)[("a", "b")] < 30
    assert Counter(chosen[-200:])[("a", "b")] < 10
    clash = teams.estimate("review", "ab")
    assert clash.samples == Counter(chosen)[("a", "b")]
    assert clash.success < clash.prior  # worse together than the members' records say


def test_what_a_team_did_on_one_task_type_says_nothing_of_another() -> None:
    individual = router(9)
    for agent in "abc":
        feed(individual, agent, 95, 5, task_type="review")
        feed(individual, agent, 95, 5, task_type="deploy")
    teams = TeamRouter(individual)
    observe(teams, "ab", 0, 20, task_type="review")
    assert draws(teams, list("abc"), 2, 2000, "review")[("a", "b")] < 0.01 * 2000
    assert draws(teams, list("abc"), 2, 2000, "deploy")[("a", "b")] > 0.25 * 2000


# ---------------------------------------------------------------------- choose: shortlist
@pytest.mark.parametrize(
    ("n", "size", "expected_draws"),
    [
        (4, 2, 6),
        (10, 4, 210),  # comb = 210 <= 256: every combination drawn once
        (10, 5, 252),
        (11, 4, 11 + math.comb(7, 4)),  # comb = 330 > 256: one draw per agent, then a
        (20, 4, 20 + math.comb(7, 4)),  # combination draw over the best size + 3
        (12, 8, 12 + math.comb(11, 8)),
    ],
)
def test_above_max_combinations_teams_come_from_a_shortlist(
    n: int, size: int, expected_draws: int
) -> None:
    assert (math.comb(n, size) > MAX_COMBINATIONS) == (expected_draws < math.comb(n, size))
    rng = CountingRng(10)
    teams = TeamRouter(Router(rng))
    for _ in range(3):
        rng.calls = 0
        assert len(teams.choose("review", names(n), size)) == size
        assert rng.calls == expected_draws


def test_the_shortlist_prefers_individually_strong_agents() -> None:
    agents = names(20)
    strong = tuple(agents[:4])
    individual = router(11)
    for agent in agents:
        if agent in strong:
            feed(individual, agent, 95, 5)
        else:
            feed(individual, agent, 20, 80)
    teams = TeamRouter(individual)
    chosen = [teams.choose("review", list(reversed(agents)), 4) for _ in range(1000)]
    for team in chosen:
        assert len(set(team)) == 4
        assert list(team) == sorted(team)
        assert set(team) <= set(agents)
    assert Counter(chosen)[strong] > 0.5 * 1000
    seats = Counter(member for team in chosen for member in team)
    assert sum(seats[a] for a in strong) > 0.8 * 4 * 1000


def test_the_shortlist_still_explores_without_data() -> None:
    agents = names(20)
    teams = TeamRouter(router(12))
    chosen = [teams.choose("review", agents, 4) for _ in range(500)]
    seats = Counter(member for team in chosen for member in team)
    assert set(seats) == set(agents)  # every agent gets a seat now and then
    assert min(seats.values()) > 40  # 100 expected each
    assert len(set(chosen)) > 300  # and the teams vary


# ---------------------------------------------------------------------- observe
def test_a_running_team_teaches_nothing() -> None:
    teams = TeamRouter(router(13))
    teams.observe(team_run("ab", TeamState.RUNNING))
    teams.observe_all([team_run("ab", TeamState.RUNNING), team_run("cd", TeamState.RUNNING)])
    assert teams.outcomes == {}
    assert teams.estimate("review", "ab").samples == 0
    assert teams.known() == []


def test_member_order_does_not_matter() -> None:
    teams = TeamRouter(router(14))
    teams.observe(team_run(["c", "a", "b"], TeamState.SUCCEEDED))
    teams.observe(team_run(["b", "c", "a"], TeamState.FAILED))
    teams.observe(team_run(["a", "b", "c"], TeamState.SUCCEEDED))
    one = teams.estimate("review", ["b", "c", "a"])
    other = teams.estimate("review", ("a", "b", "c"))
    assert one == other
    assert one.members == ("a", "b", "c")
    assert one.samples == 3
    assert (one.lower, one.upper) == wilson_interval(2, 3)
    assert [(kind, e.members) for kind, e in teams.known()] == [("review", ("a", "b", "c"))]


def test_observe_all_counts_every_ended_team() -> None:
    teams = TeamRouter(router(15))
    teams.observe_all(
        [
            team_run("ab", TeamState.SUCCEEDED),
            team_run("ab", TeamState.FAILED),
            team_run("ab", TeamState.RUNNING),
            team_run("ab", TeamState.SUCCEEDED, quorum=1),
            team_run("cd", TeamState.FAILED),
        ]
    )
    assert teams.estimate("review", "ab").samples == 2  # a quorum of 2: all of them
    assert teams.estimate("review", "ab", quorum=1).samples == 1  # learned apart
    assert teams.estimate("review", "cd").samples == 1
    assert teams.estimate("review", "ac").samples == 0


# ---------------------------------------------------------------------- estimate
def test_without_data_a_team_is_as_good_as_its_members_together() -> None:
    teams = TeamRouter(router(16))
    pair = teams.estimate("review", "ba")
    assert pair == TeamEstimate(("a", "b"), 2, 0.25, 0.25, 0.0, 1.0, 0)
    trio = teams.estimate("review", "abc")
    assert trio.prior == pytest.approx(0.125)
    assert trio.success == pytest.approx(0.125)
    assert teams.outcomes == {}  # asking records nothing


def test_the_prior_is_the_product_of_the_members_means_and_outcomes_update_it() -> None:
    individual = router(17)
    feed(individual, "a", 9, 1)  # mean (9 + 1) / (10 + 2)
    feed(individual, "b", 3, 1)  # mean (3 + 1) / (4 + 2)
    prior = (10 / 12) * (4 / 6)
    teams = TeamRouter(individual)
    assert teams.estimate("review", "ab").prior == pytest.approx(prior)
    assert teams.estimate("review", "ab").success == pytest.approx(prior)
    observe(teams, "ab", 3, 1)
    estimate = teams.estimate("review", "ab")
    assert estimate.prior == pytest.approx(prior)  # the team's record does not move it
    assert estimate.success == pytest.approx((2 * prior + 3) / (2 + 4))  # worth 2 outcomes
    assert estimate.samples == 4
    assert (estimate.lower, estimate.upper) == wilson_interval(3, 4)
    assert 0.0 <= estimate.lower < 0.75 < estimate.upper <= 1.0


def test_prior_strength_is_how_many_outcomes_the_prior_is_worth() -> None:
    individual = router(18)
    feed(individual, "a", 9, 1)
    feed(individual, "b", 3, 1)
    prior = (10 / 12) * (4 / 6)
    teams = TeamRouter(individual, prior_strength=10.0)
    observe(teams, "ab", 0, 5)
    assert teams.estimate("review", "ab").success == pytest.approx(10 * prior / (10 + 5))


@pytest.mark.parametrize(("wins", "losses"), [(20, 0), (0, 20), (1, 0), (0, 1), (50, 50)])
def test_the_observed_interval_stays_within_zero_and_one(wins: int, losses: int) -> None:
    teams = TeamRouter(router(19))
    observe(teams, "ab", wins, losses)
    estimate = teams.estimate("review", "ab")
    assert 0.0 <= estimate.lower <= wins / (wins + losses) <= estimate.upper <= 1.0
    assert 0.0 < estimate.success < 1.0
    if losses == 0:
        assert estimate.upper == 1.0
    if wins == 0:
        assert estimate.lower == 0.0


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=2, max_size=4),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_the_posterior_mean_lies_between_the_prior_and_the_observed_rate(
    records: list[tuple[int, int]], wins: int, losses: int
) -> None:
    individual = router(20)
    members = [f"m{i}" for i in range(len(records))]
    for member, (s, f) in zip(members, records, strict=True):
        if s + f:
            feed(individual, member, s, f)
    teams = TeamRouter(individual)
    observe(teams, members, wins, losses)
    estimate = teams.estimate("review", members)
    assert 0.0 < estimate.prior < 1.0
    assert 0.0 <= estimate.lower <= estimate.upper <= 1.0
    assert estimate.samples == wins + losses
    rate = wins / (wins + losses) if wins + losses else estimate.prior
    low, high = sorted((estimate.prior, rate))
    assert low - 1e-12 <= estimate.success <= high + 1e-12


# ---------------------------------------------------------------------- known
def test_known_lists_recorded_combinations_best_first() -> None:
    individual = router(21)
    feed(individual, "a", 95, 5)
    feed(individual, "b", 95, 5)
    teams = TeamRouter(individual)
    observe(teams, "ef", 0, 5)
    observe(teams, "ab", 3, 0)  # lucky: a high mean (strong members) on little evidence
    observe(teams, "gh", 0, 1)
    observe(teams, "pq", 45, 5)  # proven
    teams.estimate("review", "xy")  # asked about, never recorded: not known
    known = teams.known()
    lucky, proven = teams.estimate("review", "ab"), teams.estimate("review", "pq")
    assert lucky.success > proven.success
    assert lucky.lower < proven.lower
    # by the lower bound (proven before lucky), then the posterior mean (0/1 before 0/5)
    assert [e.members for _, e in known] == [("p", "q"), ("a", "b"), ("g", "h"), ("e", "f")]
    assert all(kind == "review" for kind, _ in known)
    assert known[0][1] == proven
    assert known[2][1].lower == known[3][1].lower == 0.0
    assert known[2][1].success > known[3][1].success


def test_known_filters_by_task_type() -> None:
    teams = TeamRouter(router(22))
    observe(teams, "ab", 3, 0, task_type="review")
    observe(teams, "ab", 0, 3, task_type="deploy")
    observe(teams, "cd", 1, 1, task_type="deploy")
    review = teams.known("review")
    assert [(kind, e.members, e.samples) for kind, e in review] == [("review", ("a", "b"), 3)]
    deploy = teams.known("deploy")
    assert [(kind, e.members) for kind, e in deploy] == [
        ("deploy", ("c", "d")),
        ("deploy", ("a", "b")),
    ]
    assert len(teams.known()) == 3
    assert teams.known("unknown-type") == []


# ---------------------------------------------------------------------- quorum
def test_the_prior_is_the_chance_that_at_least_the_quorum_succeed() -> None:
    individual = router(31)
    feed(individual, "a", 9, 1)  # mean 10/12
    feed(individual, "b", 3, 1)  # mean 4/6
    teams = TeamRouter(individual)
    pa, pb = 10 / 12, 4 / 6
    assert teams.estimate("review", "ab", quorum=2).prior == pytest.approx(pa * pb)
    either = 1 - (1 - pa) * (1 - pb)
    assert teams.estimate("review", "ab", quorum=1).prior == pytest.approx(either)
    # eight untried agents (each 1/2), any one of which suffices: almost surely
    assert at_least(1, [0.5] * 8) == pytest.approx(1 - 0.5**8)
    assert at_least(8, [0.5] * 8) == pytest.approx(0.5**8)
    assert at_least(2, [0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert at_least(0, [0.3]) == pytest.approx(1.0)


def test_choose_uses_the_quorum_and_refuses_an_impossible_one() -> None:
    teams = TeamRouter(router(32))
    assert len(teams.choose("review", "abc", 2, quorum=1)) == 2
    with pytest.raises(ValueError, match="quorum of 1 to 2"):
        teams.choose("review", "abc", 2, quorum=3)
    with pytest.raises(ValueError, match="prior_strength"):
        TeamRouter(router(33), prior_strength=0)


# ---------------------------------------------------------------------- secondary objectives
def test_among_equally_reliable_teams_the_faster_one_is_preferred() -> None:
    individual = router(41)
    for agent, seconds in (("a", 10.0), ("b", 12.0), ("slow", 200.0)):
        for i in range(200):
            individual.observe(
                Execution(
                    task_id=f"{agent}-{i}",
                    attempt=1,
                    agent_id=agent,
                    task_type="review",
                    complexity=1.0,
                    started_at=T0 + i - seconds,
                    finished_at=T0 + i,
                    outcome=Outcome.SUCCEEDED if i % 10 else Outcome.FAILED,
                    lease_token=1,
                )
            )
    teams = TeamRouter(individual)
    chosen = draws(teams, ["a", "b", "slow"], 2, 2000)
    # untried teams are still explored (a prior worth two outcomes), but the teams that
    # wait for "slow" (16x longer) are chosen far less often; without the penalty, each
    # pair would get about a third
    assert chosen[("a", "b")] > 2 * max(chosen[("a", "slow")], chosen[("b", "slow")])
    assert individual.decisions == 2000  # team choices count as decisions


def test_nothing_is_learned_while_learning_is_disabled() -> None:
    teams = TeamRouter(Router(random.Random(42), RouterConfig(enabled=False)))
    teams.observe(team_run("ab", TeamState.SUCCEEDED))
    assert teams.known() == []


# ---------------------------------------------------------------------- rank (recommend mode)
def test_rank_puts_the_team_most_likely_to_succeed_first_and_draws_nothing() -> None:
    individual = router(51)
    feed(individual, "a", 18, 2)
    feed(individual, "b", 16, 4)
    feed(individual, "c", 5, 15)
    teams = TeamRouter(individual)
    before = individual.decisions
    ranked = teams.rank("review", ["c", "b", "a"], 2)
    assert [e.members for e in ranked] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert ranked[0].success == pytest.approx(teams.estimate("review", "ab").success)
    assert individual.decisions == before  # ranking is not a decision
    for _ in range(30):  # a and b keep failing together: their team drops
        teams.observe(team_run("ab", TeamState.FAILED))
    assert teams.rank("review", "abc", 2)[0].members == ("a", "c")
    either = teams.rank("review", "abc", 2, quorum=1)
    assert all(e.quorum == 1 for e in either)
    assert either[0].success > ranked[0].success  # one success of two is easier


def test_rank_over_many_agents_keeps_to_the_strongest() -> None:
    individual = router(52)
    for i, agent in enumerate(names(20)):
        feed(individual, agent, 19 - i, i + 1)  # agent-00 strongest
    ranked = TeamRouter(individual).rank("review", names(20), 4)
    assert len(ranked) == math.comb(7, 4)  # teams of the size + 3 best alone
    assert ranked[0].members == tuple(names(4))
