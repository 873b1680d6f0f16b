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
from collections.abc import Iterable
from dataclasses import dataclass, field

from imperium.domain.routing import DriftAlarm

QUEUE_WAIT = "queue.wait"
EVENT_TYPES: dict[str, str] = {
    "task.dead": "a task ended dead: its attempts ran out",
    "task.failed": "a task failed for good (an error that retrying cannot help)",
    "task.timed_out": "a task's last attempt ran past its timeout",
    "agent.paused": "an agent was paused (by hand or by the swarm optimiser)",
    "agent.offline": "a remote agent stopped sending heartbeats",
    "agent.drift": "the router's drift alarm: an agent's success rate on a task type changed",
    "agent.custody_level": "an agent's custody level went up or down",
    "agent.budget_spent": "an agent spent its token or cost budget (agent_id, agent_name, "
    "kind, limit, spent, resets_at)",
    "learning_cycle.failed": "a learning cycle failed (error, cycle_id)",
    "fraud.flagged": "a transaction scored at or above its fraud model's threshold "
    "(transaction_id, account_id, score, threshold, model_version, drivers)",
    QUEUE_WAIT: "the oldest ready task waited longer than the rule's queue_wait_seconds",
}
"""Event types worth an alert, with what they mean (rules may name any type or pattern)."""
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


def drift_data(alarm: DriftAlarm) -> dict[str, object]:
    """The data of an ``agent.drift`` event (the agent is the event's ``agent_id``)."""
    return {
        "task_type": alarm.task_type,
        "at": alarm.at,
        "before_rate": round(alarm.before_rate, 4),
        "before_n": alarm.before_n,
        "recent_rate": round(alarm.recent_rate, 4),
        "recent_n": alarm.recent_n,
        "z": round(alarm.z, 3),
        "direction": alarm.direction,
    }


def subject_of(event_type: str, task_id: str | None, agent_id: object) -> str:
    """What an alert is about, for its cooldown: the task, else the agent, else the type."""
    if task_id is not None:
        return f"task:{task_id}"
    if agent_id is not None and agent_id != "":
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
    """The same alert (rule, subject) at most once per the rule's cooldown.

    An entry is needed only while its cooldown runs: :meth:`prune` drops the expired ones
    and those of rules that are gone. It runs with each reload of the rules and, so that a
    burst of many subjects cannot grow the map without bound between reloads, whenever the
    map has doubled since the last prune.
    """

    def __init__(self, floor: int = 1024) -> None:
        self._sent: dict[tuple[str, str], float] = {}
        self._cooldowns: dict[str, float] = {}  # rule id -> its cooldown, as last seen
        self._floor = floor
        self._prune_at = floor

    def __len__(self) -> int:
        return len(self._sent)

    def allow(self, rule: AlertRule, subject: str, now: float) -> bool:
        key = (rule.id, subject)
        last = self._sent.get(key)
        if last is not None and now - last < rule.cooldown_seconds:
            return False
        self._sent[key] = now
        self._cooldowns[rule.id] = rule.cooldown_seconds
        if len(self._sent) >= self._prune_at:
            self.prune(now)
        return True

    def prune(self, now: float, rules: Iterable[AlertRule] | None = None) -> int:
        """Forget entries whose cooldown has run out, and (given the current ``rules``)
        those of rules that no longer exist; returns how many were dropped."""
        if rules is not None:
            self._cooldowns = {r.id: r.cooldown_seconds for r in rules}
        cooldowns = self._cooldowns
        before = len(self._sent)
        self._sent = {
            key: at
            for key, at in self._sent.items()
            if key[0] in cooldowns and now - at < cooldowns[key[0]]
        }
        self._prune_at = max(self._floor, 2 * len(self._sent))
        return before - len(self._sent)
