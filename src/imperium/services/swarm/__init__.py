"""The swarm: the seed's "bots" are the engine's worker slots.

Each registered agent contributes ``max_concurrency`` slots (more while it still runs
tasks started before it was scaled down). A slot running a task is *working*; a free slot
of an active agent that can take work is *idle*; the free slots of a paused agent are in
*maintenance*; those of an agent that cannot take work (a remote agent not connected or
past its heartbeat, a local agent whose implementation failed to load) are *failed*.
Retired agents have no slots.

- ``snapshot``: counts read from the engine and the store (slots, queues, executions).
- ``scaling``: a target pool size divided among agents (pure).
- ``advice``: recommendations with their evidence (pure).
- ``autoscale``: an autoscaled agent's next pool size from its backlog and queue wait (pure).
- ``autoscaler``: ``Autoscaler`` — applies those decisions (the ``autoscale`` routine,
  ``scale`` and ``optimize``), each a ``swarm.scaled`` event.
- ``service``: ``SwarmService`` — dispatch, status, scale, optimize.

May import the domain, the ports, the engine and the agent registry; never FastAPI.
"""
