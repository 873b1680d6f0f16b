"""The HTTP API (FastAPI): routers per resource, Pydantic schemas, problem responses.

Routes translate HTTP to calls on the runtime (engine, registry, store) and domain errors
to RFC 9457 ``application/problem+json``; they hold no business logic.
"""

from imperium.interfaces.api.app import create_app

__all__ = ["create_app"]
