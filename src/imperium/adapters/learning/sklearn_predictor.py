"""The fitted success/duration predictor (scikit-learn), with the per-pair rates as its
fall-back.

The model (:class:`~imperium.adapters.learning.logistic_ridge.LogisticRidge`: a logistic
regression for success, a ridge regression for log-duration) needs numpy, scipy and
scikit-learn, the ``learning`` extra. They are imported only when a model is trained:
without them every fit keeps the per-pair rates, and the report's ``fallback_reason``
says what to install.

Recency: both fits weight each execution by ``0.5 ** (age / half_life)``, its age counted
in executions (:func:`imperium.domain.prediction.recency_weights`; scikit-learn's
``sample_weight``), and so do the per-pair rates it is compared with, so an agent that
changed is predicted from what it has done lately. The weights are not rescaled (the
newest weighs 1): the fit holds about ``1.44 * half_life`` executions' worth of evidence
and the regularisation is weighed against that, not against the whole history
(rescaling them to sum to the number of executions measured no better).

The fitted model is used only when it has enough data and beats :class:`PairRates` on
the held-out executions (the newest ones, see :mod:`imperium.domain.prediction`);
otherwise the per-pair rates are used and the report says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from imperium.domain.learning import ModelReport, Prediction, Query, succeeded
from imperium.domain.models import Execution
from imperium.domain.prediction import PairRates, check_half_life, learnable, score, split
from imperium.extras import missing, missing_message

if TYPE_CHECKING:
    from imperium.adapters.learning.logistic_ridge import LogisticRidge

MIN_SAMPLES = 100
"""Training executions the fitted model needs; with fewer the per-pair rates are used."""

HALF_LIFE = 2000.0
"""Executions after which an execution counts half in the fits (see the module)."""

MODULES = ("sklearn", "numpy", "scipy")
"""What the fitted model imports (the ``learning`` extra)."""


class SklearnPredictor:
    """:class:`~imperium.ports.OutcomePredictor` with a fitted :class:`LogisticRidge`,
    falling back to :class:`PairRates` when the data are too few, all one outcome, or
    the fitted model does not beat the rates on held-out data (lower Brier score).

    ``half_life`` (executions; ``None``: every execution weighs the same) applies to the
    model and the rates alike. ``complexity_rates``: the per-pair rates it is compared
    with (and falls back to) follow complexity too (see :class:`PairRates`)."""

    def __init__(
        self,
        min_samples: int = MIN_SAMPLES,
        *,
        c: float = 1.0,
        alpha: float = 1.0,
        max_iter: int = 1000,
        prior_strength: float = 2.0,
        half_life: float | None = HALF_LIFE,
        complexity_rates: bool = True,
    ) -> None:
        check_half_life(half_life)
        self.min_samples = min_samples
        self.c = c
        self.alpha = alpha
        self.max_iter = max_iter
        self.prior_strength = prior_strength
        self.half_life = half_life
        self.complexity_rates = complexity_rates
        self.report: ModelReport | None = None
        self._rates = PairRates(prior_strength, half_life, complexity=complexity_rates)
        self._model: LogisticRidge | None = None

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        data = learnable(executions)
        train, held_out = split(data)
        # Same data, same split: the rates' report holds their held-out scores, and they
        # end refitted on all the data, ready as the fall-back.
        rates = PairRates(self.prior_strength, self.half_life, complexity=self.complexity_rates)
        rates_report = rates.fit(executions, now)

        reason = self._reason_not_to_fit(train, len(data))
        model: LogisticRidge | None = None
        report = rates_report
        if reason is None:
            candidate = self._train(train)
            scores = score(candidate.predict, train, held_out)
            if (
                scores.brier is not None
                and rates_report.brier is not None
                and scores.brier >= rates_report.brier
            ):
                reason = (
                    "the fitted model did not beat per-pair rates on held-out data "
                    f"(Brier {scores.brier:.3f} vs {rates_report.brier:.3f})"
                )
            else:
                model = candidate if not held_out else self._train(data)
                kind = candidate.kind
                report = ModelReport(
                    version=f"{kind}-{int(now * 1000)}",
                    kind=kind,
                    trained_at=now,
                    train_samples=len(train),
                    held_out=len(held_out),
                    auc=scores.auc,
                    brier=scores.brier,
                    mae_log_duration=scores.mae_log_duration,
                    baseline_brier=scores.baseline_brier,
                )
        if reason is not None:
            report = dataclasses.replace(rates_report, fallback_reason=reason)
        # Assigned only when complete, so a concurrent predict never sees a half-built model.
        self._rates, self._model, self.report = rates, model, report
        return report

    def _reason_not_to_fit(self, train: Sequence[Execution], total: int) -> str | None:
        absent = missing(*MODULES)
        if absent:
            return f"{missing_message(absent, 'the fitted model')}; per-pair rates are used"
        if len(train) < self.min_samples:
            held = total - len(train)
            after = f" (after holding out the newest {held})" if held else ""
            return (
                f"only {len(train)} executions to learn from{after}; at least "
                f"{self.min_samples} are needed for the fitted model"
            )
        successes = sum(succeeded(e) for e in train)
        if successes in (0, len(train)):
            which = "succeeded" if successes else "failed"
            return (
                f"all {len(train)} training executions {which}; the fitted model needs "
                "both successes and failures"
            )
        return None

    def _train(self, executions: Sequence[Execution]) -> LogisticRidge:
        from imperium.adapters.learning.logistic_ridge import LogisticRidge

        return LogisticRidge(
            executions,
            c=self.c,
            alpha=self.alpha,
            max_iter=self.max_iter,
            half_life=self.half_life,
        )

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        model = self._model
        if model is None:
            return self._rates.predict(queries)
        return model.predict(queries)
