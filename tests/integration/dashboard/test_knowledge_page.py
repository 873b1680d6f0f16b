"""The dashboard's Knowledge page in-process on SQLite: linked from the navigation, it
searches what was ingested, lists sources with their last error and the ingestion log,
escapes what documents contain, and runs no inline script."""

from __future__ import annotations

from pathlib import Path

from imperium.domain.knowledge import FetchedItem, Source, SourceKind
from imperium.runtime import Imperium
from tests.integration.dashboard.test_pages import Inline, browser


async def test_search_sources_and_log(im: Imperium, tmp_path: Path) -> None:
    (tmp_path / "leases.md").write_text("# Leases\n\nA lease expires unless renewed; 1 < 2 & 3 > 2")
    await im.knowledge.add_source(Source("notes", SourceKind.FILES, str(tmp_path)))
    await im.knowledge.add_source(Source("gone", SourceKind.FILES, str(tmp_path / "none")))
    await im.knowledge.ingest()
    async with browser(im) as http:
        assert 'href="/knowledge"' in (await http.get("/")).text
        page = await http.get("/knowledge", params={"q": "lease renewed"})
        assert page.status_code == 200
        checker = Inline()
        checker.feed(page.text)
        assert checker.problems == []
        assert "1 &lt; 2 &amp; 3 &gt; 2" in page.text  # escaped, not markup
        assert "no file or directory at" in page.text  # the failing source's error
        assert "No attempt has used the knowledge base yet." in page.text
        empty = await http.get("/knowledge", params={"q": "tomatoes"})
        assert "No document matches." in empty.text
        stop_words = await http.get("/knowledge", params={"q": "   "})
        assert stop_words.status_code == 200


async def test_only_http_links_are_clickable(im: Imperium, tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>http://blog.local/</link><description>d</description>"
        "<item><title>Scripted lease</title><link>javascript:alert(1)</link>"
        "<description>A lease expires unless renewed.</description></item>"
        "<item><title>Web lease</title><link>https://blog.local/lease</link>"
        "<description>A lease is renewed by a heartbeat.</description></item>"
        "</channel></rss>"
    )
    await im.knowledge.add_source(Source("blog", SourceKind.RSS, (tmp_path / "feed.xml").as_uri()))
    await im.knowledge.ingest()
    stored = [d.url for d in await im.knowledge.store.list_documents(10)]
    assert "javascript:alert(1)" not in stored
    # one stored before links were checked at ingest: shown, never as a link
    legacy = FetchedItem("data:text/html,<script>alert(1)</script>", "Data lease", "lease data")
    await im.knowledge.add_result("old", legacy)
    async with browser(im) as http:
        page = (await http.get("/knowledge", params={"q": "lease"})).text
    assert "Scripted lease" in page
    assert "Data lease" in page
    assert 'href="javascript:' not in page
    assert 'href="data:text' not in page
    assert 'href="https://blog.local/lease"' in page
