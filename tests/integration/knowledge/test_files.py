"""The offline sources: a directory of text, Markdown, HTML and feed files, and a feed
file given as the URL of an RSS source."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from imperium.adapters.knowledge.feeds import FeedConnector, file_roots
from imperium.adapters.knowledge.files import FilesConnector
from imperium.adapters.knowledge.http import WebClient
from imperium.domain.knowledge import IngestStatus, Source, SourceKind, SourceState
from imperium.services.knowledge.ports import FetchOutcome
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
    outcome = await FilesConnector(Clock(), file_roots([tmp_path])).fetch(
        source, SourceState("docs"), [], 1
    )
    assert outcome.status is IngestStatus.OK
    titles = sorted(i.title for i in outcome.items)
    assert titles == ["Asyncio task groups", "Connection pools in SQLAlchemy", "Leases", "Pools"]
    assert outcome.skipped_items == 2  # the empty file, the feed item without a link
    notes = next(i for i in outcome.items if i.title == "Leases")
    assert notes.url == (tmp_path / "notes.md").resolve().as_uri()
    assert outcome.state.last_run_at == 5.0


async def test_a_missing_path_fails_with_the_reason(tmp_path: Path) -> None:
    source = Source("docs", SourceKind.FILES, str(tmp_path / "nowhere"))
    outcome = await FilesConnector(Clock(), file_roots([tmp_path])).fetch(
        source, SourceState("docs"), [], 10
    )
    assert outcome.status is IngestStatus.FAILED
    assert "no file or directory" in (outcome.error or "")


async def read_feed_file(tmp_path: Path, feed_text: str) -> FetchOutcome:
    """What an RSS source reading ``feed_text`` from a file brings back."""
    (tmp_path / "feed.xml").write_text(feed_text)
    web = WebClient(Clock())
    try:
        feed = Source("f", SourceKind.RSS, (tmp_path / "feed.xml").as_uri())
        return await FeedConnector(web, file_roots([tmp_path])).fetch(
            feed, SourceState("f"), [], 10
        )
    finally:
        await web.close()


async def test_a_feed_file_as_an_rss_source(tmp_path: Path) -> None:
    outcome = await read_feed_file(tmp_path, RSS)
    assert outcome.status is IngestStatus.OK
    assert len(outcome.items) == 2


@pytest.mark.parametrize("url", ["/proc/self/environ", "file:///proc/self/environ", "/dev/zero"])
async def test_system_paths_are_never_read(tmp_path: Path, url: str) -> None:
    everything = file_roots(["/"])
    files = Source("env", SourceKind.FILES, url)
    outcome = await FilesConnector(Clock(), everything).fetch(files, SourceState("env"), [], 10)
    assert outcome.status is IngestStatus.FAILED
    assert "system path" in (outcome.error or "")
    assert outcome.items == []
    web = WebClient(Clock())
    try:
        feed = Source("env", SourceKind.RSS, url)
        read = await FeedConnector(web, everything).fetch(feed, SourceState("env"), [], 10)
    finally:
        await web.close()
    assert read.status is IngestStatus.FAILED
    assert "system path" in (read.error or "")


async def test_only_files_under_the_roots_are_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nthe database password")
    (root / "ok.md").write_text("# Kept\n\nA note inside the root.")
    (root / "link.md").symlink_to(outside / "secret.md")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe.md")  # nothing writes it: reading it would hang the ingest
    (outside / "feed.xml").write_text(RSS)
    roots = file_roots([root])
    docs = Source("docs", SourceKind.FILES, str(root))
    outcome = await asyncio.wait_for(
        FilesConnector(Clock(), roots).fetch(docs, SourceState("docs"), [], 10), timeout=10
    )
    assert [i.title for i in outcome.items] == ["Kept"]  # no symlink followed, no FIFO read
    for url in (str(outside), str(root / "link.md"), str(root / "linked-dir"), "/etc/hostname"):
        source = Source("x", SourceKind.FILES, url)
        refused = await FilesConnector(Clock(), roots).fetch(source, SourceState("x"), [], 10)
        assert refused.status is IngestStatus.FAILED
        assert "IMPERIUM_KNOWLEDGE_FILE_ROOTS" in (refused.error or ""), url
    pipe = Source("p", SourceKind.RSS, str(root / "pipe.md"))
    web = WebClient(Clock())
    try:
        fifo = await asyncio.wait_for(
            FeedConnector(web, roots).fetch(pipe, SourceState("p"), [], 10), timeout=10
        )
        feed = Source("f", SourceKind.RSS, (outside / "feed.xml").as_uri())
        away = await FeedConnector(web, roots).fetch(feed, SourceState("f"), [], 10)
    finally:
        await web.close()
    assert fifo.status is IngestStatus.FAILED
    assert "not a regular file" in (fifo.error or "")
    assert away.status is IngestStatus.FAILED
    assert "IMPERIUM_KNOWLEDGE_FILE_ROOTS" in (away.error or "")


UNSAFE_LINKS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title><link>http://blog.local/</link><description>d</description>
<item><title>Script</title><link>javascript:alert(1)</link><description>one</description></item>
<item><title>Data</title><link>data:text/html,&lt;b&gt;x&lt;/b&gt;</link><description>two</description></item>
<item><title>Guid</title><link> JavaScript:alert(2)</link><guid>https://blog.local/3</guid>
<description>three</description></item>
</channel></rss>"""


async def test_a_feed_item_whose_link_is_not_http_is_kept_without_it(tmp_path: Path) -> None:
    outcome = await read_feed_file(tmp_path, UNSAFE_LINKS)
    assert [i.title for i in outcome.items] == ["Script", "Data", "Guid"]  # every item kept
    urls = [i.url for i in outcome.items]
    assert not any(u.lower().startswith(("javascript:", "data:")) for u in urls), urls
    assert urls[0].startswith("urn:imperium:feed-item:")  # an identity, no link
    assert urls[2] == "https://blog.local/3"  # the http(s) guid stands in for the link
