"""RSS and Atom feeds (Medium, blogs) with feedparser, fetched with conditional requests
(``If-None-Match`` / ``If-Modified-Since`` from the last answer's ``ETag`` and
``Last-Modified``); a feed file on disk (``file://`` or a path) reads offline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from imperium.adapters.knowledge.base import NotModified, WebConnector, epoch_of_struct
from imperium.adapters.knowledge.http import SourceError, SourceSession
from imperium.domain.knowledge import FetchedItem


def parse_feed(content: bytes) -> tuple[list[FetchedItem], int]:
    """The feed's entries as items, and how many were malformed (no link or no text).
    Bytes, never a URL: feedparser fetches URLs itself, bypassing every limit here."""
    import feedparser

    parsed = feedparser.parse(content)
    if parsed.get("bozo") and not parsed.entries:
        raise SourceError(f"not a readable RSS or Atom feed: {parsed.get('bozo_exception')}")
    items, malformed = [], 0
    for entry in parsed.entries:
        item = _item(entry)
        if item is None:
            malformed += 1
        else:
            items.append(item)
    return items, malformed


def _item(entry: Any) -> FetchedItem | None:
    url = entry.get("link") or entry.get("id")
    content = entry.get("content") or []
    text = content[0].get("value", "") if content else entry.get("summary", "")
    if not url or not isinstance(url, str) or not (text or entry.get("title")):
        return None
    tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    return FetchedItem(
        url=url,
        title=entry.get("title") or url,
        text=text or entry.get("title", ""),
        author=entry.get("author"),
        published_at=epoch_of_struct(entry.get("published_parsed") or entry.get("updated_parsed")),
        topic=tags[0] if len(tags) == 1 else None,
    )


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a bare path names (None for http(s))."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme in ("", None) or len(parts.scheme) == 1:  # a path (or a Windows drive)
        return Path(url).expanduser()
    return None


class FeedConnector(WebConnector):
    async def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        path = local_path(session.source.url)
        if path is not None:
            content = _read(path)
        else:
            content = await self._download(session)
        items, malformed = parse_feed(content)
        session.skipped += malformed
        for item in _first(items, limit):
            yield item

    async def _download(self, session: SourceSession) -> bytes:
        headers = {
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
        }
        if session.state.etag:
            headers["If-None-Match"] = session.state.etag
        if session.state.last_modified:
            headers["If-Modified-Since"] = session.state.last_modified
        response = await session.get(session.source.url, headers=headers)
        if response.status_code == 304:
            raise NotModified
        session.update(
            etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified")
        )
        return response.content


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read the feed file {path}: {exc.strerror or exc}") from exc


def _first(items: list[FetchedItem], limit: int) -> Iterator[FetchedItem]:
    return iter(items[:limit])
