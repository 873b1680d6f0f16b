"""Settings, read once at start from the environment (and ``.env``) and passed down.

Names follow the seeds where they exist (``DATABASE_URL``, ``LOG_LEVEL``); Imperium's own
settings carry the ``IMPERIUM_`` prefix. Every field here is read by some code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///./imperium.db",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level")
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="NORMAL",
        validation_alias=AliasChoices("IMPERIUM_SQLITE_SYNCHRONOUS", "sqlite_synchronous"),
        description="NORMAL survives a killed process; FULL also survives a power cut.",
    )
    lease_seconds: float = Field(
        default=15.0,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_LEASE_SECONDS", "lease_seconds"),
        description="How long a lease lasts without a heartbeat before the task is re-queued.",
    )
    lock_ttl_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_LOCK_TTL_SECONDS", "lock_ttl_seconds"),
        description="How long the scheduler lock outlives a scheduler that stopped renewing.",
    )
    poll_interval: float = Field(
        default=0.25,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_POLL_INTERVAL", "poll_interval"),
        description="How often the scheduler looks for work written by other processes.",
    )
    drain_seconds: float = Field(
        default=10.0,
        ge=0,
        validation_alias=AliasChoices("IMPERIUM_DRAIN_SECONDS", "drain_seconds"),
        description="On shutdown, how long running work may finish before it is re-queued.",
    )
    retry_base_seconds: float = Field(
        default=1.0, ge=0, validation_alias=AliasChoices("IMPERIUM_RETRY_BASE", "retry_base")
    )
    retry_cap_seconds: float = Field(
        default=300.0, ge=0, validation_alias=AliasChoices("IMPERIUM_RETRY_CAP", "retry_cap")
    )

    @field_validator("log_level", "sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    builtin_agents: bool = Field(
        default=True,
        validation_alias=AliasChoices("IMPERIUM_BUILTIN_AGENTS", "builtin_agents"),
        description="Register the built-in agents (echo) at start if they are missing.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_MAX_BODY_BYTES", "max_body_bytes"),
        description="Largest HTTP request body accepted; larger ones are answered 413.",
    )
    rate_limits: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_RATE_LIMITS", "rate_limits"),
        description="'off', or entries over the built-in table, e.g. "
        "'default=100/minute;native=6000/minute;/api/v1/l20/strategize=10/minute'.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        validation_alias=AliasChoices("IMPERIUM_RATE_LIMIT_STORAGE", "rate_limit_storage"),
        description="Where rate-limit counters live: memory:// (one process) or redis://...",
    )
    cors_origins: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_CORS_ORIGINS", "cors_origins"),
        description="Comma-separated origins browsers may call the API from ('*': any).",
    )
