"""``AlertService``: events and the queue's wait matched to rules, and delivered.

The service listens on the event bus (so it sees only committed events), matches each
event to the enabled rules, drops an alert sent for the same rule and subject within the
rule's cooldown, and delivers the rest in background tasks: every target separately, each
try recorded as a :class:`DeliveryAttempt`, failed tries retried with exponential backoff
(longer when the receiver sends ``Retry-After``) up to ``max_attempts``.

Rules are re-read from the store by :meth:`AlertService.reload` (a routine of the server),
so rules changed by another process (``imperium alerts``) take effect without a restart.
At most ``max_deliveries`` deliveries are under way at once: in a burst beyond that, an
alert's delivery is not started and a ``dropped`` attempt (attempt 0) is recorded for it,
written in batches so that the record of a burst does not become a burst of writes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imperium.domain.alerts import (
    QUEUE_WAIT,
    Alert,
    AlertRule,
    AlertTarget,
    Cooldown,
    DeliveryAttempt,
    TargetKind,
    retry_delay,
    subject_of,
)
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import Event
from imperium.ports import Clock
from imperium.services.notifications.ports import AlertStore, Sender, SendResult

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_attempts: int = 5
    backoff_base: float = 1.0  # seconds before the second try; doubles each time
    backoff_cap: float = 300.0
    max_deliveries: int = 100  # under way at once (each: one alert to one target)


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        senders: Mapping[TargetKind, Sender],
        clock: Clock,
        config: DeliveryConfig = DeliveryConfig(),
        sleep: Sleep = asyncio.sleep,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store, self._senders, self._clock, self._new_id = store, senders, clock, new_id
        self._config, self._sleep = config, sleep
        self._rules: tuple[AlertRule, ...] = ()
        self._cooldown = Cooldown()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._dropped: list[DeliveryAttempt] = []  # waiting to be recorded
        self._flush: asyncio.Task[None] | None = None
        self.dropped = 0
        """Deliveries never started because too many were under way (since start)."""

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return self._rules

    async def load(self) -> None:
        self._rules = tuple(await self._store.list_rules())

    async def reload(self) -> bool:
        """Re-read the rules (another process may have changed them) and prune the
        cooldowns; True when the rules changed."""
        rules = tuple(await self._store.list_rules())
        changed = rules != self._rules
        self._rules = rules
        self._cooldown.prune(self._clock.now(), rules)
        return changed

    def status(self) -> dict[str, object]:
        return {"rules": len(self._rules), "under_way": len(self._deliveries),
                "cooldowns": len(self._cooldown), "dropped": self.dropped}  # fmt: skip

    async def record(self, attempts: Sequence[DeliveryAttempt]) -> None:
        """Record attempts made elsewhere (the report's mail) beside the alerts'."""
        await self._store.record_attempts(attempts)

    async def rule(self, rule_id: str) -> AlertRule:
        rule = await self._store.get_rule(rule_id)
        if rule is None:
            raise NotFoundError(f"no alert rule with id {rule_id}")
        return rule

    async def deliveries(
        self, rule_id: str | None = None, limit: int = 100
    ) -> list[DeliveryAttempt]:
        """Delivery attempts, newest first."""
        return await self._store.list_attempts(rule_id=rule_id, limit=limit)

    async def create_rule(self, **fields: Any) -> AlertRule:
        """A new rule (``AlertRule``'s fields but its id and creation time), saved."""
        rule = AlertRule(id=self._new_id(), created_at=self._clock.now(), **fields)
        await self.save_rule(rule)
        return rule

    async def save_rule(self, rule: AlertRule) -> None:
        self._check_targets(rule.targets)
        _check_queue_wait(rule)
        await self._check_name(rule)
        await self._store.save_rule(rule)
        await self.load()

    async def delete_rule(self, rule_id: str) -> bool:
        deleted = await self._store.delete_rule(rule_id)
        await self.load()
        return deleted

    async def _check_name(self, rule: AlertRule) -> None:
        for other in await self._store.list_rules():
            if other.name == rule.name and other.id != rule.id:
                raise ConflictError(
                    f"an alert rule named {rule.name!r} exists already ({other.id}); "
                    "choose another name or change that rule"
                )

    def _check_targets(self, targets: Sequence[AlertTarget]) -> None:
        missing = sorted({t.kind.value for t in targets if t.kind not in self._senders})
        if missing:
            raise AlertConfigError(
                f"no sender for {', '.join(missing)} targets: configure IMPERIUM_SMTP_HOST "
                "to send email"
            )

    def on_events(self, events: Sequence[Event]) -> None:
        """The bus listener: cheap, so it only matches and starts deliveries (nothing at
        all without rules: it hears every committed batch)."""
        if not self._rules:
            return
        for event in events:
            for rule in self._rules:
                if event.event_type != QUEUE_WAIT and rule.matches(event.event_type):
                    data = _data(event)
                    subject = subject_of(event.event_type, event.task_id, data.get("agent_id"))
                    self.raise_alert(rule, event.event_type, subject, data)

    def check_queue_wait(self, oldest_ready_at: float | None) -> int:
        """Alerts for the rules whose queue wait the oldest ready task has exceeded."""
        if oldest_ready_at is None:
            return 0
        waited = self._clock.now() - oldest_ready_at
        raised = 0
        for rule in self._rules:
            limit = rule.queue_wait_seconds
            if limit is not None and waited > limit and rule.matches(QUEUE_WAIT):
                data: dict[str, object] = {
                    "waited_seconds": round(waited, 1),
                    "limit_seconds": limit,
                }
                raised += self.raise_alert(rule, QUEUE_WAIT, QUEUE_WAIT, data)
        return raised

    def raise_alert(
        self, rule: AlertRule, event_type: str, subject: str, data: dict[str, object]
    ) -> bool:
        now = self._clock.now()
        if not self._cooldown.allow(rule, subject, now):
            return False
        alert = Alert(rule.id, rule.name, event_type, subject, now, data)
        for target in rule.targets:
            if len(self._deliveries) >= self._config.max_deliveries:
                self._drop(target, alert)
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(target, alert))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return True

    def _drop(self, target: AlertTarget, alert: Alert) -> None:
        """Too many deliveries under way: this one is not started, and says so."""
        self.dropped += 1
        limit = self._config.max_deliveries
        self._dropped.append(
            DeliveryAttempt(
                alert.rule_id, target.describe(), alert.event_type, alert.subject, 0,
                self._clock.now(),
                error=f"dropped: {limit} deliveries were under way (the limit, "
                "IMPERIUM_ALERT_MAX_DELIVERIES)",
            )
        )  # fmt: skip
        if self.dropped == 1 or self.dropped % 100 == 0:
            log.warning(
                "alert deliveries dropped: %d under way (the limit); %d dropped so far",
                limit, self.dropped, extra={"action": "alert.dropped"},
            )  # fmt: skip
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._record_dropped())

    async def _record_dropped(self) -> None:
        while self._dropped:
            batch, self._dropped = self._dropped, []
            try:
                await self._store.record_attempts(batch)
            except Exception:
                log.exception("could not record dropped alert deliveries",
                              extra={"action": "alert.record"})  # fmt: skip

    async def _deliver(self, target: AlertTarget, alert: Alert) -> None:
        for attempt in range(1, self._config.max_attempts + 1):
            result = await self._try(target, alert)
            await self._record(target, alert, attempt, result)
            if result.delivered or not result.retryable:
                return
            if attempt < self._config.max_attempts:
                c = self._config
                await self._sleep(
                    retry_delay(attempt, c.backoff_base, c.backoff_cap, result.retry_after)
                )
        log.warning(
            "alert %s to %s not delivered after %d tries", alert.event_type,
            target.describe(), self._config.max_attempts,
            extra={"action": "alert.undelivered", "rule_id": alert.rule_id},
        )  # fmt: skip

    async def _try(self, target: AlertTarget, alert: Alert) -> SendResult:
        sender = self._senders.get(target.kind)
        if sender is None:
            return SendResult(False, error=f"no sender for {target.kind.value}", retryable=False)
        try:
            return await sender.send(target, alert)
        except Exception as exc:  # a sender's bug must not end the deliveries
            log.exception("alert sender failed", extra={"action": "alert.send"})
            return SendResult(False, error=f"{type(exc).__name__}: {exc}")

    async def _record(
        self, target: AlertTarget, alert: Alert, attempt: int, result: SendResult
    ) -> None:
        record = DeliveryAttempt(
            alert.rule_id, target.describe(), alert.event_type, alert.subject, attempt,
            self._clock.now(), result.status_code, result.error, result.delivered,
        )  # fmt: skip
        try:
            await self._store.record_attempts([record])
        except Exception:
            log.exception("could not record an alert delivery", extra={"action": "alert.record"})

    async def drain(self) -> None:
        """Wait for the deliveries under way and the record of dropped ones (tests; a
        clean stop)."""
        while self._deliveries or (self._flush is not None and not self._flush.done()):
            pending = [*self._deliveries, *([self._flush] if self._flush else [])]
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self, grace: float = 0.0) -> None:
        """Stop: deliveries under way get ``grace`` seconds to finish, then are cancelled
        (their attempts so far are recorded)."""
        if self._deliveries and grace > 0:
            await asyncio.wait(set(self._deliveries), timeout=grace)
        for task in self._deliveries:
            task.cancel()
        await self.drain()


def _check_queue_wait(rule: AlertRule) -> None:
    """A wait limit on a rule that never matches ``queue.wait``, or ``queue.wait`` named
    without a limit, would never raise an alert: say so at once."""
    matches = any(fnmatch.fnmatchcase(QUEUE_WAIT, p.lower()) for p in rule.event_types)
    if rule.queue_wait_seconds is not None and not matches:
        raise ValidationError(
            f"queue_wait_seconds applies to {QUEUE_WAIT} alerts: add {QUEUE_WAIT!r} to "
            "event_types, or leave queue_wait_seconds out"
        )
    if rule.queue_wait_seconds is None and QUEUE_WAIT in (p.lower() for p in rule.event_types):
        raise ValidationError(
            f"a rule on {QUEUE_WAIT} needs queue_wait_seconds: how long the oldest ready "
            "task may wait before the alert"
        )


class AlertConfigError(ValidationError):
    """A rule names a target this server cannot reach (e.g. email without SMTP)."""


def _data(event: Event) -> dict[str, object]:
    data: dict[str, object] = dict(event.data or {})
    if event.task_id is not None:
        data.setdefault("task_id", event.task_id)
    if event.agent_id is not None:
        data.setdefault("agent_id", event.agent_id)
    return data
