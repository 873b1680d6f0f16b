"""A simulated world for measuring the learned router: task types, agents and their true
behaviour, read from a scenario file (JSON) by :func:`parse_scenario`.

The file::

    {"name": "basic", "description": "…", "load": 0.7,
     "task_types": {"NAME": {"weight": 0.5, "capabilities": ["cap"]}},
     "agents": [{"id": "A", "capabilities": ["cap"], "max_concurrency": 2,
                 "skills": {"NAME": {"success": 0.9, "duration_mean": 30.0,
                                     "duration_sigma": 0.3}}}],
     "complexity": {"min": 1, "max": 5, "success_slope": -0.05, "duration_slope": 0.2},
     "drift": [{"agent": "A", "after_task": 5000, "task_type": "NAME", "success": 0.4}],
     "teams": {"share": 0.1, "size": 2, "quorum": 2, "task_types": ["NAME"],
               "effects": [{"members": ["A", "B"], "effect": 0.15}]}}

Task types are drawn by ``weight`` (default 1) and complexity uniformly in
[``min``, ``max``]. A task type without ``capabilities`` requires its own name, as the
engine does for a task that declares none. An agent can take a task type only when it has
a *skill* for it and offers every capability the type requires.

The truth, for agent *a* on a task of type *t* and complexity *c* (the *n*-th task)::

    success(a, t, c, n) = clip(base + success_slope · (c - min), 0, 1)
    duration ~ lognormal with mean duration_mean · (1 + duration_slope · (c - min))
               and sigma duration_sigma (mu = ln(mean) - sigma² / 2)

where *base* is ``skills[t].success`` and *success_slope* the skill's own
``success_slope`` when it has one (so complexity can reverse which agent is best), else
``complexity.success_slope``, unless a drift entry for (a, t) has
``after_task <= n``: then it is the latest such entry's ``success`` (the complexity slope
still applies).

Team tasks (optional ``teams``): ``share`` (default 0.1) team tasks per task, each for
``size`` agents (default 2) of which ``quorum`` (default all) must succeed, of the
``task_types`` listed (default all). Each member succeeds independently with its own
true success plus the summed ``effect`` of every listed combination (``members``, for
``task_type`` or any type) wholly within the team: synergy (> 0) or conflict (< 0).

Optional keys: ``name``, ``description``, ``load`` (offered load as a fraction of the
agents' capacity, default 0.7, in (0, 1.5]), ``complexity`` (default min 1, max 1, no
slopes), ``drift`` (default none); ``duration_sigma`` defaults to 0 and
``max_concurrency`` to 1; a skill's ``success_slope`` defaults to the complexity's.
Unknown keys are refused (they are usually typos).

What belongs here, one concept a module: ``model`` (:class:`Scenario` and its parts, and
the truth above: success, duration, team success, capacity), ``teams`` (team tasks:
:class:`Teams`, the combination :class:`Effect`, and reading the ``teams`` section),
``parse`` (:func:`parse_scenario`: the rest of the format above, checked section by
section) and ``_json`` (reading one JSON value of a given type, with the path at fault in
its error). Like the rest of the domain it imports only the standard library and other
domain modules. What other code uses is re-exported here.

Pure: no I/O, no randomness, no numpy.
"""

from imperium.domain.scenario.model import (
    DEFAULT_LOAD,
    MAX_LOAD,
    Complexity,
    Drift,
    Scenario,
    SimAgent,
    Skill,
    TaskTypeSpec,
)
from imperium.domain.scenario.parse import parse_scenario
from imperium.domain.scenario.teams import Effect, Teams

__all__ = [
    "DEFAULT_LOAD",
    "MAX_LOAD",
    "Complexity",
    "Drift",
    "Effect",
    "Scenario",
    "SimAgent",
    "Skill",
    "TaskTypeSpec",
    "Teams",
    "parse_scenario",
]
