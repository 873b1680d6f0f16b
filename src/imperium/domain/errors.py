"""Errors the core raises. Each says what went wrong and what to do about it.

The API layer maps them to problem responses; the CLI prints their message.
"""

from __future__ import annotations


class ImperiumError(Exception):
    """Base of every error a user can cause or observe."""


class ValidationError(ImperiumError):
    """A request is malformed: a field is missing, out of range or inconsistent."""


class NotFoundError(ImperiumError):
    """A named task, agent or workflow does not exist."""


class ConflictError(ImperiumError):
    """The request conflicts with current state (duplicate id, wrong state)."""


class CycleError(ValidationError):
    """A workflow's dependencies form a cycle; ``cycle`` lists it in order."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " -> ".join([*cycle, cycle[0]])
        super().__init__(
            f"workflow dependencies form a cycle: {path}; remove one of these dependencies"
        )


class StaleLeaseError(ConflictError):
    """A completion or heartbeat carried a fencing token that is no longer current."""


class SchedulerLockError(ImperiumError):
    """Another scheduler holds this database; only one may dispatch at a time."""


class LockLostError(SchedulerLockError):
    """This scheduler's lock was taken over; it must stop writing."""


class AgentLoadError(ImperiumError):
    """An agent's implementation could not be found or imported."""
