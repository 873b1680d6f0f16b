"""The built-in agents, the configuration they get, and the executors that run agents."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from imperium.adapters.executors.local import LocalExecutor
from imperium.adapters.executors.runtimes import RuntimeExecutor, runtime_of
from imperium.agents._file_access import database_files
from imperium.agents.loader import is_local, load_agent_class
from imperium.domain.models import AgentSpec
from imperium.ports import Executor
from imperium.settings import Settings
from imperium.wiring.process import sqlite_file

BUILTIN_AGENTS = (
    AgentSpec(
        id="echo",
        type="echo",
        capabilities=frozenset({"echo"}),
        max_concurrency=1000,
        description="Returns its payload; for smoke tests and benchmarks.",
    ),
    AgentSpec(
        id="guardian",
        type="guardian",
        capabilities=frozenset({"code_review", "security_scan"}),
        max_concurrency=2,
        description="Reviews Python code for security and quality (bandit, ruff, radon).",
    ),
    AgentSpec(
        id="sandbox",
        type="sandbox",
        capabilities=frozenset({"run_code", "run_tests"}),
        max_concurrency=2,
        description="Runs code and test suites isolated (limits, timeout, no network).",
    ),
    AgentSpec(
        id="conquest",
        type="conquest",
        capabilities=frozenset({"log_analysis", "performance_analysis"}),
        max_concurrency=4,
        description="Classifies build and test failures; analyses performance profiles.",
    ),
    AgentSpec(
        id="imperium",
        type="imperium",
        capabilities=frozenset({"learning_cycle"}),
        max_concurrency=1,
        description="Runs learning cycles: predictors, insights, agent metrics.",
    ),
    AgentSpec(
        id="crypto",
        type="crypto",
        capabilities=frozenset({"crypto_predict", "crypto_sentiment"}),
        max_concurrency=2,
        description="Crypto forecasts with intervals, backtest against naive, risk, sentiment.",
    ),
    AgentSpec(
        id="fraud",
        type="fraud",
        capabilities=frozenset({"fraud_train", "fraud_analyze"}),
        max_concurrency=4,
        description="Fraud models trained and evaluated on held-out data; explained scores.",
    ),
)


FILE_AGENTS = ("guardian", "conquest", "sandbox")


def builtin_config(settings: Settings) -> dict[str, dict[str, object]]:
    """What the built-in agents that read files get: the directories they may read, and
    the server's own database files, which they never read (the default root, the
    directory serve runs in, holds ./imperium.db)."""
    paths = (
        *settings.split(settings.file_roots),
        *settings.split(settings.guardian_paths),
        *settings.split(settings.sandbox_experiments),
    )
    roots = sorted({str(Path(p).expanduser().resolve()) for p in paths})
    database = sqlite_file(settings.database_url)
    denied = database_files(database) if database else []
    config = {"allowed_roots": roots, "denied_files": denied}
    return {agent_type: dict(config) for agent_type in FILE_AGENTS}


def check_agent_type(
    spec: AgentSpec, default_runtime: str = "local", model_key_envs: str | None = None
) -> None:
    """Refuse an agent whose code cannot be found here, or whose runtime is unknown or
    not installed (ray without the ray extra), or whose config its class refuses (the llm
    agent: a key in the config, an api_key_env IMPERIUM_MODEL_KEY_ENVS does not allow)."""
    if is_local(spec.type):
        runtime_of(spec, default_runtime)
        check_config = getattr(load_agent_class(spec.type), "check_config", None)
        if callable(check_config):  # e.g. the llm agent's backend fields
            check_config(spec.config, key_envs=model_key_envs)


def agent_checker(settings: Settings) -> Callable[[AgentSpec], None]:
    return functools.partial(
        check_agent_type,
        default_runtime=settings.default_runtime,
        model_key_envs=settings.model_key_envs,
    )


def make_executor(settings: Settings, local: LocalExecutor) -> RuntimeExecutor:
    """In-process agents run here or on Ray (runtime in their config, else the default)."""

    def make_ray() -> Executor:
        from imperium.adapters.executors.ray import RayExecutor  # its module imports no Ray

        return RayExecutor(settings.ray_address, settings.ray_num_cpus)

    return RuntimeExecutor(local, make_ray, settings.default_runtime)
