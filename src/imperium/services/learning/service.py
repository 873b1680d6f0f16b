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

A process killed during a cycle cannot record its end: a scheduler that starts settles
the cycles it left ``running`` (:meth:`Learner.settle_interrupted`, ``recovery``). The
steps themselves are beside this module (see the package's docstring); their names are
importable from here too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from imperium.domain.errors import ConflictError
from imperium.domain.feedback import Feedback, in_time_order
from imperium.domain.learning import CycleStatus, Insight, LearningCycle, Query
from imperium.domain.routing import DriftAlarm, Router
from imperium.domain.team_insights import team_insights
from imperium.ports import Clock, FeedbackStore, LearningLog, OutcomePredictor, TeamStore
from imperium.services.learning import cycle as cycles
from imperium.services.learning.cycle import compute as _compute
from imperium.services.learning.insights import latest_insights
from imperium.services.learning.ports import EventLogger, LearnerStore
from imperium.services.learning.recommendations import (
    MIN_EVIDENCE,
    Option,
    Recommendation,
    able,
    candidates,
    check_request,
    probability_best,
    ranked,
    risks,
    suggestions,
)
from imperium.services.learning.recovery import (
    UNSETTLED_SCAN,
    CycleRunner,
    left_by_gone_process,
    runner_fields,
)
from imperium.services.learning.summaries import alarm_dict, model_dict

__all__ = [
    "MIN_EVIDENCE",
    "UNSETTLED_SCAN",
    "CycleRunner",
    "EventLogger",
    "Learner",
    "LearnerConfig",
    "LearnerStore",
    "Option",
    "Recommendation",
    "able",
    "alarm_dict",
    "latest_insights",
    "model_dict",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LearnerConfig:
    history: int = 50_000
    probability_draws: int = 2000
    cycle_timeout: float = 600.0  # seconds; a cycle still running then is recorded as failed


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
        cycle = cycles.started(self.new_id(), self.clock.now(), trigger, runner_fields(self.runner))
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
        await self._announce(cycle, announcement)
        return done

    async def _announce(self, cycle: LearningCycle, announcement: LearningLog) -> None:
        if self.events is not None:
            try:
                await self.events.log(announcement)
            except Exception:
                log.exception("could not log the end of learning cycle %s", cycle.cycle_id)

    async def _fail(self, cycle: LearningCycle, error: str) -> LearningCycle:
        failed = cycles.failed(cycle, self.clock.now(), error)
        if self.running == cycle.cycle_id:
            self.running = None  # as in _learn: ended before its row says so
        try:
            await asyncio.shield(self.store.save_cycle(failed))
        except Exception:
            log.exception("could not record the failure of learning cycle %s", cycle.cycle_id)
        if self.events is not None:  # a learning event, so alert rules can hear it
            failure = cycles.failure(cycle, failed.end_time or self.clock.now(), error)
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
        insights = await self._more_insights(insights, now)
        replay.replay(cycles.unread(observed, executions, ratings))
        self.predictor = predictor
        self.router.adopt(replay)
        alarms = self._new_alarms()
        updated = await self.store.save_agent_figures(figures, now)
        await self.store.save_insights(cycle.cycle_id, insights)
        await self.store.save_model(cycle.cycle_id, report)
        end = self.clock.now()
        learned = (report, insights, alarms)
        done = cycles.completed(cycle, end, (executions, ratings), learned, updated)
        # The cycle's work is done: a trigger from now on starts the next one (it waits for
        # the lock, so after this row is saved). Cleared before the save, so whoever sees
        # the row ``completed`` can start a new cycle.
        self.running = None
        await self.store.save_cycle(done)
        return done, cycles.announcement(done, end, report, insights)

    async def _more_insights(self, insights: list[Insight], now: float) -> list[Insight]:
        """``insights`` with those of recorded team tasks and of knowledge use, when set."""
        if self.teams is not None:  # combinations of agents, from recorded team tasks
            runs = await self.teams.list_teams(limit=self.config.history)
            insights = cycles.merged(insights, team_insights(runs, now))
        if self.knowledge_insights is not None:
            found = await self.knowledge_insights(now)
            insights = cycles.merged(insights, found)
        return insights

    async def _ratings(self) -> list[Feedback]:
        if self.feedback is None:
            return []
        return await self.feedback.recent_feedback(self.config.history)

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
            listed = await self.store.list_cycles(UNSETTLED_SCAN)
        except Exception:  # the server must start; the next start tries again
            log.exception("could not look for learning cycles left running")
            return 0
        settled = 0
        for cycle in listed:
            reason = left_by_gone_process(cycle, self.running, self.runner)
            if reason is not None:
                log.warning("learning cycle %s was left running: %s", cycle.cycle_id, reason)
                await self._fail(cycle, reason)
                settled += 1
        return settled

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
        check_request(self.router.config.mode, complexity)
        ids = candidates(await self.store.list_agents(), task_type)
        predictions = self.predictor.predict([Query(task_type, complexity, i) for i in ids])
        draws = self.config.probability_draws
        best = await probability_best(self.router, task_type, ids, draws)
        options = ranked(self.router, task_type, ids, predictions, best)
        primary, alternatives = options[0], options[1 : 1 + max(0, limit - 1)]
        insights = await latest_insights(self.store, 200)
        return Recommendation(
            recommendation_id=self.new_id(),
            task_type=task_type,
            complexity=complexity,
            primary=primary,
            alternatives=alternatives,
            risk_factors=self._risks(task_type, primary, insights),
            optimization_suggestions=suggestions(primary, options),
            learning_mode=self.mode,
            model_version=self.predictor.report.version if self.predictor.report else None,
            timestamp=self.clock.now(),
        )

    def _risks(self, task_type: str, option: Option, insights: Sequence[Insight]) -> list[str]:
        return risks(task_type, option, self.router.alarms, insights)
