"""An objective decomposed into phases, deterministically, from the registered agents.

1. The objective is cut into *stages* at sequencing words and sentence ends ("then",
   "after that", "afterwards", "followed by", "finally", ";", ". ", "->"), and each stage
   into *clauses* at "and", ",", "&" and "+". Stages run in order; clauses of a stage are
   independent.
2. Each clause is matched against every capability offered by a registered (not retired)
   agent: a capability matches when one of the words of its name occurs in the clause
   (after the reduction of ``words.py``). Each matching capability is one phase. When no
   name matches, the capabilities whose agents' descriptions share the most words with
   the clause match instead (ignoring words nearly every description uses, such as
   "write" or "run"). A clause nothing matches is still a phase, with no
   capability: the work is reported as something no agent can do, not dropped.
3. Every phase depends on every phase of the previous stage.

A phase lists the agents that can take it now (active, loaded or connected) and, apart,
the ones that offer its capability but cannot take work (paused, offline, failed to load).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.services.planning.words import description_terms, stems, terms

_STAGE_BREAK = re.compile(
    r"\bthen\b|\bafter\s+that\b|\bafterwards\b|\bfollowed\s+by\b|\bfinally\b"
    r"|[;.!?](?=\s|$)|->|\u2192|\n",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r",|\band\b|&|\+", re.IGNORECASE)
MAX_PHASES = 200
"""More phases than this is not a plan anyone reads, and each stage's phases depend on all of
the previous stage's: the answer would grow with the square of the phases."""


@dataclass(frozen=True, slots=True)
class Phase:
    phase_id: str
    stage: int
    description: str
    capability: str | None
    match: str
    """How the capability was found: "capability" (its name), "description" (its agents'
    descriptions) or "none"."""
    matched_terms: tuple[str, ...]
    """The words of the objective that matched."""
    agents: tuple[str, ...]
    unavailable: tuple[tuple[str, str], ...]
    """(agent id, why it cannot take work now) for agents offering the capability."""
    dependencies: tuple[str, ...]

    @property
    def executable(self) -> bool:
        return bool(self.agents)


@dataclass(frozen=True, slots=True)
class Strategy:
    phases: tuple[Phase, ...]
    stages: int

    @property
    def dependency_edges(self) -> int:
        return sum(len(p.dependencies) for p in self.phases)

    @property
    def complexity(self) -> int:
        """Phases to run plus dependencies to respect between them: it grows with the
        amount of work and with how much of it must be sequenced."""
        return len(self.phases) + self.dependency_edges


def stages_of(objective: str) -> list[list[str]]:
    """The clauses of each stage, in order, dropping clauses without content words."""
    stages = []
    for part in _STAGE_BREAK.split(objective):
        clauses = [c.strip() for c in _CLAUSE_BREAK.split(part)]
        clauses = [c for c in clauses if terms(c)]
        if clauses:
            stages.append(clauses)
    return stages


@dataclass(frozen=True, slots=True)
class _Offer:
    capability: str
    name_terms: frozenset[str]
    description_terms: frozenset[str]
    agents: tuple[AgentSpec, ...]


@dataclass(frozen=True, slots=True)
class _Found:
    offer: _Offer | None
    match: str
    hits: tuple[str, ...]


def _offers(agents: Sequence[AgentSpec]) -> list[_Offer]:
    providers: dict[str, list[AgentSpec]] = {}
    for agent in sorted(agents, key=lambda a: a.id):
        if agent.status is AgentStatus.RETIRED:
            continue
        for capability in agent.capabilities:
            providers.setdefault(capability, []).append(agent)
    return [
        _Offer(
            cap,
            frozenset(terms(cap)),
            frozenset(t for a in providers[cap] for t in description_terms(a.description)),
            tuple(providers[cap]),
        )
        for cap in sorted(providers)
    ]


def _matches(clause: str, offers: Sequence[_Offer]) -> list[_Found]:
    words = stems(clause)
    found = set(words.values())

    def said(hits: set[str]) -> tuple[str, ...]:
        """The clause's own words behind the matching stems."""
        return tuple(sorted(w for w, s in words.items() if s in hits))

    named = [(o, found & o.name_terms) for o in offers]
    named = [(o, hits) for o, hits in named if hits]
    if named:
        # the capability most fully named first, then the one named by more words
        named.sort(key=lambda m: (-len(m[1]) / len(m[0].name_terms), -len(m[1])))
        return [_Found(o, "capability", said(hits)) for o, hits in named]
    described = [(o, found & o.description_terms) for o in offers]
    best = max((len(hits) for _, hits in described), default=0)
    return [
        _Found(o, "description", said(hits)) for o, hits in described if hits and len(hits) == best
    ]


def plan_strategy(
    objective: str, agents: Sequence[AgentSpec], unavailable: Mapping[str, str]
) -> Strategy:
    """Phases for ``objective``. ``unavailable`` maps the ids of active agents that
    cannot take work now (offline, failed to load) to the reason."""
    stages = stages_of(objective)
    if not stages:
        raise ValidationError(
            "the objective has no words to plan from; describe the work, e.g. "
            "'scan the code, then write a report'"
        )
    offers = _offers(agents)
    matched = [[(c, _matches(c, offers) or [_Found(None, "none", ())]) for c in s] for s in stages]
    count = sum(len(found) for stage in matched for _, found in stage)
    if count > MAX_PHASES:
        raise ValidationError(
            f"the objective gives {count} phases; the limit is {MAX_PHASES}. Plan a part of "
            "it at a time"
        )
    phases: list[Phase] = []
    previous: tuple[str, ...] = ()
    for number, stage in enumerate(matched, start=1):
        current: list[str] = []
        for clause, found_all in stage:
            for found in found_all:
                phase_id = f"phase_{len(phases) + 1}"
                phases.append(_phase(phase_id, number, clause, found, previous, unavailable))
                current.append(phase_id)
        previous = tuple(current)
    return Strategy(tuple(phases), len(stages))


def _phase(
    phase_id: str,
    stage: int,
    clause: str,
    found: _Found,
    dependencies: tuple[str, ...],
    unavailable: Mapping[str, str],
) -> Phase:
    ready: list[str] = []
    blocked: list[tuple[str, str]] = []
    offer = found.offer
    for agent in offer.agents if offer is not None else ():
        reason = "paused" if agent.status is AgentStatus.PAUSED else unavailable.get(agent.id)
        if reason is None:
            ready.append(agent.id)
        else:
            blocked.append((agent.id, reason))
    return Phase(
        phase_id=phase_id,
        stage=stage,
        description=clause,
        capability=offer.capability if offer is not None else None,
        match=found.match,
        matched_terms=found.hits,
        agents=tuple(ready),
        unavailable=tuple(blocked),
        dependencies=dependencies,
    )
