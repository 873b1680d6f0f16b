"""The simple predictor, and how every predictor is measured.

:class:`PairRates` estimates an agent's success on a task type as its observed rate,
shrunk towards the task type's rate (and that towards the overall rate) by a prior worth
``prior_strength`` attempts; its duration is the geometric mean of the pair's attempts
(else the task type's, else everyone's). It needs no library, works from the first
execution, and is the fall-back whenever a fitted model has too little data or does not
beat it on held-out data.

Recency: with a ``half_life`` (in executions), an execution counts
``0.5 ** (age / half_life)`` in the fit, its age being how many of the executions fitted
on finished after it (:func:`recency_weights`), so an agent that changed is judged
mostly on what it did since. The age is counted in executions, not seconds: the weight
of the past then does not depend on how busy the server is (a quiet week forgets nothing,
a burst does not wipe the history), the history window is counted the same way, and
no clock is involved. ``None`` weighs every execution equally.

Held-out evaluation: the newest ``held_out_fraction`` of the executions (time order, so a
model is judged on the future it did not see) are kept out of fitting; AUC, Brier score
and the mean absolute error of log-duration are measured on them; then the model is
refitted on everything.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.learning import ModelReport, Prediction, Query, counts, succeeded
from imperium.domain.models import Execution
from imperium.domain.stats import auc, brier

SLOPE_PRIOR = 20.0
"""Attempts' worth of the prior that shrinks complexity slopes (:class:`PairRates`)."""
HELD_OUT_FRACTION = 0.2
MIN_HELD_OUT = 20
_MIN_DURATION = 1e-3
_MAX_HALVINGS = 1000.0


def learnable(executions: Sequence[Execution]) -> list[Execution]:
    """The executions that are evidence (see :func:`imperium.domain.learning.counts`)."""
    return [e for e in executions if counts(e)]


def split(
    executions: Sequence[Execution], fraction: float = HELD_OUT_FRACTION
) -> tuple[list[Execution], list[Execution]]:
    """(train, held_out): the newest ``fraction`` held out; no hold-out when it would be
    smaller than ``MIN_HELD_OUT``."""
    ordered = sorted(executions, key=lambda e: e.finished_at)
    held = int(len(ordered) * fraction)
    if held < MIN_HELD_OUT:
        return ordered, []
    return ordered[:-held], ordered[-held:]


def check_half_life(half_life: float | None) -> None:
    """Raise ValueError unless ``half_life`` is None (no weighting) or a positive number."""
    if half_life is not None and not (half_life > 0 and math.isfinite(half_life)):
        raise ValueError(
            f"half_life must be a positive number of executions or None, got {half_life!r}"
        )


def recency_weights(executions: Sequence[Execution], half_life: float | None) -> list[float]:
    """Per execution (in the order given), ``0.5 ** (age / half_life)`` with ``age`` the
    number of ``executions`` that finished after it: the newest weighs 1, one
    ``half_life`` executions older 0.5; executions finishing at the same time weigh the
    same, whatever their order. ``None``: all 1."""
    if half_life is None:
        return [1.0] * len(executions)
    check_half_life(half_life)
    finished = sorted(e.finished_at for e in executions)
    n = len(finished)
    return [
        # capped so that no weight underflows to 0: every execution keeps a (negligible)
        # say and no tally is left with a total weight of 0
        0.5 ** min((n - bisect_right(finished, e.finished_at)) / half_life, _MAX_HALVINGS)
        for e in executions
    ]


def log_duration(execution: Execution) -> float:
    return math.log(max(execution.duration, _MIN_DURATION))


@dataclass(frozen=True, slots=True)
class Scores:
    auc: float | None
    brier: float | None
    mae_log_duration: float | None
    baseline_brier: float | None


def score(
    predict: Callable[[Sequence[Query]], list[Prediction]],
    train: Sequence[Execution],
    held_out: Sequence[Execution],
) -> Scores:
    """Accuracy of ``predict`` on ``held_out``; the baseline Brier is that of always
    predicting the training set's overall success rate."""
    if not held_out:
        return Scores(None, None, None, None)
    predictions = predict([query_of(e) for e in held_out])
    labels = [succeeded(e) for e in held_out]
    probabilities = [p.success for p in predictions]
    pairs = [
        (math.log(max(p.duration, _MIN_DURATION)), log_duration(e))
        for p, e in zip(predictions, held_out, strict=True)
        if p.duration is not None
    ]
    mae = sum(abs(a - b) for a, b in pairs) / len(pairs) if pairs else None
    base_rate = sum(succeeded(e) for e in train) / len(train) if train else 0.5
    return Scores(
        auc(probabilities, labels),
        brier(probabilities, labels),
        mae,
        brier([base_rate] * len(labels), labels),
    )


def query_of(execution: Execution) -> Query:
    assert execution.agent_id is not None
    return Query(execution.task_type, execution.complexity, execution.agent_id)


@dataclass(slots=True)
class _Tally:
    """Recency-weighted sums (``weight`` is the weighted count) and the plain count."""

    successes: float = 0.0
    weight: float = 0.0
    n: int = 0
    log_duration_sum: float = 0.0
    x: float = 0.0
    xx: float = 0.0
    xy: float = 0.0
    """Weighted sums of complexity, its square and complexity times success."""

    def add(self, execution: Execution, weight: float) -> None:
        ok = succeeded(execution)
        x = execution.complexity
        self.successes += weight * ok
        self.weight += weight
        self.n += 1
        self.log_duration_sum += weight * log_duration(execution)
        self.x += weight * x
        self.xx += weight * x * x
        self.xy += weight * x * ok

    @property
    def mean_complexity(self) -> float:
        return self.x / self.weight if self.weight > 0 else 0.0

    def centred(self) -> tuple[float, float]:
        """(Σw(x - x̄)², Σw(x - x̄)(y - ȳ))."""
        if self.weight <= 0:
            return 0.0, 0.0
        sxx = max(0.0, self.xx - self.x * self.x / self.weight)
        return sxx, self.xy - self.x * self.successes / self.weight

    @property
    def duration(self) -> float | None:
        return math.exp(self.log_duration_sum / self.weight) if self.weight > 0 else None


class PairRates:
    """Shrunk per-(task type, agent) success rates and geometric-mean durations, each
    execution weighted by its recency when ``half_life`` is set (see the module).

    Complexity: a rate is that of the pair's mean complexity; a query at another
    complexity moves along the pair's least-squares slope of success on complexity,
    shrunk towards the task type's (pooled within its pairs) by a prior worth
    ``SLOPE_PRIOR`` attempts, and the type's towards none likewise; the result is kept
    within [0.01, 0.99]. When every execution had one complexity nothing moves.
    ``complexity=False``: the plain rates, whatever the complexity."""

    kind = "pair_rates"

    def __init__(
        self,
        prior_strength: float = 2.0,
        half_life: float | None = None,
        *,
        complexity: bool = True,
    ) -> None:
        check_half_life(half_life)
        self.prior_strength = prior_strength
        self.half_life = half_life
        self.complexity = complexity
        self.report: ModelReport | None = None
        self._pairs: dict[tuple[str, str], _Tally] = {}
        self._types: dict[str, _Tally] = {}
        self._all = _Tally()
        self._slopes: dict[tuple[str, str] | str, float] = {}

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        data = learnable(executions)
        train, held_out = split(data)
        self._fit(train)
        scores = score(self.predict, train, held_out)
        self._fit(data)
        self.report = ModelReport(
            version=f"{self.kind}-{int(now * 1000)}",
            kind=self.kind,
            trained_at=now,
            train_samples=len(train),
            held_out=len(held_out),
            auc=scores.auc,
            brier=scores.brier,
            mae_log_duration=scores.mae_log_duration,
            baseline_brier=scores.baseline_brier,
            fallback_reason=None,
        )
        return self.report

    def _fit(self, executions: Sequence[Execution]) -> None:
        self._pairs, self._types, self._all = {}, {}, _Tally()
        weights = recency_weights(executions, self.half_life)
        for e, w in zip(executions, weights, strict=True):
            assert e.agent_id is not None
            self._pairs.setdefault((e.task_type, e.agent_id), _Tally()).add(e, w)
            self._types.setdefault(e.task_type, _Tally()).add(e, w)
            self._all.add(e, w)
        self._slopes = self._fit_slopes() if self.complexity else {}

    def _fit_slopes(self) -> dict[tuple[str, str] | str, float]:
        """Per task type (key: its name) and per pair, the shrunk slope of success on
        complexity (see the class)."""
        within: dict[str, tuple[float, float, float]] = {}  # type -> Σsxx, Σsxy, Σw
        centred = {key: tally.centred() for key, tally in self._pairs.items()}
        for (kind, _), (sxx, sxy) in centred.items():
            a, b, w = within.get(kind, (0.0, 0.0, 0.0))
            within[kind] = (a + sxx, b + sxy, w + self._pairs[(kind, _)].weight)
        slopes: dict[tuple[str, str] | str, float] = {}
        for kind, (sxx, sxy, w) in within.items():
            if w <= 0 or sxx <= 1e-9 * w:
                continue
            prior = SLOPE_PRIOR * sxx / w  # SLOPE_PRIOR attempts' worth of spread
            slopes[kind] = type_slope = sxy / (sxx + prior)
            for (pair_kind, agent), (pair_sxx, pair_sxy) in centred.items():
                if pair_kind == kind:
                    slopes[(kind, agent)] = (pair_sxy + prior * type_slope) / (pair_sxx + prior)
        return slopes

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        return [self._one(q) for q in queries]

    def _one(self, query: Query) -> Prediction:
        m = self.prior_strength
        overall = (self._all.successes + 1) / (self._all.weight + 2)
        kind = self._types.get(query.task_type)
        type_rate = (kind.successes + m * overall) / (kind.weight + m) if kind else overall
        pair = self._pairs.get((query.task_type, query.agent_id))
        if pair is None:
            duration = kind.duration if kind else self._all.duration
            slope = self._slopes.get(query.task_type, 0.0)
            moved = slope * (query.complexity - kind.mean_complexity) if kind else 0.0
            return Prediction(_within(type_rate + moved), duration, 0)
        rate = (pair.successes + m * type_rate) / (pair.weight + m)
        slope = self._slopes.get((query.task_type, query.agent_id), 0.0)
        moved = slope * (query.complexity - pair.mean_complexity)
        return Prediction(_within(rate + moved) if slope else rate, pair.duration, pair.n)


def _within(p: float) -> float:
    return min(0.99, max(0.01, p))


class Alarm(Protocol):
    """What :func:`since_drift` needs from a drift alarm (routing's ``DriftAlarm``)."""

    @property
    def task_type(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def recent_n(self) -> int: ...


def since_drift(executions: Sequence[Execution], alarms: Iterable[Alarm]) -> list[Execution]:
    """``executions`` without the old regime of every (task type, agent) pair a drift
    alarm fired for: of the pair's executions that finished by the alarm (``at``), only
    the last ``recent_n`` (the window that raised it) are kept; later ones all are. So a
    predictor fitted on the result forgets what the agent did before it changed, at once,
    instead of waiting for the half-life to fade it. Order is kept; the latest alarm of a
    pair counts."""
    latest: dict[tuple[str, str], Alarm] = {}
    for alarm in alarms:
        key = (alarm.task_type, alarm.agent_id)
        if key not in latest or alarm.at >= latest[key].at:
            latest[key] = alarm
    if not latest:
        return list(executions)
    cutoff: dict[tuple[str, str], tuple[float, int]] = {}  # pair -> (at, how many to drop)
    for key, alarm in latest.items():
        before = sorted(
            e.finished_at
            for e in executions
            if (e.task_type, e.agent_id) == key and e.finished_at <= alarm.at
        )
        cutoff[key] = (alarm.at, max(0, len(before) - alarm.recent_n))
    kept: list[Execution] = []
    dropped: dict[tuple[str, str], int] = {}
    for e in sorted(executions, key=lambda e: e.finished_at):
        key = (e.task_type, e.agent_id or "")
        rule = cutoff.get(key)
        if rule is not None and e.finished_at <= rule[0] and dropped.get(key, 0) < rule[1]:
            dropped[key] = dropped.get(key, 0) + 1
            continue
        kept.append(e)
    order = {id(e): i for i, e in enumerate(executions)}
    return sorted(kept, key=lambda e: order[id(e)])
