"""What the OpenAI-compatible adapters share: the POST with bounded retries, and turning a
refusal into a :class:`ModelCallError` carrying the provider's own reason.

429 and 5xx answers (and dropped connections) are tried again after the provider's
``Retry-After`` when it sent one, else after an exponential backoff; at most
``max_retries`` times, and never waiting longer than ``max_retry_wait`` (a longer
Retry-After ends the attempt at once, saying so). Any other 4xx is final.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from imperium.domain.llm import ModelCallError, retry_delay

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the provider asked to wait: ``Retry-After`` as seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def provider_reason(response: httpx.Response) -> str:
    """The provider's own words: ``error.message`` of the OpenAI error body, else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        code = error.get("code") or error.get("type")
        return f"{error['message']}" + (f" ({code})" if code else "")
    if isinstance(error, str):
        return error
    return str(body)[:500]


def refusal(response: httpx.Response) -> ModelCallError:
    status = response.status_code
    reason = provider_reason(response)
    if status == 429:
        return ModelCallError(
            "rate_limited", f"the provider refused the request (429): {reason}",
            retryable=True, status=status,
        )  # fmt: skip
    retryable = status >= 500 or status in (408, 409)
    return ModelCallError(
        "provider_error", f"the provider refused the request ({status}): {reason}",
        retryable=retryable, status=status,
    )  # fmt: skip


def _worth_retrying(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


async def post_json(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    *,
    max_retries: int,
    max_retry_wait: float,
    sleep: Sleep = asyncio.sleep,
) -> dict[str, Any]:
    """POST ``body`` and return the JSON answer, retrying what a later try may fix."""
    tries = 0
    while True:
        failure, wait = await _try_once(client, path, body)
        if isinstance(failure, dict):
            return failure
        tries += 1
        if not failure.retryable or tries > max_retries:
            if tries > 1:
                failure.args = (f"{failure.args[0]} (after {tries} tries)",)
            raise failure
        delay = retry_delay(tries, wait)
        if delay > max_retry_wait:
            failure.args = (
                f"{failure.args[0]}; it asked to wait {delay:g}s, more than max_retry_wait "
                f"({max_retry_wait:g}s)",
            )
            raise failure
        log.info("model call refused, retrying", extra={"kind": failure.kind, "delay": delay})
        await sleep(delay)


async def _try_once(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> tuple[dict[str, Any] | ModelCallError, float | None]:
    try:
        response = await client.post(path, json=body)
    except httpx.TimeoutException as exc:
        return ModelCallError("timeout", f"the model did not answer in time: {exc!r}",
                              retryable=True), None  # fmt: skip
    except httpx.TransportError as exc:
        return ModelCallError("connection_error", f"cannot reach the model server: {exc!r}",
                              retryable=True), None  # fmt: skip
    if response.status_code >= 400:
        error = refusal(response)
        wait = retry_after(response) if _worth_retrying(response) else None
        return error, wait
    try:
        data = response.json()
    except ValueError:
        return ModelCallError("bad_response", f"the answer is not JSON: {response.text[:200]}",
                              retryable=False, status=response.status_code), None  # fmt: skip
    if not isinstance(data, dict):
        return ModelCallError("bad_response", "the answer is not a JSON object",
                              retryable=False), None  # fmt: skip
    return data, None


def make_client(base_url: str, api_key: str | None, timeout: float) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout)
