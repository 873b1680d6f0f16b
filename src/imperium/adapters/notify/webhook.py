"""``WebhookSender``: an alert POSTed as JSON (or Slack's ``{"text": ...}``), signed.

With a target secret, each request carries ``X-Imperium-Timestamp`` (epoch seconds) and
``X-Imperium-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>``.
A 2xx is delivered; 408, 429 and 5xx are retried (``Retry-After`` in seconds honoured);
another 4xx is not, as trying again would give the same answer.
"""

from __future__ import annotations

import json

import httpx

from imperium.domain.alerts import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Alert,
    AlertTarget,
    TargetKind,
    signature,
)
from imperium.ports import Clock
from imperium.services.notifications.ports import SendResult

RETRYABLE = frozenset({408, 425, 429})


class WebhookSender:
    def __init__(self, clock: Clock, timeout: float = 10.0) -> None:
        self._clock = clock
        self._timeout = timeout

    async def send(self, target: AlertTarget, alert: Alert) -> SendResult:
        body = json.dumps(_body(target, alert), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "imperium-alerts"}
        if target.secret:
            timestamp = str(int(self._clock.now()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(target.secret, timestamp, body)
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(target.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(False, error=f"{type(exc).__name__}: {exc}")
        return _result(response)


def _body(target: AlertTarget, alert: Alert) -> dict[str, object]:
    return {"text": alert.text()} if target.kind is TargetKind.SLACK else alert.payload()


def _result(response: httpx.Response) -> SendResult:
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, status_code=code)
    retryable = code in RETRYABLE or code >= 500
    return SendResult(
        False, status_code=code, retry_after=retry_after(response.headers.get("Retry-After")),
        retryable=retryable,
    )  # fmt: skip


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (an HTTP date is ignored: the backoff applies)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
