"""Optional dependencies: which extra brings each one, and the error that says so.

The base install serves the API, runs the scheduler and learns from per-pair rates. The
heavier parts come with extras, ``pip install 'imperium[NAME]'`` (``all`` is every one,
``dev`` every one and the tools to test and lint):

- ``guardian``: bandit, radon and ruff, the Guardian agent's scans;
- ``sandbox``: pytest, which the Sandbox agent runs test suites with (in this interpreter);
- ``learning``: scikit-learn, numpy and scipy, the fitted success and duration predictor
  (without them learning cycles use the per-pair rates and say why);
- ``custody``: jsonschema for the ``json_schema`` checks, and pytest for ``unit_tests``;
- ``postgres``: asyncpg, the PostgreSQL driver;
- ``ray``: Ray, for agents registered with runtime ray (run on a Ray cluster);
- ``redis``: the Redis client, for the result cache in Redis (``IMPERIUM_RESULT_CACHE_URL``);
- ``ml``: pandas, ta, scikit-learn, xgboost-cpu and vadersentiment, the crypto and fraud
  agents (``agents/_ml.py`` names this extra when one is missing).

A module is imported where it is used, never at start-up, so a server without an extra
starts and only the work that needs it fails, with a message naming the extra. This
module imports nothing but the standard library: every layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from types import ModuleType

EXTRAS: Mapping[str, str] = {
    "bandit": "guardian",
    "radon": "guardian",
    "ruff": "guardian",
    "pytest": "sandbox",
    "sklearn": "learning",
    "numpy": "learning",
    "scipy": "learning",
    "jsonschema": "custody",
    "asyncpg": "postgres",
    "ray": "ray",
    "redis": "redis",
    "pandas": "ml",
    "ta": "ml",
    "xgboost": "ml",
    "vaderSentiment": "ml",
}
"""Top-level module -> the extra that installs it."""

PACKAGES: Mapping[str, str] = {
    "sklearn": "scikit-learn",
    "xgboost": "xgboost-cpu",
    "vaderSentiment": "vadersentiment",
}
"""Modules whose distribution has another name."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, modules: str | tuple[str, ...], purpose: str) -> None:
        self.modules = (modules,) if isinstance(modules, str) else modules
        self.purpose = purpose
        super().__init__(missing_message(self.modules, purpose))


def install_hint(*modules: str) -> str:
    """``pip install 'imperium[guardian]'`` for the extras that bring ``modules``."""
    extras = sorted({EXTRAS[m] for m in modules})
    return f"pip install 'imperium[{','.join(extras)}]'"


def missing_message(modules: tuple[str, ...], purpose: str) -> str:
    names = ", ".join(PACKAGES.get(m, m) for m in modules)
    verb = "is" if len(modules) == 1 else "are"
    return f"{purpose} needs {names}, which {verb} not installed: {install_hint(*modules)}"


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it). A module set to None in
    ``sys.modules`` counts as missing, as ``import`` treats it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken parent package, or a spec-less module
        return False


def missing(*modules: str) -> tuple[str, ...]:
    """Those of ``modules`` that are not installed."""
    return tuple(m for m in modules if not is_installed(m))


def require(module: str, purpose: str) -> ModuleType:
    """``module`` imported, or MissingExtraError saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.partition(".")[0], purpose) from exc
