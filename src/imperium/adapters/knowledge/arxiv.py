"""arXiv API (its Atom feed, parsed with feedparser): papers matching ``params.query``
(else each topic, as ``all:"topic"``), newest first. arXiv asks for 3 seconds between
calls: the connector never goes faster, whatever the source's ``min_interval``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from imperium.adapters.knowledge.base import WebConnector, search_terms
from imperium.adapters.knowledge.feeds import parse_feed
from imperium.adapters.knowledge.http import SourceSession
from imperium.domain.knowledge import FetchedItem

DEFAULT_URL = "https://export.arxiv.org/api"
DELAY = 3.0


class ArxivConnector(WebConnector):
    min_interval = DELAY

    async def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        for query in search_terms(session.source, topics, "query"):
            search = query if ":" in query else f'all:"{query}"'
            params = {"search_query": search, "start": 0, "max_results": min(limit, 100),
                      "sortBy": "submittedDate", "sortOrder": "descending"}  # fmt: skip
            response = await session.get(session.source.url.rstrip("/") + "/query", params)
            items, malformed = await asyncio.to_thread(parse_feed, response.content)
            session.skipped += malformed
            for item in items:
                yield FetchedItem(item.url, item.title, item.text, item.author,
                                  item.published_at, topic=query)  # fmt: skip
