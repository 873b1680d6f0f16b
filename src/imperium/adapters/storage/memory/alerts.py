"""``MemoryAlertStore``: the alert store in memory (unit tests, ``MemoryStore`` runtimes)."""

from __future__ import annotations

from collections.abc import Sequence

from imperium.domain.alerts import AlertRule, DeliveryAttempt


class MemoryAlertStore:
    def __init__(self) -> None:
        self.rules: dict[str, AlertRule] = {}
        self.attempts: list[DeliveryAttempt] = []

    async def save_rule(self, rule: AlertRule) -> None:
        self.rules[rule.id] = rule

    async def get_rule(self, rule_id: str) -> AlertRule | None:
        return self.rules.get(rule_id)

    async def list_rules(self) -> list[AlertRule]:
        return sorted(self.rules.values(), key=lambda r: (r.created_at, r.id))

    async def delete_rule(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    async def record_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None:
        self.attempts.extend(attempts)

    async def list_attempts(
        self, *, rule_id: str | None = None, limit: int = 100
    ) -> list[DeliveryAttempt]:
        chosen = [a for a in self.attempts if rule_id is None or a.rule_id == rule_id]
        return list(reversed(chosen))[:limit]
