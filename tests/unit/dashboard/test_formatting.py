"""How the dashboard writes durations: the unit a person reads at a glance."""

from __future__ import annotations

import pytest

from imperium.interfaces.dashboard.pages import seconds


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (0.0123, "12.3 ms"),
        (10.0, "10.00 s"),
        (900.0, "15 min"),
        (1800.0, "30 min"),
        (3600.0, "60 min"),
        (86400.0, "24 h"),
        (5400.0, "90 min"),
        (9000.0, "2.5 h"),
    ],
)
def test_durations_are_shown_in_a_readable_unit(value: float | None, shown: str) -> None:
    assert seconds(value) == shown
