"""``create_app``: the FastAPI application over a started runtime (no work at import)."""

from __future__ import annotations

from fastapi import FastAPI

from imperium import __version__
from imperium.interfaces.api import problems
from imperium.interfaces.api.routes import agents, health, remote, tasks, workflows
from imperium.runtime import Imperium


def create_app(runtime: Imperium) -> FastAPI:
    app = FastAPI(
        title="Imperium",
        version=__version__,
        description="Orchestration for fleets of AI agents that learns from every run.",
    )
    app.state.runtime = runtime
    problems.install(app)
    for module in (health, agents, tasks, workflows, remote):
        app.include_router(module.router)
    return app
