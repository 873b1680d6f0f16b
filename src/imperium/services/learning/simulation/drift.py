"""Matching the router's drift alarms to the scenario's drift schedule."""

from __future__ import annotations

from imperium.domain.routing import DriftAlarm
from imperium.domain.scenario import Drift, Scenario
from imperium.services.learning.simulation.result import DetectedDrift


def direction(entry: Drift, scenario: Scenario) -> str | None:
    """Which way ``entry`` moves its pair's success: "degraded", "improved" or None (no
    change)."""
    before = scenario.base_success(entry.agent, entry.task_type, entry.after_task - 1)
    if entry.success == before:
        return None
    return "degraded" if entry.success < before else "improved"


def detected_drift(alarm: DriftAlarm, at_task: int, scenario: Scenario) -> DetectedDrift:
    """The alarm, matched to the latest scenario entry for the same pair already in force
    when it fired that moves the success the way the alarm says (none: a false alarm)."""
    entry = _matching_entry(alarm, at_task, scenario)
    return DetectedDrift(
        agent=alarm.agent_id,
        task_type=alarm.task_type,
        at_task=at_task,
        direction=alarm.direction,
        before_rate=alarm.before_rate,
        recent_rate=alarm.recent_rate,
        z=alarm.z,
        confidence=alarm.confidence,
        delay_tasks=at_task - entry.after_task if entry is not None else None,
        entry=scenario.drift.index(entry) if entry is not None else None,
    )


def _matching_entry(alarm: DriftAlarm, at_task: int, scenario: Scenario) -> Drift | None:
    matching = [
        d
        for d in scenario.drift
        if d.agent == alarm.agent_id and d.task_type == alarm.task_type and d.after_task <= at_task
    ]
    entry = max(matching, key=lambda d: d.after_task) if matching else None
    if entry is not None and direction(entry, scenario) != alarm.direction:
        return None
    return entry
