"""JSON-ready summaries kept in a learning cycle's metadata and shown by the API, the CLI
and the dashboard: a model report, a drift alarm, the insights counted by type."""

from __future__ import annotations

from collections.abc import Sequence

from imperium.domain.learning import Insight, ModelReport
from imperium.domain.routing import DriftAlarm


def model_dict(report: ModelReport) -> dict[str, object]:
    return {
        "version": report.version,
        "kind": report.kind,
        "trained_at": report.trained_at,
        "train_samples": report.train_samples,
        "held_out": report.held_out,
        "auc": rounded(report.auc),
        "brier": rounded(report.brier),
        "baseline_brier": rounded(report.baseline_brier),
        "brier_skill": rounded(report.brier_skill),
        "mae_log_duration": rounded(report.mae_log_duration),
        "fallback_reason": report.fallback_reason,
    }


def alarm_dict(alarm: DriftAlarm) -> dict[str, object]:
    return {
        "task_type": alarm.task_type,
        "agent_id": alarm.agent_id,
        "at": alarm.at,
        "direction": alarm.direction,
        "before_rate": round(alarm.before_rate, 4),
        "before_n": alarm.before_n,
        "recent_rate": round(alarm.recent_rate, 4),
        "recent_n": alarm.recent_n,
        "z": round(alarm.z, 3),
        "confidence": round(alarm.confidence, 6),
    }


def type_counts(insights: Sequence[Insight]) -> dict[str, int]:
    out: dict[str, int] = {}
    for insight in insights:
        out[insight.insight_type.value] = out.get(insight.insight_type.value, 0) + 1
    return out


def rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
