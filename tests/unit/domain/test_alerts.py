"""Alert rules' matching, signing, backoff and cooldown (pure)."""

from __future__ import annotations

import pytest

from imperium.domain.alerts import AlertRule, Cooldown, retry_delay, signature, verify


def rule(*types: str, cooldown: float = 60.0, enabled: bool = True) -> AlertRule:
    return AlertRule("r", "n", types, (), 0.0, cooldown_seconds=cooldown, enabled=enabled)


@pytest.mark.parametrize(
    ("patterns", "event_type", "matches"),
    [
        (("task.dead",), "task.dead", True),
        (("task.dead",), "task.succeeded", False),
        (("agent.*",), "agent.offline", True),
        (("agent.*",), "Agent.Offline", True),
        (("swarm.scaled", "learning_cycle.failed"), "learning_cycle.failed", True),
    ],
)
def test_matching(patterns: tuple[str, ...], event_type: str, matches: bool) -> None:
    assert rule(*patterns).matches(event_type) is matches


def test_a_disabled_rule_matches_nothing() -> None:
    assert not rule("*", enabled=False).matches("task.dead")


@pytest.mark.parametrize(
    ("attempt", "retry_after", "delay"),
    [(1, None, 1.0), (2, None, 2.0), (3, None, 4.0), (10, None, 30.0), (1, 7.0, 7.0),
     (3, 1.0, 4.0), (1, 999.0, 30.0)],
)  # fmt: skip
def test_retry_delay(attempt: int, retry_after: float | None, delay: float) -> None:
    assert retry_delay(attempt, base=1.0, cap=30.0, retry_after=retry_after) == delay


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"100.{}", hashlib.sha256).hexdigest()
    assert signature("k", "100", b"{}") == "sha256=" + expected
    assert verify("k", "100", b"{}", "sha256=" + expected)
    assert not verify("k", "101", b"{}", "sha256=" + expected)
    assert not verify("other", "100", b"{}", "sha256=" + expected)


def test_cooldown_per_rule_and_subject() -> None:
    cooldown, r = Cooldown(), rule("*", cooldown=60.0)
    assert cooldown.allow(r, "task:a", 0.0)
    assert not cooldown.allow(r, "task:a", 59.0)
    assert cooldown.allow(r, "task:b", 59.0)
    assert cooldown.allow(r, "task:a", 60.0)
