"""The durable task engine (DESIGN.md §3)."""

from imperium.services.engine.core import Engine, EngineConfig
from imperium.services.engine.remote import Lease

__all__ = ["Engine", "EngineConfig", "Lease"]
