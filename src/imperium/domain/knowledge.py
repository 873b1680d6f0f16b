"""The knowledge base's records: trusted sources, documents, topics, the ingestion log,
search hits and the record of which documents an attempt used.

A source is trusted by being registered: connectors fetch only from its ``allowed_domains``
(the host of its own URL is always allowed). ``trust`` (0-1) weighs what it brings in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from imperium.domain.errors import ValidationError
from imperium.domain.llm import DEFAULT_KEY_ENVS, key_env_refusal

SOURCE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
MAX_DAILY_QUOTA = 1_000_000
"""The most requests a day a source may be allowed (the column is a 32-bit integer)."""
_ENV_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class SourceKind(StrEnum):
    RSS = "rss"
    """An RSS or Atom feed (Medium, blogs); ``url`` is the feed (http(s) or a file)."""
    FILES = "files"
    """A local file or directory of .txt, .md, .html and feed files (offline)."""
    STACKEXCHANGE = "stackexchange"
    """Questions with their accepted answers, by tag (``params``: site, tags)."""
    GITHUB = "github"
    """Repositories, issues or releases found by a search (``params``: query, kind)."""
    ARXIV = "arxiv"
    """Papers from the arXiv API by a search query (``params``: query)."""


class IngestStatus(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    """The server answered 304 to a conditional request: nothing new."""
    SKIPPED = "skipped"
    """Not fetched: disabled, its daily quota spent, or told to back off."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Source:
    """A trusted source in the registry."""

    id: str
    kind: SourceKind
    url: str
    trust: float = 0.5
    enabled: bool = True
    allowed_domains: tuple[str, ...] = ()
    daily_quota: int | None = None
    """Requests per UTC day (None: no limit of ours; the API's own still holds)."""
    min_interval: float = 1.0
    """Seconds between two requests to this source, however many ingests run."""
    params: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    def domains(self) -> tuple[str, ...]:
        """Hosts requests may go to: the URL's own and the allowed ones."""
        own = urlsplit(self.url).hostname
        return tuple(dict.fromkeys([*([own] if own else []), *self.allowed_domains]))


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a source remembers between ingests."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    quota_day: int | None = None
    """The UTC day number (epoch days) ``quota_used`` counts."""
    quota_used: int = 0
    backoff_until: float | None = None
    """Told by the API (Stack Exchange ``backoff``, 429 ``Retry-After``) to wait until then."""
    api_quota_remaining: int | None = None
    """What the API last said is left (``quota_remaining``, ``X-RateLimit-Remaining``)."""
    last_run_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedItem:
    """One item a connector brought back, before normalisation."""

    url: str
    title: str
    text: str
    author: str | None = None
    published_at: float | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document (``internet_learning_results``)."""

    url: str
    source_id: str
    title: str
    text: str
    """Normalised: plain text, whitespace collapsed."""
    content_hash: str
    signature: tuple[int, ...]
    """MinHash of its word shingles (near-duplicate detection)."""
    fetched_at: float
    topic: str | None = None
    author: str | None = None
    published_at: float | None = None
    relevance: float = 0.0
    novelty: float = 1.0
    learning_value: float = 0.0
    duplicates: int = 0
    """How many times the same or a near-identical document was merged into this one."""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    agent_id: str | None = None
    """None: a global topic."""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class IngestRecord:
    """One source's part of one ingest (the ingestion log)."""

    source_id: str
    started_at: float
    finished_at: float
    status: IngestStatus
    fetched: int = 0
    stored: int = 0
    merged: int = 0
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    """A search result as agents see it."""

    document_id: int
    url: str
    title: str
    source_id: str
    topic: str | None
    text: str
    score: float
    """Higher is better; comparable only within one result list."""


@dataclass(frozen=True, slots=True)
class KnowledgeUse:
    """The documents one attempt was given by a search."""

    task_id: str
    attempt: int
    agent_id: str | None
    task_type: str | None
    query: str
    document_ids: tuple[int, ...]
    used_at: float


def check_source(
    source: Source, key_envs: str = DEFAULT_KEY_ENVS, secret_host: str | None = None
) -> None:
    """Refuse a source that could not be fetched safely or sensibly (``key_envs`` and
    ``secret_host``: see :func:`secret_env_refusal`)."""
    if not source.id or set(source.id) - SOURCE_ID_CHARS or len(source.id) > 100:
        raise ValidationError(
            "a source id is 1-100 characters of a-z, 0-9, '-', '_' and '.', e.g. 'python-blog'"
        )
    if not 0.0 <= source.trust <= 1.0:
        raise ValidationError(f"trust must be between 0 and 1, got {source.trust}")
    if source.daily_quota is not None and not 1 <= source.daily_quota <= MAX_DAILY_QUOTA:
        raise ValidationError(
            f"daily_quota must be 1-{MAX_DAILY_QUOTA} requests (or absent: no limit)"
        )
    if source.min_interval < 0:
        raise ValidationError("min_interval must be >= 0 seconds")
    if not source.url.strip():
        raise ValidationError(f"source {source.id}: give its url (a feed, a path or an API)")
    if source.kind is not SourceKind.FILES:
        _check_web_url(source)
    refusal = secret_env_refusal(source, key_envs, secret_host)
    if refusal is not None:
        raise ValidationError(refusal)


SECRET_PARAMS = {SourceKind.GITHUB: "token_env", SourceKind.STACKEXCHANGE: "key_env"}
"""The param naming the environment variable whose value a connector sends to its API."""


def secret_env_refusal(
    source: Source, allowed: str = DEFAULT_KEY_ENVS, secret_host: str | None = None
) -> str | None:
    """Why the variable ``source`` names for its API key or token may not be read and sent,
    or None (none named, or allowed). Only names ``allowed`` (IMPERIUM_MODEL_KEY_ENVS, the
    same allow-list as the llm agents' keys) may be named, and the value goes only to the
    connector's own API host ``secret_host``. The name itself is never repeated."""
    param = SECRET_PARAMS.get(source.kind)
    name = source.params.get(param) if param else None
    if param is None or name is None or name == "":
        return None
    if not isinstance(name, str) or set(name) - _ENV_NAME_CHARS or name[0].isdigit():
        return (
            f"source {source.id}: params.{param} names an environment variable "
            "(e.g. GITHUB_API_KEY), never the key or token itself"
        )
    if key_env_refusal(name, allowed) is not None:
        return (
            f"source {source.id}: params.{param} names a variable that "
            "IMPERIUM_MODEL_KEY_ENVS does not allow (by default *_API_KEY; server settings "
            "and names with PASSWORD, SECRET or TOKEN only by exact name): its value would "
            "be sent to the source's API"
        )
    host = (urlsplit(source.url).hostname or "").lower()
    if secret_host is not None and host != secret_host.lower():
        return (
            f"source {source.id}: params.{param} is sent only to {secret_host}, the "
            f"{source.kind.value} API's own host; this source's url points to {host or 'no host'}"
        )
    return None


def _check_web_url(source: Source) -> None:
    try:
        parts = urlsplit(source.url)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 bracket
        raise ValidationError(
            f"source {source.id}: url {source.url!r} cannot be read as a URL ({exc})"
        ) from None
    if source.kind is SourceKind.RSS and parts.scheme in ("", "file"):
        return  # a feed file on disk
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"source {source.id}: url must be http(s)://host/..., got {source.url!r}"
        )
    for domain in source.allowed_domains:
        if not domain or "/" in domain or ":" in domain:
            raise ValidationError(f"allowed domain {domain!r} must be a bare host name")


def is_web_link(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host: the only links shown or followed
    (never ``javascript:``, ``data:`` or any other scheme a browser would act on)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def host_allowed(url: str, domains: tuple[str, ...]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains if d)
