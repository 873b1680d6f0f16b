"""Insights and per-agent learning figures, derived from recorded executions.

Four kinds of :class:`~imperium.domain.learning.Insight`, each about one agent on one
task type (the engine records one agent per attempt), each resting on a minimum number of
executions and carrying a confidence in [0, 1]:

``best_combo``
    The agent succeeds often on the task type: at least ``best_min_samples`` attempts and
    an observed success rate of at least ``best_min_rate``. Confidence: the lower bound
    of the 95% Wilson interval of the success rate.
``avoid_pattern``
    The agent fails a high *share* of the task type (not merely a few times): at least
    ``avoid_min_samples`` attempts and a failure rate of at least
    ``avoid_min_failure_rate``. Confidence: the Wilson lower bound of the failure rate.
    The data names the most common error (``error_kind``, else the outcome, e.g.
    ``timed_out``).
``bottleneck``
    Among the agents with at least ``bottleneck_min_samples`` attempts of a task type
    (two or more needed), the one with the smallest median duration is the reference;
    another agent is a bottleneck when at least ``bottleneck_min_share`` of its attempts
    take longer than ``bottleneck_factor`` x the reference median. Confidence: the Wilson
    lower bound of that share.
``drift``
    The agent's success rate on its latest ``drift_window`` attempts differs from the up
    to ``drift_history`` x ``drift_window`` attempts before them (at least
    ``drift_window`` of those needed) by at least ``drift_z`` standard errors
    (two-proportion z-test). Confidence: 1 - the test's two-sided p-value.

Only executions that are evidence count (:func:`imperium.domain.learning.counts`):
cancelled and interrupted attempts and attempts without an agent are ignored.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imperium.domain.learning import AgentFigures, Insight, InsightType, counts, succeeded
from imperium.domain.models import Execution
from imperium.domain.stats import percentile, two_proportion_z, two_sided_p, wilson_interval

EXAMPLE_MESSAGE_CHARS = 200
"""How much of an error message an insight keeps as an example."""
TOP_ERRORS = 5
"""How many error kinds ``avoid_pattern`` lists in ``error_counts``."""


@dataclass(frozen=True, slots=True)
class InsightThresholds:
    """When an insight is worth reporting (see the module docstring for each kind)."""

    best_min_samples: int = 10
    """best_combo: attempts of the pair needed."""
    best_min_rate: float = 0.8
    """best_combo: observed success rate needed."""
    avoid_min_samples: int = 5
    """avoid_pattern: attempts of the pair needed."""
    avoid_min_failure_rate: float = 0.5
    """avoid_pattern: observed failure rate needed."""
    bottleneck_min_samples: int = 5
    """bottleneck: attempts each compared agent needs on the task type."""
    bottleneck_factor: float = 2.0
    """bottleneck: an attempt is slow above this multiple of the reference median."""
    bottleneck_min_share: float = 0.5
    """bottleneck: share of an agent's attempts that must be slow."""
    drift_window: int = 30
    """drift: the recent attempts compared, and the fewest older attempts needed."""
    drift_history: int = 10
    """drift: the older attempts compared are at most this many windows."""
    drift_z: float = 3.0
    """drift: |z| needed (the seed's anomaly threshold)."""

    def __post_init__(self) -> None:
        for name in ("best_min_samples", "avoid_min_samples", "drift_window", "drift_history"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.bottleneck_min_samples < 1:
            raise ValueError("bottleneck_min_samples must be at least 1")
        for name in ("best_min_rate", "avoid_min_failure_rate", "bottleneck_min_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.bottleneck_factor < 1.0:
            raise ValueError("bottleneck_factor must be at least 1")
        if self.drift_z <= 0:
            raise ValueError("drift_z must be positive")


DEFAULT_THRESHOLDS = InsightThresholds()

Pair = tuple[str, str]
"""(task type, agent id)."""


# ---------------------------------------------------------------------- helpers
def error_kind(execution: Execution) -> str:
    """What went wrong in a failed attempt: its ``error_kind``, else its outcome."""
    return execution.error_kind or execution.outcome.value


def error_counts(failures: Iterable[Execution]) -> list[tuple[str, int]]:
    """(error kind, count) of the failures, most common first (ties by name)."""
    counter = Counter(error_kind(e) for e in failures)
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def most_common_error(failures: Sequence[Execution]) -> dict[str, object] | None:
    """The most common error among ``failures`` (ties by name):
    ``{error_kind, example_message, count}``, the example being the first
    ``EXAMPLE_MESSAGE_CHARS`` characters of the latest message of that kind (None when
    none has one). None without failures."""
    ranked = error_counts(failures)
    if not ranked:
        return None
    kind, count = ranked[0]
    example: str | None = None
    for execution in sorted(failures, key=_time_order, reverse=True):
        if error_kind(execution) == kind and execution.error_message:
            example = execution.error_message[:EXAMPLE_MESSAGE_CHARS]
            break
    return {"error_kind": kind, "example_message": example, "count": count}


def median(values: Iterable[float]) -> float | None:
    """The median, None when there are no values."""
    ordered = sorted(values)
    return percentile(ordered, 50) if ordered else None


def _time_order(execution: Execution) -> tuple[float, float, str, int]:
    return (execution.finished_at, execution.started_at, execution.task_id, execution.attempt)


def _groups(executions: Iterable[Execution]) -> dict[Pair, list[Execution]]:
    """Counting executions per (task type, agent), each list in time order."""
    groups: dict[Pair, list[Execution]] = {}
    for execution in executions:
        if not counts(execution):
            continue
        assert execution.agent_id is not None
        groups.setdefault((execution.task_type, execution.agent_id), []).append(execution)
    for group in groups.values():
        group.sort(key=_time_order)
    return groups


def wilson_lower(k: int, n: int) -> float:
    """An insight's confidence: the lower bound of the 95% Wilson interval of k in n."""
    return _unit(wilson_interval(k, n)[0])


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def insight_order(i: Insight) -> tuple[float, str, tuple[str, ...], str]:
    """Most confident first, then by type, agents and task type."""
    return (-i.confidence, i.insight_type.value, i.agents, i.task_type)


def wilson_bounds(k: int, n: int) -> list[float]:
    lo, hi = wilson_interval(k, n)
    return [lo, hi]


def _pct(rate: float) -> str:
    return f"{rate:.0%}"


def _secs(seconds: float) -> str:
    return f"{seconds:.3g}s"


# ---------------------------------------------------------------------- generators
def _best_combo(
    pair: Pair, group: Sequence[Execution], now: float, t: InsightThresholds
) -> Insight | None:
    n = len(group)
    if n < t.best_min_samples:
        return None
    successes = sum(1 for e in group if succeeded(e))
    rate = successes / n
    if rate < t.best_min_rate:
        return None
    task_type, agent_id = pair
    return Insight(
        insight_type=InsightType.BEST_COMBO,
        task_type=task_type,
        agents=(agent_id,),
        description=(
            f"agent {agent_id} succeeds on {_pct(rate)} of {task_type} tasks ({successes} of {n})"
        ),
        confidence=wilson_lower(successes, n),
        sample_size=n,
        data={
            "success_rate": rate,
            "successes": successes,
            "sample_size": n,
            "interval": wilson_bounds(successes, n),
            "median_duration": median(e.duration for e in group),
        },
        created_at=now,
    )


def _avoid_pattern(
    pair: Pair, group: Sequence[Execution], now: float, t: InsightThresholds
) -> Insight | None:
    n = len(group)
    if n < t.avoid_min_samples:
        return None
    failures = [e for e in group if not succeeded(e)]
    k = len(failures)
    rate = k / n
    if k == 0 or rate < t.avoid_min_failure_rate:
        return None
    task_type, agent_id = pair
    common = most_common_error(failures)
    assert common is not None  # there is at least one failure
    return Insight(
        insight_type=InsightType.AVOID_PATTERN,
        task_type=task_type,
        agents=(agent_id,),
        description=(
            f"avoid routing {task_type} tasks to agent {agent_id}: fails {_pct(rate)} "
            f"({k} of {n}); most common error: {common['error_kind']} ({common['count']})"
        ),
        confidence=wilson_lower(k, n),
        sample_size=n,
        data={
            "failure_rate": rate,
            "failure_count": k,
            "sample_size": n,
            "interval": wilson_bounds(k, n),
            "most_common_error": common,
            "error_counts": dict(error_counts(failures)[:TOP_ERRORS]),
        },
        created_at=now,
    )


def _bottlenecks(
    groups: dict[Pair, list[Execution]], now: float, t: InsightThresholds
) -> list[Insight]:
    by_type: dict[str, list[tuple[str, list[float]]]] = {}
    for (task_type, agent_id), group in groups.items():
        if len(group) >= t.bottleneck_min_samples:
            durations = sorted(e.duration for e in group)
            by_type.setdefault(task_type, []).append((agent_id, durations))
    found: list[Insight] = []
    for task_type, agents in sorted(by_type.items()):
        if len(agents) < 2:
            continue
        medians = {agent_id: percentile(durations, 50) for agent_id, durations in agents}
        reference = min(medians, key=lambda agent_id: (medians[agent_id], agent_id))
        ref_median = medians[reference]
        limit = t.bottleneck_factor * ref_median
        for agent_id, durations in sorted(agents):
            if agent_id == reference:
                continue
            n = len(durations)
            k = sum(1 for d in durations if d > limit)
            share = k / n
            if k == 0 or share < t.bottleneck_min_share:
                continue
            agent_median = medians[agent_id]
            slowdown = agent_median / ref_median if ref_median > 0 else None
            factor = f"{slowdown:.1f}x slower" if slowdown is not None else "slower"
            found.append(
                Insight(
                    insight_type=InsightType.BOTTLENECK,
                    task_type=task_type,
                    agents=(agent_id,),
                    description=(
                        f"agent {agent_id} is {factor} than agent {reference} on "
                        f"{task_type} tasks (median {_secs(agent_median)} vs "
                        f"{_secs(ref_median)}); {_pct(share)} of its runs ({k} of {n}) "
                        f"take over {t.bottleneck_factor:g}x the reference median"
                    ),
                    confidence=wilson_lower(k, n),
                    sample_size=n,
                    data={
                        "median_duration": agent_median,
                        "reference_agent": reference,
                        "reference_median": ref_median,
                        "slowdown": slowdown,
                        "slow_share": share,
                        "slow_count": k,
                        "sample_size": n,
                        "interval": wilson_bounds(k, n),
                        "p95_duration": percentile(durations, 95),
                        "mean_duration": math.fsum(durations) / n,
                    },
                    created_at=now,
                )
            )
    return found


def _drift(
    pair: Pair, group: Sequence[Execution], now: float, t: InsightThresholds
) -> Insight | None:
    window = t.drift_window
    if len(group) < 2 * window:
        return None
    recent = group[-window:]
    older = group[max(0, len(group) - window - t.drift_history * window) : -window]
    before_n, recent_n = len(older), len(recent)
    before_s = sum(1 for e in older if succeeded(e))
    recent_s = sum(1 for e in recent if succeeded(e))
    z = two_proportion_z(before_s, before_n, recent_s, recent_n)
    if abs(z) < t.drift_z:
        return None
    before_rate, recent_rate = before_s / before_n, recent_s / recent_n
    direction = "degraded" if recent_rate < before_rate else "improved"
    task_type, agent_id = pair
    return Insight(
        insight_type=InsightType.DRIFT,
        task_type=task_type,
        agents=(agent_id,),
        description=(
            f"agent {agent_id} {direction} on {task_type} tasks: success "
            f"{_pct(before_rate)} over {before_n} runs, then {_pct(recent_rate)} over the "
            f"last {recent_n} (z = {z:.1f})"
        ),
        confidence=_unit(1.0 - two_sided_p(z)),
        sample_size=before_n + recent_n,
        data={
            "direction": direction,
            "before_rate": before_rate,
            "before_n": before_n,
            "recent_rate": recent_rate,
            "recent_n": recent_n,
            "z": z,
            "since": recent[0].finished_at,
        },
        created_at=now,
    )


def generate_insights(
    executions: Sequence[Execution], now: float, thresholds: InsightThresholds | None = None
) -> list[Insight]:
    """Every insight the counting executions support, most confident first (then by
    type, agents and task type)."""
    t = thresholds or DEFAULT_THRESHOLDS
    groups = _groups(executions)
    found: list[Insight] = []
    for pair, group in groups.items():
        for generator in (_best_combo, _avoid_pattern, _drift):
            insight = generator(pair, group, now, t)
            if insight is not None:
                found.append(insight)
    found.extend(_bottlenecks(groups, now, t))
    found.sort(key=insight_order)
    return found


# ---------------------------------------------------------------------- agent figures
def _float(data: dict[str, object], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def suggestion(agent_id: str, insight: Insight) -> str | None:
    """The plain sentence an insight suggests for ``agent_id``; None when it suggests
    nothing (a best combination, an improvement) or its data is incomplete."""
    data = insight.data
    task_type = insight.task_type
    if insight.insight_type is InsightType.AVOID_PATTERN:
        rate = _float(data, "failure_rate")
        if rate is None:
            return None
        text = f"Stop routing {task_type} tasks to agent {agent_id}: it fails {_pct(rate)} of them"
        common = data.get("most_common_error")
        if isinstance(common, dict) and common.get("error_kind"):
            text += f", most often with {common['error_kind']} ({common.get('count')} times)"
        return text + "."
    if insight.insight_type is InsightType.BOTTLENECK:
        reference = data.get("reference_agent")
        slowdown = _float(data, "slowdown")
        if not reference:
            return None
        factor = f"{slowdown:.1f}x slower" if slowdown is not None else "much slower"
        return (
            f"Agent {agent_id} is {factor} than agent {reference} on {task_type} tasks; "
            f"find out why or route {task_type} tasks to {reference}."
        )
    if insight.insight_type is InsightType.DRIFT and data.get("direction") == "degraded":
        before, recent = _float(data, "before_rate"), _float(data, "recent_rate")
        if before is None or recent is None:
            return None
        return (
            f"Agent {agent_id}'s success on {task_type} tasks fell from {_pct(before)} to "
            f"{_pct(recent)} over its last {data.get('recent_n')} runs; check what changed."
        )
    return None


def _patterns(executions: Sequence[Execution]) -> list[dict[str, object]]:
    by_type: dict[str, list[Execution]] = {}
    for execution in executions:
        by_type.setdefault(execution.task_type, []).append(execution)
    ordered = sorted(by_type.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "task_type": task_type,
            "attempts": len(group),
            "success_rate": sum(1 for e in group if succeeded(e)) / len(group),
            "median_duration": median(e.duration for e in group),
        }
        for task_type, group in ordered
    ]


def agent_figures(
    executions: Sequence[Execution], agent_ids: Iterable[str], insights: Sequence[Insight]
) -> list[AgentFigures]:
    """The learning figures of each agent in ``agent_ids`` (in that order, once each),
    from its counting executions; the suggestions come from the ``insights`` naming it,
    in their order."""
    by_agent: dict[str, list[Execution]] = {}
    for execution in executions:
        if counts(execution):
            assert execution.agent_id is not None
            by_agent.setdefault(execution.agent_id, []).append(execution)
    figures: list[AgentFigures] = []
    for agent_id in dict.fromkeys(agent_ids):
        own = by_agent.get(agent_id, [])
        n = len(own)
        wins = [e.finished_at for e in own if succeeded(e)]
        losses = [e.finished_at for e in own if not succeeded(e)]
        suggestions: list[str] = []
        for insight in insights:
            if agent_id in insight.agents:
                text = suggestion(agent_id, insight)
                if text is not None and text not in suggestions:
                    suggestions.append(text)
        figures.append(
            AgentFigures(
                agent_id=agent_id,
                executions=n,
                success_rate=len(wins) / n if n else 0.0,
                failure_rate=len(losses) / n if n else 0.0,
                learning_score=round(100 * wilson_lower(len(wins), n), 2) if n else 0.0,
                last_success=max(wins) if wins else None,
                last_failure=max(losses) if losses else None,
                learning_patterns=_patterns(own),
                improvement_suggestions=suggestions,
            )
        )
    return figures
