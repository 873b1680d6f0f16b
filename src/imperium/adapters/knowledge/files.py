"""A local file or directory as a source, so a new user can ingest offline: ``.txt`` and
``.md`` (title: the first heading or line), ``.html``/``.htm`` (title: ``<title>``), and
feed files (``.xml``, ``.rss``, ``.atom``). Each file's URL is its ``file://`` URI.
Every readable file is ingested (``limit`` is for web sources), up to ``MAX_FILES`` files
of at most ``MAX_BYTES`` each. The source must resolve to a place under one of the roots
(IMPERIUM_KNOWLEDGE_FILE_ROOTS), never /proc, /sys or /dev; inside, symlinks and anything
but regular files (FIFOs, sockets, devices) are skipped."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from imperium.adapters.knowledge.feeds import local_path, local_refusal, parse_feed, read_regular
from imperium.adapters.knowledge.http import SourceError
from imperium.domain.knowledge import FetchedItem, IngestStatus, Source, SourceState
from imperium.ports import Clock
from imperium.services.knowledge.ports import FetchOutcome

TEXT = frozenset({".txt", ".md", ".markdown", ".rst"})
HTML = frozenset({".html", ".htm"})
FEEDS = frozenset({".xml", ".rss", ".atom"})
MAX_FILES = 10_000
MAX_BYTES = 2_000_000
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class FilesConnector:
    def __init__(self, clock: Clock, roots: Sequence[Path] = ()) -> None:
        self._clock = clock
        self.roots = tuple(roots)
        """The only directories read (IMPERIUM_KNOWLEDGE_FILE_ROOTS, resolved)."""

    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        done = self._clock.now()
        refusal = await asyncio.to_thread(local_refusal, source.url, self.roots)
        if refusal is not None:
            return FetchOutcome(IngestStatus.FAILED, _with(state, done, refusal), error=refusal)
        root = await asyncio.to_thread(_existing, source.url)
        if root is None:
            missing = f"no file or directory at {source.url}"
            return FetchOutcome(IngestStatus.FAILED, _with(state, done, missing), error=missing)
        items, skipped, problems = await asyncio.to_thread(_read_all, root)  # off the loop
        error: str | None = "; ".join(problems[:5]) or None
        return FetchOutcome(IngestStatus.OK, _with(state, done, error), items, error, skipped)


def _read_all(root: Path) -> tuple[list[FetchedItem], int, list[str]]:
    items: list[FetchedItem] = []
    skipped, problems = 0, []
    for path in _files(root):
        try:
            found, malformed = read_file(path)
        except (OSError, UnicodeDecodeError, SourceError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        items.extend(found)
        skipped += malformed
    return items, skipped, problems


def _existing(url: str) -> Path | None:
    """The resolved file or directory ``url`` names, if it exists."""
    given = local_path(url)
    root = Path(os.path.realpath(given)) if given is not None else None
    return root if root is not None and root.exists() else None


def _with(state: SourceState, done: float, error: str | None) -> SourceState:
    return dataclasses.replace(state, last_error=error, last_run_at=done)


def _files(root: Path) -> list[Path]:
    """The regular files under ``root`` with a known suffix, hidden ones left out; symlinks
    are neither followed nor read (they could lead out of the roots), nor are FIFOs,
    sockets or devices."""
    if not root.is_dir():
        return [root]  # read_file refuses it unless it is a regular file
    wanted = TEXT | HTML | FEEDS
    found: list[Path] = []
    for top, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(top) / name
            if name.startswith(".") or path.suffix.lower() not in wanted:
                continue
            if stat.S_ISREG(path.lstat().st_mode):
                found.append(path)
    return sorted(found)[:MAX_FILES]


def read_file(path: Path) -> tuple[list[FetchedItem], int]:
    """The items of one file (a feed gives one per entry); only a regular file, opened
    without following a symlink, of at most ``MAX_BYTES``."""
    content = read_regular(path, MAX_BYTES)
    suffix = path.suffix.lower()
    if suffix in FEEDS:
        return parse_feed(content)
    text = content.decode("utf-8")
    if suffix in HTML:
        match = _TITLE.search(text)
        title = match.group(1).strip() if match else path.stem
    else:
        first = next((line for line in text.splitlines() if line.strip()), path.stem)
        title = first.lstrip("#").strip()
    if not text.strip():
        return [], 1
    return [FetchedItem(url=path.resolve().as_uri(), title=title, text=text)], 0
