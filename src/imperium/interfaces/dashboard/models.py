"""Models: every trained machine-learning model version (fraud detection, crypto
forecasts) with its evaluation on held-out data and what it was trained on, newest first,
the current version of each name marked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/models")
async def models_page(request: Request) -> Response:
    who = await viewer(request)
    found = await services_of(request.app).markets.models()
    fraud = [m for m in found if m.name == "fraud"]
    forecasts: list[dict[str, Any]] = [
        {"record": m, "model": m.metrics.get("model", {}), "naive": m.metrics.get("naive", {})}
        for m in found
        if m.name.startswith("crypto:")
    ]
    return render(request, who, "models.html", fraud=fraud, forecasts=forecasts)
