"""Team tasks in a scenario: how many there are, how large, what quorum they need, and
the combination effects (synergy or conflict) of agents working together; and
:func:`parse_teams`, which reads the file's ``teams`` section (the format is in the
package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.scenario._json import (
    _entries,
    _integer,
    _known,
    _list,
    _number,
    _object,
    _string,
    _strings,
)
from imperium.domain.teams import MAX_SIZE as MAX_TEAM
from imperium.domain.teams import MIN_SIZE as MIN_TEAM

_TEAM_KEYS = ("share", "size", "quorum", "task_types", "effects")
_EFFECT_KEYS = ("members", "effect", "task_type")


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


def parse_teams(value: object, takers: Mapping[str, int], ids: Set[str]) -> Teams:
    """Validate the ``teams`` section. ``takers``: how many agents can take each declared
    task type, in declaration order; ``ids``: the agents' ids."""
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
    names = _team_types(body.get("task_types", list(takers)), takers, size)
    effects = tuple(
        _effect(path, entry, takers, ids)
        for path, entry in _entries(body.get("effects", []), "teams.effects", _EFFECT_KEYS)
    )
    return Teams(share, size, quorum, names, effects)


def _team_types(names: object, takers: Mapping[str, int], size: int) -> tuple[str, ...]:
    """The team task types: declared ones, each with at least ``size`` agents to take it."""
    if not isinstance(names, list) or not names:
        raise ValidationError("teams.task_types must be a non-empty list of task type names")
    for name in names:
        if name not in takers:
            raise ValidationError(
                f"teams.task_types: unknown task type {name!r}; use one of {_list(takers)}"
            )
        if takers[name] < size:
            raise ValidationError(
                f"teams.task_types: only {takers[name]} agents can take {name!r}, too few for "
                f"teams of {size}; lower teams.size or give more agents a skill for it"
            )
    return tuple(str(n) for n in names)


def _effect(
    path: str, entry: Mapping[str, object], types: Mapping[str, int], ids: Set[str]
) -> Effect:
    """One combination of ``teams.effects``: at least two known agents, an effect in
    [-1, 1] and optionally a declared task type."""
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
    return Effect(members, effect, None if kind is None else str(kind))
