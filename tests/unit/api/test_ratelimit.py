"""Rate-limit rules: the built-in table, overrides, and refusing a bad setting."""

from __future__ import annotations

import pytest

from imperium.interfaces.api.ratelimit import (
    EXPECTED,
    UNMATCHED,
    RateLimitConfigError,
    method_of,
    open_limiter,
    parse_rules,
)


def per_minute(rules_text: str, template: str) -> float | None:
    rules = parse_rules(rules_text)
    assert rules is not None
    limit = rules.limit_for(template)
    return None if limit is None else limit.amount * 60 / limit.get_expiry()


BUILTIN = [
    ("/api/v1/l20/strategize", 10),
    ("/api/v1/l20/coordinate", 20),
    ("/api/v1/swarm/dispatch", 50),
    ("/api/v1/intelligence/{type}/execute", 30),
    ("/api/v1/intelligence/{intelligence_type}/execute", 30),  # any placeholder name
    ("/api/v1/l20/prioritize", 100),
    ("/api/v1/swarm/status", 100),
    ("/api/v1/orchestrate", 100),
    ("/api/v1/intelligence/list", 100),
    ("/api/imperium/agents/{agent_id}", 100),
    ("/api/custody/test/{ai_type}", 100),
    (UNMATCHED, 100),
    ("/api/v1/tasks", 6000),
    ("/api/v1/tasks/{task_id}", 6000),
    ("/api/v1/tasks/{task_id}/heartbeat", 6000),
    ("/api/v1/agents/{agent_id}/lease", 6000),
    ("/api/v1/workflows/{workflow_id}", 6000),
    ("/api/health", None),
    ("/api/database/health", 100),  # full row counts: limited like the seed's routes
    ("/metrics", None),
    ("/api/v1/health", None),
    ("/docs", None),
    ("/openapi.json", None),
]


@pytest.mark.parametrize(("template", "expected"), BUILTIN)
def test_the_builtin_table_follows_the_seed(template: str, expected: float | None) -> None:
    assert per_minute("", template) == expected


def test_entries_override_only_what_they_name() -> None:
    text = " default=3/hour ; /api/v1/l20/strategize=off;native=7/second;/api/health=2/minute;"
    assert per_minute(text, UNMATCHED) == 3 / 60
    assert per_minute(text, "/api/v1/l20/strategize") is None
    assert per_minute(text, "/api/v1/l20/coordinate") == 20
    assert per_minute(text, "/api/v1/tasks") == 7 * 60
    assert per_minute(text, "/api/health") == 2


@pytest.mark.parametrize(
    ("method", "counted_as"),
    [("GET", "GET"), ("HEAD", "HEAD"), ("DELETE", "DELETE"), ("X1", "OTHER"), ("get", "OTHER")],
)
def test_methods_outside_the_standard_ones_count_as_other(method: str, counted_as: str) -> None:
    assert method_of({"method": method}) == counted_as


@pytest.mark.parametrize("text", ["off", " OFF "])
def test_off_turns_rate_limiting_off(text: str) -> None:
    assert parse_rules(text) is None


@pytest.mark.parametrize(
    ("text", "bad_part"),
    [
        ("default=100", "default=100"),
        ("default=100/minite", "default=100/minite"),
        ("native=0/minute", "native=0/minute"),
        ("default=1/second,2/hour", "default=1/second,2/hour"),
        ("strategize=10/minute", "strategize=10/minute"),
        ("default=5/minute;oops", "oops"),
        ("default:5/minute", "default:5/minute"),
        ("/api/v1/tasks=", "/api/v1/tasks="),
    ],
)
def test_a_bad_setting_names_the_bad_part_and_the_expected_form(text: str, bad_part: str) -> None:
    with pytest.raises(RateLimitConfigError) as raised:
        parse_rules(text)
    message = str(raised.value)
    assert message.startswith(f"IMPERIUM_RATE_LIMITS: {bad_part!r} is not valid")
    assert EXPECTED in message


def test_an_unusable_storage_is_a_clear_error() -> None:
    with pytest.raises(RateLimitConfigError, match="IMPERIUM_RATE_LIMIT_STORAGE 'nope://'"):
        open_limiter("nope://")
