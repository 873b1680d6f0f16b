"""/docs and /redoc work offline: every script, style and icon they use is served by the
app itself, from the package."""

from __future__ import annotations

import re

import httpx
import pytest

from imperium.interfaces.api import docs

REFERENCE = re.compile(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"')
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", docs.PAGES)
async def test_each_page_and_what_it_loads_is_served_by_the_app(
    memory_client: httpx.AsyncClient, page: str
) -> None:
    answer = await memory_client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    urls = REFERENCE.findall(answer.text)
    assert urls, answer.text
    assert "://" not in answer.text  # no other host, not even in a link
    for url in urls:
        assert url.startswith(f"{docs.STATIC_URL}/"), url
        asset = await memory_client.get(url)
        assert asset.status_code == 200, url
        expected = next(kind for suffix, kind in TYPES.items() if url.endswith(suffix))
        assert asset.headers["content-type"].startswith(expected), (url, asset.headers)
        assert asset.content


async def test_the_pages_point_at_the_openapi_document(memory_client: httpx.AsyncClient) -> None:
    swagger = (await memory_client.get(docs.SWAGGER_URL)).text
    assert f'data-openapi-url="{docs.OPENAPI_URL}"' in swagger
    assert f'data-oauth2-redirect-url="{docs.OAUTH2_REDIRECT_URL}"' in swagger
    assert "<title>Imperium - Swagger UI</title>" in swagger
    redoc = (await memory_client.get(docs.REDOC_URL)).text
    assert f'<redoc spec-url="{docs.OPENAPI_URL}">' in redoc
    assert (await memory_client.get(docs.OPENAPI_URL)).json()["info"]["title"] == "Imperium"


async def test_the_licences_ship_beside_the_code(memory_client: httpx.AsyncClient) -> None:
    for name in ("swagger-ui-LICENSE.txt", "swagger-ui-NOTICE.txt", "redoc-LICENSE.txt"):
        assert (docs.STATIC_DIR / name).stat().st_size > 0
    assert (await memory_client.get(f"{docs.STATIC_URL}/nothing.js")).status_code == 404


async def test_the_pages_are_not_in_the_api_document(memory_client: httpx.AsyncClient) -> None:
    paths = (await memory_client.get(docs.OPENAPI_URL)).json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
