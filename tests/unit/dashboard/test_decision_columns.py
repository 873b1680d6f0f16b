"""The decisions chart's columns: each agent's attempts and success rate per bucket, the
busiest agent first, a rate only where an attempt succeeded or failed."""

from __future__ import annotations

from imperium.interfaces.dashboard.learning import decision_columns, decision_types
from imperium.ports import DecisionCount

FIRST = 1_800_000_000.0
BUCKET = 60.0


def test_points_land_in_their_bucket_per_agent_busiest_first() -> None:
    points = [
        DecisionCount(FIRST, "slow", attempts=1, succeeded=0, failed=1),
        DecisionCount(FIRST + 60, "fast", attempts=3, succeeded=2, failed=1),
        DecisionCount(FIRST + 120, "fast", attempts=1, succeeded=0, failed=0),  # cancelled
        DecisionCount(FIRST - 60, "fast", attempts=9, succeeded=9, failed=0),  # before the range
    ]

    columns = decision_columns(points, FIRST, BUCKET, 2)

    assert columns["t"] == [FIRST, FIRST + 60, FIRST + 120]
    assert columns["agents"] == [
        {"agent_id": "fast", "attempts": [0, 3, 1], "success_rate": [None, 2 / 3, None]},
        {"agent_id": "slow", "attempts": [1, 0, 0], "success_rate": [0.0, None, None]},
    ]


def test_no_point_gives_no_agent() -> None:
    assert decision_columns([], FIRST, BUCKET, 2)["agents"] == []


def test_task_types_are_offered_busiest_first() -> None:
    by_type = {
        "quiet": [{"samples": 2}],
        "busy": [{"samples": 3}, {"samples": 4}],
        "also-quiet": [{"samples": 2}],
    }
    assert decision_types(by_type) == ["busy", "also-quiet", "quiet"]
