"""Learning: cycles, recommendations and the simulator that measures them.

- ``service``: ``Learner`` — its state (the router, the predictor in use, the cycle
  running) and the order of a cycle's steps; the names below are importable from it too.
- ``cycle``: one cycle's rows and its CPU-heavy computation (pure but for the fitting).
- ``recovery``: ``CycleRunner``, and which cycles left ``running`` a process that is gone.
- ``recommendations``: ``Option``, ``Recommendation``, the candidates, their ranking,
  risks and suggestions (pure but for the posterior draws, in a worker thread).
- ``insights``: the insights in force (the newest completed cycle's).
- ``summaries``: model reports and drift alarms as stored in a cycle's metadata.
- ``ports``: what the learner reads and writes.
- ``overview``: what the dashboards show; ``transfer``: export and import.
- ``simulation``: the simulator that measures routing policies.

May import the domain, the ports and each other; never adapters, interfaces or FastAPI.
"""
