"""``create_app``: the API's app with the dashboard installed (what ``imperium serve``
serves). The dashboard's routes pass the API's key check (``public_routes``) because they
check their callers themselves: by session, with CSRF tokens (:mod:`.access`)."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from imperium.interfaces.api import create_app as create_api
from imperium.interfaces.dashboard import (
    agents,
    custody,
    events,
    knowledge,
    learning,
    login,
    models,
    overview,
    reports,
    stream,
    tasks,
    teams,
    workflows,
)
from imperium.interfaces.dashboard.access import SignInRequiredError
from imperium.interfaces.dashboard.pages import HERE, STATIC_PATH, finish, templates
from imperium.interfaces.dashboard.series import SeriesCache
from imperium.interfaces.dashboard.sessions import Sessions
from imperium.runtime import Imperium

ROUTERS = (
    overview.router,
    tasks.router,
    workflows.router,
    agents.router,
    learning.router,
    teams.router,
    custody.router,
    models.router,
    events.router,
    reports.router,
    knowledge.router,
    stream.router,
    login.router,
)


def create_app(runtime: Imperium, *, auth_required: bool = False) -> FastAPI:
    app = create_api(runtime, auth_required=auth_required, public_routes=public_routes())
    app.state.dashboard_sessions = Sessions()
    app.state.dashboard_series = SeriesCache()
    app.state.dashboard_templates = templates()
    app.router.routes.extend(_routes())
    app.add_exception_handler(SignInRequiredError, _sign_in)
    return app


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Assembled once per process, as the API's are (they hold nothing of an app)."""
    assembly = APIRouter()
    for router in ROUTERS:
        assembly.include_router(router)
    static = Mount(STATIC_PATH, app=StaticFiles(directory=HERE / "static"), name="dashboard_static")
    return (*assembly.routes, static)


def public_routes() -> frozenset[tuple[str, str]]:
    """(method, path template) of every dashboard route, HEAD beside each GET."""
    found: set[tuple[str, str]] = {("GET", STATIC_PATH), ("HEAD", STATIC_PATH)}
    for router in ROUTERS:
        for route in router.routes:
            methods = getattr(route, "methods", None) or set()
            path = getattr(route, "path", "")
            found |= {(method, path) for method in methods}
            if "GET" in methods:
                found.add(("HEAD", path))
    return frozenset(found)


async def _sign_in(request: Request, exc: Exception) -> Response:
    """A page sends the browser to the sign-in form (and back after); a fragment, the
    chart's data or the event stream answer 401, which the page's script turns into a
    reload (and so the form)."""
    if request.url.path.startswith("/ui/") or request.method != "GET":
        body = {"detail": "sign in to the dashboard first, at /login"}
        return finish(request, None, JSONResponse(body, status_code=401))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login?" + urlencode({"next": target})
    return finish(request, None, RedirectResponse(url, status_code=303))
