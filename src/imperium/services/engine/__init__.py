"""The durable task engine (DESIGN.md §3)."""

from imperium.services.engine.core import Engine, EngineConfig, Lease

__all__ = ["Engine", "EngineConfig", "Lease"]
