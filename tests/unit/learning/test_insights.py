"""Insights (best combination, avoid pattern, bottleneck, drift) and agent figures."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imperium.domain.insights import (
    InsightThresholds,
    agent_figures,
    error_counts,
    generate_insights,
    most_common_error,
)
from imperium.domain.learning import Insight, InsightType
from imperium.domain.models import Execution
from imperium.domain.states import Outcome

NOW = 1_000_000.0
Z = 1.959963984540054
_ids = itertools.count()

S, F, T, L = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST


def ex(
    agent: str | None,
    task_type: str,
    outcome: Outcome,
    at: float | None = None,
    duration: float = 1.0,
    error_kind: str | None = None,
    message: str | None = None,
) -> Execution:
    """One execution finishing at ``at`` (a fresh increasing time when omitted)."""
    number = next(_ids)
    finished = float(number) if at is None else at
    return Execution(
        task_id=f"t{number}",
        attempt=1,
        agent_id=agent,
        task_type=task_type,
        complexity=1.0,
        started_at=finished - duration,
        finished_at=finished,
        outcome=outcome,
        lease_token=1,
        error_kind=error_kind,
        error_message=message,
    )


def run(agent: str, task_type: str, outcomes: list[Outcome], **kw: object) -> list[Execution]:
    return [ex(agent, task_type, o, **kw) for o in outcomes]  # type: ignore[arg-type]


def wilson_lower(k: int, n: int) -> float:
    """The Wilson lower bound, written out independently of imperium.domain.stats."""
    p = k / n
    return (p + Z * Z / (2 * n) - Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))) / (
        1 + Z * Z / n
    )


def of_type(insights: list[Insight], kind: InsightType) -> list[Insight]:
    return [i for i in insights if i.insight_type is kind]


# ---------------------------------------------------------------------- best_combo
def test_best_combo_reports_rate_counts_and_wilson_confidence() -> None:
    executions = run("A", "review", [S] * 46 + [F] * 4, duration=2.0)
    [best] = of_type(generate_insights(executions, NOW), InsightType.BEST_COMBO)
    assert best.task_type == "review"
    assert best.agents == ("A",)
    assert best.description == "agent A succeeds on 92% of review tasks (46 of 50)"
    assert best.sample_size == 50
    assert best.created_at == NOW
    assert best.confidence == pytest.approx(wilson_lower(46, 50))
    assert best.confidence == pytest.approx(0.8116, abs=1e-4)  # worked by hand
    assert best.data["success_rate"] == pytest.approx(0.92)
    assert best.data["successes"] == 46
    assert best.data["sample_size"] == 50
    assert best.data["interval"] == [
        pytest.approx(best.confidence),
        pytest.approx(0.9685, abs=1e-4),
    ]
    assert best.data["median_duration"] == pytest.approx(2.0)


def test_perfect_record_confidence_is_n_over_n_plus_z_squared() -> None:
    [best] = generate_insights(run("A", "review", [S] * 10), NOW)
    assert best.insight_type is InsightType.BEST_COMBO
    assert best.confidence == pytest.approx(10 / (10 + Z * Z))  # 0.7225


def test_no_best_combo_below_the_sample_or_rate_threshold() -> None:
    assert generate_insights(run("A", "review", [S] * 9), NOW) == []
    assert (
        of_type(generate_insights(run("A", "r", [S] * 7 + [F] * 3), NOW), InsightType.BEST_COMBO)
        == []
    )
    assert of_type(generate_insights(run("A", "r", [S] * 8 + [F] * 2), NOW), InsightType.BEST_COMBO)


# ---------------------------------------------------------------------- avoid_pattern
def test_avoid_pattern_names_the_most_common_error() -> None:
    long_message = "x" * 300
    executions = (
        run("B", "build", [S] * 6)
        + run("B", "build", [F] * 9, error_kind="dependency_conflict", message=long_message)
        + run("B", "build", [T] * 5)
    )
    [avoid] = of_type(generate_insights(executions, NOW), InsightType.AVOID_PATTERN)
    assert avoid.agents == ("B",)
    assert avoid.description == (
        "avoid routing build tasks to agent B: fails 70% (14 of 20); "
        "most common error: dependency_conflict (9)"
    )
    assert avoid.sample_size == 20
    assert avoid.confidence == pytest.approx(wilson_lower(14, 20))
    assert avoid.data["failure_rate"] == pytest.approx(0.7)
    assert avoid.data["failure_count"] == 14
    assert avoid.data["most_common_error"] == {
        "error_kind": "dependency_conflict",
        "example_message": "x" * 200,
        "count": 9,
    }
    assert avoid.data["error_counts"] == {"dependency_conflict": 9, "timed_out": 5}


def test_a_few_failures_at_a_low_rate_are_no_avoid_pattern() -> None:
    executions = run("B", "build", [S] * 27 + [F] * 3)
    assert of_type(generate_insights(executions, NOW), InsightType.AVOID_PATTERN) == []


def test_avoid_pattern_thresholds() -> None:
    def avoid(outcomes: list[Outcome]) -> list[Insight]:
        return of_type(generate_insights(run("B", "b", outcomes), NOW), InsightType.AVOID_PATTERN)

    assert avoid([F] * 4) == []  # below 5 samples
    [five] = avoid([F] * 5)
    assert five.confidence == pytest.approx(5 / (5 + Z * Z))
    assert avoid([S] * 6 + [F] * 4) == []  # 40 %
    assert avoid([S] * 5 + [L] * 5)  # exactly 50 %, lost attempts are failures


def test_most_common_error_falls_back_to_the_outcome() -> None:
    failures = [*run("B", "b", [T, T, L]), ex("B", "b", F, error_kind="oom", message="killed")]
    assert most_common_error(failures) == {
        "error_kind": "timed_out",
        "example_message": None,
        "count": 2,
    }
    assert error_counts(failures) == [("timed_out", 2), ("lost", 1), ("oom", 1)]
    assert most_common_error([]) is None


def test_most_common_error_keeps_the_latest_message_of_that_kind() -> None:
    failures = [
        ex("B", "b", F, at=1.0, error_kind="oom", message="first"),
        ex("B", "b", F, at=3.0, error_kind="oom", message="latest"),
        ex("B", "b", F, at=2.0, error_kind="disk", message="other"),
    ]
    common = most_common_error(failures)
    assert common == {"error_kind": "oom", "example_message": "latest", "count": 2}


# ---------------------------------------------------------------------- bottleneck
def test_bottleneck_against_the_fastest_agent() -> None:
    executions = run("A", "build", [S] * 10, duration=1.0) + (
        run("B", "build", [S] * 8, duration=3.0) + run("B", "build", [S] * 2, duration=1.0)
    )
    [slow] = of_type(generate_insights(executions, NOW), InsightType.BOTTLENECK)
    assert slow.agents == ("B",)
    assert slow.task_type == "build"
    assert slow.sample_size == 10
    assert slow.confidence == pytest.approx(wilson_lower(8, 10))
    data = slow.data
    assert data["reference_agent"] == "A"
    assert data["reference_median"] == pytest.approx(1.0)
    assert data["median_duration"] == pytest.approx(3.0)
    assert data["slowdown"] == pytest.approx(3.0)
    assert data["slow_share"] == pytest.approx(0.8)
    assert data["p95_duration"] == pytest.approx(3.0)
    assert data["mean_duration"] == pytest.approx(2.6)
    assert "3.0x slower than agent A" in slow.description


@pytest.mark.parametrize(
    ("b_runs", "reason"),
    [
        ([(4, 3.0), (6, 1.0)], "only 40 % of its runs are slow"),
        ([(4, 3.0)], "below 5 samples"),
        ([(10, 2.0)], "exactly 2x is not slower than 2x"),
    ],
)
def test_no_bottleneck_below_the_thresholds(b_runs: list[tuple[int, float]], reason: str) -> None:
    executions = run("A", "build", [S] * 10, duration=1.0)
    for count, duration in b_runs:
        executions += run("B", "build", [S] * count, duration=duration)
    assert of_type(generate_insights(executions, NOW), InsightType.BOTTLENECK) == [], reason


def test_no_bottleneck_with_a_single_agent_or_across_task_types() -> None:
    executions = run("A", "build", [S] * 10, duration=1.0) + run("B", "test", [S] * 10, duration=9)
    assert of_type(generate_insights(executions, NOW), InsightType.BOTTLENECK) == []


# ---------------------------------------------------------------------- drift
def pattern(successes: int, n: int) -> list[Outcome]:
    """n outcomes with ``successes`` spread evenly among them."""
    return [S if (i * successes) // n != ((i + 1) * successes) // n else F for i in range(n)]


def test_drift_detects_a_drop_from_90_to_40_percent() -> None:
    older = run("C", "deploy", pattern(54, 60))
    recent = run("C", "deploy", pattern(12, 30))
    [drift] = of_type(generate_insights(older + recent, NOW), InsightType.DRIFT)
    data = drift.data
    assert data["direction"] == "degraded"
    assert data["before_rate"] == pytest.approx(0.9)
    assert data["recent_rate"] == pytest.approx(0.4)
    assert (data["before_n"], data["recent_n"]) == (60, 30)
    assert data["since"] == recent[0].finished_at
    pooled = 66 / 90
    z = (0.4 - 0.9) / math.sqrt(pooled * (1 - pooled) * (1 / 60 + 1 / 30))
    assert data["z"] == pytest.approx(z)
    assert drift.confidence == pytest.approx(1 - math.erfc(abs(z) / math.sqrt(2)))
    assert drift.sample_size == 90
    assert "degraded" in drift.description


def test_drift_improvement_and_the_older_window_cap() -> None:
    older = run("C", "deploy", [F] * 400)
    recent = run("C", "deploy", [S] * 30)
    [drift] = of_type(generate_insights(older + recent, NOW), InsightType.DRIFT)
    assert drift.data["direction"] == "improved"
    assert drift.data["before_n"] == 300  # 10 windows
    assert drift.sample_size == 330


def test_drift_uses_finish_time_not_input_order() -> None:
    older = run("C", "deploy", pattern(54, 60))
    recent = run("C", "deploy", pattern(12, 30))
    shuffled = recent[::2] + older[::-1] + recent[1::2]
    [drift] = of_type(generate_insights(shuffled, NOW), InsightType.DRIFT)
    assert drift.data["recent_rate"] == pytest.approx(0.4)


def test_no_drift_for_a_stable_agent_or_too_little_history() -> None:
    stable = run("C", "deploy", pattern(81, 90))
    assert of_type(generate_insights(stable, NOW), InsightType.DRIFT) == []
    short = run("C", "deploy", [S] * 29 + [F] * 30)  # 29 older < the 30-run window
    assert of_type(generate_insights(short, NOW), InsightType.DRIFT) == []


# ---------------------------------------------------------------------- common rules
def test_cancelled_interrupted_and_agentless_executions_are_ignored() -> None:
    executions = (
        run("A", "review", [S] * 10)
        + run("A", "review", [Outcome.CANCELLED] * 20 + [Outcome.INTERRUPTED] * 20)
        + [ex(None, "review", F) for _ in range(20)]
    )
    [best] = generate_insights(executions, NOW)
    assert best.insight_type is InsightType.BEST_COMBO
    assert best.sample_size == 10
    assert generate_insights(run("X", "r", [Outcome.CANCELLED] * 20), NOW) == []


def test_ordered_by_confidence_then_type_then_agents() -> None:
    executions = (
        run("A", "r", [S] * 10)  # best_combo, 10/10
        + run("B", "r", [F] * 10)  # avoid_pattern, 10/10: same confidence
        + run("C", "r", [S] * 50)  # best_combo, 50/50: more confident
        + run("D", "r", [S] * 10)  # best_combo, 10/10
    )
    insights = generate_insights(executions, NOW)
    assert [(i.insight_type, i.agents) for i in insights] == [
        (InsightType.BEST_COMBO, ("C",)),
        (InsightType.AVOID_PATTERN, ("B",)),
        (InsightType.BEST_COMBO, ("A",)),
        (InsightType.BEST_COMBO, ("D",)),
    ]
    confidences = [i.confidence for i in insights]
    assert confidences == sorted(confidences, reverse=True)


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="best_min_samples"):
        InsightThresholds(best_min_samples=0)
    with pytest.raises(ValueError, match="best_min_rate"):
        InsightThresholds(best_min_rate=1.5)
    with pytest.raises(ValueError, match="drift_z"):
        InsightThresholds(drift_z=0)


executions_strategy = st.lists(
    st.builds(
        lambda agent, task_type, outcome, at, duration, kind: ex(
            agent, task_type, outcome, at=at, duration=duration, error_kind=kind
        ),
        st.sampled_from(["a", "b", "c", None]),
        st.sampled_from(["x", "y"]),
        st.sampled_from([S, S, S, S, S, *Outcome]),  # mostly successes
        st.floats(0, 1000),
        st.floats(0, 100),
        st.sampled_from([None, "oom", "crash"]),
    ),
    max_size=120,
)
SMALL = InsightThresholds(
    best_min_samples=3, avoid_min_samples=3, bottleneck_min_samples=2, drift_window=4, drift_z=1.5
)


@settings(max_examples=60, deadline=None)
@given(executions_strategy, st.sampled_from([InsightThresholds(), SMALL]))
def test_every_insight_is_bounded_and_rests_on_enough_samples(
    executions: list[Execution], t: InsightThresholds
) -> None:
    minimum = {
        InsightType.BEST_COMBO: t.best_min_samples,
        InsightType.AVOID_PATTERN: t.avoid_min_samples,
        InsightType.BOTTLENECK: t.bottleneck_min_samples,
        InsightType.DRIFT: 2 * t.drift_window,
    }
    insights = generate_insights(executions, NOW, t)
    for insight in insights:
        assert 0.0 <= insight.confidence <= 1.0
        assert insight.sample_size >= minimum[insight.insight_type]
        assert insight.created_at == NOW
        assert len(insight.agents) == 1
    assert [i.confidence for i in insights] == sorted(
        (i.confidence for i in insights), reverse=True
    )
    for figures in agent_figures(executions, ["a", "b", "c", "z"], insights):
        assert 0.0 <= figures.success_rate <= 1.0
        assert 0.0 <= figures.learning_score <= 100.0
        assert sum(int(p["attempts"]) for p in figures.learning_patterns) == figures.executions  # type: ignore[call-overload]


# ---------------------------------------------------------------------- agent figures
def test_agent_figures_numbers() -> None:
    executions = [
        ex("A", "review", S, at=10.0, duration=2.0),
        ex("A", "review", T, at=20.0, duration=4.0),
        ex("A", "review", S, at=30.0, duration=6.0),
        ex("A", "build", S, at=25.0, duration=1.0),
        ex("A", "build", Outcome.CANCELLED, at=50.0),
        ex("B", "review", F, at=40.0),
    ]
    a, nobody = agent_figures(executions, ["A", "Z"], [])
    assert a.agent_id == "A"
    assert a.executions == 4
    assert a.success_rate == pytest.approx(0.75)
    assert a.failure_rate == pytest.approx(0.25)
    assert a.learning_score == round(100 * wilson_lower(3, 4), 2)
    assert a.learning_score == pytest.approx(30.06, abs=0.01)
    assert a.last_success == 30.0
    assert a.last_failure == 20.0
    assert a.learning_patterns == [
        {
            "task_type": "review",
            "attempts": 3,
            "success_rate": pytest.approx(2 / 3),
            "median_duration": pytest.approx(4.0),
        },
        {
            "task_type": "build",
            "attempts": 1,
            "success_rate": 1.0,
            "median_duration": pytest.approx(1.0),
        },
    ]
    assert a.improvement_suggestions == []
    assert nobody.agent_id == "Z"
    assert (nobody.executions, nobody.success_rate, nobody.failure_rate) == (0, 0.0, 0.0)
    assert nobody.learning_score == 0.0
    assert (nobody.last_success, nobody.last_failure) == (None, None)
    assert nobody.learning_patterns == []
    assert nobody.improvement_suggestions == []


def test_agent_figures_keep_the_given_order() -> None:
    figures = agent_figures(run("A", "r", [S]), ["Z", "A", "Z"], [])
    assert [f.agent_id for f in figures] == ["Z", "A"]


def test_improvement_suggestions_from_insights() -> None:
    executions = (
        run("A", "review", [S] * 12, duration=1.0)  # best_combo, reference for the bottleneck
        + run("B", "build", [F] * 8, error_kind="dependency_conflict")
        + run("B", "build", [S] * 2)  # avoid_pattern
        + run("B", "review", [S] * 10, duration=5.0)  # bottleneck: 5x slower than A
        + run("B", "deploy", pattern(54, 60))
        + run("B", "deploy", pattern(12, 30))  # drift, degraded
    )
    insights = generate_insights(executions, NOW)
    kinds = {(i.insight_type, i.agents, i.task_type) for i in insights}
    assert (InsightType.BOTTLENECK, ("B",), "review") in kinds
    [a, b] = agent_figures(executions, ["A", "B"], insights + insights)
    assert a.improvement_suggestions == []  # a best combination suggests nothing
    assert len(b.improvement_suggestions) == 3  # no duplicates
    text = " | ".join(b.improvement_suggestions)
    avoid = next(s for s in b.improvement_suggestions if s.startswith("Stop routing"))
    assert "build" in avoid
    assert "agent B" in avoid
    assert "80%" in avoid
    assert "dependency_conflict (8 times)" in avoid
    slow = next(s for s in b.improvement_suggestions if "slower" in s)
    assert "5.0x slower than agent A on review tasks" in slow
    fell = next(s for s in b.improvement_suggestions if "fell" in s)
    assert "deploy" in fell
    assert "from 90% to 40%" in fell
    assert "B" in text
