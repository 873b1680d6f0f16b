"""Imperium: an orchestration server for fleets of AI agents that learns from every run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imperium.agents.base import Agent, TaskContext, agent

if TYPE_CHECKING:
    from imperium.client import Client
    from imperium.worker import Worker

__all__ = ["Agent", "Client", "TaskContext", "Worker", "agent"]
__version__ = "0.1.0"

_LAZY = {"Client": "imperium.client", "Worker": "imperium.worker"}


def __getattr__(name: str) -> object:
    # Client and Worker pull in httpx: imported on first use, so `import imperium` stays light
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imperium' has no attribute {name!r}")
