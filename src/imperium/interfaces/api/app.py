"""``create_app``: the FastAPI application over a started runtime (no work at import)."""

from __future__ import annotations

import functools

from fastapi import Depends, FastAPI
from starlette.routing import BaseRoute

from imperium import __version__
from imperium.interfaces.api import docs, middleware, problems
from imperium.interfaces.api.auth import (
    PUBLIC_ROUTES,
    Gate,
    authorize,
    document,
    redact_keys_in_server_logs,
)
from imperium.interfaces.api.deps import ApiServices
from imperium.interfaces.api.metrics import ApiMetrics, HttpMetricsMiddleware
from imperium.interfaces.api.routes import (
    agents,
    alerts,
    artefacts,
    crypto,
    custody,
    events_ws,
    fraud,
    health,
    imperium_seed,
    intelligence,
    internet_learning,
    knowledge,
    l20,
    learning,
    metrics,
    orchestrate,
    remote,
    reports,
    swarm,
    tasks,
    teams,
    usage,
    workflows,
)
from imperium.runtime import Imperium


def create_app(
    runtime: Imperium,
    *,
    auth_required: bool = False,
    public_routes: frozenset[tuple[str, str]] = frozenset(),
) -> FastAPI:
    """The app; ``auth_required`` demands a key even when none exists yet (a server that
    listens beyond loopback), otherwise keys are required once any has been created.
    ``public_routes`` (method, path template) pass the key check: routes added later that
    check their callers themselves (the dashboard's, signed in by session)."""
    app = FastAPI(
        title="Imperium",
        version=__version__,
        description="Orchestration for fleets of AI agents that learns from every run.",
        openapi_url=docs.OPENAPI_URL,
        docs_url=None,  # FastAPI's pages load from a CDN: ours are served from the package
        redoc_url=None,
    )
    app.state.services = ApiServices.of(runtime)  # what the routes' dependencies hand out
    app.state.auth_required = auth_required
    app.state.cors_origins = frozenset(middleware.cors_origins(runtime.settings.cors_origins))
    redact_keys_in_server_logs()
    problems.install(app)
    document(app)
    app.router.routes.extend(_api_routes())
    app.router.routes.extend(docs.routes())
    middleware.install(app, runtime.settings, _gate(app, runtime, auth_required, public_routes))
    # Its bus listener holds the metrics weakly: it goes when the app does (no shutdown hook).
    app.state.metrics = ApiMetrics(runtime)
    # added last, so outermost of the middleware: refusals (401, 413, 429) are counted too
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.metrics, routes=app.router.routes)
    return app


@functools.cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, each behind :func:`authorize`, assembled once per process.

    FastAPI analyses every route's parameters and dependencies again for each app that
    includes a router (about 0.3 s for these); the routes hold nothing of an app (the
    handlers find the runtime's services through ``request.app.state``), so every app of
    the process shares them."""
    assembly = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    before = len(assembly.router.routes)
    routers = (health, metrics, agents, tasks, teams, workflows, remote, imperium_seed, events_ws)
    for module in (*routers, l20, swarm, orchestrate, learning, alerts, reports, crypto, fraud):
        assembly.include_router(module.router, dependencies=[Depends(authorize)])
    for router in (
        orchestrate.health_alias(health.health),
        learning.seed_router,
        custody.router,
        custody.proposals_router,
        usage.router,
        intelligence.router,
        intelligence.generate_router,
        artefacts.router,
        artefacts.generate_router,
        knowledge.router,
        internet_learning.router,
    ):
        assembly.include_router(router, dependencies=[Depends(authorize)])
    routes = tuple(assembly.router.routes[before:])
    for route in routes:  # build the routing tables now, not in a first request
        list(getattr(route, "effective_route_contexts", tuple)())
    return routes


def _gate(
    app: FastAPI, runtime: Imperium, auth_required: bool, extra: frozenset[tuple[str, str]]
) -> Gate:
    pages = frozenset(("GET", path) for path in (*docs.PAGES, docs.OPENAPI_URL))
    assets = frozenset((method, docs.STATIC_URL) for method in ("GET", "HEAD"))
    documentation = pages | assets
    public = PUBLIC_ROUTES | documentation if runtime.settings.public_docs else PUBLIC_ROUTES
    public |= extra
    gate = Gate(runtime.keys, auth_required, app.state.cors_origins, public, documentation)
    app.state.gate = gate  # for :func:`authorize`
    return gate
