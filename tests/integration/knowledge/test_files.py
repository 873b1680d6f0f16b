"""The offline sources: a directory of text, Markdown, HTML and feed files, and a feed
file given as the URL of an RSS source."""

from __future__ import annotations

from pathlib import Path

from imperium.adapters.knowledge.feeds import FeedConnector
from imperium.adapters.knowledge.files import FilesConnector
from imperium.adapters.knowledge.http import WebClient
from imperium.domain.knowledge import IngestStatus, Source, SourceKind, SourceState
from tests.support.knowledge_server import RSS


class Clock:
    def now(self) -> float:
        return 5.0

    def monotonic(self) -> float:
        return 0.0


async def test_a_directory_of_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Leases\n\nA lease expires unless renewed.")
    (tmp_path / "page.html").write_text("<html><head><title>Pools</title></head><body>x</body>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "blog.rss").write_text(RSS)
    (tmp_path / "empty.txt").write_text("  ")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("secret")
    source = Source("docs", SourceKind.FILES, str(tmp_path))
    outcome = await FilesConnector(Clock()).fetch(source, SourceState("docs"), [], 1)
    assert outcome.status is IngestStatus.OK
    titles = sorted(i.title for i in outcome.items)
    assert titles == ["Asyncio task groups", "Connection pools in SQLAlchemy", "Leases", "Pools"]
    assert outcome.skipped_items == 2  # the empty file, the feed item without a link
    notes = next(i for i in outcome.items if i.title == "Leases")
    assert notes.url == (tmp_path / "notes.md").resolve().as_uri()
    assert outcome.state.last_run_at == 5.0


async def test_a_missing_path_fails_with_the_reason(tmp_path: Path) -> None:
    source = Source("docs", SourceKind.FILES, str(tmp_path / "nowhere"))
    outcome = await FilesConnector(Clock()).fetch(source, SourceState("docs"), [], 10)
    assert outcome.status is IngestStatus.FAILED
    assert "no file or directory" in (outcome.error or "")


async def test_a_feed_file_as_an_rss_source(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(RSS)
    web = WebClient(Clock())
    try:
        feed = Source("f", SourceKind.RSS, (tmp_path / "feed.xml").as_uri())
        outcome = await FeedConnector(web).fetch(feed, SourceState("f"), [], 10)
    finally:
        await web.close()
    assert outcome.status is IngestStatus.OK
    assert len(outcome.items) == 2
