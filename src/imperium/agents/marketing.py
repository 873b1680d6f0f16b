"""``marketing``: the seed's cross-industry marketing intelligence. Its core is computed
without a language model: the budget's allocation across channels on response curves
with diminishing returns (fitted from the history given, else documented default curves,
which are assumptions), compared with the even split; KPIs with targets computed from it;
audience segments by k-means on the customer records given. With a model backend
configured (``base_url`` and ``model``, as for ``llm``), campaign copy per channel is the
creative plan; without one, ``creative`` says what to set and the rest still succeeds.

Payload (the seed's fields, plus the optional rest)::

    {"product": {"name": "Smart Watch Pro"},
     "target_audience": {"age": "25-45", "interests": ["fitness", "tech"]},
     "channels": ["social", "email", "web"], "budget": 25000,
     "bounds": {"email": {"min": 1000, "max": 5000}},
     "history": [{"channel": "social", "spend": 5000, "outcome": 310}, ...],
     "customers": [{"age": 31, "orders": 4, "spend": 220.5}, ...],
     "segment_fields": ["age", "orders"], "value_per_outcome": 40,
     "variants": 2, "keywords": ["Smart Watch Pro"], "tone": "warm"}

``customers`` are segmented on the fields holding a number in every record (``id`` and
``*_id`` left out), or on ``segment_fields``. ``value_per_outcome`` adds revenue and
ROAS to the KPIs. ``bounds`` per channel default to 0 and the budget.

The maths is in ``_allocation``, ``_segments`` and ``_marketing_plan`` (run in a thread).
The copy: the model is asked for a JSON object with ``variants`` texts per channel, each
measured (domain/generated.py): characters against the channel's limit (social 280,
email 600, web 500, search 90, sms 160, display 90) and the presence of every keyword. A
reply that is not such an object, lacks a channel or a variant, or breaks a limit is
asked for once more naming what broke; the second reply is returned with
``constraints_met`` false and the list of what it broke. The copy needs ``product``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from imperium.agents._marketing_plan import Plan, compute
from imperium.agents._segments import is_number, numeric_fields
from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent, not_configured_reason
from imperium.domain.generated import CHANNEL_LIMITS, json_object, measure_campaign
from imperium.domain.llm import ChatReply
from imperium.extras import MissingExtraError

SYSTEM = (
    "You are a marketing copywriter. Answer with one JSON object and nothing else: each "
    "requested channel name as a key, its value a list of the requested number of texts."
)
MAX_VARIANTS = 5
MAX_HISTORY = 10_000
MAX_CUSTOMERS = 50_000
DEFAULT_CHANNELS = ["social", "email", "web"]


def _bad(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_payload", retryable=False)


def _copy_request(payload: dict[str, Any]) -> tuple[list[str], int, list[str]]:
    channels = payload.get("channels", DEFAULT_CHANNELS)
    known = isinstance(channels, list) and all(
        isinstance(c, str) and c in CHANNEL_LIMITS for c in channels
    )
    if not known or not channels or len(set(channels)) < len(channels):
        raise _bad(f"channels must be a list of distinct names among {', '.join(CHANNEL_LIMITS)}")
    variants = payload.get("variants", 2)
    if (
        isinstance(variants, bool)
        or not isinstance(variants, int)
        or not 1 <= variants <= MAX_VARIANTS
    ):
        raise _bad(f"variants must be a whole number from 1 to {MAX_VARIANTS}")
    keywords = payload.get("keywords", [])
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.strip() for k in keywords
    ):
        raise _bad("keywords must be a list of non-empty strings")
    return channels, variants, keywords


def _amount(value: Any, what: str, *, positive: bool = False) -> float:
    if not is_number(value) or value < 0 or (positive and value == 0):
        raise _bad(f"{what} must be a finite number {'> 0' if positive else '>= 0'}")
    return float(value)


def _bounds(payload: dict[str, Any], channels: list[str],
            budget: float | None) -> tuple[list[float], list[float]]:  # fmt: skip
    given = payload.get("bounds", {})
    if not isinstance(given, dict) or any(c not in channels for c in given):
        raise _bad('bounds must be an object keyed by requested channels: {"email": '
                   '{"min": 1000, "max": 5000}} (or [min, max])')  # fmt: skip
    cap = budget if budget is not None else math.inf
    lower, upper = [], []
    for channel in channels:
        bound = given.get(channel, {})
        if isinstance(bound, list) and len(bound) == 2:
            bound = {"min": bound[0], "max": bound[1]}
        if not isinstance(bound, dict) or set(bound) - {"min", "max"}:
            raise _bad(f'bounds.{channel} must be {{"min": ..., "max": ...}} or [min, max]')
        low = _amount(bound.get("min", 0), f"bounds.{channel}.min")
        high = min(_amount(bound["max"], f"bounds.{channel}.max"), cap) if "max" in bound else cap
        if high < low:
            raise _bad(f"bounds.{channel}: min {low:g} is above max {high:g} (or the budget)")
        lower.append(low)
        upper.append(high)
    if budget is not None and not sum(lower) <= budget <= sum(upper):
        raise _bad(f"the bounds cannot hold the budget {budget:g}: the minimums add up to "
                   f"{sum(lower):g} and the maximums to {sum(upper):g}; the budget must lie "
                   "between them")  # fmt: skip
    return lower, upper


def _history(payload: dict[str, Any], channels: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    rows = payload.get("history", [])
    if not isinstance(rows, list) or len(rows) > MAX_HISTORY:
        raise _bad(f"history must be a list of at most {MAX_HISTORY} rows "
                   '{"channel", "spend", "outcome"}')  # fmt: skip
    kept: dict[str, list[tuple[float, float]]] = {}
    ignored: dict[str, int] = {}
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("channel"), str):
            raise _bad(f'history row {i} must be an object {{"channel", "spend", "outcome"}}')
        spend = _amount(row.get("spend"), f"history row {i}: spend")
        outcome = _amount(row.get("outcome"), f"history row {i}: outcome")
        if row["channel"] in channels:
            kept.setdefault(row["channel"], []).append((spend, outcome))
        else:
            ignored[row["channel"]] = ignored.get(row["channel"], 0) + 1
    return kept, ignored


def _customers(payload: dict[str, Any]) -> tuple[Any, list[str], list[str]]:
    records = payload.get("customers")
    if records is None:
        return None, [], []
    if (not isinstance(records, list) or len(records) > MAX_CUSTOMERS
            or not all(isinstance(r, dict) for r in records)):  # fmt: skip
        raise _bad(f"customers must be a list of at most {MAX_CUSTOMERS} objects")
    usable, ignored = numeric_fields(records)
    wanted = payload.get("segment_fields")
    if wanted is None:  # identifiers are numbers that say nothing about the customer
        ids = [f for f in usable if f.lower() == "id" or f.lower().endswith("_id")]
        return records, [f for f in usable if f not in ids], ids + ignored
    if not isinstance(wanted, list) or not wanted or any(f not in usable for f in wanted):
        raise _bad("segment_fields must name fields holding a number in every customer "
                   f"record; those here: {', '.join(usable) or 'none'}")  # fmt: skip
    return records, list(wanted), [f for f in usable + ignored if f not in wanted]


def _plan(payload: Any) -> tuple[Plan, list[str], int, list[str]]:
    if not isinstance(payload, dict):
        raise _bad("the payload must be a JSON object (budget, channels, history, ...)")
    channels, variants, keywords = _copy_request(payload)
    budget = payload.get("budget")
    budget = None if budget is None else _amount(budget, "budget", positive=True)
    lower, upper = _bounds(payload, channels, budget)
    history, ignored = _history(payload, channels)
    records, fields, ignored_fields = _customers(payload)
    value = payload.get("value_per_outcome")
    value = None if value is None else _amount(value, "value_per_outcome", positive=True)
    plan = Plan(channels, budget, lower, upper, history, ignored, records, fields,
                ignored_fields, value)  # fmt: skip
    return plan, channels, variants, keywords


class MarketingAgent(LlmAgent):
    description = ("Budget allocation on fitted response curves, audience segments, KPIs; "
                   "campaign copy from a language model when one is configured.")  # fmt: skip

    async def run(self, ctx: TaskContext) -> Output:
        payload = ctx.payload
        plan, channels, variants, keywords = _plan(payload)
        missing_model = not_configured_reason(self.model_config)
        if plan.budget is None and plan.customers is None and missing_model:
            raise _bad('nothing to do: give "budget" (and "channels", "history") for an '
                       'allocation, or "customers" for segments; campaign copy needs a '
                       f"model backend, and here: {missing_model}")  # fmt: skip
        try:
            value = await self.in_thread(compute, plan)
        except MissingExtraError as exc:
            raise TaskFailed(str(exc), kind="not_installed", retryable=False) from exc
        replies: list[ChatReply] = []
        if missing_model:
            value["creative"] = {"status": "not_configured", "reason": missing_model}
        elif not isinstance(payload.get("product"), dict):
            reason = 'campaign copy needs "product" (an object with at least its name)'
            value["creative"] = {"status": "missing_input", "reason": reason}
        else:
            value["creative"] = await self._creative(payload, value, (channels, variants,
                                                     keywords), replies)  # fmt: skip
        return self.output(value, replies)

    async def _creative(self, payload: dict[str, Any], computed: dict[str, Any],
                        wanted: tuple[list[str], int, list[str]],
                        replies: list[ChatReply]) -> dict[str, Any]:  # fmt: skip
        """Campaign copy per channel, measured, asked once more naming what broke. A refused
        call leaves the computed part standing: the creative says why it is missing."""
        channels, variants, keywords = wanted
        fields = ("product", "target_audience", "budget", "tone")
        context: dict[str, Any] = {k: payload[k] for k in fields if k in payload}
        if computed["allocation"] is not None:
            context["allocation"] = {c: r["spend"] for c, r in
                                     computed["allocation"]["channels"].items()}  # fmt: skip
        limits = "; ".join(f"{c}: at most {CHANNEL_LIMITS[c]} characters each" for c in channels)
        prompt = (f"Write {variants} variant(s) of campaign copy for each of these channels: "
                  f"{', '.join(channels)} ({limits}). Campaign: "
                  f"{json.dumps(context, ensure_ascii=False)}.")  # fmt: skip
        if keywords:
            prompt += f" Every text must contain: {', '.join(keywords)}."
        try:
            await self.ask(prompt, replies, SYSTEM)
            measured, broken = measure_campaign(json_object(replies[0].text), channels,
                                                variants, keywords)  # fmt: skip
            if broken:
                retry = (f"{prompt} Your previous answer broke these constraints: "
                         f"{'; '.join(broken)}. Answer again.")  # fmt: skip
                await self.ask(retry, replies, SYSTEM)
                measured, broken = measure_campaign(json_object(replies[-1].text), channels,
                                                    variants, keywords)  # fmt: skip
        except TaskFailed as exc:
            return {"status": "failed", "kind": exc.kind, "reason": str(exc),
                    "attempts": len(replies) + 1}  # fmt: skip
        return {
            "status": "ok", "channels": measured, "variants": variants, "keywords": keywords,
            "constraints_met": not broken, "broken": broken, "attempts": len(replies),
            "model": replies[-1].model,
        }  # fmt: skip
