"""``product_content``: the seed's product content intelligence, an ``llm`` agent that
writes a product description, catalogue entry or meta description and measures it.

Payload (the seed's fields)::

    {"product_details": {"name": "Smart Watch Pro", "category": "Wearables",
                         "features": ["Heart rate monitoring", "GPS"]},
     "content_type": "description" | "catalogue_entry" | "meta_description",
     "tone": "professional", "keywords": ["smart watch", "GPS"]}

The text comes from the configured model (the same config as ``llm``). Its properties
(length, Flesch reading ease, keyword density, the content type's limits) are computed
in code (domain/content.py). A text that breaks a limit is asked for once more, naming
the broken limits; if the second breaks one too it is returned with ``limits_met`` false
and the limits it broke. Tokens and cost are those of every call made.
"""

from __future__ import annotations

import json
from typing import Any

from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.domain.content import CONTENT_TYPES, measure
from imperium.domain.llm import ChatReply

SYSTEM = (
    "You are a product copywriter. Write only the requested text, with no preamble, "
    "headings or quotation marks."
)
ASK = {
    "description": "a product description of 50 to 300 words",
    "catalogue_entry": "a catalogue entry of at most 80 words",
    "meta_description": "an SEO meta description of at most 160 characters",
}


def _request(payload: Any) -> tuple[str, str, str, list[str]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("product_details"), dict):
        raise TaskFailed(
            'the payload needs "product_details" (an object with the product\'s name, '
            "category, features...)",
            kind="bad_payload",
            retryable=False,
        )
    content_type = payload.get("content_type", "description")
    if content_type not in CONTENT_TYPES:
        raise TaskFailed(f"content_type must be one of {', '.join(CONTENT_TYPES)}",
                         kind="bad_payload", retryable=False)  # fmt: skip
    keywords = payload.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise TaskFailed("keywords must be a list of strings", kind="bad_payload",
                         retryable=False)  # fmt: skip
    tone = str(payload.get("tone", "professional"))
    details = json.dumps(payload["product_details"], ensure_ascii=False)
    return content_type, tone, details, keywords


class ProductContentAgent(LlmAgent):
    description = "Product copy from a language model, measured in code (length, readability)."

    async def run(self, ctx: TaskContext) -> Output:
        content_type, tone, details, keywords = _request(ctx.payload)
        prompt = f"Write {ASK[content_type]} in a {tone} tone for this product: {details}."
        if keywords:
            prompt += f" Use these keywords: {', '.join(keywords)}."
        replies: list[ChatReply] = []
        await self.ask(prompt, replies, SYSTEM)
        measured = measure(content_type, replies[0].text.strip(), keywords)
        if not measured["limits_met"]:
            broken = [lim for lim in measured["limits"] if not lim["ok"]]  # type: ignore[attr-defined]
            retry = prompt + " Your previous text broke these limits: " + "; ".join(
                f"{b['name']} ({b['detail']})" for b in broken) + ". Write it again."  # fmt: skip
            await self.ask(retry, replies, SYSTEM)
            measured = measure(content_type, replies[-1].text.strip(), keywords)
        value = {
            "content_type": content_type,
            "text": replies[-1].text.strip(),
            "model": replies[-1].model,
            "attempts": len(replies),
            "measured": measured,
        }
        return self.output(value, replies)
