"""Insights about combinations of agents, from recorded team tasks (domain/teams.py): the
seed's "Agent combination [A, B, C] has 90% success rate" and "Avoid combination [A, B]",
with the same thresholds and Wilson-bound confidences as the single-agent insights."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from imperium.domain.insights import (
    DEFAULT_THRESHOLDS,
    InsightThresholds,
    insight_order,
    wilson_bounds,
    wilson_lower,
)
from imperium.domain.learning import Insight, InsightType
from imperium.domain.states import TaskState
from imperium.domain.teams import TeamRun, TeamState

Combination = tuple[str, tuple[str, ...], int]
"""(task type, sorted members, quorum)."""


def team_insights(
    runs: Iterable[TeamRun], now: float, thresholds: InsightThresholds | None = None
) -> list[Insight]:
    """best_combo and avoid_pattern for every combination whose ended teams support one,
    most confident first."""
    t = thresholds or DEFAULT_THRESHOLDS
    groups: dict[Combination, list[TeamRun]] = defaultdict(list)
    for run in runs:
        if run.state is not TeamState.RUNNING:
            groups[(run.task_type, tuple(sorted(run.members)), run.quorum)].append(run)
    found = [
        insight
        for combination, group in groups.items()
        for insight in (_best(combination, group, now, t), _avoid(combination, group, now, t))
        if insight is not None
    ]
    found.sort(key=insight_order)
    return found


def _best(
    combination: Combination, group: Sequence[TeamRun], now: float, t: InsightThresholds
) -> Insight | None:
    n = len(group)
    wins = sum(1 for r in group if r.state is TeamState.SUCCEEDED)
    if n < t.best_min_samples or wins / n < t.best_min_rate:
        return None
    task_type, members, quorum = combination
    return Insight(
        insight_type=InsightType.BEST_COMBO,
        task_type=task_type,
        agents=members,
        description=(
            f"agent combination [{', '.join(members)}] succeeds on {wins / n:.0%} of "
            f"{task_type} team tasks ({wins} of {n}{_needing(quorum, members)})"
        ),
        confidence=wilson_lower(wins, n),
        sample_size=n,
        data=_figures(group, wins, quorum),
        created_at=now,
    )


def _avoid(
    combination: Combination, group: Sequence[TeamRun], now: float, t: InsightThresholds
) -> Insight | None:
    n = len(group)
    failed = [r for r in group if r.state is TeamState.FAILED]
    k = len(failed)
    if n < t.avoid_min_samples or k == 0 or k / n < t.avoid_min_failure_rate:
        return None
    task_type, members, quorum = combination
    # who let the team down, and how: the most common (member, end) among failed teams
    letdowns = Counter(
        (member, state)
        for run in failed
        for member, state in run.member_states.items()
        if state != TaskState.SUCCEEDED.value
    )
    (member, state), times = letdowns.most_common(1)[0] if letdowns else (("?", "?"), 0)
    return Insight(
        insight_type=InsightType.AVOID_PATTERN,
        task_type=task_type,
        agents=members,
        description=(
            f"avoid combination [{', '.join(members)}] for {task_type}: the team fails "
            f"{k / n:.0%} ({k} of {n}{_needing(quorum, members)}); most common: {member} "
            f"{state} ({times})"
        ),
        confidence=wilson_lower(k, n),
        sample_size=n,
        data={
            **_figures(group, n - k, quorum),
            "failure_rate": k / n,
            "failure_count": k,
            "most_common_error": {"member": member, "state": state, "count": times},
        },
        created_at=now,
    )


def _figures(group: Sequence[TeamRun], wins: int, quorum: int) -> dict[str, object]:
    n = len(group)
    return {
        "success_rate": wins / n,
        "successes": wins,
        "sample_size": n,
        "quorum": quorum,
        "interval": wilson_bounds(wins, n),
        "team_ids": [r.team_id for r in group[:5]],  # the newest (runs come newest first)
    }


def _needing(quorum: int, members: tuple[str, ...]) -> str:
    return "" if quorum == len(members) else f", needing {quorum} of {len(members)}"
