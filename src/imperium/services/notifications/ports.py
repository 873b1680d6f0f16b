"""The two ports alerting needs: where rules and attempts are kept, and how one is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.alerts import Alert, AlertRule, AlertTarget, DeliveryAttempt


class AlertStore(Protocol):
    async def save_rule(self, rule: AlertRule) -> None: ...
    async def get_rule(self, rule_id: str) -> AlertRule | None: ...
    async def list_rules(self) -> list[AlertRule]: ...
    async def delete_rule(self, rule_id: str) -> bool: ...
    async def record_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None: ...
    async def list_attempts(
        self, *, rule_id: str | None = None, limit: int = 100
    ) -> list[DeliveryAttempt]: ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one try gave: delivered, or a status code or error; ``retry_after`` when the
    receiver asked to wait; ``retryable`` False when trying again cannot help."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    retryable: bool = True


class Sender(Protocol):
    async def send(self, target: AlertTarget, alert: Alert) -> SendResult: ...
