"""One connector per kind of source, over one ``WebClient``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imperium.adapters.knowledge import arxiv, github, stackexchange
from imperium.adapters.knowledge.arxiv import ArxivConnector
from imperium.adapters.knowledge.feeds import FeedConnector
from imperium.adapters.knowledge.files import FilesConnector
from imperium.adapters.knowledge.github import GitHubConnector
from imperium.adapters.knowledge.http import WebClient
from imperium.adapters.knowledge.stackexchange import StackExchangeConnector
from imperium.domain.knowledge import SourceKind
from imperium.domain.llm import DEFAULT_KEY_ENVS
from imperium.services.knowledge.ports import Connector

DEFAULT_URLS = {
    SourceKind.STACKEXCHANGE: stackexchange.DEFAULT_URL,
    SourceKind.GITHUB: github.DEFAULT_URL,
    SourceKind.ARXIV: arxiv.DEFAULT_URL,
}
"""The public APIs' base URLs, used when a source is added without one."""


def connectors(
    web: WebClient, key_envs: str = DEFAULT_KEY_ENVS, roots: Sequence[Path] = ()
) -> dict[SourceKind, Connector]:
    """``key_envs``: IMPERIUM_MODEL_KEY_ENVS, the variables a source may name for its key;
    ``roots``: IMPERIUM_KNOWLEDGE_FILE_ROOTS, where local sources may read."""
    return {
        SourceKind.RSS: FeedConnector(web, roots),
        SourceKind.FILES: FilesConnector(web.clock, roots),
        SourceKind.STACKEXCHANGE: StackExchangeConnector(web, key_envs),
        SourceKind.GITHUB: GitHubConnector(web, key_envs),
        SourceKind.ARXIV: ArxivConnector(web),
    }
