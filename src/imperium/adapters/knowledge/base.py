"""What every web connector shares: a session per fetch, items collected until the end
or the first error (kept, with the error recorded), and the outcome."""

from __future__ import annotations

import calendar
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from imperium.adapters.knowledge.http import SourceError, SourceSession, SourceSkipped, WebClient
from imperium.domain.knowledge import (
    SECRET_PARAMS,
    FetchedItem,
    IngestStatus,
    Source,
    SourceState,
    secret_env_refusal,
)
from imperium.domain.llm import DEFAULT_KEY_ENVS
from imperium.services.knowledge.ports import FetchOutcome

log = logging.getLogger(__name__)


class NotModified(Exception):  # noqa: N818 - reads naturally when raised
    """The server answered 304: the source has nothing new."""


class WebConnector:
    """Subclasses implement :meth:`items`; ``min_interval`` is the API's own pace."""

    min_interval: float = 0.0
    secret_host: str | None = None
    """The only host the source's key or token (``SECRET_PARAMS``) is sent to."""

    def __init__(
        self, web: WebClient, key_envs: str = DEFAULT_KEY_ENVS, secret_host: str | None = None
    ) -> None:
        self.web = web
        self.key_envs = key_envs
        """IMPERIUM_MODEL_KEY_ENVS: the variables a source may name for its key or token."""
        if secret_host is not None:
            self.secret_host = secret_host

    def secret(self, session: SourceSession) -> str | None:
        """The value of the variable the source names for its key or token, or None when
        it names none; a name the allow-list refuses, or a source whose URL is not the
        API's own host, fails the source without the variable being read."""
        refusal = secret_env_refusal(session.source, self.key_envs, self.secret_host)
        if refusal is not None:
            raise SourceError(refusal)
        param = SECRET_PARAMS.get(session.source.kind)
        name = session.source.params.get(param) if param else None
        return os.environ.get(name) or None if isinstance(name, str) and name else None

    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        session = self.web.session(source, state, self.min_interval)
        items: list[FetchedItem] = []
        status, error = IngestStatus.OK, None
        try:
            async for item in self.items(session, topics, limit):
                items.append(item)
                if len(items) >= limit:
                    break
        except NotModified:
            status = IngestStatus.NOT_MODIFIED
        except SourceSkipped as exc:
            status, error = IngestStatus.SKIPPED, str(exc)
        except SourceError as exc:
            status, error = IngestStatus.FAILED, str(exc)
        session.update(last_run_at=self.web.clock.now(), last_error=error)
        return FetchOutcome(status, session.state, items, error, session.skipped)

    def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        raise NotImplementedError


def json_of(response: Any) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise SourceError(f"the answer from {response.url} is not JSON") from exc


def epoch_of_struct(value: time.struct_time | None) -> float | None:
    """feedparser's UTC ``struct_time`` as epoch seconds."""
    return float(calendar.timegm(value)) if value else None


def epoch_of_iso(value: object) -> float | None:
    """An ISO 8601 time (``2024-01-02T03:04:05Z``) as epoch seconds."""
    from datetime import datetime

    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def search_terms(source: Source, topics: Sequence[str], key: str) -> list[str]:
    """What to search for: the source's own (``params[key]``) else the topics."""
    given = source.params.get(key)
    if isinstance(given, str) and given.strip():
        return [given.strip()]
    if isinstance(given, list) and given:
        return [str(g) for g in given if str(g).strip()]
    return [t for t in topics if t.strip()]
