"""Who looks at the dashboard and what they may do.

Keys are in force as for the API (a server beyond loopback, or once any key exists): then
a visitor signs in once with a key (``/login``) and the session carries it. An admin key
sees and uses every button; a read-only key sees no button, and a form posted anyway is
refused (403). Agent keys cannot sign in: they are for programs leasing work. Without keys
(a loopback server, ``make run``) everyone is admin, as in the API; the API's middleware
still answers only requests addressed to a loopback name then.

Every form carries the session's CSRF token, checked before anything is done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request

from imperium.domain.auth import ANONYMOUS_ADMIN, AuthError, ForbiddenError, Principal, Role
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.sessions import COOKIE, Session, Sessions

READ_ONLY_REFUSED = "a read-only key cannot change anything; sign in with an admin key"
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_REFUSED = "the form's CSRF token is missing or stale; reload the page and try again"


class SignInRequiredError(Exception):
    """The dashboard needs a key and this session has none (or a revoked one)."""


@dataclass(frozen=True, eq=False)
class Viewer:
    """The session of a request and the principal it acts for."""

    session: Session
    principal: Principal
    keys_in_force: bool
    new_session: bool  # the response sets the cookie

    @property
    def can_write(self) -> bool:
        return self.principal.role is Role.ADMIN

    @property
    def acting_as(self) -> str:
        """Who a form acts as, as the API records it: the signed-in key, or the dashboard
        on a server without keys (a loopback address: whoever sits at the machine)."""
        key_id = self.principal.key_id
        return f"key:{key_id}" if key_id is not None else "dashboard (no keys in force)"


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.dashboard_sessions
    return sessions


async def keys_in_force(request: Request) -> bool:
    return bool(request.app.state.auth_required) or await services_of(request.app).keys.enabled()


async def viewer(request: Request) -> Viewer:
    """The request's viewer, a new session if it has none; :class:`SignInRequiredError` when
    keys are in force and the session is not signed in with a valid key."""
    now = time.time()
    sessions = sessions_of(request)
    session = sessions.get(request.cookies.get(COOKIE), now)
    new = session is None
    if session is None:
        session = sessions.new(now)
    enforced = await keys_in_force(request)
    if not enforced:
        return Viewer(session, ANONYMOUS_ADMIN, False, new)
    if session.key is None:
        raise SignInRequiredError
    try:
        principal = await services_of(request.app).keys.authenticate(session.key)
    except AuthError as exc:
        session.key = None
        raise SignInRequiredError from exc
    return Viewer(session, principal, True, new)


async def form(request: Request) -> dict[str, str]:
    """A posted form's fields (``application/x-www-form-urlencoded``, what the pages'
    forms send; the API's body limit applies), the last value of each."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPE):
        return {}
    return dict(parse_qsl((await request.body()).decode(errors="replace"), max_num_fields=20))


async def writer(request: Request) -> Viewer:
    """The viewer of a form that changes something: CSRF token first, then the role."""
    who = await viewer(request)
    csrf = (await form(request)).get("csrf")
    if who.new_session or not who.session.csrf_matches(csrf):
        raise ForbiddenError(CSRF_REFUSED)
    if not who.can_write:
        raise ForbiddenError(READ_ONLY_REFUSED)
    return who


async def sign_in(request: Request, session: Session, key: str) -> Session:
    """A new signed-in session for ``key``; :class:`AuthError` when it is not valid and
    :class:`ForbiddenError` for an agent key."""
    principal = await services_of(request.app).keys.authenticate(key.strip())
    if principal.role is Role.AGENT:
        raise ForbiddenError("an agent key cannot sign in; use an admin or read-only key")
    sessions = sessions_of(request)
    sessions.drop(session.id)
    return sessions.new(time.time(), key=key.strip())
