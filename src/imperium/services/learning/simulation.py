"""The learning simulator behind ``imperium simulate``: the engine's router and predictor
against simulated agents whose true behaviour comes from a :class:`Scenario`.

A discrete-event simulation in simulated seconds (nothing sleeps). Tasks arrive as a
Poisson process at ``scenario.load * scenario.capacity()`` tasks per second and wait in
arrival order; whenever a task arrives or a slot frees, every waiting task that some
capable agent with a free slot can take is dispatched, oldest first. Candidates are the
engine's own objects (:class:`Task`, :class:`AgentState`) filtered by
:func:`can_take_now` and the scenario's skills; the chosen agent's attempt takes a
lognormal time and succeeds with the scenario's true probability. The policy hears the
outcome (:meth:`Router.observe`) when the attempt finishes, as in the engine.

Policies:

* ``learned`` — :class:`Router` in autonomous mode, called exactly as the engine calls its
  selection policy (``choose(task, candidates)``, skipped when only one agent can take the
  task).
* ``greedy`` — the seed's method: the candidate with the highest observed success rate on
  the task type (its whole history), no exploration; an agent never tried on the type
  counts as rate 0; ties are broken uniformly at random.
* ``random`` — uniform among the candidates.
* ``oracle`` — knows the truth: the highest true success among the candidates, then the
  shorter mean duration, then the id.

Common random numbers: one random stream drives the environment — per task, in arrival
order, the gap since the previous arrival, the task type, the complexity, a uniform *u*
(the attempt succeeds when *u* < true success of the chosen agent) and a standard normal
*z* (duration = exp(mu + sigma·z)) — and another one the policy, so every policy faces the
same tasks with the same luck. The drift schedule (``after_task``) counts tasks in arrival
order (0-based).

Regret of a decision = the highest true success among the same candidates - the chosen
agent's (the oracle's regret is 0 by definition). Every policy also feeds a router (in
observe mode when it does not choose) so drift alarms are measured for every run; an
alarm's ``at_task`` is the number of decisions made when it fired.

Predictions: a fresh predictor from ``make_predictor`` is fitted on the executions
finished so far every ``retrain_every`` decisions (the first on nothing, before decision
0); its prediction for the chosen agent is scored against the outcome, next to the score of
the true probabilities on the same outcomes (``auc_true``, ``brier_true``): the gap is what
the predictor misses.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

from imperium.domain.errors import ValidationError
from imperium.domain.learning import Query, RouterMode
from imperium.domain.models import AgentSpec, AgentState, Execution, Task
from imperium.domain.prediction import PairRates
from imperium.domain.routing import DriftAlarm, Router, RouterConfig
from imperium.domain.scenario import Drift, Scenario
from imperium.domain.selection import can_take_now
from imperium.domain.states import Outcome
from imperium.domain.stats import auc, brier
from imperium.ports import OutcomePredictor

POLICIES = ("learned", "greedy", "random", "oracle")
WINDOWS = 10
_MIN_DURATION = 1e-3

TRACE_KEYS = (
    "decision",
    "task",
    "task_type",
    "complexity",
    "chosen",
    "candidates",
    "running",
    "max_concurrency",
    "predicted_success",
    "true_success",
    "best_success",
    "succeeded",
    "predicted_duration",
    "duration",
    "wait",
)
"""The keys of every trace line (:func:`simulate`)."""

TraceSink = Callable[[dict[str, object]], None]


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------- result
@dataclass(frozen=True, slots=True)
class DetectedDrift:
    agent: str
    task_type: str
    at_task: int
    """Decisions made when the alarm fired."""
    direction: str
    before_rate: float
    recent_rate: float
    z: float
    confidence: float
    delay_tasks: int | None
    """at_task - after_task of the matching scenario entry; None for a false alarm."""
    entry: int | None = None
    """Index of the matching entry in the scenario's drift list."""

    def as_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "task_type": self.task_type,
            "at_task": self.at_task,
            "direction": self.direction,
            "before_rate": _r(self.before_rate),
            "recent_rate": _r(self.recent_rate),
            "z": _r(self.z),
            "confidence": _r(self.confidence),
            "delay_tasks": self.delay_tasks,
        }


@dataclass(frozen=True, slots=True)
class AgentTally:
    tasks: int
    successes: int
    peak_running: int
    """The most attempts it ever ran at once (never above max_concurrency)."""
    max_concurrency: int


@dataclass(frozen=True, slots=True)
class SimulationResult:
    scenario: str
    policy: str
    seed: int
    tasks: int
    load: float
    successes: int
    expected_reward: float
    """Σ over decisions of the chosen agent's true success probability."""
    oracle_expected_reward: float
    """Σ over decisions of the highest true success among the same candidates."""
    regret_per_decision: tuple[float, ...] = field(repr=False)
    mean_wait: float
    """Mean simulated seconds between a task's arrival and its start."""
    simulated_seconds: float
    prediction: dict[str, float | None]
    models: tuple[dict[str, object], ...]
    drift_scenario: tuple[Drift, ...]
    detected: tuple[DetectedDrift, ...]
    agents: dict[str, AgentTally]

    @property
    def regret(self) -> float:
        return self.oracle_expected_reward - self.expected_reward

    @property
    def success_rate(self) -> float:
        return self.successes / self.tasks

    def regret_by_window(self, windows: int = WINDOWS) -> list[dict[str, float | int]]:
        """Regret per task over ``windows`` equal spans of decisions (fewer when there are
        fewer decisions); ``from`` inclusive, ``to`` exclusive."""
        n = len(self.regret_per_decision)
        k = max(1, min(windows, n))
        bounds = [round(j * n / k) for j in range(k + 1)]
        result: list[dict[str, float | int]] = []
        for lo, hi in itertools.pairwise(bounds):
            span = self.regret_per_decision[lo:hi]
            result.append(
                {"from": lo, "to": hi, "regret_per_task": round(sum(span) / len(span), 6)}
            )
        return result

    @property
    def false_alarms(self) -> int:
        return sum(1 for d in self.detected if d.delay_tasks is None)

    def drift_json(self) -> dict[str, object]:
        """The scenario's drift entries, each with the first alarm that matched it
        (``detected_at_task`` and ``delay_tasks``, null when none did), and every alarm."""
        entries: list[dict[str, object]] = []
        for i, entry in enumerate(self.drift_scenario):
            first = next((d for d in self.detected if d.entry == i), None)
            entries.append(
                {
                    **entry.as_json(),
                    "detected_at_task": first.at_task if first else None,
                    "delay_tasks": first.delay_tasks if first else None,
                }
            )
        return {
            "scenario": entries,
            "detected": [d.as_json() for d in self.detected],
            "false_alarms": self.false_alarms,
        }

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "tasks": self.tasks,
            "load": self.load,
            "successes": self.successes,
            "success_rate": _r(self.success_rate),
            "expected_reward": _r(self.expected_reward),
            "oracle_expected_reward": _r(self.oracle_expected_reward),
            "regret": _r(self.regret),
            "regret_per_task": _r(self.regret / self.tasks),
            "regret_by_window": self.regret_by_window(),
            "mean_wait": _r(self.mean_wait),
            "simulated_seconds": _r(self.simulated_seconds),
            "prediction": self.prediction,
            "models": list(self.models),
            "drift": self.drift_json(),
            "agents": {agent_id: asdict(tally) for agent_id, tally in self.agents.items()},
        }


# ---------------------------------------------------------------------- policies
class _Policy(Protocol):
    def choose(
        self, task: Task, candidates: Sequence[AgentState], task_index: int
    ) -> AgentState: ...

    def observe(self, execution: Execution, ok: bool) -> None: ...


class _Learned:
    def __init__(self, router: Router) -> None:
        self.router = router

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        return self.router.choose(task, candidates)

    def observe(self, execution: Execution, ok: bool) -> None:
        """The router hears every execution already (it also detects drift)."""


class _Greedy:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tally: dict[tuple[str, str], list[int]] = {}

    def rate(self, task_type: str, agent_id: str) -> float:
        successes, n = self.tally.get((task_type, agent_id), (0, 0))
        return successes / n if n else 0.0

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        rates = [self.rate(task.type, a.spec.id) for a in candidates]
        best = max(rates)
        return self.rng.choice([a for a, r in zip(candidates, rates, strict=True) if r == best])

    def observe(self, execution: Execution, ok: bool) -> None:
        assert execution.agent_id is not None
        tally = self.tally.setdefault((execution.task_type, execution.agent_id), [0, 0])
        tally[0] += ok
        tally[1] += 1


class _Random:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        return self.rng.choice(list(candidates))

    def observe(self, execution: Execution, ok: bool) -> None:
        """Random learns nothing."""


class _Oracle:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        s = self.scenario
        return min(
            candidates,
            key=lambda a: (
                -s.true_success(a.spec.id, task.type, task.complexity, task_index),
                s.mean_duration(a.spec.id, task.type, task.complexity),
                a.spec.id,
            ),
        )

    def observe(self, execution: Execution, ok: bool) -> None:
        """The oracle knows already."""


# ---------------------------------------------------------------------- the run
@dataclass(slots=True)
class _Pending:
    index: int
    task: Task
    arrived_at: float
    u: float
    z: float


@dataclass(frozen=True, slots=True)
class _Running:
    task: Task
    agent: AgentState
    ok: bool


@dataclass(slots=True)
class _Record:
    """What each decision leaves for the scores."""

    predicted: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    outcome: list[bool] = field(default_factory=list)
    log_error: list[float] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    expected: float = 0.0
    best: float = 0.0
    successes: int = 0
    wait: float = 0.0


def simulate(
    scenario: Scenario,
    *,
    tasks: int,
    policy: str,
    seed: int,
    make_predictor: Callable[[], OutcomePredictor] = PairRates,
    retrain_every: int = 1000,
    trace: TraceSink | None = None,
    progress: Callable[[int], None] | None = None,
    router_config: RouterConfig | None = None,
) -> SimulationResult:
    """Run ``tasks`` tasks of ``scenario`` under ``policy`` (one of :data:`POLICIES`).

    ``trace`` receives one dict per decision, in decision order, with the keys of
    :data:`TRACE_KEYS`: ``task_type``, ``complexity``, ``chosen``, ``predicted_success``,
    ``true_success``, ``succeeded``, ``predicted_duration`` (null before the predictor has
    seen an execution), ``duration``, and also ``decision`` (0-based), ``task`` (arrival
    index), ``candidates`` (the agents that could take it then), ``running`` (the chosen
    agent's attempts including this one), ``max_concurrency`` (its limit),
    ``best_success`` (the oracle's true success among the candidates) and ``wait``
    (simulated seconds since arrival).

    ``progress`` receives the number of decisions made, about every 1% and at the end.
    ``router_config`` tunes the router (default: the engine's defaults); its mode is set by
    the policy (autonomous for ``learned``, observe otherwise).

    Deterministic for a given scenario, policy, seed and predictor.
    """
    if policy not in POLICIES:
        raise ValidationError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise ValidationError(f"tasks must be a whole number >= 1, got {tasks!r}")
    if retrain_every < 1:
        raise ValidationError(f"retrain_every must be >= 1, got {retrain_every}")

    env = random.Random(seed)
    policy_rng = random.Random(f"{seed}:policy")
    base = router_config or RouterConfig()
    mode = RouterMode.AUTONOMOUS if policy == "learned" else RouterMode.OBSERVE
    router = Router(policy_rng, replace(base, enabled=True, mode=mode))
    chooser: _Policy
    if policy == "learned":
        chooser = _Learned(router)
    elif policy == "greedy":
        chooser = _Greedy(policy_rng)
    elif policy == "random":
        chooser = _Random(policy_rng)
    else:
        chooser = _Oracle(scenario)

    states = {
        a.id: AgentState(
            AgentSpec(
                id=a.id,
                type="simulated",
                capabilities=a.capabilities,
                max_concurrency=a.max_concurrency,
            )
        )
        for a in scenario.agents
    }
    capable = {
        t.name: [states[a.id] for a in scenario.capable_agents(t.name)] for t in scenario.task_types
    }
    type_names = [t.name for t in scenario.task_types]
    total_weight = sum(t.weight for t in scenario.task_types)
    cumulative: list[float] = []
    acc = 0.0
    for t in scenario.task_types:
        acc += t.weight / total_weight
        cumulative.append(acc)
    rate = scenario.load * scenario.capacity()
    low, high = scenario.complexity.min, scenario.complexity.max

    waiting: dict[str, deque[_Pending]] = {name: deque() for name in type_names}
    events: list[tuple[float, int, int | _Running]] = []
    sequence = 0
    executions: list[Execution] = []
    record = _Record()
    detected: list[DetectedDrift] = []
    models: list[dict[str, object]] = []
    predictor: OutcomePredictor = make_predictor()
    chosen_count = dict.fromkeys(states, 0)
    success_count = dict.fromkeys(states, 0)
    peak = dict.fromkeys(states, 0)
    decisions = 0
    report_every = max(1, tasks // 100)

    def push(at: float, event: int | _Running) -> None:
        """Schedule an arrival (the task's index) or a completion."""
        nonlocal sequence
        heapq.heappush(events, (at, sequence, event))
        sequence += 1

    def arrive(index: int, now: float) -> None:
        draw = env.random()
        kind = type_names[-1]
        for name, edge in zip(type_names, cumulative, strict=True):
            if draw < edge:
                kind = name
                break
        complexity = env.uniform(low, high)
        u = env.random()
        z = env.gauss(0.0, 1.0)
        task = Task(
            id=f"sim-{index}",
            type=kind,
            created_at=now,
            capabilities=scenario.task_type(kind).capabilities,
            complexity=complexity,
            max_attempts=1,
        )
        waiting[kind].append(_Pending(index, task, now, u, z))
        if index + 1 < tasks:
            push(now + env.expovariate(rate), index + 1)

    def candidates_for(task: Task) -> list[AgentState]:
        return [a for a in capable[task.type] if can_take_now(a, task)]

    def refit(now: float) -> None:
        nonlocal predictor
        predictor = make_predictor()
        report = predictor.fit(executions, now)
        fields: dict[str, object] = {"at_task": decisions, **asdict(report)}
        for key, value in fields.items():
            if isinstance(value, float):
                fields[key] = round(value, 6)
        fields["brier_skill"] = _r(report.brier_skill)
        models.append(fields)

    def start(item: _Pending, candidates: list[AgentState], now: float) -> None:
        nonlocal decisions
        task = item.task
        if decisions % retrain_every == 0:
            refit(now)
        chosen = (
            candidates[0] if len(candidates) == 1 else chooser.choose(task, candidates, item.index)
        )
        if chosen not in candidates:  # pragma: no cover - a policy bug
            raise RuntimeError(f"policy {policy} chose an agent that cannot take the task")
        agent_id = chosen.spec.id
        truths = [
            scenario.true_success(a.spec.id, task.type, task.complexity, item.index)
            for a in candidates
        ]
        p_true = truths[candidates.index(chosen)]
        best = max(truths)
        ok = item.u < p_true
        sigma = scenario.duration_sigma(agent_id, task.type)
        duration = math.exp(
            scenario.duration_mu(agent_id, task.type, task.complexity) + sigma * item.z
        )
        prediction = predictor.predict([Query(task.type, task.complexity, agent_id)])[0]

        chosen.running += 1
        if chosen.running > chosen.spec.max_concurrency:  # pragma: no cover - a bug
            raise RuntimeError(f"agent {agent_id} runs more than its max_concurrency")
        peak[agent_id] = max(peak[agent_id], chosen.running)
        chosen_count[agent_id] += 1
        success_count[agent_id] += ok
        task.agent_id = agent_id
        task.started_at = now
        task.attempts = 1
        task.lease_token = 1

        record.predicted.append(prediction.success)
        record.truth.append(p_true)
        record.outcome.append(ok)
        record.regret.append(best - p_true)
        record.expected += p_true
        record.best += best
        record.successes += ok
        record.wait += now - item.arrived_at
        if prediction.duration is not None:
            record.log_error.append(
                abs(
                    math.log(max(prediction.duration, _MIN_DURATION))
                    - math.log(max(duration, _MIN_DURATION))
                )
            )
        if trace is not None:
            trace(
                {
                    "decision": decisions,
                    "task": item.index,
                    "task_type": task.type,
                    "complexity": round(task.complexity, 6),
                    "chosen": agent_id,
                    "candidates": [a.spec.id for a in candidates],
                    "running": chosen.running,
                    "max_concurrency": chosen.spec.max_concurrency,
                    "predicted_success": round(prediction.success, 6),
                    "true_success": round(p_true, 6),
                    "best_success": round(best, 6),
                    "succeeded": ok,
                    "predicted_duration": _r(prediction.duration),
                    "duration": round(duration, 6),
                    "wait": round(now - item.arrived_at, 6),
                }
            )
        decisions += 1
        if progress is not None and (decisions % report_every == 0 or decisions == tasks):
            progress(decisions)
        push(now + duration, _Running(task, chosen, ok))

    def dispatch(now: float) -> None:
        while True:
            head: _Pending | None = None
            head_candidates: list[AgentState] = []
            for queue in waiting.values():
                if not queue or (head is not None and queue[0].index > head.index):
                    continue
                found = candidates_for(queue[0].task)
                if found:
                    head, head_candidates = queue[0], found
            if head is None:
                return
            waiting[head.task.type].popleft()
            start(head, head_candidates, now)

    def complete(running: _Running, now: float) -> None:
        task, ok = running.task, running.ok
        running.agent.running -= 1
        assert task.started_at is not None
        assert task.agent_id is not None
        execution = Execution(
            task_id=task.id,
            attempt=task.attempts,
            agent_id=task.agent_id,
            task_type=task.type,
            complexity=task.complexity,
            started_at=task.started_at,
            finished_at=now,
            outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
            lease_token=task.lease_token,
        )
        executions.append(execution)
        alarm = router.observe(execution)
        chooser.observe(execution, ok)
        if alarm is not None:
            detected.append(_detected(alarm, decisions, scenario))

    now = 0.0
    push(env.expovariate(rate), 0)
    while events:
        now, _, event = heapq.heappop(events)
        if isinstance(event, int):
            arrive(event, now)
        else:
            complete(event, now)
        dispatch(now)

    prediction_scores: dict[str, float | None] = {
        "auc": _r(auc(record.predicted, record.outcome)),
        "auc_true": _r(auc(record.truth, record.outcome)),
        "brier": _r(brier(record.predicted, record.outcome)),
        "brier_true": _r(brier(record.truth, record.outcome)),
        "mae_log_duration": _r(
            sum(record.log_error) / len(record.log_error) if record.log_error else None
        ),
    }
    return SimulationResult(
        scenario=scenario.name,
        policy=policy,
        seed=seed,
        tasks=tasks,
        load=scenario.load,
        successes=record.successes,
        expected_reward=record.expected,
        oracle_expected_reward=record.best,
        regret_per_decision=tuple(record.regret),
        mean_wait=record.wait / tasks,
        simulated_seconds=now,
        prediction=prediction_scores,
        models=tuple(models),
        drift_scenario=scenario.drift,
        detected=tuple(detected),
        agents={
            a.id: AgentTally(chosen_count[a.id], success_count[a.id], peak[a.id], a.max_concurrency)
            for a in scenario.agents
        },
    )


def _direction(entry: Drift, scenario: Scenario) -> str | None:
    """Which way ``entry`` moves its pair's success: "degraded", "improved" or None (no
    change)."""
    before = scenario.base_success(entry.agent, entry.task_type, entry.after_task - 1)
    if entry.success == before:
        return None
    return "degraded" if entry.success < before else "improved"


def _detected(alarm: DriftAlarm, at_task: int, scenario: Scenario) -> DetectedDrift:
    """The alarm, matched to the latest scenario entry for the same pair already in force
    when it fired that moves the success the way the alarm says (none: a false alarm)."""
    matching = [
        d
        for d in scenario.drift
        if d.agent == alarm.agent_id and d.task_type == alarm.task_type and d.after_task <= at_task
    ]
    entry = max(matching, key=lambda d: d.after_task) if matching else None
    if entry is not None and _direction(entry, scenario) != alarm.direction:
        entry = None
    return DetectedDrift(
        agent=alarm.agent_id,
        task_type=alarm.task_type,
        at_task=at_task,
        direction=alarm.direction,
        before_rate=alarm.before_rate,
        recent_rate=alarm.recent_rate,
        z=alarm.z,
        confidence=alarm.confidence,
        delay_tasks=at_task - entry.after_task if entry is not None else None,
        entry=scenario.drift.index(entry) if entry is not None else None,
    )
