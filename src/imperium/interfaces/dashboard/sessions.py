"""Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie, looked up in
this process's memory (so a restart signs everyone out), each with its CSRF token.

A session that signed in keeps the API key it was given, server side only: every request
authenticates it again through ``KeyService`` (cached a few seconds), so a revoked key
stops working in the dashboard as it does in the API.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "imperium_session"
TTL_SECONDS = 12 * 3600.0
MAX_SESSIONS = 10_000  # the oldest are forgotten beyond this (sessions cost a request each)


def _token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(eq=False)
class Session:
    id: str
    expires_at: float
    csrf: str = field(default_factory=_token)
    key: str | None = None
    """The API key the session signed in with (None: not signed in)."""

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


class Sessions:
    """The sessions of one app, oldest first, signed-in ones apart: a flood of visitors
    who never sign in can only push out each other, never a signed-in session."""

    def __init__(self, ttl: float = TTL_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self._ttl = ttl
        self._limit = limit
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        self._signed_in: OrderedDict[str, Session] = OrderedDict()

    def get(self, session_id: str | None, now: float) -> Session | None:
        if not session_id:
            return None
        session = self._signed_in.get(session_id) or self._anonymous.get(session_id)
        if session is not None and session.expires_at <= now:
            self.drop(session.id)
            return None
        return session

    def new(self, now: float, key: str | None = None) -> Session:
        """A new session (signing in makes one too, so a session id seen before sign-in
        never becomes a signed-in one)."""
        kept = self._anonymous if key is None else self._signed_in
        while len(kept) >= self._limit:
            kept.popitem(last=False)
        session = Session(_token(), now + self._ttl, key=key)
        kept[session.id] = session
        return session

    def drop(self, session_id: str) -> None:
        self._anonymous.pop(session_id, None)
        self._signed_in.pop(session_id, None)
