"""One simulation run: :func:`simulate` checks its arguments and hands them to a
:class:`Simulation`, which owns the run's state and advances it one event at a time."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace

from imperium.domain.errors import ValidationError
from imperium.domain.learning import Query, RouterMode
from imperium.domain.models import AgentSpec, AgentState, Execution
from imperium.domain.prediction import PairRates, since_drift
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.scenario import Scenario
from imperium.domain.selection import can_take_now
from imperium.domain.states import Outcome
from imperium.ports import OutcomePredictor
from imperium.services.learning.simulation.drift import detected_drift
from imperium.services.learning.simulation.events import Arrivals, EventQueue, Pending, Running
from imperium.services.learning.simulation.policies import POLICIES, make_policy
from imperium.services.learning.simulation.record import AgentCounts, Decision, Record
from imperium.services.learning.simulation.result import (
    DetectedDrift,
    SimulationResult,
    rounded,
)
from imperium.services.learning.simulation.teams import simulate_teams

TraceSink = Callable[[dict[str, object]], None]
Progress = Callable[[int], None]


def simulate(
    scenario: Scenario,
    *,
    tasks: int,
    policy: str,
    seed: int,
    make_predictor: Callable[[], OutcomePredictor] = PairRates,
    retrain_every: int = 1000,
    trace: TraceSink | None = None,
    progress: Progress | None = None,
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
    _check_arguments(tasks, policy, retrain_every)
    simulation = Simulation(
        scenario,
        tasks=tasks,
        policy=policy,
        seed=seed,
        make_predictor=make_predictor,
        retrain_every=retrain_every,
        router_config=router_config or RouterConfig(),
        trace=trace,
        progress=progress,
    )
    return simulation.run()


def _check_arguments(tasks: int, policy: str, retrain_every: int) -> None:
    if policy not in POLICIES:
        raise ValidationError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise ValidationError(f"tasks must be a whole number >= 1, got {tasks!r}")
    if retrain_every < 1:
        raise ValidationError(f"retrain_every must be >= 1, got {retrain_every}")


def _capable_agents(scenario: Scenario) -> dict[str, list[AgentState]]:
    """Per task type, the engine's view of each simulated agent able to do it (nothing
    running yet; one state per agent, shared between its types)."""
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
    return {
        t.name: [states[a.id] for a in scenario.capable_agents(t.name)] for t in scenario.task_types
    }


class Simulation:
    """The state of one run: agents, waiting tasks, events, the policy, the predictor and
    what has been measured so far. Use once: :meth:`run`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        tasks: int,
        policy: str,
        seed: int,
        make_predictor: Callable[[], OutcomePredictor],
        retrain_every: int,
        router_config: RouterConfig,
        trace: TraceSink | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.scenario, self.tasks, self.policy_name, self.seed = scenario, tasks, policy, seed
        self.make_predictor, self.retrain_every = make_predictor, retrain_every
        self.trace, self.progress = trace, progress
        self.report_every = max(1, tasks // 100)
        env = random.Random(seed)  # the environment's stream: the same for every policy
        policy_rng = random.Random(f"{seed}:policy")
        mode = RouterMode.AUTONOMOUS if policy == "learned" else RouterMode.OBSERVE
        self.router = Router(policy_rng, replace(router_config, enabled=True, mode=mode))
        self.policy = make_policy(policy, self.router, policy_rng, scenario)
        self.capable = _capable_agents(scenario)
        self.arrivals = Arrivals(scenario, env)
        self.waiting: dict[str, deque[Pending]] = {name: deque() for name in self.capable}
        self.events = EventQueue()
        self.executions: list[Execution] = []
        self.record = Record()
        self.counts = AgentCounts([a.id for a in scenario.agents])
        self.detected: list[DetectedDrift] = []
        self.models: list[dict[str, object]] = []
        self.predictor = make_predictor()
        self.decisions = 0
        self.now = 0.0
        self.teams: dict[str, object] | None = None

    # -- the event loop -----------------------------------------------------------------
    def run(self) -> SimulationResult:
        """Every task from arrival to completion; then what was measured."""
        self.events.push(self.arrivals.gap(), 0)
        while self.events:
            self.now, event = self.events.pop()
            if isinstance(event, int):
                self._arrive(event)
            else:
                self._complete(event)
            self._dispatch()
        if self.scenario.teams is not None:
            self.teams = simulate_teams(
                self.scenario,
                self.router,
                policy=self.policy_name,
                seed=self.seed,
                count=max(1, round(self.scenario.teams.share * self.tasks)),
                start=self.now,
                index=self.tasks,
            ).as_json(self.scenario.teams)
        return self._result()

    def _arrive(self, index: int) -> None:
        pending = self.arrivals.draw(index, self.now)
        self.waiting[pending.task.type].append(pending)
        if index + 1 < self.tasks:
            self.events.push(self.now + self.arrivals.gap(), index + 1)

    def _complete(self, running: Running) -> None:
        running.agent.running -= 1
        execution = _execution(running, self.now)
        self.executions.append(execution)
        alarm = self.router.observe(execution)
        self.policy.observe(execution, running.ok)
        if alarm is not None:
            self.detected.append(detected_drift(alarm, self.decisions, self.scenario))
            self._refit()  # the predictor forgets the pair's old regime at once

    # -- dispatching ----------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Start every waiting task some agent can take now, oldest first."""
        while (ready := self._oldest_ready()) is not None:
            item, candidates = ready
            self.waiting[item.task.type].popleft()
            self._start(item, candidates)

    def _oldest_ready(self) -> tuple[Pending, list[AgentState]] | None:
        """The oldest task at the head of its type's queue that an agent can take now,
        with those agents."""
        head: tuple[Pending, list[AgentState]] | None = None
        for queue in self.waiting.values():
            if not queue or (head is not None and queue[0].index > head[0].index):
                continue
            found = self._candidates(queue[0])
            if found:
                head = (queue[0], found)
        return head

    def _candidates(self, item: Pending) -> list[AgentState]:
        return [a for a in self.capable[item.task.type] if can_take_now(a, item.task)]

    def _start(self, item: Pending, candidates: list[AgentState]) -> None:
        if _refit_due(self.decisions, self.retrain_every):
            self._refit()
        decision = self._decide(item, candidates)
        chosen = decision.chosen
        chosen.running += 1
        if chosen.running > chosen.spec.max_concurrency:  # pragma: no cover - a bug
            raise RuntimeError(f"agent {chosen.spec.id} runs more than its max_concurrency")
        self.counts.count(chosen, decision.ok)
        _lease(item, chosen, self.now)
        self.record.add(decision)
        if self.trace is not None:
            self.trace(decision.trace_line())
        self.decisions += 1
        self._report_progress()
        self.events.push(self.now + decision.duration, Running(item.task, chosen, decision.ok))

    def _report_progress(self) -> None:
        """About every 1% of the tasks, and at the end."""
        due = self.decisions % self.report_every == 0 or self.decisions == self.tasks
        if self.progress is not None and due:
            self.progress(self.decisions)

    def _decide(self, item: Pending, candidates: list[AgentState]) -> Decision:
        """The policy's choice for ``item`` and, from the scenario's truth and the task's
        luck, how the attempt will go."""
        task, scenario = item.task, self.scenario
        chosen = (
            candidates[0]
            if len(candidates) == 1
            else self.policy.choose(task, candidates, item.index)
        )
        if chosen not in candidates:  # pragma: no cover - a policy bug
            raise RuntimeError(
                f"policy {self.policy_name} chose an agent that cannot take the task"
            )
        agent_id = chosen.spec.id
        truths = [
            scenario.true_success(a.spec.id, task.type, task.complexity, item.index)
            for a in candidates
        ]
        true_success = truths[candidates.index(chosen)]
        sigma = scenario.duration_sigma(agent_id, task.type)
        mu = scenario.duration_mu(agent_id, task.type, task.complexity)
        return Decision(
            number=self.decisions,
            item=item,
            candidates=candidates,
            chosen=chosen,
            true_success=true_success,
            best_success=max(truths),
            ok=item.u < true_success,
            duration=math.exp(mu + sigma * item.z),
            prediction=self.predictor.predict([Query(task.type, task.complexity, agent_id)])[0],
            started_at=self.now,
        )

    def _refit(self) -> None:
        """A fresh predictor, fitted on the executions finished so far."""
        self.predictor = self.make_predictor()
        report = self.predictor.fit(since_drift(self.executions, self.router.alarms), self.now)
        fields: dict[str, object] = {"at_task": self.decisions, **asdict(report)}
        for key, value in fields.items():
            if isinstance(value, float):
                fields[key] = round(value, 6)
        fields["brier_skill"] = rounded(report.brier_skill)
        self.models.append(fields)

    # -- the result -----------------------------------------------------------------------
    def _result(self) -> SimulationResult:
        return SimulationResult(
            scenario=self.scenario.name,
            policy=self.policy_name,
            seed=self.seed,
            tasks=self.tasks,
            load=self.scenario.load,
            successes=self.record.successes,
            expected_reward=self.record.expected,
            oracle_expected_reward=self.record.best,
            regret_per_decision=tuple(self.record.regret),
            mean_wait=self.record.wait / self.tasks,
            simulated_seconds=self.now,
            prediction=self.record.prediction_scores(),
            models=tuple(self.models),
            drift_scenario=self.scenario.drift,
            detected=tuple(self.detected),
            agents=self.counts.tallies(self.scenario),
            teams=self.teams,
        )


def _refit_due(decisions: int, every: int) -> bool:
    """Refit before this decision: every ``every`` decisions (the first before decision
    0) and, before the first ``every`` (and 1,024 at most), while the evidence grows
    fast: every 8 decisions up to 256, then every 16 up to 512 and every 32 after that,
    so early decisions are not predicted from what the first few taught."""
    if decisions % every == 0:
        return True
    if decisions >= min(every, _EARLY_UNTIL) or decisions < _EARLY_STEP:
        return False
    return decisions % max(_EARLY_STEP, 1 << max(0, decisions.bit_length() - 5)) == 0


_EARLY_STEP = 8
_EARLY_UNTIL = 1024  # early refits stop here even when retrain_every is larger


def _lease(item: Pending, agent: AgentState, now: float) -> None:
    """Mark the task as the engine does when it leases it to ``agent``."""
    item.task.agent_id = agent.spec.id
    item.task.started_at = now
    item.task.attempts = 1
    item.task.lease_token = 1


def _execution(running: Running, now: float) -> Execution:
    """The execution row of an attempt that ends ``now``."""
    task = running.task
    assert task.started_at is not None
    assert task.agent_id is not None
    return Execution(
        task_id=task.id,
        attempt=task.attempts,
        agent_id=task.agent_id,
        task_type=task.type,
        complexity=task.complexity,
        started_at=task.started_at,
        finished_at=now,
        outcome=Outcome.SUCCEEDED if running.ok else Outcome.FAILED,
        lease_token=task.lease_token,
    )
