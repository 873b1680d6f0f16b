"""API keys and what each role may do.

A key reads ``imp_<id>_<secret>``: the id finds the stored key, the secret is checked
against its SHA-256 digest. Secrets are 256 random bits, so a plain digest is enough (a
slow password hash protects guessable secrets; these are not guessable), and the database
never holds a usable key.

Roles:

- ``admin``: everything;
- ``read-only``: reads (GET, HEAD and the event streams);
- ``agent``: bound to one agent id; it may register and read that agent and lease,
  heartbeat, complete and fail only that agent's tasks. An admin lists the capabilities
  the agent may offer with it; a key created without a list allows the agent's own id
  alone (what an agent registered without capabilities offers), so an agent key never
  reaches work an admin did not mean for it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from imperium.domain.errors import ImperiumError, ValidationError

KEY_PREFIX = "imp"
_KEY = re.compile(r"^imp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    READ_ONLY = "read-only"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            roles = ", ".join(r.value for r in cls)
            raise ValidationError(f"unknown role {value!r}; use one of {roles}") from None


class AuthError(ImperiumError):
    """No key, or a key that is unknown or revoked (HTTP 401)."""


class ForbiddenError(ImperiumError):
    """A valid key whose role does not allow the request (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never the secret itself, only its digest."""

    id: str
    name: str
    role: Role
    secret_hash: str
    created_at: float
    agent_id: str | None = None
    revoked_at: float | None = None
    capabilities: frozenset[str] | None = None  # agent keys: what the agent may offer

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def allowed_capabilities(self) -> frozenset[str] | None:
        """What this key's agent may offer: the admin's list, else the agent's own id;
        None (no limit) for other roles."""
        if self.role is not Role.AGENT or self.agent_id is None:
            return None
        return self.capabilities or frozenset({self.agent_id})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for."""

    key_id: str | None  # None: authentication is off (a loopback server without keys)
    role: Role
    agent_id: str | None = None
    capabilities: frozenset[str] | None = None  # None: any (every role but agent)

    @property
    def can_write(self) -> bool:
        return self.role is Role.ADMIN

    def require_agent(self, agent_id: str) -> None:
        """Refuse an agent key acting for another agent (admins act for any)."""
        if self.role is Role.AGENT and self.agent_id != agent_id:
            raise ForbiddenError(
                f"this API key belongs to agent '{self.agent_id}' and cannot act for agent "
                f"'{agent_id}'; use that agent's own key"
            )

    def require_capabilities(self, offered: Iterable[str]) -> None:
        """Refuse an agent key whose agent would offer capabilities its key does not
        allow (an agent offering them is given tasks that need them)."""
        if self.capabilities is None:
            return
        denied = sorted(set(offered) - self.capabilities)
        if denied:
            raise ForbiddenError(
                f"the API key of agent '{self.agent_id}' does not allow the capabilities "
                f"{', '.join(denied)} (it allows {', '.join(sorted(self.capabilities))}); an "
                f"admin creates a key that allows them with `imperium keys create --role "
                f"agent --agent {self.agent_id} --capability NAME` (repeat for each)"
            )


ANONYMOUS_ADMIN = Principal(key_id=None, role=Role.ADMIN)


def new_key() -> tuple[str, str, str]:
    """A fresh ``(key_id, full_key, secret_hash)``; the full key is shown once."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(text: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    match = _KEY.match(text.strip())
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, key: ApiKey) -> bool:
    return hmac.compare_digest(digest(secret), key.secret_hash)
