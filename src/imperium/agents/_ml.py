"""The ``ml`` extra (crypto prediction, fraud detection): its modules, imported where
used, and the error that names the extra when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

ML_MODULES = ("numpy", "pandas", "ta", "sklearn", "xgboost", "vaderSentiment")
INSTALL = "pip install 'imperium[ml]'"


class MlMissingError(ImportError):
    """A module of the ``ml`` extra is not installed."""

    def __init__(self, module: str, purpose: str) -> None:
        self.module = module
        name = {"sklearn": "scikit-learn", "vaderSentiment": "vadersentiment",
                "xgboost": "xgboost-cpu"}.get(module, module)  # fmt: skip
        super().__init__(f"{purpose} needs {name}, which is not installed: {INSTALL}")


def need(module: str, purpose: str) -> ModuleType:
    """``module`` imported, or MlMissingError naming the ``ml`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MlMissingError(module.partition(".")[0], purpose) from exc
