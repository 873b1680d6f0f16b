"""Rendering: the templates, their filters, the dashboard's Content-Security-Policy and
the session cookie. Built once per app by :func:`templates`."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from imperium.interfaces.dashboard.access import Viewer
from imperium.interfaces.dashboard.sessions import COOKIE, TTL_SECONDS

HERE = Path(__file__).parent
STATIC_PATH = "/ui/static"
# Scripts and styles only from this server's files: no inline script, handler or style
# attribute runs. connect-src 'self' covers the event stream (and same-origin WebSockets).
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
NAV = (
    ("/", "Overview"),
    ("/tasks", "Tasks"),
    ("/workflows", "Workflows"),
    ("/agents", "Agents"),
    ("/learning", "Learning"),
    ("/teams", "Teams"),
    ("/custody", "Custody"),
    ("/proposals", "Proposals"),
    ("/events", "Events"),
    ("/reports", "Reports"),
    ("/models", "Models"),
    ("/knowledge", "Knowledge"),
)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, seconds=seconds, pretty=pretty, percent=percent)
    env.globals.update(static=STATIC_PATH, nav=NAV)
    return env


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def render(
    request: Request, who: Viewer | None, name: str, status: int = 200, **context: Any
) -> Response:
    env: jinja2.Environment = request.app.state.dashboard_templates
    body = env.get_template(name).render(
        request=request,
        viewer=who,
        path=request.url.path,
        csrf=who.session.csrf if who is not None else "",
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    return finish(request, who, response)


def redirect(request: Request, who: Viewer | None, url: str) -> Response:
    return finish(request, who, RedirectResponse(url, status_code=303))


def finish(request: Request, who: Viewer | None, response: Response) -> Response:
    """The dashboard's CSP (the API's middleware adds the other security headers), no
    caching of pages, and the session cookie when the session is new."""
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    response.headers["Cache-Control"] = "no-store"
    if who is not None and who.new_session:
        set_session_cookie(request, response, who.session.id)
    return response


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(TTL_SECONDS),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
