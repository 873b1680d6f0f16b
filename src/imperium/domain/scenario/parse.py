"""Reading a scenario file: :func:`parse_scenario` validates the decoded JSON (the format
is in the package docstring) section by section and builds the :class:`Scenario`. Every
error names the JSON path at fault and what to fix; unknown keys are refused."""

from __future__ import annotations

from collections.abc import Mapping

from imperium.domain.errors import ValidationError
from imperium.domain.scenario._json import (
    _entries,
    _integer,
    _kind,
    _known,
    _list,
    _number,
    _object,
    _probability,
    _string,
    _strings,
)
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
from imperium.domain.scenario.teams import parse_teams

_TOP_KEYS = (
    "name", "description", "load", "task_types", "agents", "complexity", "drift", "teams",
)  # fmt: skip
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
    load = _load(top.get("load", DEFAULT_LOAD))
    task_types = _task_types(top.get("task_types"))
    known_types = {t.name: t for t in task_types}
    agents = _agents(top.get("agents"), known_types)
    complexity = _complexity(top.get("complexity", {}))
    drift = _drifts(top.get("drift", []), known_types, {a.id: a for a in agents})
    takers = _takers(task_types, agents)
    ids = {a.id for a in agents}
    teams = parse_teams(top["teams"], takers, ids) if "teams" in top else None
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


def _load(value: object) -> float:
    load = _number(value, "load")
    if not 0 < load <= MAX_LOAD:
        raise ValidationError(
            f"load must be in (0, {MAX_LOAD}] (offered load as a fraction of the agents' "
            f"capacity), got {load}"
        )
    return load


def _takers(task_types: tuple[TaskTypeSpec, ...], agents: tuple[SimAgent, ...]) -> dict[str, int]:
    """How many agents can take each task type; refuses a type that none can."""
    takers: dict[str, int] = {}
    for kind in task_types:
        takers[kind.name] = sum(1 for a in agents if a.can_take(kind))
        if not takers[kind.name]:
            raise ValidationError(
                f"task_types.{kind.name}: no agent can take it; give an agent offering "
                f"{_list(kind.capabilities)} a skill for it, or remove the task type"
            )
    return takers


# ---------------------------------------------------------------------- task types
def _task_types(value: object) -> tuple[TaskTypeSpec, ...]:
    if value is None:
        raise ValidationError(
            'task_types is missing; add an object like {"NAME": {"weight": 1, '
            '"capabilities": ["cap"]}}'
        )
    types = _object(value, "task_types")
    if not types:
        raise ValidationError("task_types is empty; declare at least one task type")
    result = [_task_type(type_name, spec) for type_name, spec in types.items()]
    if sum(t.weight for t in result) <= 0:  # pragma: no cover - every weight is > 0
        raise ValidationError("task_types: the weights are all zero; make one positive")
    return tuple(result)


def _task_type(type_name: str, spec: object) -> TaskTypeSpec:
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
    return TaskTypeSpec(type_name, weight, capabilities or frozenset({type_name}))


# ---------------------------------------------------------------------- agents
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
        agent_id = _agent_id(body, path)
        if agent_id in seen:
            raise ValidationError(
                f"{path}.id: duplicate agent id {agent_id!r} (also agents[{seen[agent_id]}]); "
                "agent ids must be unique"
            )
        seen[agent_id] = i
        result.append(_agent(agent_id, body, path, types))
    return tuple(result)


def _agent_id(body: Mapping[str, object], path: str) -> str:
    if "id" not in body:
        raise ValidationError(f"{path}.id is missing; give the agent a unique id")
    agent_id = _string(body["id"], f"{path}.id")
    if not agent_id.strip():
        raise ValidationError(f"{path}.id is empty; give the agent a unique id")
    return agent_id


def _agent(
    agent_id: str, body: Mapping[str, object], path: str, types: Mapping[str, TaskTypeSpec]
) -> SimAgent:
    capabilities = _strings(body.get("capabilities", []), f"{path}.capabilities")
    concurrency = _integer(body.get("max_concurrency", 1), f"{path}.max_concurrency")
    if concurrency < 1:
        raise ValidationError(f"{path}.max_concurrency must be at least 1, got {concurrency}")
    skills_raw = _object(body.get("skills", {}), f"{path}.skills")
    if not skills_raw:
        raise ValidationError(
            f"{path}.skills is empty; give the agent a skill for at least one task type"
        )
    skills: dict[str, Skill] = {
        type_name: _agent_skill(type_name, skill, path, capabilities, types)
        for type_name, skill in skills_raw.items()
    }
    return SimAgent(agent_id, capabilities, concurrency, skills)


def _agent_skill(
    type_name: str,
    value: object,
    path: str,
    capabilities: frozenset[str],
    types: Mapping[str, TaskTypeSpec],
) -> Skill:
    """The skill at ``path.skills.type_name``, for a declared type the agent can take."""
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
    return _skill(value, skill_path)


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


# ---------------------------------------------------------------------- complexity and drift
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
    return tuple(
        _drift(path, body, types, agents) for path, body in _entries(value, "drift", _DRIFT_KEYS)
    )


def _drift(
    path: str,
    body: Mapping[str, object],
    types: Mapping[str, TaskTypeSpec],
    agents: Mapping[str, SimAgent],
) -> Drift:
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
    return Drift(agent_id, after, type_name, success)
