"""A local file or directory as a source, so a new user can ingest offline: ``.txt`` and
``.md`` (title: the first heading or line), ``.html``/``.htm`` (title: ``<title>``), and
feed files (``.xml``, ``.rss``, ``.atom``). Each file's URL is its ``file://`` URI.
Every readable file is ingested (``limit`` is for web sources), up to ``MAX_FILES`` files
of at most ``MAX_BYTES`` each."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from imperium.adapters.knowledge.feeds import local_path, parse_feed
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
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        done = self._clock.now()
        root = local_path(source.url)
        if root is None or not root.exists():
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


def _with(state: SourceState, done: float, error: str | None) -> SourceState:
    return dataclasses.replace(state, last_error=error, last_run_at=done)


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    wanted = TEXT | HTML | FEEDS
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in wanted)
    return [
        p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)
    ][:MAX_FILES]


def read_file(path: Path) -> tuple[list[FetchedItem], int]:
    """The items of one file (a feed gives one per entry)."""
    if path.stat().st_size > MAX_BYTES:
        raise SourceError(f"larger than {MAX_BYTES} bytes; split it")
    suffix = path.suffix.lower()
    if suffix in FEEDS:
        return parse_feed(path.read_bytes())
    text = path.read_text(encoding="utf-8")
    if suffix in HTML:
        match = _TITLE.search(text)
        title = match.group(1).strip() if match else path.stem
    else:
        first = next((line for line in text.splitlines() if line.strip()), path.stem)
        title = first.lstrip("#").strip()
    if not text.strip():
        return [], 1
    return [FetchedItem(url=path.resolve().as_uri(), title=title, text=text)], 0
