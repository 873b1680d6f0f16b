"""GitHub REST API: repositories or issues found by a search query, or a repository's
releases (``params``: ``kind`` = repositories | issues | releases; ``query``, else the
topics; ``repos`` for releases). A token is optional: the name of the variable holding it
goes in ``params.token_env`` (never the token itself); only a name IMPERIUM_MODEL_KEY_ENVS
allows, and the token is sent only to api.github.com. ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` are honoured by the client (at 0 the source backs off to the reset)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from imperium.adapters.knowledge.base import WebConnector, epoch_of_iso, json_of, search_terms
from imperium.adapters.knowledge.http import SourceError, SourceSession
from imperium.domain.knowledge import FetchedItem

DEFAULT_URL = "https://api.github.com"
KINDS = ("repositories", "issues", "releases")


class GitHubConnector(WebConnector):
    secret_host = "api.github.com"

    async def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        kind = str(session.source.params.get("kind", "repositories"))
        if kind not in KINDS:
            raise SourceError(f"params.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        paths: list[tuple[str, dict[str, object], str]]
        if kind == "releases":
            paths = [(f"/repos/{r}/releases", {"per_page": min(limit, 100)}, r)
                     for r in search_terms(session.source, (), "repos")]  # fmt: skip
        else:
            paths = [(f"/search/{kind}", {"q": q, "per_page": min(limit, 100)}, q)
                     for q in search_terms(session.source, topics, "query")]  # fmt: skip
        for path, params, topic in paths:
            headers = _headers(self.secret(session))
            body = json_of(await session.get(self._url(session, path), params, headers))
            found = (
                body
                if kind == "releases"
                else body.get("items")
                if isinstance(body, dict)
                else None
            )
            if not isinstance(found, list):
                raise SourceError(f"unexpected answer from {path}: no list of items")
            for raw in found:
                item = _item(kind, raw, topic)
                if item is None:
                    session.skipped += 1
                else:
                    yield item

    def _url(self, session: SourceSession, path: str) -> str:
        return session.source.url.rstrip("/") + path


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _item(kind: str, raw: Any, topic: str) -> FetchedItem | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("html_url"), str):
        return None
    if kind == "repositories":
        title, text = raw.get("full_name"), raw.get("description") or ""
        topics = raw.get("topics") if isinstance(raw.get("topics"), list) else []
        text = f"{text}\nTopics: {', '.join(map(str, topics))}" if topics else text
        who, when = raw.get("owner"), raw.get("created_at")
    elif kind == "issues":
        title, text, who, when = (
            raw.get("title"),
            raw.get("body") or "",
            raw.get("user"),
            raw.get("created_at"),
        )
    else:
        title = raw.get("name") or raw.get("tag_name")
        text, who, when = raw.get("body") or "", raw.get("author"), raw.get("published_at")
    if not isinstance(title, str) or not isinstance(text, str) or not (title or text):
        return None
    author = who.get("login") if isinstance(who, dict) else None
    return FetchedItem(url=raw["html_url"], title=title, text=text or title, author=author,
                       published_at=epoch_of_iso(when), topic=topic)  # fmt: skip
