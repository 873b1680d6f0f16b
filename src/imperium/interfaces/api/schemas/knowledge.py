"""Bodies of the knowledge base's routes (``/api/v1/knowledge``) and of the seed's
internet-learning and trusted-source routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imperium.domain.knowledge import MAX_DAILY_QUOTA, SourceKind, is_web_link

Query = Annotated[str, Field(min_length=1, max_length=1000)]
TopicName = Annotated[str, Field(min_length=1, max_length=200)]
SourceId = Annotated[str, Field(min_length=1, max_length=100)]


class SourceIn(BaseModel):
    """A trusted source. ``url``: a feed (http(s), ``file://`` or a path), a directory or
    file (``files``), or an API's base URL (Stack Exchange, GitHub, arXiv: the public one
    when left out). ``params``: ``tags`` and ``site`` (Stack Exchange), ``query``, ``kind``,
    ``repos``, ``token_env`` (GitHub), ``query`` (arXiv)."""

    model_config = ConfigDict(extra="forbid")

    id: SourceId
    kind: SourceKind
    url: Annotated[str | None, Field(max_length=2000)] = None
    trust: Annotated[float, Field(ge=0, le=1)] = 0.5
    enabled: bool = True
    allowed_domains: Annotated[
        list[Annotated[str, Field(max_length=253)]], Field(max_length=50)
    ] = []
    daily_quota: Annotated[int | None, Field(ge=1, le=MAX_DAILY_QUOTA)] = None
    min_interval: Annotated[float, Field(ge=0, le=3600)] = 1.0
    params: dict[str, Any] = {}


class SeedSourceIn(BaseModel):
    """The seed's trusted source: a name and a URL (an RSS feed unless ``kind`` says)."""

    model_config = ConfigDict(extra="allow")

    name: SourceId | None = None
    id: SourceId | None = None
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    kind: SourceKind = SourceKind.RSS
    trust_level: Annotated[float, Field(ge=0, le=1)] = 0.5
    enabled: bool = True
    allowed_domains: Annotated[
        list[Annotated[str, Field(max_length=253)]], Field(max_length=50)
    ] = []
    daily_quota: Annotated[int | None, Field(ge=1, le=MAX_DAILY_QUOTA)] = None

    @model_validator(mode="after")
    def _named(self) -> SeedSourceIn:
        if not (self.id or self.name):
            raise ValueError("give the source an 'id' (or 'name'), e.g. 'python-blog'")
        return self


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Query
    k: Annotated[int, Field(ge=1, le=50)] = 5
    topic: TopicName | None = None
    task_id: Annotated[str | None, Field(max_length=100)] = None
    """With ``attempt``: record that this attempt used the documents found."""
    attempt: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None  # a 32-bit column
    agent_id: Annotated[str | None, Field(max_length=100)] = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> SearchIn:
        if (self.task_id is None) != (self.attempt is None):
            raise ValueError("give task_id and attempt together (or neither)")
        return self


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TopicName
    agent_id: Annotated[str | None, Field(max_length=100)] = None


class TopicsIn(BaseModel):
    """The seed's topics: replaces the global list (or one agent's)."""

    model_config = ConfigDict(extra="forbid")

    topics: Annotated[list[TopicName], Field(max_length=200)]
    agent_id: Annotated[str | None, Field(max_length=100)] = None


class IngestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_ids: Annotated[list[SourceId] | None, Field(max_length=200)] = None


class IntervalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_seconds: Annotated[float | None, Field(ge=0, le=7 * 86400)] = None
    interval_minutes: Annotated[float | None, Field(ge=0, le=7 * 1440)] = None

    @model_validator(mode="after")
    def _one(self) -> IntervalIn:
        if (self.interval_seconds is None) == (self.interval_minutes is None):
            raise ValueError("give interval_seconds or interval_minutes (0: only on demand)")
        return self

    def seconds(self) -> float:
        if self.interval_seconds is not None:
            return self.interval_seconds
        return (self.interval_minutes or 0.0) * 60


class ResultIn(BaseModel):
    """A result found elsewhere, kept like an ingested item (the seed's
    ``persistence/internet-learning-result``)."""

    model_config = ConfigDict(extra="allow")

    url: Annotated[str, Field(min_length=1, max_length=2000)]
    title: Annotated[str, Field(max_length=2000)] = ""
    content: Annotated[str | None, Field(max_length=1_000_000)] = None
    text: Annotated[str | None, Field(max_length=1_000_000)] = None
    source: SourceId = "api"
    topic: TopicName | None = None
    author: Annotated[str | None, Field(max_length=300)] = None

    @field_validator("url")
    @classmethod
    def _web_url(cls, url: str) -> str:
        if not is_web_link(url):
            raise ValueError("url must be an http(s) link (http://host/... or https://host/...)")
        return url

    @model_validator(mode="after")
    def _has_text(self) -> ResultIn:
        if not (self.content or self.text or self.title):
            raise ValueError("a result needs its content (or text, or at least a title)")
        return self
