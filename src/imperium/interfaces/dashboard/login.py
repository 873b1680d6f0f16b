"""Signing in with an API key (when keys are in force) and out."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.auth import AuthError, ForbiddenError
from imperium.interfaces.dashboard.access import CSRF_REFUSED, form, keys_in_force, sessions_of
from imperium.interfaces.dashboard.access import sign_in as start_session
from imperium.interfaces.dashboard.pages import finish, redirect, render, set_session_cookie
from imperium.interfaces.dashboard.sessions import COOKIE, Session

router = APIRouter(include_in_schema=False)

MAX_KEY = 500


def _session(request: Request) -> tuple[Session, bool]:
    sessions = sessions_of(request)
    session = sessions.get(request.cookies.get(COOKIE), time.time())
    if session is None:
        return sessions.new(time.time()), True
    return session, False


def _safe_next(target: str | None) -> str:
    """Only a path of this server (no ``//host`` or scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form(request: Request, session: Session, new: bool, error: str = "") -> Response:
    response = render(
        request, None, "login.html", status=401 if error else 200,
        csrf_token=session.csrf, error=error, next=_safe_next(request.query_params.get("next")),
    )  # fmt: skip
    if new:
        set_session_cookie(request, response, session.id)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    if not await keys_in_force(request):
        return finish(request, None, redirect(request, None, "/"))
    session, new = _session(request)
    return _form(request, session, new)


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await form(request)
    session, new = _session(request)
    if new or not session.csrf_matches(fields.get("csrf")):
        return _form(request, session, new, CSRF_REFUSED)
    try:
        signed_in = await start_session(request, session, fields.get("key", "")[:MAX_KEY])
    except (AuthError, ForbiddenError) as exc:
        return _form(request, session, new, str(exc))
    response = redirect(request, None, _safe_next(request.query_params.get("next")))
    set_session_cookie(request, response, signed_in.id)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    csrf = (await form(request)).get("csrf")
    session, new = _session(request)
    if not new and session.csrf_matches(csrf):
        sessions_of(request).drop(session.id)
    response = redirect(request, None, "/login")
    response.delete_cookie(COOKIE, path="/")
    return response
