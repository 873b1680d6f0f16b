"""Knowledge: search the knowledge base, its trusted sources (last run, last error), the
ingestion log and whether attempts that used knowledge succeed more often. Read-only:
sources are added with ``imperium knowledge`` or the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.errors import ValidationError
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import render

router = APIRouter(include_in_schema=False)
RESULTS = 10
LOGGED = 20
IMPACT_DAYS = 30.0


@router.get("/knowledge")
async def knowledge_page(request: Request) -> Response:
    who = await viewer(request)
    kb = services_of(request.app).knowledge
    query = request.query_params.get("q", "").strip()[:1000]
    hits, error = [], None
    if query:
        try:
            hits = await kb.search(query, RESULTS)
        except ValidationError as exc:
            error = str(exc)
    sources = [(s, await kb.store.get_state(s.id)) for s in await kb.store.list_sources()]
    return render(
        request, who, "knowledge.html", query=query, hits=hits, error=error, sources=sources,
        ingests=await kb.store.list_ingests(LOGGED), documents=await kb.store.count_documents(),
        impact=await kb.impact(kb.now() - IMPACT_DAYS * 86_400), impact_days=IMPACT_DAYS,
    )  # fmt: skip
