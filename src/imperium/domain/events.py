"""Which events Imperium writes itself and which are learning events.

The engine and the agent registry write events in their own namespaces (``task.``,
``agent.``, ``scheduler.``); every other event type in ``learning_logs`` is a *learning
event*, logged by clients (``POST /api/imperium/persistence/log-learning-event``) or, later,
by learning cycles. Namespaces are compared case-insensitively, so ``Task.x`` cannot pass
for a learning event on one database and an engine event on another.
"""

from __future__ import annotations

ENGINE_NAMESPACES = ("task.", "agent.", "scheduler.")


def is_engine_event(event_type: str) -> bool:
    return event_type.lower().startswith(ENGINE_NAMESPACES)


def is_learning_event(event_type: str) -> bool:
    return not is_engine_event(event_type)
