"""How a task's resources become a Ray resource request, and whether a cluster can ever
grant one. Pure functions over plain dicts: no Ray import here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MIB = 1024 * 1024
# Ray refuses a fractional amount below this (its resource precision); memory is in bytes
RAY_PRECISION = 0.0001

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


def unrequestable(resources: Mapping[str, float]) -> str | None:
    """Why Ray would refuse to request ``resources`` at all (None if it would not): an
    amount above zero but below its precision of 0.0001 (memory is asked in bytes)."""
    tiny = [
        f"{name}={amount:g}"
        for name, amount in resources.items()
        if name != "memory_mb" and 0 < amount < RAY_PRECISION
    ]
    if not tiny:
        return None
    return (
        f"Ray cannot request {', '.join(tiny)}: its smallest amount of a resource is "
        f"{RAY_PRECISION:g} (ask for 0 or at least that)"
    )


def shortfall(resources: Mapping[str, float], nodes: Sequence[Mapping[str, float]]) -> str | None:
    """Why no node of a cluster whose alive nodes have ``nodes`` can hold ``resources``
    (None if one may). Ray places a task on one node, so the request must fit one node's
    total, not the cluster's sum; a node that fits may still be busy for a while."""
    request = ray_request(resources)
    if not request or any(_fits(request, node) for node in nodes):
        return None
    largest = {name: max((n.get(name, 0.0) for n in nodes), default=0.0) for name in request}
    missing = [
        f"{_shown(name, amount)} (the largest node has {_shown(name, largest[name])})"
        for name, amount in request.items()
        if amount > largest[name] + 1e-9
    ]
    if not missing:  # each amount exists somewhere, never all on one node
        wanted = ", ".join(_shown(name, amount) for name, amount in request.items())
        missing = [f"{wanted} on one node, and no node has all of it"]
    return "no node of the Ray cluster can satisfy it: it needs " + ", ".join(missing)


def _fits(request: Mapping[str, float], node: Mapping[str, float]) -> bool:
    return all(amount <= node.get(name, 0.0) + 1e-9 for name, amount in request.items())


def _shown(name: str, amount: float) -> str:
    if name == "memory":
        return f"memory_mb={amount / MIB:g}"
    return f"{name}={amount:g}"
