"""The fitted success/duration model behind :class:`~imperium.adapters.learning.
sklearn_predictor.SklearnPredictor` (numpy, scipy and scikit-learn: the ``learning`` extra,
imported only when a model is trained).

Features of an execution (or a query): one-hot task type, one-hot agent, one-hot
(task type, agent) pair, the complexity standardised on the training data, and that
complexity times the one-hot task type (so each task type has its own slope). Task
types, agents and pairs not seen in training simply have no feature of theirs (the
complexity and whatever else is known still count).

Success is an L2 logistic regression; duration a ridge regression on the log of the
duration (every execution that counts, whatever its outcome), so the prediction is a
geometric-mean-like figure that is always positive. Both fits weight each execution by
its recency (``sample_weight``, see the predictor's module).

Prediction does not call scikit-learn: every row has at most five non-zero features, so
the linear predictor is the intercept plus five coefficient look-ups, computed for a
whole batch with numpy fancy indexing. It equals ``predict_proba`` / ``predict`` of the
fitted estimators on :meth:`LogisticRidge.design` (the tests check it) and costs a few
microseconds per query instead of sklearn's per-call validation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, Ridge

from imperium.domain.learning import Prediction, Query, succeeded
from imperium.domain.models import Execution
from imperium.domain.prediction import log_duration, query_of, recency_weights

MODEL_KIND = "logistic_ridge"

_Ints = npt.NDArray[np.intp]
_Floats = npt.NDArray[np.float64]


def _vocabulary(values: Sequence[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(sorted(set(values)))}


class LogisticRidge:
    """A logistic regression for success and a ridge regression for log-duration, fitted
    on one set of executions (all of which must count; both outcomes must occur), each
    weighted by its recency when ``half_life`` is set."""

    kind = MODEL_KIND

    def __init__(
        self,
        executions: Sequence[Execution],
        *,
        c: float = 1.0,
        alpha: float = 1.0,
        max_iter: int = 1000,
        half_life: float | None = None,
    ) -> None:
        if not executions:
            raise ValueError("no executions to fit")
        types = [e.task_type for e in executions]
        agents = [e.agent_id or "" for e in executions]
        self._types = _vocabulary(types)
        self._agents = _vocabulary(agents)
        self._pairs = _vocabulary([f"{t}\x00{a}" for t, a in zip(types, agents, strict=True)])
        complexity = np.fromiter((e.complexity for e in executions), float, len(executions))
        self._mean = float(complexity.mean())
        std = float(complexity.std())
        self._scale = std if std > 1e-6 else 1.0
        self.samples: dict[tuple[str, str], int] = {}
        for t, a in zip(types, agents, strict=True):
            self.samples[t, a] = self.samples.get((t, a), 0) + 1

        x = self.design([query_of(e) for e in executions])
        labels = np.fromiter((succeeded(e) for e in executions), np.int8, len(executions))
        if labels.min() == labels.max():
            raise ValueError("the outcomes are all one class")
        log_durations = np.fromiter((log_duration(e) for e in executions), float, len(executions))
        self.weights = np.asarray(recency_weights(executions, half_life), float)
        self.success_model = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter)
        self.success_model.fit(x, labels, sample_weight=self.weights)
        self.duration_model = Ridge(alpha=alpha)
        self.duration_model.fit(x, log_durations, sample_weight=self.weights)

        # Coefficients per block, each with a trailing 0 that unknown categories index.
        n_t, n_a, n_p = len(self._types), len(self._agents), len(self._pairs)
        self._success = _Blocks(
            self.success_model.coef_[0], float(self.success_model.intercept_[0]), n_t, n_a, n_p
        )
        self._duration = _Blocks(
            self.duration_model.coef_, float(self.duration_model.intercept_), n_t, n_a, n_p
        )

    @property
    def n_features(self) -> int:
        return 1 + 2 * len(self._types) + len(self._agents) + len(self._pairs)

    def _indices(self, queries: Sequence[Query]) -> tuple[_Ints, _Ints, _Ints, _Floats]:
        """Per query: task type, agent and pair indices (-1 when unseen) and standardised
        complexity."""
        n = len(queries)
        types, agents, pairs = self._types, self._agents, self._pairs
        t = np.fromiter((types.get(q.task_type, -1) for q in queries), np.intp, n)
        a = np.fromiter((agents.get(q.agent_id, -1) for q in queries), np.intp, n)
        p = np.fromiter(
            (pairs.get(f"{q.task_type}\x00{q.agent_id}", -1) for q in queries), np.intp, n
        )
        z = (np.fromiter((q.complexity for q in queries), float, n) - self._mean) / self._scale
        return t, a, p, z

    def design(self, queries: Sequence[Query]) -> sparse.csr_matrix:
        """The feature matrix of ``queries`` (columns: complexity, task types, agents,
        pairs, complexity times task types)."""
        t, a, p, z = self._indices(queries)
        n_t, n_a = len(self._types), len(self._agents)
        rows = np.arange(len(queries))
        cols = [np.zeros(len(queries), np.intp)]
        vals = [z]
        row_parts = [rows]
        for idx, offset, val in (
            (t, 1, None),
            (a, 1 + n_t, None),
            (p, 1 + n_t + n_a, None),
            (t, 1 + n_t + n_a + len(self._pairs), z),
        ):
            known = idx >= 0
            row_parts.append(rows[known])
            cols.append(idx[known] + offset)
            vals.append(np.ones(int(known.sum())) if val is None else val[known])
        return sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(row_parts), np.concatenate(cols))),
            shape=(len(queries), self.n_features),
        )

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        if not queries:
            return []
        t, a, p, z = self._indices(queries)
        success = expit(self._success.linear(t, a, p, z))
        # a query far outside the training range must not overflow to inf (not JSON)
        duration = np.exp(np.clip(self._duration.linear(t, a, p, z), -30.0, 30.0))
        samples = self.samples
        return [
            Prediction(s, d, samples.get((q.task_type, q.agent_id), 0))
            for q, s, d in zip(queries, success.tolist(), duration.tolist(), strict=True)
        ]


class _Blocks:
    """A linear model's coefficients split by feature block, for look-up by index."""

    __slots__ = ("agent", "complexity", "intercept", "pair", "slope", "type")

    def __init__(self, coef: _Floats, intercept: float, n_t: int, n_a: int, n_p: int) -> None:
        def block(start: int, size: int) -> _Floats:
            return np.append(np.asarray(coef[start : start + size], float), 0.0)

        self.intercept = intercept
        self.complexity = float(coef[0])
        self.type = block(1, n_t)
        self.agent = block(1 + n_t, n_a)
        self.pair = block(1 + n_t + n_a, n_p)
        self.slope = block(1 + n_t + n_a + n_p, n_t)

    def linear(self, t: _Ints, a: _Ints, p: _Ints, z: _Floats) -> _Floats:
        # Index -1 is the trailing 0 of each block: an unseen category adds nothing.
        result: _Floats = (
            self.intercept
            + self.complexity * z
            + self.type[t]
            + self.agent[a]
            + self.pair[p]
            + self.slope[t] * z
        )
        return result
