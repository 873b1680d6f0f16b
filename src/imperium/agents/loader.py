"""Finding an agent's implementation from its registered ``type``.

A type is the name of an entry point in the group ``imperium.agents`` (``echo``), or an
import path ``package.module:attribute`` naming an :class:`Agent` subclass or a function
(wrapped with :func:`agent`). The type ``remote`` means the agent runs elsewhere and leases
tasks over HTTP; it has no local implementation.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from importlib.metadata import EntryPoint, entry_points

from imperium.agents.base import Agent, agent
from imperium.domain.errors import AgentLoadError

ENTRY_POINT_GROUP = "imperium.agents"
REMOTE = "remote"


@functools.cache
def _installed() -> dict[str, EntryPoint]:
    """The group's entry points by name, read once per process: reading the installed
    distributions' metadata takes about 10 ms, and every start resolves each agent."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def available_types() -> list[str]:
    return sorted(_installed())


def _as_agent_class(obj: object, where: str) -> type[Agent]:
    if inspect.isclass(obj) and issubclass(obj, Agent):
        return obj
    if callable(obj):
        return agent(obj)
    raise AgentLoadError(f"{where} is neither an Agent subclass nor a function")


def load_agent_class(agent_type: str) -> type[Agent]:
    """Resolve ``agent_type`` or raise AgentLoadError saying how to make it resolvable."""
    if agent_type == REMOTE:
        raise AgentLoadError("type 'remote' has no local implementation")
    installed = _installed().get(agent_type)
    if installed is not None:
        try:
            return _as_agent_class(installed.load(), f"entry point '{agent_type}'")
        except ImportError as exc:
            raise AgentLoadError(f"entry point '{agent_type}' failed to import: {exc}") from exc
    if ":" not in agent_type:
        known = ", ".join(available_types()) or "none"
        raise AgentLoadError(
            f"unknown agent type '{agent_type}': use an installed type ({known}), an import "
            "path like 'package.module:function', or 'remote' for an agent that leases "
            "tasks over HTTP"
        )
    module_name, _, attr = agent_type.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentLoadError(
            f"cannot import module '{module_name}' for agent type '{agent_type}': {exc}; "
            "check the spelling and that the module is on PYTHONPATH"
        ) from exc
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a module's own code ran
        raise AgentLoadError(
            f"importing module '{module_name}' for agent type '{agent_type}' raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AgentLoadError(f"module '{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    return _as_agent_class(obj, f"'{agent_type}'")


def is_local(agent_type: str) -> bool:
    return agent_type != REMOTE
