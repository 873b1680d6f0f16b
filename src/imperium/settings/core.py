"""The core settings: the database, the engine's leases and retries, where agents run, and
what is kept (events, artefacts) and for how long."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from imperium.settings._base import SettingsBase, interval


class CoreSettings(SettingsBase):
    """Storage and the engine."""

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
    storage_outage_limit: float = Field(
        default=0.0,
        ge=0,
        validation_alias=AliasChoices("IMPERIUM_STORAGE_OUTAGE_LIMIT", "storage_outage_limit"),
        description=(
            "Seconds of failing database writes after which `imperium serve` exits (code 1) "
            "for a supervisor to restart it; 0 rides out any outage."
        ),
    )
    max_restarts: int = Field(
        default=20,
        ge=0,
        validation_alias=AliasChoices("IMPERIUM_MAX_RESTARTS", "max_restarts"),
        description=(
            "Attempts a task may lose to the scheduler's own crashes (not charged against "
            "max_attempts); one more and it ends dead."
        ),
    )
    default_runtime: Literal["local", "ray"] = Field(
        default="local",
        validation_alias=AliasChoices("IMPERIUM_DEFAULT_RUNTIME", "default_runtime"),
        description=(
            "Where in-process agents run unless their config says `runtime`: local (this "
            "process) or ray (the cluster IMPERIUM_RAY_ADDRESS names; extra imperium[ray])."
        ),
    )
    ray_address: str = Field(
        default="local",
        validation_alias=AliasChoices("IMPERIUM_RAY_ADDRESS", "ray_address"),
        description=(
            "The Ray cluster of agents with runtime ray: local starts one on this machine, "
            "auto joins the one started here with `ray start`, ray://host:10001 a remote one."
        ),
    )
    ray_num_cpus: int = Field(
        default=2,
        ge=1,
        validation_alias=AliasChoices("IMPERIUM_RAY_NUM_CPUS", "ray_num_cpus"),
        description="CPUs a local Ray instance (IMPERIUM_RAY_ADDRESS=local) may use.",
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

    cleanup_interval: float = interval(
        "IMPERIUM_CLEANUP_INTERVAL", 86400.0, "deleting events older than the retention"
    )

    log_retention_days: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_LOG_RETENTION_DAYS", "log_retention_days"),
        description="learning_logs rows (events) older than this are deleted by the cleanup.",
    )

    artefact_dir: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_ARTEFACT_DIR", "artefact_dir"),
        description="Directory of generated images and videos (artefacts). Empty: "
        "'artefacts' beside the SQLite database file, else ./artefacts. With several "
        "servers on one PostgreSQL database it must be a shared volume.",
    )
    artefact_max_age_days: float = Field(
        default=7.0,
        ge=0,
        validation_alias=AliasChoices("IMPERIUM_ARTEFACT_MAX_AGE_DAYS", "artefact_max_age_days"),
        description="Artefacts older than this are removed (downloads then answer 410); 0: "
        "no age limit.",
    )
    artefact_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        validation_alias=AliasChoices("IMPERIUM_ARTEFACT_MAX_BYTES", "artefact_max_bytes"),
        description="Total size the artefacts may take; beyond, the oldest are removed; 0: "
        "no size limit.",
    )
    artefact_retention_interval: float = interval(
        "IMPERIUM_ARTEFACT_RETENTION_INTERVAL",
        3600.0,
        "applications of the artefacts' retention limit (it is also applied on every write)",
    )

    @property
    def artefact_path(self) -> str:
        """``artefact_dir``, or its default beside the SQLite file (./artefacts otherwise)."""
        if self.artefact_dir.strip():
            return self.artefact_dir.strip()
        url = self.database_url
        if url.startswith("sqlite") and "///" in url:
            path = url.split("///", 1)[1].split("?", 1)[0]
            if path and path != ":memory:":
                return os.path.join(os.path.dirname(path) or ".", "artefacts")
        return os.path.join(".", "artefacts")
