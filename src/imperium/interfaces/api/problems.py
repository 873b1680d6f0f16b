"""Domain errors and invalid requests as RFC 9457 problem responses."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from imperium.domain.artefacts import ArtefactGoneError
from imperium.domain.auth import AuthError, ForbiddenError
from imperium.domain.errors import (
    AgentLoadError,
    ConflictError,
    ImperiumError,
    NotFoundError,
    ValidationError,
)
from imperium.services.engine.journal import (
    JournalClosedError,
    StorageUnavailableError,
    describe_storage_error,
    is_data_error,
    is_storage_failure,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
RETRY_AFTER = "2"  # seconds; the scheduler retries its writes every second

_STATUS: list[tuple[type[ImperiumError], int, str]] = [
    (AuthError, 401, "Unauthorized"),
    (ForbiddenError, 403, "Forbidden"),
    (ArtefactGoneError, 410, "Gone"),
    (NotFoundError, 404, "Not Found"),
    (ConflictError, 409, "Conflict"),
    (ValidationError, 422, "Unprocessable Content"),
    (AgentLoadError, 422, "Unprocessable Content"),
    (JournalClosedError, 503, "Service Unavailable"),
]


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def for_error(exc: ImperiumError) -> JSONResponse:
    """The problem response a domain error stands for."""
    for cls, status, title in _STATUS:
        if isinstance(exc, cls):
            response = problem(status, title, str(exc))
            if isinstance(exc, StorageUnavailableError):
                response.headers["Retry-After"] = RETRY_AFTER
            if status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="imperium"'
            return response
    return problem(400, "Bad Request", str(exc))


def _for_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImperiumError)
    return for_error(exc)


def _for_invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
    ]
    detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors)
    return problem(422, "Unprocessable Content", f"the request is invalid: {detail}", errors=errors)


def _for_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such route; see /docs for the API"
    return problem(exc.status_code, HTTPStatus(exc.status_code).phrase, detail)


def _for_storage_failure(request: Request, exc: Exception) -> JSONResponse:
    """The database did not answer (unreachable, disk full): a 503 to retry, not a 500.
    A value it refused (a NUL character in PostgreSQL text...) is the request's: 422."""
    if is_data_error(exc):
        log.info("the database refused a value of a request: %s", type(exc).__name__)
        return problem(
            422, "Unprocessable Content",
            "the database cannot store or compare a value of this request (a NUL character, "
            "a number out of range or text it cannot encode); correct it and send it again",
        )  # fmt: skip
    if not is_storage_failure(exc):
        return _for_unexpected(request, exc)
    log.warning("a request failed on the database: %s", describe_storage_error(exc))
    response = problem(503, "Service Unavailable", f"{describe_storage_error(exc)}; try again")
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def _for_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error while serving a request", exc_info=exc)
    return problem(500, "Internal Server Error", "an unexpected error occurred; see the server log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ImperiumError, _for_domain_error)
    app.add_exception_handler(RequestValidationError, _for_invalid_request)
    app.add_exception_handler(StarletteHTTPException, _for_http_error)
    # handled here rather than as unexpected errors, which Starlette re-raises after the
    # response (the connection would be dropped); the handler tells them apart by type
    for storage_error in (OSError, TimeoutError, sqlite3.DatabaseError, DBAPIError):
        app.add_exception_handler(storage_error, _for_storage_failure)
    app.add_exception_handler(Exception, _for_unexpected)
