"""Planning: what the seed's "L20" routes asked for, computed from the engine's real state.

- ``priority``: seed tasks ranked by the engine's own priority score.
- ``strategy``: an objective decomposed into phases by matching its words against the
  registered agents' capabilities and descriptions.
- ``allocation``: resources handed to tasks, highest priority first, never over capacity.
- ``coordination``: domains (capabilities) with dependencies run as one workflow.
- ``service``: ``PlanningService``, which reads the engine, the registry and the store.

Pure modules import only the domain; ``service`` and ``coordination`` may use the engine,
the agent registry and the ports. Nothing here imports FastAPI.
"""
