"""The marketing intelligence's computed part: each channel's curve (fitted or default),
the optimal allocation against the even split, the KPIs with targets computed from it,
and the audience segments. No language model here; see agents/marketing.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imperium.agents import _allocation as al
from imperium.agents._segments import segment
from imperium.extras import MissingExtraError

DEFAULTS_NOTE = (
    "default curves are assumptions, not measurements (README, Model backends): supply "
    "history rows {channel, spend, outcome} with at least "
    f"{al.MIN_DISTINCT_SPENDS} distinct spends per channel to fit them"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the request asks to compute, already checked."""

    channels: list[str]
    budget: float | None
    lower: list[float]
    upper: list[float]
    history: dict[str, list[tuple[float, float]]]
    ignored_history: dict[str, int] = field(default_factory=dict)
    customers: list[dict[str, Any]] | None = None
    segment_fields: list[str] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)
    value_per_outcome: float | None = None


def compute(plan: Plan) -> dict[str, Any]:
    """Allocation, KPIs and segments (each None with its reason when not computed)."""
    value: dict[str, Any] = {"channels": plan.channels, "budget": plan.budget}
    if plan.budget is None:
        reason = 'no "budget" in the payload: nothing to allocate'
        value.update(allocation=None, kpis=None, allocation_reason=reason)
    else:
        allocation = allocate(plan, plan.budget)
        value.update(allocation=allocation, allocation_reason=allocation.pop("reason"),
                     kpis=kpis(allocation, plan.budget, plan.value_per_outcome))  # fmt: skip
    value["segments"], value["segments_reason"] = segments(plan)
    return value


def allocate(plan: Plan, budget: float) -> dict[str, Any]:
    fits = {}
    for channel in plan.channels:
        points = plan.history.get(channel, [])
        fits[channel] = al.fit_curve(channel, [s for s, _ in points], [o for _, o in points])
    curves = [fits[c].curve for c in plan.channels]
    found = al.allocate(curves, budget, plan.lower, plan.upper)
    even = budget / len(curves)
    even_total = al.total_outcome(curves, [even] * len(curves))
    rows: dict[str, Any] = {}
    for i, channel in enumerate(plan.channels):
        spend, fit = found.spends[i], fits[channel]
        seen = fit.max_observed_spend
        rows[channel] = {
            "spend": al.finite(spend), "share": al.finite(spend / budget),
            "expected_outcome": al.finite(found.outcomes[i]),
            "marginal_outcome": al.finite(fit.curve.marginal(spend), 9),
            "min": plan.lower[i], "max": plan.upper[i],
            "beyond_observed_spend": None if seen is None else spend > seen * (1 + 1e-9),
        }  # fmt: skip
    defaults = [c for c in plan.channels if fits[c].source == "default"]
    uplift = found.total - even_total
    return {
        "channels": rows, "expected_outcome": al.finite(found.total),
        "even_split": {
            "spend_per_channel": al.finite(even), "expected_outcome": al.finite(even_total),
            "within_bounds": all(lo <= even <= hi for lo, hi in
                                 zip(plan.lower, plan.upper, strict=True)),
        },
        "uplift": al.finite(uplift),
        "uplift_percent": al.finite(100 * uplift / even_total) if even_total > 0 else None,
        "solver": {"method": "SLSQP (scipy.optimize.minimize)", "converged": found.converged,
                   "message": found.message, "iterations": found.iterations},
        "curve_form": al.CURVE_FORM,
        "curves": {c: fits[c].as_dict() for c in plan.channels},
        "fitted_channels": [c for c in plan.channels if c not in defaults],
        "default_channels": defaults,
        "ignored_history_rows": plan.ignored_history,
        "reason": (f"{', '.join(defaults)} on default curves: {DEFAULTS_NOTE}" if defaults
                   else "every channel's curve fitted from the history"),
    }  # fmt: skip


def kpis(allocation: dict[str, Any], budget: float, value: float | None) -> list[dict[str, Any]]:
    """Targets computed from the allocation's expected outcomes (never set by hand)."""
    basis = "the allocation's expected outcome on the channels' curves"
    rows = [_kpi("expected_outcome", None, allocation["expected_outcome"], "outcome", basis)]
    rows.append(_kpi("cost_per_outcome", None, _ratio(budget, allocation["expected_outcome"]),
                     "spend per outcome", "budget / expected outcome"))  # fmt: skip
    if value is not None:
        total = allocation["expected_outcome"] * value
        rows.append(_kpi("expected_revenue", None, al.finite(total, 2), "revenue",
                         "expected outcome x value_per_outcome"))  # fmt: skip
        rows.append(_kpi("roas", None, _ratio(total, budget), "revenue per spend",
                         "expected revenue / budget"))  # fmt: skip
    for channel, row in allocation["channels"].items():
        rows.append(_kpi("expected_outcome", channel, row["expected_outcome"], "outcome", basis))
        rows.append(_kpi("cost_per_outcome", channel, _ratio(row["spend"], row["expected_outcome"]),
                         "spend per outcome", "channel spend / its expected outcome"))  # fmt: skip
        if value is not None:
            rows.append(_kpi("roas", channel, _ratio(row["expected_outcome"] * value, row["spend"]),
                             "revenue per spend", "channel revenue / its spend"))  # fmt: skip
    return rows


def _kpi(name: str, channel: str | None, target: float | None, unit: str,
         how: str) -> dict[str, Any]:  # fmt: skip
    return {"kpi": name, "channel": channel, "target": target, "unit": unit, "computed_as": how}


def _ratio(top: float, bottom: float | None) -> float | None:
    """``top / bottom``, or None when the bottom is zero (no outcome: no cost per outcome)."""
    return al.finite(top / bottom) if bottom else None


def segments(plan: Plan) -> tuple[dict[str, Any] | None, str]:
    if plan.customers is None:
        return None, 'no "customers" records in the payload'
    if not plan.segment_fields:
        return None, "the customer records have no field holding a number in every record"
    try:
        found = segment(plan.customers, plan.segment_fields)
    except MissingExtraError as exc:
        return None, str(exc)
    if found.value is not None:
        found.value["ignored_fields"] = plan.ignored_fields
    return found.value, found.reason
