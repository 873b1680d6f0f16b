"""The embedded application, assembled from :mod:`imperium.wiring`. Nothing here runs at
import time.

``Imperium`` is the embedded application: a store, the engine, the agent registry and the
built-in agents, opened from :class:`Settings`::

    async with Imperium.open(Settings()) as im:
        task = await im.engine.submit(TaskSpec(type="echo", payload={"hi": 1}))
        done = await im.engine.wait_for(task.id)

The factories and helpers it uses (``make_*``, ``SystemClock``, ``tune_gc``, ...) are in
:mod:`imperium.wiring`; the names importers take from here are re-exported."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from imperium.adapters.executors.local import LocalExecutor
from imperium.adapters.jsonvalues import json_problem
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.diagnostics import ReportCache
from imperium.adapters.storage.migrate import ensure_database, upgrade_database
from imperium.adapters.storage.scheduler import SqlSchedulerStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.markets import MarketStore
from imperium.ports import ArtefactStore, SchedulerStore, Store
from imperium.services.agents import AgentService
from imperium.services.artefacts import retention_routine
from imperium.services.custody.service import CustodyService
from imperium.services.engine import Engine
from imperium.services.engine.lock import SchedulerLock
from imperium.services.events import EventBus
from imperium.services.feedback import FeedbackService
from imperium.services.keys import KeyService
from imperium.services.knowledge.routine import ingest_routine
from imperium.services.knowledge.service import KnowledgeLender, KnowledgeService
from imperium.services.learning.service import CycleRunner, Learner
from imperium.services.notifications.queue_wait import queue_wait_routine, reload_routine
from imperium.services.notifications.service import AlertService
from imperium.services.proposals import ProposalService
from imperium.services.reports.service import REPORT_RULE, ReportService
from imperium.services.routines import Routine, Routines
from imperium.services.schedule import build_routines
from imperium.services.submission import SubmissionService
from imperium.services.swarm.autoscaler import Autoscaler, autoscale_routine
from imperium.services.teams import TeamService
from imperium.services.usage import UsageService
from imperium.settings import Settings
from imperium.wiring import (
    ALERT_CLOSE_GRACE,
    BUILTIN_AGENTS,
    SystemClock,
    agent_checker,
    alert_senders,
    builtin_config,
    check_agent_type,
    engine_config,
    holder_is_dead,
    make_alerts,
    make_artefacts,
    make_custody,
    make_executor,
    make_knowledge,
    make_learner,
    make_market_feed,
    make_markets,
    make_predictor,
    make_reports,
    make_result_cache,
    make_teams,
    make_usage,
    new_id,
    record_events,
    report_mail,
    result_cache_routine,
    sandbox_policy,
    schedule_config,
    scheduler_owner,
    sqlite_file,
    tune_gc,
)

__all__ = [
    "BUILTIN_AGENTS",
    "Imperium",
    "Offline",
    "SystemClock",
    "alert_senders",
    "builtin_config",
    "check_agent_type",
    "holder_is_dead",
    "make_custody",
    "make_knowledge",
    "make_learner",
    "make_market_feed",
    "make_markets",
    "make_predictor",
    "make_teams",
    "make_usage",
    "new_id",
    "sandbox_policy",
    "sqlite_file",
    "tune_gc",
]


@dataclass(eq=False)
class Imperium:
    settings: Settings
    store: Store
    """Every storage area (the CLI reads a bit of each); services get only their ports."""
    engine: Engine
    agents: AgentService
    submissions: SubmissionService
    events: EventBus
    keys: KeyService
    learner: Learner
    custody: CustodyService
    proposals: ProposalService
    teams: TeamService
    feedback: FeedbackService
    """Ratings of tasks' results; the live router learns from them at once."""
    alerts: AlertService
    """Alert rules, matched to committed events and the queue's wait, and delivered."""
    database_reports: ReportCache | None = None
    """The database's diagnostics (``/api/database/health``); None on in-memory stores."""
    routines: Routines | None = field(default=None, init=False, repr=False)
    knowledge: KnowledgeService = field(init=False, repr=False)
    """The knowledge base: trusted sources, ingestion, search (agents: ``ctx.knowledge``)."""
    autoscaler: Autoscaler = field(init=False, repr=False)
    """Agents' pools (``autoscale`` config): the routine and ``/swarm`` share it."""
    _stop_alerts: Callable[[], None] | None = field(default=None, init=False, repr=False)
    reports: ReportService = field(init=False, repr=False)
    """The periodic report (``/api/v1/reports/weekly``, and mailed by a routine)."""

    usage: UsageService = field(init=False, repr=False)
    """Tokens and cost per agent, task type and day; daily budgets (the engine's ledger
    of today's spend is rebuilt from it at start)."""

    markets: MarketStore = field(init=False, repr=False)
    """Market candles, texts and ML models (the crypto and fraud agents; their routes)."""

    artefacts: ArtefactStore = field(init=False, repr=False)
    """Generated images and videos, kept outside the task rows with a retention limit
    (lent to agents as ``ctx.services["artefacts"]``)."""

    def __post_init__(self) -> None:
        self.knowledge = make_knowledge(self.settings, self.store, SystemClock())
        self.learner.knowledge_insights = self.knowledge.impact_insights  # in every cycle
        self.autoscaler = Autoscaler(self.engine, self.agents, self.store, self.events)
        self.markets = make_markets(self.store)
        self.reports = make_reports(self.settings, self.store, SystemClock())
        self.usage = make_usage(self.store, SystemClock())
        self.artefacts = make_artefacts(self.settings, SystemClock())
        self.engine.budget_source = self.usage.budget_source

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Imperium:
        """The runtime on the database ``settings`` name (migrated first, unless told)."""
        if migrate:
            await upgrade_database(settings.database_url)
        db = await Database.connect(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        return cls.build(
            settings, SqlStore(db), scheduler=SqlSchedulerStore(db),
            database_reports=ReportCache(db.engine),
        )  # fmt: skip

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store,
        *,
        scheduler: SchedulerStore | None = None,
        database_reports: ReportCache | None = None,
    ) -> Imperium:
        """The runtime over ``store`` (``SqlStore`` or ``MemoryStore``); the engine writes
        through ``scheduler`` (by default ``store``'s scheduler area), nothing else."""
        clock = SystemClock()
        scheduler = scheduler if scheduler is not None else store
        lock = SchedulerLock(
            scheduler, clock, scheduler_owner(), settings.lock_ttl_seconds, holder_is_dead
        )
        events = EventBus()
        learner = make_learner(
            settings, store, events,
            CycleRunner(lock.owner, scheduler=True, is_dead=holder_is_dead), teams=store,
        )  # fmt: skip
        learner.feedback = store
        feedback = FeedbackService(store, clock, new_id, learner.router, teams=store)
        sandbox = sandbox_policy(settings)
        local = LocalExecutor(
            # lent to the built-in imperium, sandbox, crypto and fraud agents
            services={
                "learner": learner,
                "sandbox_policy": sandbox,
                "markets": make_markets(store),
                "record_events": functools.partial(record_events, store, events),
            },
            config_defaults=builtin_config(settings),
        )
        executor = make_executor(settings, local)
        engine = Engine(
            scheduler, executor, lock, clock, random.Random(), new_id, engine_config(settings),
            policy=learner.router, json_problem=json_problem, events=events,
            result_cache=make_result_cache(settings, store, clock),
        )  # fmt: skip
        agents = AgentService(store, store, clock, agent_checker(settings), events=events)
        submissions = SubmissionService(store, clock, new_id, store, store.unit_of_work)
        keys = KeyService(store, clock)
        engine.min_levels = settings.min_levels
        announce = functools.partial(engine.set_custody_levels, announce=True)
        custody = make_custody(store, engine, clock, announce, sandbox)
        proposals = ProposalService(store, clock, new_id)
        teams = make_teams(
            store, store, learner.router, engine.submit_workflow,
            lambda: {a.spec.id: a.load for a in engine.snapshot().agents},
            lambda agent_id, task_type: engine.custody_level(agent_id)
            >= engine.min_levels.get(task_type, 1),
            lambda agent_id: (a := engine.snapshot().agent(agent_id)) is not None and a.accepting,
        )  # fmt: skip
        runtime = cls(
            settings, store, engine, agents, submissions, events, keys, learner, custody,
            proposals, teams, feedback, make_alerts(settings, store, clock), database_reports,
        )  # fmt: skip
        local.lend("knowledge", KnowledgeLender(runtime.knowledge))  # ctx.knowledge
        local.lend("artefacts", runtime.artefacts)  # the media agents' files
        return runtime

    async def start(self, *, standby: bool = False) -> None:
        wanted = self.settings.builtin_agent_ids
        for spec in BUILTIN_AGENTS:
            if spec.id in wanted:
                await self.agents.ensure(spec)
        await self.learner.warm_up()
        await self.teams.warm_up()
        self.engine.set_custody_levels(await self.custody.levels())
        await self.engine.start(standby=standby)
        await self.learner.settle_interrupted()  # the lock is ours: earlier cycles ended
        self.agents.on_change = self.engine.apply_agent
        self.routines = build_routines(schedule_config(self.settings), self.engine,
                                       self.store, self.learner)  # fmt: skip
        self.routines.add(
            Routine(
                "custody_levels", 10.0, self._refresh_levels,
                "custody levels earned in other processes (imperium custody test) reach "
                "routing",
            )
        )  # fmt: skip
        self.routines.add(
            Routine(
                "teams", 1.0, self._settle_teams,
                "team tasks whose members have all ended are recorded, and the router "
                "learns from them",
            )
        )  # fmt: skip
        if self.engine.result_cache is not None:
            self.routines.add(result_cache_routine(self.settings, self.engine.result_cache))
        self.routines.add(autoscale_routine(self.autoscaler, self.settings.autoscale_interval))
        self.routines.add(ingest_routine(self.knowledge, self.settings.internet_learning_interval))
        self.routines.add(make_market_feed(self.settings, self.markets))
        self.routines.add(
            retention_routine(self.artefacts, self.settings.artefact_retention_interval)
        )
        await self._start_alerts(self.routines)
        self.routines.start()

    async def _start_alerts(self, routines: Routines) -> None:
        """Rules from the store; committed events from the bus; the queue-wait routine.
        Deliveries run in background tasks: the bus only matches and starts them."""
        await self.alerts.load()
        self._stop_alerts = self.events.listen(self.alerts.on_events)
        routines.add(
            queue_wait_routine(
                self.alerts, lambda: self.engine.snapshot().ready_tasks(),
                self.settings.alert_queue_interval,
            )
        )  # fmt: skip
        routines.add(reload_routine(self.alerts, self.settings.alert_reload_interval))
        mails = await self.alerts.deliveries(REPORT_RULE, limit=50)
        sent = max((a.at for a in mails if a.delivered), default=None)
        routines.add(report_mail(self.settings, self.reports, self.alerts).routine(sent))

    async def _refresh_levels(self) -> dict[str, object]:
        levels = await self.custody.levels()
        changed = {a: n for a, n in levels.items() if self.engine.custody_level(a) != n}
        if changed:
            self.engine.set_custody_levels(changed, announce=True)
        return {"status": "ok", "changed": len(changed)}

    async def _settle_teams(self) -> dict[str, object]:
        return {"status": "ok", "settled": await self.teams.settle()}

    async def close(self) -> None:
        routines, self.routines = self.routines, None
        if routines is not None:
            await routines.stop()
        stop_alerts, self._stop_alerts = self._stop_alerts, None
        if stop_alerts is not None:
            stop_alerts()
        await self.alerts.close(grace=ALERT_CLOSE_GRACE)
        await self.learner.close()
        await self.knowledge.close()
        if self.agents.on_change is not None:
            self.agents.on_change = None
            await self.engine.stop()
        if self.engine.result_cache is not None:
            await self.engine.result_cache.close()
        await self.store.close()

    async def __aenter__(self) -> Imperium:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass
class Offline:
    """What a process that does not run the scheduler (the CLI) works with: the store, the
    agent registry and submissions; a running scheduler picks their changes up by polling."""

    store: SqlStore
    agents: AgentService
    submissions: SubmissionService
    keys: KeyService
    feedback: FeedbackService
    """Ratings recorded here reach routing at the scheduler's next learning cycle or start."""
    alerts: AlertService
    """Alert rules saved here reach a running server at its next start (it loads them then)."""

    @classmethod
    async def open(cls, settings: Settings) -> Offline:
        await ensure_database(settings.database_url)
        store = await SqlStore.connect(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        clock = SystemClock()
        agents = AgentService(store, store, clock, agent_checker(settings))
        submissions = SubmissionService(store, clock, new_id, store, store.unit_of_work)
        feedback = FeedbackService(store, clock, new_id, teams=store)
        alerts = make_alerts(settings, store, clock)
        return cls(store, agents, submissions, KeyService(store, clock), feedback, alerts)

    async def close(self) -> None:
        await self.store.close()
