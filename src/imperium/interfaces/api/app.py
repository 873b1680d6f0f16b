"""``create_app``: the FastAPI application over a started runtime (no work at import)."""

from __future__ import annotations

from fastapi import FastAPI

from imperium import __version__
from imperium.interfaces.api import problems
from imperium.interfaces.api.routes import health
from imperium.runtime import Imperium


def create_app(runtime: Imperium) -> FastAPI:
    app = FastAPI(
        title="Imperium",
        version=__version__,
        description="Orchestration for fleets of AI agents that learns from every run.",
    )
    app.state.runtime = runtime
    problems.install(app)
    app.include_router(health.router)
    return app
