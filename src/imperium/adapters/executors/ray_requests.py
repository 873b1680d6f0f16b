"""How a task's resources become a Ray resource request, and whether a cluster can ever
grant one. Pure functions over plain dicts: no Ray import here."""

from __future__ import annotations

from collections.abc import Mapping

MIB = 1024 * 1024

# Imperium's names for Ray's built-in resources; any other name is a Ray custom resource
# (e.g. {"A100": 1}), passed through as is.
_BUILTIN = {"cpu": "CPU", "gpu": "GPU", "memory_mb": "memory"}


def ray_request(resources: Mapping[str, float]) -> dict[str, float]:
    """The task's resources under Ray's names (memory in bytes), zero amounts dropped."""
    request: dict[str, float] = {}
    for name, amount in resources.items():
        if amount <= 0:
            continue
        ray_name = _BUILTIN.get(name, name)
        request[ray_name] = amount * MIB if name == "memory_mb" else amount
    return request


def ray_options(resources: Mapping[str, float], *, default_cpus: float) -> dict[str, object]:
    """Keyword arguments for ``.options(...)`` of a Ray task or actor. Ray's own retries
    are off: a lost attempt is retried by Imperium, which records it."""
    request = ray_request(resources)
    options: dict[str, object] = {"num_cpus": request.pop("CPU", default_cpus)}
    if "GPU" in request:
        options["num_gpus"] = request.pop("GPU")
    if "memory" in request:
        options["memory"] = int(request.pop("memory"))
    if request:
        options["resources"] = request
    return options


def shortfall(resources: Mapping[str, float], totals: Mapping[str, float]) -> str | None:
    """Why a cluster whose nodes total ``totals`` cannot hold ``resources`` (None if it
    may). Ray places a task on one node, so a request above the cluster's total never
    fits; one within it may still wait for a node with room."""
    missing = []
    for name, amount in ray_request(resources).items():
        have = totals.get(name, 0.0)
        if amount > have + 1e-9:
            missing.append(f"{_shown(name, amount)} (the cluster has {_shown(name, have)})")
    if not missing:
        return None
    return "no node of the Ray cluster can satisfy it: it needs " + ", ".join(missing)


def _shown(name: str, amount: float) -> str:
    if name == "memory":
        return f"memory_mb={amount / MIB:g}"
    return f"{name}={amount:g}"
