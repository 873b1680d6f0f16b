"""The result cache's vocabulary: which task types opt in, the key of a result, and what
an entry and the counters hold.

A key is the sha256 of the task type, the payload as canonical JSON (sorted keys, no
whitespace) and the version of the configuration of the agent that would run the task.
An agent's configuration version is a hash of its type and its configuration, leaving out
what only says how much it may run (``budget``, ``autoscale``): a changed prompt, model or
endpoint is a new version, so results made under the old one are never served for it.
Pure standard library.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.models import JSON, AgentSpec

SCHEDULING_KEYS = frozenset({"budget", "autoscale"})
"""Agent config fields that say how much the agent may run, not what it produces."""

MAX_TTL = 365 * 24 * 3600.0


def canonical_json(value: JSON) -> str:
    """``value`` as JSON with sorted keys and no whitespace: equal values, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_version(spec: AgentSpec) -> str:
    """A short hash of the agent's type and its configuration (see the module's doc)."""
    config = {k: v for k, v in spec.config.items() if k not in SCHEDULING_KEYS}
    text = canonical_json({"type": spec.type, "config": config})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(task_type: str, payload: JSON, version: str) -> str:
    """The key of the result of ``payload`` as a task of ``task_type`` on an agent whose
    configuration version is ``version``."""
    digest = hashlib.sha256()
    for part in (task_type, canonical_json(payload), version):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def parse_ttls(text: str) -> dict[str, float]:
    """``"product_content=3600,marketing=600"`` -> task type -> seconds an entry lives.
    A malformed part raises ValidationError saying what it should look like."""
    ttls: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, seconds = (s.strip() for s in part.partition("="))
        try:
            ttl = float(seconds)
        except ValueError:
            ttl = float("nan")
        if not sep or not name or not 0 < ttl <= MAX_TTL:
            raise ValidationError(
                f"{part!r} should look like task_type=seconds, e.g. 'product_content=3600' "
                f"(seconds > 0 and at most {MAX_TTL:.0f}, a year)"
            )
        if name in ttls:
            raise ValidationError(f"task type {name!r} is named twice")
        ttls[name] = ttl
    return ttls


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A stored result: what a successful attempt produced, and what it cost."""

    key: str
    task_type: str
    agent_id: str | None
    config_version: str
    result: JSON
    tokens: int | None
    cost: float | None
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A task type's lookups: hits, misses, and the tokens and cost the hits saved (the
    tokens and cost of the attempt whose result each hit served)."""

    task_type: str
    hits: int = 0
    misses: int = 0
    tokens_saved: int = 0
    cost_saved: float = 0.0

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


def total(stats: list[CacheStats]) -> CacheStats:
    """Every task type's figures summed (``task_type`` is empty)."""
    return CacheStats(
        "",
        sum(s.hits for s in stats),
        sum(s.misses for s in stats),
        sum(s.tokens_saved for s in stats),
        sum(s.cost_saved for s in stats),
    )
