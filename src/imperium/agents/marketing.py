"""``marketing``: the seed's cross-industry marketing intelligence, an ``llm`` agent that
writes campaign copy for the requested channels and measures it in code.

Payload (the seed's fields, plus ``variants`` and ``keywords``)::

    {"product": {"name": "Smart Watch Pro"},
     "target_audience": {"age": "25-45", "interests": ["fitness", "tech"]},
     "channels": ["social", "email", "web"], "budget": 25000,
     "variants": 2, "keywords": ["Smart Watch Pro"]}

The model is asked for a JSON object with ``variants`` texts per channel. Each text is
measured (domain/generated.py): characters against the channel's limit (social 280,
email 600, web 500, search 90, sms 160, display 90) and the presence of every keyword.
A reply that is not such an object, lacks a channel or a variant, or breaks a limit is
asked for once more naming what broke; the second reply is returned with
``constraints_met`` false and the list of what it broke. The budget is passed to the
model as context only: no allocation is computed here (see README, Model backends).
"""

from __future__ import annotations

import json
from typing import Any

from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.domain.generated import CHANNEL_LIMITS, json_object, measure_campaign
from imperium.domain.llm import ChatReply

SYSTEM = (
    "You are a marketing copywriter. Answer with one JSON object and nothing else: each "
    "requested channel name as a key, its value a list of the requested number of texts."
)
MAX_VARIANTS = 5


def _bad(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_payload", retryable=False)


def _request(payload: Any) -> tuple[list[str], int, list[str], str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("product"), dict):
        raise _bad('the payload needs "product" (an object with at least the product\'s name)')
    channels = payload.get("channels", ["social", "email", "web"])
    known = isinstance(channels, list) and all(c in CHANNEL_LIMITS for c in channels)
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
    context = {
        k: payload[k] for k in ("product", "target_audience", "budget", "tone") if k in payload
    }
    return channels, variants, keywords, json.dumps(context, ensure_ascii=False)


class MarketingAgent(LlmAgent):
    description = "Campaign copy per channel from a language model, measured against limits."

    async def run(self, ctx: TaskContext) -> Output:
        channels, variants, keywords, context = _request(ctx.payload)
        limits = "; ".join(f"{c}: at most {CHANNEL_LIMITS[c]} characters each" for c in channels)
        prompt = (f"Write {variants} variant(s) of campaign copy for each of these channels: "
                  f"{', '.join(channels)} ({limits}). Campaign: {context}.")  # fmt: skip
        if keywords:
            prompt += f" Every text must contain: {', '.join(keywords)}."
        replies: list[ChatReply] = []
        await self.ask(prompt, replies, SYSTEM)
        measured, broken = measure_campaign(json_object(replies[0].text), channels, variants,
                                            keywords)  # fmt: skip
        if broken:
            retry = (f"{prompt} Your previous answer broke these constraints: "
                     f"{'; '.join(broken)}. Answer again.")  # fmt: skip
            await self.ask(retry, replies, SYSTEM)
            measured, broken = measure_campaign(json_object(replies[-1].text), channels,
                                                variants, keywords)  # fmt: skip
        value = {
            "channels": measured, "variants": variants, "keywords": keywords,
            "constraints_met": not broken, "broken": broken, "attempts": len(replies),
            "model": replies[-1].model,
        }  # fmt: skip
        return self.output(value, replies)
