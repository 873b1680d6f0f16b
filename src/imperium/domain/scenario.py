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

Pure: no I/O, no randomness, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from imperium.domain.errors import ValidationError
from imperium.domain.teams import MAX_SIZE as MAX_TEAM
from imperium.domain.teams import MIN_SIZE as MIN_TEAM
from imperium.domain.teams import at_least

DEFAULT_LOAD = 0.7
MAX_LOAD = 1.5


@dataclass(frozen=True, slots=True)
class TaskTypeSpec:
    name: str
    weight: float
    capabilities: frozenset[str]
    """What an agent must offer (never empty: the type's own name when none is declared)."""


@dataclass(frozen=True, slots=True)
class Skill:
    success: float
    duration_mean: float
    duration_sigma: float
    success_slope: float | None = None
    """This agent's own slope on this type (None: ``complexity.success_slope``)."""


@dataclass(frozen=True, slots=True)
class SimAgent:
    id: str
    capabilities: frozenset[str]
    max_concurrency: int
    skills: Mapping[str, Skill]


@dataclass(frozen=True, slots=True)
class Complexity:
    min: float = 1.0
    max: float = 1.0
    success_slope: float = 0.0
    duration_slope: float = 0.0

    @property
    def mid(self) -> float:
        return (self.min + self.max) / 2


@dataclass(frozen=True, slots=True)
class Drift:
    """From task index ``after_task`` on, ``agent``'s base success on ``task_type`` is
    ``success``."""

    agent: str
    after_task: int
    task_type: str
    success: float

    def as_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "after_task": self.after_task,
            "task_type": self.task_type,
            "success": self.success,
        }


@dataclass(frozen=True, slots=True)
class Effect:
    """A combination effect: when every one of ``members`` is on a team (of a task of
    ``task_type``, or of any type when None), each member's success moves by ``effect``
    (> 0: synergy, < 0: conflict)."""

    members: frozenset[str]
    effect: float
    task_type: str | None = None


@dataclass(frozen=True, slots=True)
class Teams:
    """Team tasks: ``share`` team tasks per single task, each for ``size`` agents of
    which ``quorum`` must succeed, of the ``task_types`` (weighted as single tasks)."""

    share: float
    size: int
    quorum: int
    task_types: tuple[str, ...]
    effects: tuple[Effect, ...] = ()

    def effect(self, task_type: str, members: frozenset[str] | set[str]) -> float:
        """The summed effect of every combination within ``members``."""
        return sum(
            e.effect
            for e in self.effects
            if e.members <= members and (e.task_type is None or e.task_type == task_type)
        )


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    task_types: tuple[TaskTypeSpec, ...]
    agents: tuple[SimAgent, ...]
    complexity: Complexity
    drift: tuple[Drift, ...] = ()
    load: float = DEFAULT_LOAD
    teams: Teams | None = None
    _agents: dict[str, SimAgent] = field(init=False, repr=False, compare=False)
    _types: dict[str, TaskTypeSpec] = field(init=False, repr=False, compare=False)
    _drift: dict[tuple[str, str], tuple[Drift, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        drift: dict[tuple[str, str], list[Drift]] = {}
        for entry in self.drift:
            drift.setdefault((entry.agent, entry.task_type), []).append(entry)
        object.__setattr__(self, "_agents", {a.id: a for a in self.agents})
        object.__setattr__(self, "_types", {t.name: t for t in self.task_types})
        # stable sort: among entries with the same after_task the later one wins
        object.__setattr__(
            self,
            "_drift",
            {k: tuple(sorted(v, key=lambda d: d.after_task)) for k, v in drift.items()},
        )

    # ------------------------------------------------------------------ lookups
    def agent(self, agent_id: str) -> SimAgent:
        return self._agents[agent_id]

    def task_type(self, name: str) -> TaskTypeSpec:
        return self._types[name]

    def capable(self, agent_id: str, task_type: str) -> bool:
        """The agent has a skill for the type and offers every capability it requires."""
        agent = self._agents.get(agent_id)
        kind = self._types.get(task_type)
        if agent is None or kind is None:
            return False
        return task_type in agent.skills and kind.capabilities <= agent.capabilities

    def capable_agents(self, task_type: str) -> list[SimAgent]:
        return [a for a in self.agents if self.capable(a.id, task_type)]

    # ------------------------------------------------------------------ the truth
    def base_success(self, agent_id: str, task_type: str, task_index: int) -> float:
        """The skill's success, or that of the latest drift entry in force at
        ``task_index``."""
        base = self._agents[agent_id].skills[task_type].success
        for entry in self._drift.get((agent_id, task_type), ()):
            if entry.after_task > task_index:
                break
            base = entry.success
        return base

    def true_success(
        self, agent_id: str, task_type: str, complexity: float, task_index: int
    ) -> float:
        """Probability that the agent succeeds on the ``task_index``-th task (0-based)."""
        base = self.base_success(agent_id, task_type, task_index)
        slope = self._agents[agent_id].skills[task_type].success_slope
        if slope is None:
            slope = self.complexity.success_slope
        p = base + slope * (complexity - self.complexity.min)
        return min(1.0, max(0.0, p))

    def team_success(
        self, members: tuple[str, ...], task_type: str, complexity: float, task_index: int
    ) -> float:
        """Probability that at least the quorum of ``members`` succeed: each succeeds
        independently with its own true success plus the team's combination effect
        (clipped to [0, 1])."""
        assert self.teams is not None
        effect = self.teams.effect(task_type, frozenset(members))
        probabilities = [
            min(1.0, max(0.0, self.true_success(m, task_type, complexity, task_index) + effect))
            for m in members
        ]
        return at_least(self.teams.quorum, probabilities)

    def mean_duration(self, agent_id: str, task_type: str, complexity: float) -> float:
        """Expected duration in seconds."""
        skill = self._agents[agent_id].skills[task_type]
        return skill.duration_mean * self._duration_factor(complexity)

    def duration_mu(self, agent_id: str, task_type: str, complexity: float) -> float:
        """mu of the lognormal duration: ln(mean) - sigma² / 2."""
        sigma = self._agents[agent_id].skills[task_type].duration_sigma
        return math.log(self.mean_duration(agent_id, task_type, complexity)) - sigma * sigma / 2

    def duration_sigma(self, agent_id: str, task_type: str) -> float:
        return self._agents[agent_id].skills[task_type].duration_sigma

    def _duration_factor(self, complexity: float) -> float:
        return 1.0 + self.complexity.duration_slope * (complexity - self.complexity.min)

    def capacity(self) -> float:
        """Tasks per second the agents complete when all slots are busy, approximately:
        Σ max_concurrency / (weighted mean over task types of the mean duration of the
        capable agents at mid complexity)."""
        total_weight = sum(t.weight for t in self.task_types)
        mid = self.complexity.mid
        mean = 0.0
        for kind in self.task_types:
            durations = [
                self.mean_duration(a.id, kind.name, mid) for a in self.capable_agents(kind.name)
            ]
            mean += kind.weight / total_weight * sum(durations) / len(durations)
        return sum(a.max_concurrency for a in self.agents) / mean


# ---------------------------------------------------------------------- parsing
_TOP_KEYS = (
    "name", "description", "load", "task_types", "agents", "complexity", "drift", "teams",
)  # fmt: skip
_TEAM_KEYS = ("share", "size", "quorum", "task_types", "effects")
_EFFECT_KEYS = ("members", "effect", "task_type")
_TYPE_KEYS = ("weight", "capabilities")
_AGENT_KEYS = ("id", "capabilities", "max_concurrency", "skills")
_SKILL_KEYS = ("success", "duration_mean", "duration_sigma", "success_slope")
_COMPLEXITY_KEYS = ("min", "max", "success_slope", "duration_slope")
_DRIFT_KEYS = ("agent", "after_task", "task_type", "success")


def parse_scenario(data: object, name: str = "") -> Scenario:
    """Validate a decoded scenario file. ``name`` is used when the file has none (e.g. the
    file's stem). Raises ValidationError naming the JSON path at fault and what to fix."""
    top = _object(data, "scenario")
    _known(top, _TOP_KEYS, "scenario")
    scenario_name = _string(top.get("name", name or "scenario"), "name")
    description = _string(top.get("description", ""), "description")
    load = _number(top.get("load", DEFAULT_LOAD), "load")
    if not 0 < load <= MAX_LOAD:
        raise ValidationError(
            f"load must be in (0, {MAX_LOAD}] (offered load as a fraction of the agents' "
            f"capacity), got {load}"
        )
    task_types = _task_types(top.get("task_types"))
    known_types = {t.name: t for t in task_types}
    agents = _agents(top.get("agents"), known_types)
    complexity = _complexity(top.get("complexity", {}))
    drift = _drifts(top.get("drift", []), known_types, {a.id: a for a in agents})
    for kind in task_types:
        if not any(kind.name in a.skills and kind.capabilities <= a.capabilities for a in agents):
            raise ValidationError(
                f"task_types.{kind.name}: no agent can take it; give an agent offering "
                f"{_list(kind.capabilities)} a skill for it, or remove the task type"
            )
    teams = _teams(top["teams"], known_types, agents) if "teams" in top else None
    return Scenario(
        name=scenario_name,
        description=description,
        task_types=task_types,
        agents=agents,
        complexity=complexity,
        drift=drift,
        load=load,
        teams=teams,
    )


def _teams(value: object, types: Mapping[str, TaskTypeSpec], agents: tuple[SimAgent, ...]) -> Teams:
    body = _object(value, "teams")
    _known(body, _TEAM_KEYS, "teams")
    share = _number(body.get("share", 0.1), "teams.share")
    if not 0 < share <= 1:
        raise ValidationError(f"teams.share must be in (0, 1] (team tasks per task), got {share}")
    size = _integer(body.get("size", 2), "teams.size")
    if not MIN_TEAM <= size <= MAX_TEAM:
        raise ValidationError(f"teams.size must be {MIN_TEAM} to {MAX_TEAM}, got {size}")
    quorum = _integer(body.get("quorum", size), "teams.quorum")
    if not 1 <= quorum <= size:
        raise ValidationError(f"teams.quorum must be 1 to teams.size ({size}), got {quorum}")
    names = body.get("task_types", list(types))
    if not isinstance(names, list) or not names:
        raise ValidationError("teams.task_types must be a non-empty list of task type names")
    ids = {a.id for a in agents}
    for name in names:
        if name not in types:
            raise ValidationError(
                f"teams.task_types: unknown task type {name!r}; use one of {_list(types)}"
            )
        able = [
            a.id for a in agents if name in a.skills and types[name].capabilities <= a.capabilities
        ]
        if len(able) < size:
            raise ValidationError(
                f"teams.task_types: only {len(able)} agents can take {name!r}, too few for "
                f"teams of {size}; lower teams.size or give more agents a skill for it"
            )
    effects = []
    for path, entry in _entries(body.get("effects", []), "teams.effects", _EFFECT_KEYS):
        if "members" not in entry or "effect" not in entry:
            raise ValidationError(f"{path} needs members (a list of agent ids) and effect")
        members = _strings(entry["members"], f"{path}.members")
        if len(members) < 2:
            raise ValidationError(f"{path}.members: a combination has at least two agents")
        unknown = members - ids
        if unknown:
            raise ValidationError(f"{path}.members: unknown agent(s) {_list(unknown)}")
        effect = _number(entry["effect"], f"{path}.effect")
        if not -1 <= effect <= 1:
            raise ValidationError(f"{path}.effect must be in [-1, 1], got {effect}")
        kind = entry.get("task_type")
        if kind is not None and _string(kind, f"{path}.task_type") not in types:
            raise ValidationError(
                f"{path}.task_type: unknown task type {kind!r}; use one of {_list(types)}"
            )
        effects.append(Effect(members, effect, None if kind is None else str(kind)))
    return Teams(share, size, quorum, tuple(str(n) for n in names), tuple(effects))


def _task_types(value: object) -> tuple[TaskTypeSpec, ...]:
    if value is None:
        raise ValidationError(
            'task_types is missing; add an object like {"NAME": {"weight": 1, '
            '"capabilities": ["cap"]}}'
        )
    types = _object(value, "task_types")
    if not types:
        raise ValidationError("task_types is empty; declare at least one task type")
    result = []
    for type_name, spec in types.items():
        path = f"task_types.{type_name}"
        if not type_name.strip():
            raise ValidationError("task_types: a task type name is empty; name it")
        body = _object(spec, path)
        _known(body, _TYPE_KEYS, path)
        weight = _number(body.get("weight", 1.0), f"{path}.weight")
        if weight <= 0:
            raise ValidationError(
                f"{path}.weight must be > 0 (the relative frequency of the type), got {weight}"
            )
        capabilities = _strings(body.get("capabilities", []), f"{path}.capabilities")
        result.append(TaskTypeSpec(type_name, weight, capabilities or frozenset({type_name})))
    if sum(t.weight for t in result) <= 0:  # pragma: no cover - every weight is > 0
        raise ValidationError("task_types: the weights are all zero; make one positive")
    return tuple(result)


def _agents(value: object, types: Mapping[str, TaskTypeSpec]) -> tuple[SimAgent, ...]:
    if value is None:
        raise ValidationError(
            'agents is missing; add a list like [{"id": "A", "capabilities": ["cap"], '
            '"skills": {"NAME": {"success": 0.9, "duration_mean": 30}}}]'
        )
    if not isinstance(value, list):
        raise ValidationError(f"agents must be a list of objects, got {_kind(value)}")
    if not value:
        raise ValidationError("agents is empty; declare at least one agent")
    result: list[SimAgent] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(value):
        path = f"agents[{i}]"
        body = _object(raw, path)
        _known(body, _AGENT_KEYS, path)
        if "id" not in body:
            raise ValidationError(f"{path}.id is missing; give the agent a unique id")
        agent_id = _string(body["id"], f"{path}.id")
        if not agent_id.strip():
            raise ValidationError(f"{path}.id is empty; give the agent a unique id")
        if agent_id in seen:
            raise ValidationError(
                f"{path}.id: duplicate agent id {agent_id!r} (also agents[{seen[agent_id]}]); "
                "agent ids must be unique"
            )
        seen[agent_id] = i
        capabilities = _strings(body.get("capabilities", []), f"{path}.capabilities")
        concurrency = _integer(body.get("max_concurrency", 1), f"{path}.max_concurrency")
        if concurrency < 1:
            raise ValidationError(f"{path}.max_concurrency must be at least 1, got {concurrency}")
        skills_raw = _object(body.get("skills", {}), f"{path}.skills")
        if not skills_raw:
            raise ValidationError(
                f"{path}.skills is empty; give the agent a skill for at least one task type"
            )
        skills: dict[str, Skill] = {}
        for type_name, skill in skills_raw.items():
            skill_path = f"{path}.skills.{type_name}"
            kind = types.get(type_name)
            if kind is None:
                raise ValidationError(
                    f"{skill_path}: unknown task type {type_name!r}; use one of "
                    f"{_list(types)} or declare it in task_types"
                )
            missing = kind.capabilities - capabilities
            if missing:
                raise ValidationError(
                    f"{skill_path}: the agent lacks {_list(missing)} that task type "
                    f"{type_name!r} requires; add it to {path}.capabilities or remove the skill"
                )
            skills[type_name] = _skill(skill, skill_path)
        result.append(SimAgent(agent_id, capabilities, concurrency, skills))
    return tuple(result)


def _skill(value: object, path: str) -> Skill:
    body = _object(value, path)
    _known(body, _SKILL_KEYS, path)
    for key in ("success", "duration_mean"):
        if key not in body:
            raise ValidationError(f"{path}.{key} is missing")
    success = _probability(body["success"], f"{path}.success")
    mean = _number(body["duration_mean"], f"{path}.duration_mean")
    if mean <= 0:
        raise ValidationError(f"{path}.duration_mean must be > 0 seconds, got {mean}")
    sigma = _number(body.get("duration_sigma", 0.0), f"{path}.duration_sigma")
    if sigma < 0:
        raise ValidationError(f"{path}.duration_sigma must be >= 0, got {sigma}")
    slope = body.get("success_slope")
    return Skill(
        success, mean, sigma, None if slope is None else _number(slope, f"{path}.success_slope")
    )


def _complexity(value: object) -> Complexity:
    body = _object(value, "complexity")
    _known(body, _COMPLEXITY_KEYS, "complexity")
    low = _number(body.get("min", 1.0), "complexity.min")
    high = _number(body.get("max", low), "complexity.max")
    if low > high:
        raise ValidationError(
            f"complexity.min ({low}) is greater than complexity.max ({high}); swap them"
        )
    success_slope = _number(body.get("success_slope", 0.0), "complexity.success_slope")
    duration_slope = _number(body.get("duration_slope", 0.0), "complexity.duration_slope")
    if 1 + duration_slope * (high - low) <= 0:
        raise ValidationError(
            "complexity.duration_slope makes durations at complexity.max zero or negative "
            f"(1 + {duration_slope} * ({high} - {low}) <= 0); use a larger slope"
        )
    return Complexity(low, high, success_slope, duration_slope)


def _drifts(
    value: object, types: Mapping[str, TaskTypeSpec], agents: Mapping[str, SimAgent]
) -> tuple[Drift, ...]:
    result = []
    for path, body in _entries(value, "drift", _DRIFT_KEYS):
        for key in _DRIFT_KEYS:
            if key not in body:
                raise ValidationError(f"{path}.{key} is missing")
        agent_id = _string(body["agent"], f"{path}.agent")
        if agent_id not in agents:
            raise ValidationError(
                f"{path}.agent: unknown agent {agent_id!r}; use one of {_list(agents)}"
            )
        type_name = _string(body["task_type"], f"{path}.task_type")
        if type_name not in types:
            raise ValidationError(
                f"{path}.task_type: unknown task type {type_name!r}; use one of {_list(types)}"
            )
        if type_name not in agents[agent_id].skills:
            raise ValidationError(
                f"{path}: agent {agent_id!r} has no skill for {type_name!r}; add one to its "
                "skills or drift another pair"
            )
        after = _integer(body["after_task"], f"{path}.after_task")
        if after < 0:
            raise ValidationError(f"{path}.after_task must be >= 0 (a task index), got {after}")
        success = _probability(body["success"], f"{path}.success")
        result.append(Drift(agent_id, after, type_name, success))
    return tuple(result)


# ---------------------------------------------------------------------- primitives
def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _list(names: object) -> str:
    assert isinstance(names, Mapping | set | frozenset | list | tuple)
    return ", ".join(repr(n) for n in sorted(str(n) for n in names))


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must be a JSON object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{path}: keys must be strings, got {key!r}")
    return value


def _entries(
    value: object, path: str, allowed: tuple[str, ...]
) -> list[tuple[str, dict[str, object]]]:
    """The objects of a JSON list, each with its path (``path[i]``), keys checked."""
    if not isinstance(value, list):
        raise ValidationError(f"{path} must be a list of objects, got {_kind(value)}")
    entries = []
    for i, raw in enumerate(value):
        entry_path = f"{path}[{i}]"
        body = _object(raw, entry_path)
        _known(body, allowed, entry_path)
        entries.append((entry_path, body))
    return entries


def _known(body: Mapping[str, object], allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(
            f"{path}: unknown key {unknown[0]!r}; allowed keys are {', '.join(allowed)}"
        )


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{path} must be a string, got {_kind(value)}")
    return value


def _strings(value: object, path: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(f"{path} must be a list of non-empty strings, got {_kind(value)}")
    return frozenset(value)


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{path} must be a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ValidationError(f"{path} must be a finite number, got {value}")
    return float(value)


def _integer(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValidationError(f"{path} must be an integer, got {_kind(value)}")
    return value


def _probability(value: object, path: str) -> float:
    p = _number(value, path)
    if not 0.0 <= p <= 1.0:
        raise ValidationError(f"{path} must be a probability in [0, 1], got {p}")
    return p
