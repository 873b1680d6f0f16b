"""Alert rules, what they match, how a delivery is signed and when it is retried (pure).

A rule names event types (shell-style patterns: ``task.dead``, ``agent.*``) and targets
(webhooks, Slack-compatible webhooks, email addresses). The same alert (rule and subject:
the task, the agent or the event type) goes out at most once per ``cooldown_seconds``.
``queue.wait`` is the event the queue-wait check raises when the oldest ready task has
waited more than the rule's ``queue_wait_seconds``.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import hmac
from dataclasses import dataclass, field

QUEUE_WAIT = "queue.wait"
SIGNATURE_HEADER = "X-Imperium-Signature"
TIMESTAMP_HEADER = "X-Imperium-Timestamp"


class TargetKind(enum.StrEnum):
    WEBHOOK = "webhook"  # the alert as JSON
    SLACK = "slack"  # ``{"text": ...}``, what Slack's incoming webhooks take
    EMAIL = "email"  # over the configured SMTP server


@dataclass(frozen=True, slots=True)
class AlertTarget:
    kind: TargetKind
    address: str  # a URL for webhooks, an email address for email
    secret: str | None = None  # webhooks: signs each body (HMAC-SHA256)

    def describe(self) -> str:
        return f"{self.kind.value}:{self.address}"


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: str
    name: str
    event_types: tuple[str, ...]
    targets: tuple[AlertTarget, ...]
    created_at: float
    cooldown_seconds: float = 300.0
    queue_wait_seconds: float | None = None  # for ``queue.wait``: how long is too long
    enabled: bool = True

    def matches(self, event_type: str) -> bool:
        lowered = event_type.lower()
        return self.enabled and any(
            fnmatch.fnmatchcase(lowered, p.lower()) for p in self.event_types
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """One event a rule matched, as sent to each of its targets."""

    rule_id: str
    rule_name: str
    event_type: str
    subject: str
    at: float
    data: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        details = ", ".join(f"{k}={v}" for k, v in sorted(self.data.items()) if _short(v))
        line = f"[Imperium] {self.rule_name}: {self.event_type} ({self.subject})"
        return f"{line} {details}" if details else line

    def payload(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "rule": self.rule_name,
            "event_type": self.event_type,
            "subject": self.subject,
            "at": self.at,
            "data": self.data,
            "text": self.text(),
        }


def _short(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 200


def subject_of(event_type: str, task_id: str | None, agent_id: str | None) -> str:
    """What an alert is about, for its cooldown: the task, else the agent, else the type."""
    if task_id is not None:
        return f"task:{task_id}"
    if agent_id is not None:
        return f"agent:{agent_id}"
    return event_type


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at sending an alert to one target: an HTTP status or an error."""

    rule_id: str
    target: str
    event_type: str
    subject: str
    attempt: int
    at: float
    status_code: int | None = None
    error: str | None = None
    delivered: bool = False


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>`` with ``secret``: the
    timestamp is signed too, so a captured request cannot be replayed later as new."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def retry_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed ``attempt`` (1, 2, ...): ``base * 2**(attempt-1)``, or
    the receiver's ``Retry-After`` when it asks for longer; never more than ``cap``."""
    delay = base * 2.0 ** (attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


class Cooldown:
    """The same alert (rule, subject) at most once per the rule's cooldown."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], float] = {}

    def allow(self, rule: AlertRule, subject: str, now: float) -> bool:
        key = (rule.id, subject)
        last = self._sent.get(key)
        if last is not None and now - last < rule.cooldown_seconds:
            return False
        self._sent[key] = now
        return True
