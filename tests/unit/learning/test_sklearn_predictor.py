"""The scikit-learn success/duration predictor and its fall-back to per-pair rates."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from imperium.adapters.learning.logistic_ridge import LogisticRidge
from imperium.adapters.learning.sklearn_predictor import HALF_LIFE, SklearnPredictor
from imperium.domain.learning import Prediction, Query
from imperium.domain.models import Execution
from imperium.domain.prediction import PairRates, learnable, score, split
from imperium.domain.states import Outcome

NOW = 1_700_000_000.0

SuccessFn = Callable[[str, str, float], float]
DurationFn = Callable[[str, str, float], float]


def _by_complexity(task_type: str, agent_id: str, complexity: float) -> float:
    """0.95 at complexity 1 down to 0.2 at 5 for (build, a1); flat for the others."""
    if (task_type, agent_id) == ("build", "a1"):
        return 0.95 - (complexity - 1.0) * 0.75 / 4.0
    return {"a1": 0.6, "a2": 0.4}.get(agent_id, 0.5)


def _constant_duration(task_type: str, agent_id: str, complexity: float) -> float:
    return 10.0


def make(
    n: int,
    *,
    seed: int = 7,
    success: SuccessFn = _by_complexity,
    duration: DurationFn = _constant_duration,
    pairs: tuple[tuple[str, str], ...] = (("build", "a1"), ("build", "a2"), ("test", "a1")),
    noise: float = 0.1,
) -> list[Execution]:
    rng = random.Random(seed)
    executions = []
    for i in range(n):
        task_type, agent_id = pairs[0] if i % 2 == 0 else rng.choice(pairs)
        complexity = rng.uniform(1.0, 5.0)
        ok = rng.random() < success(task_type, agent_id, complexity)
        seconds = duration(task_type, agent_id, complexity) * math.exp(rng.gauss(0.0, noise))
        start = 100.0 * i
        executions.append(
            Execution(
                task_id=f"t{i}",
                attempt=1,
                agent_id=agent_id,
                task_type=task_type,
                complexity=complexity,
                started_at=start,
                finished_at=start + seconds,
                outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
                lease_token=1,
            )
        )
    return executions


def test_complexity_effect_is_learned_and_beats_pair_rates() -> None:
    # One pair: the plain per-pair rates cannot see complexity, the fitted model can.
    executions = make(2000, pairs=(("build", "a1"),))
    predictor = SklearnPredictor(complexity_rates=False)
    report = predictor.fit(executions, NOW)

    assert report.kind == "logistic_ridge"
    assert report.fallback_reason is None
    assert report.version == f"logistic_ridge-{int(NOW * 1000)}"
    assert report.trained_at == NOW
    assert report.train_samples == 1600
    assert report.held_out == 400

    rates = PairRates(complexity=False).fit(executions, NOW)
    assert report.auc is not None
    assert rates.auc is not None
    assert report.auc > rates.auc + 0.15
    assert report.brier is not None
    assert rates.brier is not None
    assert report.brier < rates.brier
    assert report.brier_skill is not None
    assert report.brier_skill > 0

    easy, hard = predictor.predict([Query("build", 1.0, "a1"), Query("build", 5.0, "a1")])
    assert easy.success > 0.85
    assert hard.success < 0.35
    assert easy.success > hard.success + 0.5


def test_report_scores_are_those_of_the_chosen_model_on_the_same_split() -> None:
    executions = make(2000)
    report = SklearnPredictor(complexity_rates=False).fit(executions, NOW)

    train, held_out = split(learnable(executions))
    expected = score(LogisticRidge(train, half_life=HALF_LIFE).predict, train, held_out)
    assert report.auc == pytest.approx(expected.auc, abs=1e-12)
    assert report.brier == pytest.approx(expected.brier, abs=1e-12)
    assert report.mae_log_duration == pytest.approx(expected.mae_log_duration, abs=1e-12)
    assert report.baseline_brier == pytest.approx(expected.baseline_brier, abs=1e-12)


def test_fast_path_equals_the_sklearn_estimators() -> None:
    model = LogisticRidge(make(500))
    queries = [
        Query("build", 1.0, "a1"),
        Query("build", 4.2, "a2"),
        Query("test", 2.5, "a1"),
        Query("test", 3.0, "a2"),  # unseen pair of seen type and agent
        Query("deploy", 2.0, "a9"),  # unseen everything
    ]
    predictions = model.predict(queries)
    x = model.design(queries)
    expected_success = model.success_model.predict_proba(x)[:, 1]
    expected_duration = np.exp(model.duration_model.predict(x))
    np.testing.assert_allclose([p.success for p in predictions], expected_success, rtol=1e-12)
    durations = [p.duration for p in predictions]
    assert None not in durations
    np.testing.assert_allclose(np.array(durations, dtype=float), expected_duration, rtol=1e-12)


def test_few_executions_fall_back_to_pair_rates() -> None:
    executions = make(30)
    predictor = SklearnPredictor()
    report = predictor.fit(executions, NOW)

    assert report.kind == "pair_rates"
    assert report.version == f"pair_rates-{int(NOW * 1000)}"
    assert report.fallback_reason is not None
    assert "30" in report.fallback_reason
    assert "100" in report.fallback_reason
    assert report.train_samples == 30
    assert report.held_out == 0
    assert report.auc is None
    assert report.brier is None

    rates = PairRates(half_life=HALF_LIFE)
    rates.fit(executions, NOW)
    queries = [Query("build", 3.0, "a1"), Query("other", 1.0, "zz")]
    assert predictor.predict(queries) == rates.predict(queries)


def test_training_data_of_one_outcome_falls_back() -> None:
    executions = make(300, success=lambda t, a, c: 1.0)
    predictor = SklearnPredictor()
    report = predictor.fit(executions, NOW)

    assert report.kind == "pair_rates"
    assert report.fallback_reason is not None
    assert "succeeded" in report.fallback_reason
    [prediction] = predictor.predict([Query("build", 2.0, "a1")])
    assert 0.5 < prediction.success < 1.0


def test_a_model_that_does_not_beat_pair_rates_is_not_used() -> None:
    # Success depends only on the agent; a near-unregularised-away model (tiny C)
    # predicts about the base rate and so loses to the per-pair rates.
    executions = make(1000, success=lambda t, a, c: 0.9 if a == "a1" else 0.1)
    predictor = SklearnPredictor(c=1e-6)
    report = predictor.fit(executions, NOW)

    rates = PairRates(half_life=HALF_LIFE).fit(executions, NOW)
    assert report.kind == "pair_rates"
    assert report.fallback_reason is not None
    assert report.fallback_reason.startswith(
        "the fitted model did not beat per-pair rates on held-out data (Brier "
    )
    assert f"vs {rates.brier:.3f})" in report.fallback_reason
    assert report.brier == rates.brier
    assert report.auc == rates.auc


def test_durations_growing_with_complexity_are_predicted() -> None:
    executions = make(2000, duration=lambda t, a, c: 2.0 * math.exp(0.6 * c), noise=0.1)
    predictor = SklearnPredictor(complexity_rates=False)
    report = predictor.fit(executions, NOW)
    rates = PairRates(complexity=False).fit(executions, NOW)

    assert report.kind == "logistic_ridge"
    assert report.mae_log_duration is not None
    assert rates.mae_log_duration is not None
    assert report.mae_log_duration < 0.15
    assert report.mae_log_duration < rates.mae_log_duration / 2

    low, high = predictor.predict([Query("build", 1.0, "a1"), Query("build", 5.0, "a1")])
    assert low.duration is not None
    assert high.duration is not None
    assert 0 < low.duration < high.duration
    assert low.duration == pytest.approx(2.0 * math.exp(0.6), rel=0.2)
    assert high.duration == pytest.approx(2.0 * math.exp(3.0), rel=0.2)


def test_unknown_agents_and_task_types_are_predicted() -> None:
    predictor = SklearnPredictor()
    predictor.fit(make(1000), NOW)
    queries = [
        Query("build", 2.0, "never-seen"),
        Query("never-seen", 2.0, "a1"),
        Query("never-seen", 9.0, "never-seen"),
        Query("test", 3.0, "a2"),
    ]
    predictions = predictor.predict(queries)
    assert len(predictions) == len(queries)
    for p in predictions:
        assert 0.0 < p.success < 1.0
        assert p.duration is not None
        assert p.duration > 0
        assert p.samples == 0
    assert predictor.predict([]) == []


def test_samples_count_the_executions_of_the_pair() -> None:
    executions = make(1000)
    predictor = SklearnPredictor()
    predictor.fit(executions, NOW)
    [prediction] = predictor.predict([Query("build", 2.0, "a2")])
    assert prediction.samples == sum(
        1 for e in executions if (e.task_type, e.agent_id) == ("build", "a2")
    )


def test_predict_before_fit_uses_pair_rate_defaults() -> None:
    predictor = SklearnPredictor()
    assert predictor.report is None
    assert predictor.predict([Query("build", 1.0, "a1")]) == [Prediction(0.5, None, 0)]


def test_cancelled_and_interrupted_executions_are_ignored() -> None:
    executions = make(1000)
    noise = [
        e._replace(
            task_id=f"x{i}",
            outcome=Outcome.CANCELLED if i % 2 else Outcome.INTERRUPTED,
            complexity=5.0,
            finished_at=e.finished_at + 1.0,
        )
        for i, e in enumerate(executions[::3])
    ]
    unassigned = [e._replace(task_id=f"u{i}", agent_id=None) for i, e in enumerate(executions[:50])]
    mixed = sorted(executions + noise + unassigned, key=lambda e: e.finished_at)

    plain, padded = SklearnPredictor(), SklearnPredictor()
    assert plain.fit(executions, NOW) == padded.fit(mixed, NOW)
    queries = [Query("build", c, "a1") for c in (1.0, 3.0, 5.0)] + [Query("test", 2.0, "a1")]
    for a, b in zip(plain.predict(queries), padded.predict(queries), strict=True):
        assert a.success == pytest.approx(b.success, abs=1e-12)
        assert a.duration == pytest.approx(b.duration, rel=1e-12)
        assert a.samples == b.samples


def test_refit_replaces_the_model() -> None:
    predictor = SklearnPredictor(complexity_rates=False)
    predictor.fit(make(1000), NOW)
    assert predictor.report is not None
    assert predictor.report.kind == "logistic_ridge"
    report = predictor.fit(make(20), NOW + 1)
    assert predictor.report is report
    assert report.kind == "pair_rates"
    [prediction] = predictor.predict([Query("build", 1.0, "a1")])
    assert prediction.samples > 0


def test_without_a_hold_out_the_fitted_model_is_used_unscored() -> None:
    # 60 executions: a 20% hold-out (12) is below the minimum, so nothing is held out.
    predictor = SklearnPredictor(min_samples=10)
    report = predictor.fit(make(60), NOW)

    assert report.kind == "logistic_ridge"
    assert report.fallback_reason is None
    assert report.train_samples == 60
    assert report.held_out == 0
    assert (report.auc, report.brier, report.mae_log_duration) == (None, None, None)
    [prediction] = predictor.predict([Query("build", 2.0, "a1")])
    assert 0.0 < prediction.success < 1.0


# ---------------------------------------------------------------------- recency
def changed(
    before: int,
    after: int,
    success_before: SuccessFn,
    success_after: SuccessFn,
    *,
    duration_after: DurationFn = _constant_duration,
) -> list[Execution]:
    """``before`` executions, then ``after`` more from the moment the truth changed."""
    old = make(before, seed=3, success=success_before)
    new = make(after, seed=4, success=success_after, duration=duration_after)
    shift = old[-1].finished_at + 100.0
    return old + [
        e._replace(
            task_id=f"n{i}", started_at=e.started_at + shift, finished_at=e.finished_at + shift
        )
        for i, e in enumerate(new)
    ]


def _a1_drops(task_type: str, agent_id: str, complexity: float) -> float:
    """After the change: (build, a1) fails most of the time, the others are as before."""
    return (
        0.2
        if (task_type, agent_id) == ("build", "a1")
        else _by_complexity(task_type, agent_id, complexity)
    )


def test_the_newest_executions_weigh_most_in_the_fits() -> None:
    executions = make(600)
    shuffled = random.Random(1).sample(executions, len(executions))
    model = LogisticRidge(shuffled, half_life=100)

    by_age = sorted(
        zip(shuffled, model.weights.tolist(), strict=True),
        key=lambda pair: pair[0].finished_at,
        reverse=True,
    )
    weights = [w for _, w in by_age]
    assert weights[0] == 1.0
    assert weights[100] == pytest.approx(0.5)
    assert weights[200] == pytest.approx(0.25)
    assert all(newer > older for newer, older in itertools.pairwise(weights))
    assert set(LogisticRidge(shuffled).weights.tolist()) == {1.0}


def test_after_a_change_the_weighted_fit_is_closer_to_the_new_success_rate() -> None:
    # (build, a1): 0.95..0.2 by complexity for 3,000 executions, then 0.2 for 600.
    executions = changed(3000, 600, _by_complexity, _a1_drops)
    query = [Query("build", 3.0, "a1")]
    new_rate = 0.2

    weighted = LogisticRidge(executions, half_life=100).predict(query)[0].success
    plain = LogisticRidge(executions).predict(query)[0].success

    assert abs(weighted - new_rate) < abs(plain - new_rate)
    assert abs(weighted - new_rate) < 0.1
    assert plain > 0.4  # the 3,000 older executions still dominate the plain fit


def test_after_a_change_the_weighted_fit_is_closer_to_the_new_duration() -> None:
    executions = changed(
        3000, 600, _by_complexity, _by_complexity, duration_after=lambda t, a, c: 40.0
    )
    query = [Query("build", 3.0, "a1")]

    weighted = LogisticRidge(executions, half_life=100).predict(query)[0].duration
    plain = LogisticRidge(executions).predict(query)[0].duration

    assert weighted is not None
    assert plain is not None
    assert abs(math.log(weighted / 40.0)) < abs(math.log(plain / 40.0))
    assert weighted == pytest.approx(40.0, rel=0.1)


def _a1_worse(task_type: str, agent_id: str, complexity: float) -> float:
    """After the change: (build, a1) 0.6 at complexity 1 down to 0.1 at 5 (0.35 at 3)."""
    if (task_type, agent_id) == ("build", "a1"):
        return 0.6 - (complexity - 1.0) * 0.5 / 4.0
    return _by_complexity(task_type, agent_id, complexity)


def test_the_fitted_predictor_weights_recency_and_scores_better_after_a_change() -> None:
    executions = changed(3000, 1500, _by_complexity, _a1_worse)
    weighted, plain = (
        SklearnPredictor(half_life=300, complexity_rates=False),
        SklearnPredictor(half_life=None, complexity_rates=False),
    )
    weighted_report = weighted.fit(executions, NOW)
    plain_report = plain.fit(executions, NOW)

    assert weighted_report.kind == plain_report.kind == "logistic_ridge"
    # the newest 900 (held out) are after the change: the weighted fit predicts them better
    assert weighted_report.brier is not None
    assert plain_report.brier is not None
    assert weighted_report.brier < plain_report.brier
    query = [Query("build", 3.0, "a1")]
    [new], [old] = weighted.predict(query), plain.predict(query)
    assert abs(new.success - 0.35) < 0.05
    assert old.success > 0.45
    # samples still count executions, not weights
    assert (
        new.samples
        == old.samples
        == sum(1 for e in executions if (e.task_type, e.agent_id) == ("build", "a1"))
    )


def test_the_fallback_rates_use_the_same_half_life() -> None:
    executions = changed(60, 20, _by_complexity, _a1_drops)  # too few: the rates are used
    predictor = SklearnPredictor(half_life=10)
    assert predictor.fit(executions, NOW).kind == "pair_rates"

    queries = [Query("build", 3.0, "a1"), Query("test", 3.0, "a1")]
    same = PairRates(half_life=10)
    same.fit(executions, NOW)
    plain = PairRates()
    plain.fit(executions, NOW)
    assert predictor.predict(queries) == same.predict(queries)
    assert predictor.predict(queries) != plain.predict(queries)


def test_the_default_half_life_is_the_documented_one() -> None:
    assert SklearnPredictor().half_life == HALF_LIFE == 2000


@pytest.mark.parametrize("half_life", [0, -5, math.inf, math.nan])
def test_a_half_life_that_is_not_positive_is_refused(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life"):
        SklearnPredictor(half_life=half_life)
    with pytest.raises(ValueError, match="half_life"):
        LogisticRidge(make(200), half_life=half_life)


def test_rates_that_follow_complexity_compete_with_the_fitted_model() -> None:
    """By default the rates the fitted model must beat follow complexity too: on one
    pair whose success falls linearly with complexity they see it (whichever wins on
    held-out data is used, and either predicts easy tasks far better than hard ones)."""
    executions = make(2000, pairs=(("build", "a1"),))
    predictor = SklearnPredictor()
    report = predictor.fit(executions, NOW)
    plain = PairRates(half_life=HALF_LIFE, complexity=False).fit(executions, NOW)
    aware = PairRates(half_life=HALF_LIFE).fit(executions, NOW)
    assert aware.auc is not None
    assert plain.auc is not None
    assert aware.auc > plain.auc + 0.15
    assert report.brier is not None
    assert aware.brier is not None
    assert report.brier <= aware.brier
    easy, hard = predictor.predict([Query("build", 1.0, "a1"), Query("build", 5.0, "a1")])
    assert easy.success > hard.success + 0.5
