"""``OpenAIChat``: the ``ChatModel`` port over the OpenAI-compatible chat completions
protocol (``POST {base_url}/chat/completions``), which OpenAI, vLLM, Ollama
(``http://localhost:11434/v1``), llama.cpp's server and LM Studio speak.

Tokens come from the answer's ``usage`` (``prompt_tokens``, ``completion_tokens``); a
server that sends none gives a reply without usage, never an estimate. No streaming.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from imperium.adapters.models._http import Sleep, make_client, post_json
from imperium.domain.llm import ChatReply, ChatRequest, ModelCallError


class OpenAIChat:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client or make_client(base_url, api_key, timeout)
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    async def chat(self, request: ChatRequest) -> ChatReply:
        data = await post_json(
            self._client, "chat/completions", _body(request),
            max_retries=self._max_retries, max_retry_wait=self._max_retry_wait,
            sleep=self._sleep,
        )  # fmt: skip
        return parse_completion(data, request.model)

    async def close(self) -> None:
        await self._client.aclose()


def _body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


def parse_completion(data: dict[str, Any], asked_model: str) -> ChatReply:
    """A chat completion object as a reply; anything else is a ``bad_response``."""
    if isinstance(data.get("error"), dict):  # some gateways answer 200 with an error body
        message = data["error"].get("message") or str(data["error"])
        raise ModelCallError("provider_error", f"the provider answered with an error: "
                             f"{message}", retryable=False)  # fmt: skip
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelCallError("bad_response", "the answer has no choices", retryable=False)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise ModelCallError(
            "bad_response", "the answer's first choice has no text content", retryable=False
        )
    usage = data.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    return ChatReply(
        text=content,
        model=str(data.get("model") or asked_model),
        finish_reason=choices[0].get("finish_reason"),
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
    )


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
