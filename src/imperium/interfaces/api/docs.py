"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
with their code and styles from the package (``static/docs``), never from a CDN: the
machine may be offline, and the pages' CSP (``middleware.DOCS_CSP``) allows only this
server. FastAPI's own pages load them from jsDelivr and start Swagger UI from an inline
script; these pages start it from a static file, reading their settings from ``data-``
attributes, so the CSP needs no ``'unsafe-inline'`` for scripts."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

OPENAPI_URL = "/openapi.json"
SWAGGER_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"
PAGES = (SWAGGER_URL, REDOC_URL, OAUTH2_REDIRECT_URL)  # HTML, under DOCS_CSP
STATIC_DIR = Path(__file__).parent / "static" / "docs"
# pinned: see static/docs/README.md for where each file comes from and how to upgrade
SWAGGER_JS = f"{STATIC_URL}/swagger-ui-bundle-5.36.0.js"
SWAGGER_CSS = f"{STATIC_URL}/swagger-ui-5.36.0.css"
SWAGGER_INIT = f"{STATIC_URL}/swagger-init.js"
SWAGGER_OAUTH2 = f"{STATIC_URL}/swagger-ui-oauth2-redirect-5.36.0.js"
REDOC_JS = f"{STATIC_URL}/redoc-2.5.4.standalone.js"
FAVICON = f"{STATIC_URL}/favicon-32x32.png"

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" type="image/png" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}" data-oauth2-redirect-url="{oauth2}"></div>
<script src="{js}"></script>
<script src="{init}"></script>
</body>
</html>
"""
REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" href="{favicon}">
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{js}"></script>
</body>
</html>
"""
OAUTH2_REDIRECT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 redirect</title></head>
<body>
<script src="{js}"></script>
</body>
</html>
"""


@functools.cache
def routes() -> tuple[BaseRoute, ...]:
    """The pages and their static files, assembled once per process (they hold nothing of
    an app: the title is read from the request's)."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route(SWAGGER_URL, _swagger, methods=["GET"])
    router.add_api_route(REDOC_URL, _redoc, methods=["GET"])
    router.add_api_route(OAUTH2_REDIRECT_URL, _oauth2_redirect, methods=["GET"])
    static = Mount(STATIC_URL, app=StaticFiles(directory=STATIC_DIR), name="docs_static")
    return (*router.routes, static)


async def _swagger(request: Request) -> HTMLResponse:
    page = SWAGGER_PAGE.format(
        title=_title(request),
        favicon=FAVICON,
        css=SWAGGER_CSS,
        js=SWAGGER_JS,
        init=SWAGGER_INIT,
        openapi=OPENAPI_URL,
        oauth2=OAUTH2_REDIRECT_URL,
    )
    return HTMLResponse(page)


async def _redoc(request: Request) -> HTMLResponse:
    page = REDOC_PAGE.format(
        title=_title(request), favicon=FAVICON, js=REDOC_JS, openapi=OPENAPI_URL
    )
    return HTMLResponse(page)


async def _oauth2_redirect() -> HTMLResponse:
    return HTMLResponse(OAUTH2_REDIRECT_PAGE.format(js=SWAGGER_OAUTH2))


def _title(request: Request) -> str:
    return html.escape(str(request.app.title))
