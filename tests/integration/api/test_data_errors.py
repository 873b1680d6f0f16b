"""A value the database cannot hold (a NUL character in PostgreSQL text) is the request's
fault: a 422 problem, never the 503 "database unreachable" of an outage."""

from __future__ import annotations

import httpx
import sqlalchemy.exc

from imperium.services.engine.journal import is_data_error, is_storage_failure
from tests.integration.api.conftest import problem


async def test_a_nul_in_a_path_or_query_is_never_an_outage(client: httpx.AsyncClient) -> None:
    for path, params in [
        ("/api/v1/tasks/a%00b", None),
        ("/api/v1/knowledge/sources/a%00b", None),
        ("/api/v1/knowledge/search", {"q": "a\x00b"}),
        ("/api/v1/knowledge/documents", {"topic": "a\x00b"}),
    ]:
        answer = await client.get(path, params=params)
        assert answer.status_code in (200, 404, 422), (path, answer.status_code, answer.text)
        if answer.status_code == 422:
            problem(answer, 422)


class DataError(Exception):  # named as asyncpg's
    pass


class CharacterNotInRepertoireError(DataError):
    pass


class AdaptedError(Exception):  # SQLAlchemy's asyncpg adapter error, caused by the driver's
    pass


def test_a_wrapped_driver_data_error_is_no_outage() -> None:
    adapted = AdaptedError("invalid byte sequence")
    adapted.__cause__ = CharacterNotInRepertoireError(
        'invalid byte sequence for encoding "UTF8": 0x00'
    )
    wrapped = sqlalchemy.exc.DBAPIError("SELECT ...", {}, adapted)
    assert is_data_error(wrapped)
    assert not is_storage_failure(wrapped)
    gone = sqlalchemy.exc.DBAPIError("SELECT ...", {}, ConnectionRefusedError("refused"))
    assert is_storage_failure(gone)
    assert not is_data_error(gone)
