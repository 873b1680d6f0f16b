"""RSS and Atom feeds (Medium, blogs) with feedparser, fetched with conditional requests
(``If-None-Match`` / ``If-Modified-Since`` from the last answer's ``ETag`` and
``Last-Modified``); a feed file on disk (``file://`` or a path) reads offline."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from imperium.adapters.knowledge.base import NotModified, WebConnector, epoch_of_struct
from imperium.adapters.knowledge.http import SourceError, SourceSession, WebClient
from imperium.domain.knowledge import FetchedItem, is_web_link

MAX_FEED_BYTES = 5_000_000
"""The largest feed read (a file, or an HTTP body): feedparser holds all of it in memory."""


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
    url = _web_link(entry) or _opaque_id(entry, url)
    tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    return FetchedItem(
        url=url,
        title=entry.get("title") or url,
        text=text or entry.get("title", ""),
        author=entry.get("author"),
        published_at=epoch_of_struct(entry.get("published_parsed") or entry.get("updated_parsed")),
        topic=tags[0] if len(tags) == 1 else None,
    )


def _web_link(entry: Any) -> str | None:
    """The entry's link (or its id, when that is one) if it is http(s)."""
    for value in (entry.get("link"), entry.get("id")):
        if isinstance(value, str) and is_web_link(value):
            return value.strip()
    return None


def _opaque_id(entry: Any, link: str) -> str:
    """An identifier that is no link, for an entry whose link is not http(s)
    (``javascript:``, ``data:``...): the item is kept, its link is not (the stored URL
    is the document's identity, stable across fetches)."""
    key = "\n".join(str(v) for v in (entry.get("id") or "", link, entry.get("title") or ""))
    return "urn:imperium:feed-item:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a bare path names (None for http(s))."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme in ("", None) or len(parts.scheme) == 1:  # a path (or a Windows drive)
        return Path(url).expanduser()
    return None


SYSTEM_DIRS = ("/proc", "/sys", "/dev")
"""Never read as a source, whatever the roots say (process environments, devices)."""


def file_roots(setting: str | Sequence[str | Path]) -> tuple[Path, ...]:
    """IMPERIUM_KNOWLEDGE_FILE_ROOTS (comma-separated) as resolved directories."""
    entries = setting.split(",") if isinstance(setting, str) else setting
    return tuple(Path(os.path.realpath(Path(str(e).strip()).expanduser()))
                 for e in entries if str(e).strip())  # fmt: skip


def local_refusal(url: str, roots: Sequence[Path]) -> str | None:
    """Why the file or directory ``url`` names may not be a source, or None (also None for
    a web URL): it must resolve (symlinks followed) to a place under one of ``roots``,
    never under /proc, /sys or /dev."""
    path = local_path(url)
    if path is None:
        return None
    resolved = Path(os.path.realpath(path))
    if any(resolved == Path(d) or Path(d) in resolved.parents for d in SYSTEM_DIRS):
        return f"{url} is a system path (/proc, /sys, /dev): never a knowledge source"
    if not any(resolved == root or root in resolved.parents for root in roots):
        shown = ", ".join(str(r) for r in roots) or "none configured"
        return (
            f"{url} is outside the directories local sources may read "
            f"(IMPERIUM_KNOWLEDGE_FILE_ROOTS: {shown}); put it under one of them or add one"
        )
    return None


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (never through a symlink, never a FIFO
    or a device) of at most ``max_bytes``; raises ``SourceError`` or ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError("not a regular file")
        if info.st_size > max_bytes:
            raise SourceError(f"larger than {max_bytes} bytes; split it")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            content = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(content) > max_bytes:
        raise SourceError(f"larger than {max_bytes} bytes; split it")
    return content


class FeedConnector(WebConnector):
    def __init__(
        self, web: WebClient, roots: Sequence[Path] = (), max_bytes: int = MAX_FEED_BYTES
    ) -> None:
        super().__init__(web)
        self.roots = tuple(roots)
        """Where a feed file may be (IMPERIUM_KNOWLEDGE_FILE_ROOTS)."""
        self.max_bytes = max_bytes
        """The largest feed read, from disk or from the web."""

    async def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        path = local_path(session.source.url)
        if path is not None:
            refusal = await asyncio.to_thread(local_refusal, session.source.url, self.roots)
            if refusal is not None:
                raise SourceError(refusal)
            content = await asyncio.to_thread(_read, path, self.max_bytes)
        else:
            content = await self._download(session)
        items, malformed = await asyncio.to_thread(parse_feed, content)  # off the loop
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


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        return read_regular(path, max_bytes)
    except SourceError as exc:
        raise SourceError(f"cannot read the feed file {path}: {exc}") from exc
    except OSError as exc:
        raise SourceError(f"cannot read the feed file {path}: {exc.strerror or exc}") from exc


def _first(items: list[FetchedItem], limit: int) -> Iterator[FetchedItem]:
    return iter(items[:limit])
