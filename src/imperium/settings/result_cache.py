"""The result cache's settings: which task types are cached, where, how many entries."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from imperium.domain.cache import parse_ttls
from imperium.domain.errors import ValidationError
from imperium.settings._base import SettingsBase, interval


class ResultCacheSettings(SettingsBase):
    """The cache of task results."""

    result_cache: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_RESULT_CACHE", "result_cache"),
        description="Task types whose results are cached, with the seconds an entry lives, "
        "e.g. 'product_content=3600,marketing=600'. A task of such a type with the same "
        "payload, routed to an agent with the same type and configuration, gets the stored "
        "result without running the agent. Empty: no cache.",
    )
    result_cache_url: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_RESULT_CACHE_URL", "result_cache_url"),
        description="Where cached results live: empty for the database, or a Redis URL "
        "(redis://host:6379/0, rediss://..., unix://...; needs the redis extra).",
    )
    result_cache_max_entries: int = Field(
        default=100_000,
        ge=1,
        validation_alias=AliasChoices(
            "IMPERIUM_RESULT_CACHE_MAX_ENTRIES", "result_cache_max_entries"
        ),
        description="Entries kept in the database; the purge deletes the oldest beyond it "
        "(Redis bounds itself with its maxmemory policy).",
    )
    result_cache_purge_interval: float = interval(
        "IMPERIUM_RESULT_CACHE_PURGE_INTERVAL", 300.0, "purges of expired cached results"
    )

    @field_validator("result_cache")
    @classmethod
    def _cache_ttls(cls, value: str) -> str:
        try:
            parse_ttls(value)
        except ValidationError as exc:
            raise ValueError(f"IMPERIUM_RESULT_CACHE: {exc}") from None
        return value

    @field_validator("result_cache_url")
    @classmethod
    def _cache_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "IMPERIUM_RESULT_CACHE_URL should be empty (the database) or a Redis URL "
                "such as redis://127.0.0.1:6379/0"
            )
        return value

    @property
    def result_cache_ttls(self) -> dict[str, float]:
        """Task type -> seconds a cached result of it lives (IMPERIUM_RESULT_CACHE)."""
        return parse_ttls(self.result_cache)
