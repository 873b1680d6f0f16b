"""The learner: learning cycles, the predictor in use, and recommendations.

One :class:`Learner` per process. In ``imperium serve`` it shares its :class:`Router` with
the engine (the router learns from every execution as it is recorded); cycles run on
demand and, every ``LEARNING_CYCLE_INTERVAL`` seconds, as the built-in imperium agent's
tasks (``services/schedule.py``). A learning cycle reads the newest
executions and, from them only:

1. refits the success/duration predictor, measuring it on held-out data first;
2. generates insights (best combinations, patterns to avoid, bottlenecks, drift, and
   people's feedback per agent when there is enough of it);
3. recomputes every registered agent's learning columns in ``agent_metrics``;
4. rebuilds the router's posteriors from the same executions and the stored ratings of
   their results, so that what other processes recorded (an import, another scheduler
   before a fail-over, a rating given with the CLI) counts too;
5. stores a ``learning_cycles`` row (participants, counts, the model version and its
   scores, the router's drift alarms since the previous cycle), the insights and the model
   report, and logs a ``learning_cycle.completed`` learning event.

The CPU-heavy part (fitting, insights) runs in a worker thread so the scheduler keeps
dispatching meanwhile.

A cycle's row says which process runs it (:class:`CycleRunner`). A process killed during
a cycle cannot record its end, so a scheduler that starts (or takes over as a standby)
records as failed, reason "scheduler restart", the cycles left ``running`` by the earlier
scheduler or by a process that is gone (:meth:`Learner.settle_interrupted`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.feedback import (
    Feedback,
    feedback_insights,
    feedback_summary,
    in_time_order,
)
from imperium.domain.insights import agent_figures, generate_insights, insight_order
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
    Query,
    RouterMode,
    counts,
    succeeded,
)
from imperium.domain.models import AgentSpec, AgentState, Execution, Task
from imperium.domain.prediction import since_drift
from imperium.domain.routing import DriftAlarm, Router
from imperium.domain.selection import could_ever_take
from imperium.domain.states import AgentStatus
from imperium.domain.team_insights import team_insights
from imperium.ports import (
    AgentStore,
    Clock,
    CycleStore,
    FeedbackStore,
    LearningLog,
    LearningStore,
    OutcomePredictor,
    TeamStore,
)

log = logging.getLogger(__name__)

MIN_EVIDENCE = 10
"""Fewer recorded attempts than this behind a recommendation is reported as a risk."""
UNSETTLED_SCAN = 1000
"""How many of the newest cycles a starting scheduler looks through for ones left running."""


class LearnerStore(CycleStore, AgentStore, LearningStore, Protocol):
    """What the learner reads and writes."""


class EventLogger(Protocol):
    async def log(self, entry: LearningLog) -> LearningLog: ...


@dataclass(frozen=True, slots=True)
class LearnerConfig:
    history: int = 50_000
    probability_draws: int = 2000
    cycle_timeout: float = 600.0  # seconds; a cycle still running then is recorded as failed


@dataclass(frozen=True, slots=True)
class CycleRunner:
    """The process a learner runs its cycles in, recorded in every cycle it starts, so that
    a scheduler starting later can tell the ``running`` rows whose process is gone."""

    name: str
    """Unique per process (``host:pid:random``; in ``imperium serve`` the scheduler lock's
    owner)."""
    scheduler: bool = False
    """True in the scheduler process: its cycles end when it stops holding the lock."""
    is_dead: Callable[[str], bool] = lambda _name: False
    """Whether the process of that name is known to be gone (same host, no such process)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One candidate agent for a recommendation, with the evidence behind it."""

    agent_id: str
    expected_success: float
    expected_duration: float | None
    confidence: float
    """Probability, under the router's posteriors, that this agent has the highest success
    rate among the candidates (Monte Carlo over posterior draws)."""
    sample_size: int
    interval: tuple[float, float]
    """95% Wilson interval of its observed success rate on this task type."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    recommendation_id: str
    task_type: str
    complexity: float
    primary: Option
    alternatives: list[Option]
    risk_factors: list[str]
    optimization_suggestions: list[str]
    learning_mode: str
    model_version: str | None
    timestamp: float


class Learner:
    def __init__(
        self,
        store: LearnerStore,
        clock: Clock,
        new_id: Callable[[], str],
        router: Router,
        make_predictor: Callable[[], OutcomePredictor],
        events: EventLogger | None = None,
        config: LearnerConfig | None = None,
        runner: CycleRunner | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.router = router
        self.make_predictor = make_predictor
        self.predictor = make_predictor()
        self.events = events
        self.config = config or LearnerConfig()
        self.runner = runner
        self.running: str | None = None  # id of the cycle in progress
        self._lock = asyncio.Lock()
        self._alarms_reported = 0
        self._background: set[asyncio.Task[LearningCycle]] = set()
        self.teams: TeamStore | None = None
        """Where team tasks are recorded: a cycle then also finds combination insights."""
        self.knowledge_insights: Callable[[float], Awaitable[list[Insight]]] | None = None
        """Insights on whether using the knowledge base goes with success (per task type),
        added to each cycle's when set."""
        self.feedback: FeedbackStore | None = None
        """Where people's ratings are stored: replayed into the router with the executions
        they rate, and summed up in insights."""

    @property
    def enabled(self) -> bool:
        return self.router.config.enabled

    @property
    def mode(self) -> str:
        return self.router.config.mode.value if self.enabled else "disabled"

    def _require_enabled(self) -> None:
        if not self.enabled:
            raise ConflictError(
                "learning is disabled (IMPERIUM_LEARNING_ENABLED=false); enable it to run "
                "learning cycles and get recommendations"
            )

    # ------------------------------------------------------------------ start
    async def warm_up(self, *, fit: bool = True) -> int:
        """Replay recent history into the router (and fit the predictor on it); returns the
        number of executions read."""
        if not self.enabled:
            return 0
        await self._reap()
        executions = await self.store.recent_executions(self.config.history)
        self.router.replay(in_time_order(executions, await self._ratings()))
        self._alarms_reported = self.router.alarms_raised
        if fit and executions:
            predictor = self.make_predictor()
            try:
                report = await asyncio.to_thread(predictor.fit, executions, self.clock.now())
            except Exception:  # the server must start; the next cycle tries again
                log.exception(
                    "fitting the predictor at start failed; predictions use the per-pair "
                    "rates until the next learning cycle"
                )
            else:
                self.predictor = predictor
                await self.store.save_model(None, report)
        return len(executions)

    # ------------------------------------------------------------------ cycles
    async def trigger(self, trigger: str = "manual") -> tuple[str, bool]:
        """Start a cycle in the background; returns (cycle id, started). When one is
        already running, returns its id and False."""
        self._require_enabled()
        if self.running is not None:
            return self.running, False
        cycle = await self._begin(trigger)
        task = asyncio.create_task(self._run(cycle))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return cycle.cycle_id, True

    async def run_cycle(self, trigger: str = "manual") -> LearningCycle:
        """Run one cycle to its end and return its row (status ``failed`` with the error in
        ``metadata`` if it could not complete)."""
        self._require_enabled()
        if self.running is not None:
            raise ConflictError(
                f"learning cycle {self.running} is still running; wait for it to finish"
            )
        return await self._run(await self._begin(trigger))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _begin(self, trigger: str) -> LearningCycle:
        cycle = LearningCycle(
            cycle_id=self.new_id(),
            start_time=self.clock.now(),
            end_time=None,
            participating_agents=(),
            total_learning_value=None,
            success_count=0,
            failure_count=0,
            insights_generated=0,
            status=CycleStatus.RUNNING,
            metadata={"trigger": trigger, **self._runner_fields()},
            trigger=trigger,
        )
        self.running = cycle.cycle_id
        try:
            await self.store.save_cycle(cycle)
        except BaseException:
            self.running = None
            raise
        return cycle

    async def _run(self, cycle: LearningCycle) -> LearningCycle:
        limit = self.config.cycle_timeout
        try:
            async with self._lock, asyncio.timeout(limit):
                done, announcement = await self._learn(cycle)
        except asyncio.CancelledError:
            await self._fail(cycle, "cancelled: the server stopped during the cycle")
            raise
        except TimeoutError:
            log.error("learning cycle %s did not finish within %s s", cycle.cycle_id, limit)
            return await self._fail(
                cycle,
                f"timed out after {limit:g} s; raise IMPERIUM_LEARNING_CYCLE_TIMEOUT or lower "
                "IMPERIUM_LEARNING_HISTORY",
            )
        except Exception as exc:
            log.exception("learning cycle %s failed", cycle.cycle_id)
            return await self._fail(cycle, f"{type(exc).__name__}: {exc}")
        finally:
            if self.running == cycle.cycle_id:  # a next cycle may have begun meanwhile
                self.running = None
        # Announced once its row says completed, outside the try: however this ends (even
        # cancelled by the server stopping), the completed row stays completed.
        if self.events is not None:
            try:
                await self.events.log(announcement)
            except Exception:
                log.exception("could not log the end of learning cycle %s", cycle.cycle_id)
        return done

    async def _fail(self, cycle: LearningCycle, error: str) -> LearningCycle:
        failed = replace(
            cycle,
            end_time=self.clock.now(),
            status=CycleStatus.FAILED,
            metadata={**cycle.metadata, "error": error},
        )
        if self.running == cycle.cycle_id:
            self.running = None  # as in _learn: ended before its row says so
        try:
            await asyncio.shield(self.store.save_cycle(failed))
        except Exception:
            log.exception("could not record the failure of learning cycle %s", cycle.cycle_id)
        if self.events is not None:  # a learning event, so alert rules can hear it
            failure = LearningLog(
                event_type="learning_cycle.failed",
                created_at=failed.end_time or self.clock.now(),
                agent_type="imperium",
                error_message=error,
                event_data={"cycle_id": cycle.cycle_id, "trigger": cycle.trigger},
            )
            try:
                await asyncio.shield(self.events.log(failure))
            except Exception:
                log.exception("could not log the failure of learning cycle %s", cycle.cycle_id)
        return failed

    async def _learn(self, cycle: LearningCycle) -> tuple[LearningCycle, LearningLog]:
        now = cycle.start_time
        self.router.record()  # what the engine reports while we read and fit
        try:
            executions = await self.store.recent_executions(self.config.history)
            ratings = await self._ratings()
            specs = await self.store.list_agents()
            predictor = self.make_predictor()
            replay = Router(self.router.rng, self.router.config)
            report, insights, figures = await asyncio.to_thread(
                _compute, predictor, replay, (executions, ratings), [s.id for s in specs], now
            )
        finally:
            observed = self.router.recorded()
        if self.teams is not None:  # combinations of agents, from recorded team tasks
            runs = await self.teams.list_teams(limit=self.config.history)
            insights = sorted([*insights, *team_insights(runs, now)], key=insight_order)
        if self.knowledge_insights is not None:
            found = await self.knowledge_insights(now)
            insights = sorted([*insights, *found], key=insight_order)
        read = {(e.task_id, e.attempt) for e in executions}
        rated = {f.feedback_id for f in ratings}
        replay.replay(
            item
            for item in observed
            if (
                item.feedback_id not in rated
                if isinstance(item, Feedback)
                else (item.task_id, item.attempt) not in read
            )
        )
        self.predictor = predictor
        self.router.adopt(replay)
        learned = [e for e in executions if counts(e)]
        participants = tuple(sorted({e.agent_id for e in learned if e.agent_id is not None}))
        alarms = self._new_alarms()
        updated = await self.store.save_agent_figures(figures, now)
        await self.store.save_insights(cycle.cycle_id, insights)
        await self.store.save_model(cycle.cycle_id, report)
        end = self.clock.now()
        done = replace(
            cycle,
            end_time=end,
            participating_agents=participants,
            total_learning_value=_rounded(report.brier_skill),
            success_count=sum(1 for e in learned if succeeded(e)),
            failure_count=sum(1 for e in learned if not succeeded(e)),
            insights_generated=len(insights),
            status=CycleStatus.COMPLETED,
            metadata={
                **cycle.metadata,
                "executions_read": len(executions),
                "executions_learned": len(learned),
                "agents_updated": updated,
                "model": model_dict(report),
                "drift_alarms": [alarm_dict(a) for a in alarms],
                "insight_types": _type_counts(insights),
                "feedback_read": len(ratings),
                "feedback": feedback_summary(ratings),
                "seconds": round(end - now, 3),
            },
        )
        # The cycle's work is done: a trigger from now on starts the next one (it waits for
        # the lock, so after this row is saved). Cleared before the save, so whoever sees
        # the row ``completed`` can start a new cycle.
        self.running = None
        await self.store.save_cycle(done)
        announcement = LearningLog(
            event_type="learning_cycle.completed",
            created_at=end,
            agent_type="imperium",
            results_count=len(insights),
            insights=[i.description for i in insights[:5]],
            processing_time=round(end - now, 3),
            impact_score=max(0.0, done.total_learning_value or 0.0),
            event_data={"cycle_id": done.cycle_id, "model_version": report.version},
        )
        return done, announcement

    async def _ratings(self) -> list[Feedback]:
        if self.feedback is None:
            return []
        return await self.feedback.recent_feedback(self.config.history)

    def _runner_fields(self) -> dict[str, object]:
        if self.runner is None:
            return {}
        return {"process": self.runner.name, "scheduler": self.runner.scheduler}

    async def settle_interrupted(self) -> int:
        """Record as failed (reason: scheduler restart) the cycles left ``running`` by a
        process that is gone; returns how many.

        Called when a scheduler starts (once it holds the lock: the previous scheduler has
        stopped or died, so its cycles ended with it). A cycle of another process (``imperium
        learn``) is failed only when that process is known to be gone; one with no recorded
        process (from before processes were recorded) was left by an earlier scheduler.
        """
        try:
            if not await self.store.count_cycles(CycleStatus.RUNNING):
                return 0
            cycles = await self.store.list_cycles(UNSETTLED_SCAN)
        except Exception:  # the server must start; the next start tries again
            log.exception("could not look for learning cycles left running")
            return 0
        settled = 0
        for cycle in cycles:
            reason = self._left_by_gone_process(cycle)
            if reason is not None:
                log.warning("learning cycle %s was left running: %s", cycle.cycle_id, reason)
                await self._fail(cycle, reason)
                settled += 1
        return settled

    def _left_by_gone_process(self, cycle: LearningCycle) -> str | None:
        """Why ``cycle`` ended, when it was left running by a process that is gone."""
        if cycle.status is not CycleStatus.RUNNING or cycle.cycle_id == self.running:
            return None
        process = cycle.metadata.get("process")
        if not isinstance(process, str):
            return "scheduler restart: left running by an earlier scheduler"
        if self.runner is None or process == self.runner.name:
            return None
        if cycle.metadata.get("scheduler") is True:
            return f"scheduler restart: the scheduler running it ({process}) stopped"
        if self.runner.is_dead(process):
            return f"scheduler restart: the process running it ({process}) is gone"
        return None

    async def _reap(self, older_than: float = 3600.0) -> int:
        """Cycles left ``running`` by a process that died (started over an hour ago: no
        cycle takes that long) are recorded as failed, so no row stays running forever."""
        reaped = 0
        for cycle in await self.store.list_cycles(50):
            if (
                cycle.status is CycleStatus.RUNNING
                and cycle.start_time < self.clock.now() - older_than
            ):
                await self._fail(cycle, "interrupted: the process running it stopped")
                reaped += 1
        return reaped

    def _new_alarms(self) -> list[DriftAlarm]:
        """Alarms raised since the last cycle reported them (the deque keeps the newest)."""
        new = min(self.router.alarms_raised - self._alarms_reported, len(self.router.alarms))
        self._alarms_reported = self.router.alarms_raised
        return list(self.router.alarms)[len(self.router.alarms) - new :] if new > 0 else []

    # ------------------------------------------------------------------ recommendations
    async def recommend(
        self, task_type: str, complexity: float, *, limit: int = 5
    ) -> Recommendation:
        """The agent most likely to do a task of ``task_type`` well, and alternatives."""
        self._require_enabled()
        if self.router.config.mode is RouterMode.OBSERVE:
            raise ConflictError(
                "the router is in observe mode, which records outcomes but recommends "
                "nothing; set IMPERIUM_LEARNING_MODE=recommend (or autonomous)"
            )
        if not math.isfinite(complexity) or not 0 <= complexity <= 1000:
            raise ValidationError(f"complexity must be between 0 and 1000, got {complexity}")
        specs = [s for s in await self.store.list_agents() if able(s, task_type)]
        if not specs:
            raise NotFoundError(
                f"no registered agent can take tasks of type '{task_type}': register one "
                f"with the capability '{task_type}'"
            )
        ids = [s.id for s in specs]
        predictions = self.predictor.predict([Query(task_type, complexity, i) for i in ids])
        snapshot = Router(random.Random(), self.router.config)  # drawn off the event loop
        snapshot.arms = dict(self.router.arms)
        snapshot.seen = dict(self.router.seen)
        best = await asyncio.to_thread(
            snapshot.probability_best, task_type, ids, self.config.probability_draws
        )
        options = []
        for agent_id, prediction in zip(ids, predictions, strict=True):
            estimate = self.router.estimate(task_type, agent_id)
            options.append(
                Option(
                    agent_id=agent_id,
                    expected_success=prediction.success,
                    expected_duration=prediction.duration,
                    confidence=best[agent_id],
                    sample_size=estimate.samples,
                    interval=(estimate.lower, estimate.upper),
                )
            )
        options.sort(
            key=lambda o: (
                -o.expected_success,
                o.expected_duration if o.expected_duration is not None else math.inf,
                o.agent_id,
            )
        )
        primary, alternatives = options[0], options[1 : 1 + max(0, limit - 1)]
        insights = await latest_insights(self.store, 200)
        return Recommendation(
            recommendation_id=self.new_id(),
            task_type=task_type,
            complexity=complexity,
            primary=primary,
            alternatives=alternatives,
            risk_factors=self._risks(task_type, primary, insights),
            optimization_suggestions=_suggestions(primary, options),
            learning_mode=self.mode,
            model_version=self.predictor.report.version if self.predictor.report else None,
            timestamp=self.clock.now(),
        )

    def _risks(self, task_type: str, option: Option, insights: Sequence[Insight]) -> list[str]:
        risks = []
        if option.sample_size == 0:
            risks.append(
                f"no recorded attempts of '{task_type}' by {option.agent_id}: the "
                "recommendation rests on the prior and other agents' results"
            )
        elif option.sample_size < MIN_EVIDENCE:
            risks.append(f"only {option.sample_size} recorded attempts of '{task_type}'")
        if option.expected_success < 0.5:
            risks.append(f"predicted success is only {option.expected_success:.0%}")
        for alarm in reversed(self.router.alarms):
            if (alarm.task_type, alarm.agent_id) == (task_type, option.agent_id):
                risks.append(
                    f"its success rate changed recently ({alarm.direction}: "
                    f"{alarm.before_rate:.0%} → {alarm.recent_rate:.0%})"
                )
                break
        for insight in insights:
            if (
                insight.task_type == task_type
                and insight.agents == (option.agent_id,)  # a combination's is the team's
                and (insight.insight_type in (InsightType.AVOID_PATTERN, InsightType.BOTTLENECK))
            ):
                risks.append(insight.description)
        return list(dict.fromkeys(risks))


async def latest_insights(
    store: CycleStore, limit: int, insight_type: InsightType | None = None
) -> list[Insight]:
    """The insights of the newest completed cycle, most confident first (each cycle
    re-derives all of them from the history it read, so older cycles' are superseded)."""
    for cycle in await store.list_cycles(20):
        if cycle.status is CycleStatus.COMPLETED:
            return await store.list_insights(limit, insight_type, cycle.cycle_id)
    return []


def able(spec: AgentSpec, task_type: str) -> bool:
    """The agent could take a task of this type (capabilities, not retired)."""
    if spec.status is AgentStatus.RETIRED:
        return False
    return could_ever_take(AgentState(spec), Task(id="", type=task_type, created_at=0.0))


def _compute(
    predictor: OutcomePredictor,
    replay: Router,
    history: tuple[Sequence[Execution], Sequence[Feedback]],
    agent_ids: list[str],
    now: float,
) -> tuple[ModelReport, list[Insight], list[AgentFigures]]:
    """The CPU-heavy part of a cycle (runs in a worker thread)."""
    executions, ratings = history
    replay.replay(in_time_order(executions, ratings))
    # the predictor forgets each pair's regime before a drift alarm (domain/prediction.py)
    report = predictor.fit(since_drift(executions, replay.alarms), now)
    insights = generate_insights(executions, now)
    if ratings:
        rated = feedback_insights(executions, ratings, now)
        insights = sorted([*insights, *rated], key=insight_order)
    figures = agent_figures(executions, agent_ids, insights)
    return report, insights, list(figures)


def _suggestions(primary: Option, options: Sequence[Option]) -> list[str]:
    out = []
    for other in options:
        if other is primary or other.expected_duration is None:
            continue
        if primary.expected_duration is None:
            continue
        similar = primary.expected_success - other.expected_success <= 0.05
        speedup = primary.expected_duration / other.expected_duration
        if similar and speedup >= 1.5:
            out.append(
                f"{other.agent_id} is about {speedup:.1f}x faster with similar predicted "
                f"success ({other.expected_success:.0%} vs {primary.expected_success:.0%})"
            )
    if all(o.sample_size < MIN_EVIDENCE for o in options):
        out.append(
            "every candidate has fewer than "
            f"{MIN_EVIDENCE} recorded attempts of this type; the router keeps exploring "
            "until the evidence separates them"
        )
    return out


def model_dict(report: ModelReport) -> dict[str, object]:
    return {
        "version": report.version,
        "kind": report.kind,
        "trained_at": report.trained_at,
        "train_samples": report.train_samples,
        "held_out": report.held_out,
        "auc": _rounded(report.auc),
        "brier": _rounded(report.brier),
        "baseline_brier": _rounded(report.baseline_brier),
        "brier_skill": _rounded(report.brier_skill),
        "mae_log_duration": _rounded(report.mae_log_duration),
        "fallback_reason": report.fallback_reason,
    }


def alarm_dict(alarm: DriftAlarm) -> dict[str, object]:
    return {
        "task_type": alarm.task_type,
        "agent_id": alarm.agent_id,
        "at": alarm.at,
        "direction": alarm.direction,
        "before_rate": round(alarm.before_rate, 4),
        "before_n": alarm.before_n,
        "recent_rate": round(alarm.recent_rate, 4),
        "recent_n": alarm.recent_n,
        "z": round(alarm.z, 3),
        "confidence": round(alarm.confidence, 6),
    }


def _type_counts(insights: Sequence[Insight]) -> dict[str, int]:
    out: dict[str, int] = {}
    for insight in insights:
        out[insight.insight_type.value] = out.get(insight.insight_type.value, 0) + 1
    return out


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
