"""The built-in agents' settings: which are registered, the files they may read, their
scheduled runs, the Sandbox's isolation, custody levels and the model keys they may use."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from imperium.settings._base import SettingsBase, interval

BUILTIN_AGENT_IDS = ("echo", "guardian", "sandbox", "conquest", "imperium", "crypto", "fraud")


class AgentSettings(SettingsBase):
    """The built-in agents and what they may do."""

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

    security_scan_interval: float = interval(
        "IMPERIUM_SECURITY_SCAN_INTERVAL", 900.0, "Guardian's scans of IMPERIUM_GUARDIAN_PATHS"
    )
    guardian_paths: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_GUARDIAN_PATHS", "guardian_paths"),
        description="Comma-separated files or directories Guardian scans on schedule.",
    )
    performance_interval: float = interval(
        "IMPERIUM_PERFORMANCE_INTERVAL", 1200.0, "Conquest's analyses of recent durations"
    )
    experiment_interval: float = interval(
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
    autoscale_interval: float = interval(
        "IMPERIUM_AUTOSCALE_INTERVAL", 5.0, "autoscaling decisions for agents' pools"
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
