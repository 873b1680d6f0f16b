"""Wiring: the one place where settings become objects. Nothing here runs at import time.

``Imperium`` is the embedded application: a store, the engine, the agent registry and the
built-in agents, opened from :class:`Settings`::

    async with Imperium.open(Settings()) as im:
        task = await im.engine.submit(TaskSpec(type="echo", payload={"hi": 1}))
        done = await im.engine.wait_for(task.id)
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import random
import socket
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from imperium.adapters.executors.local import LocalExecutor
from imperium.adapters.executors.runtimes import RuntimeExecutor, runtime_of
from imperium.adapters.jsonvalues import json_problem
from imperium.adapters.notify.smtp import SmtpConfig, SmtpSender
from imperium.adapters.notify.webhook import WebhookSender
from imperium.adapters.processes import process_is_gone
from imperium.adapters.render.chromium import find_renderer
from imperium.adapters.sandbox import SandboxPolicy
from imperium.adapters.storage.alerts import SqlAlertStore
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.diagnostics import ReportCache
from imperium.adapters.storage.markets import SqlMarketStore
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.adapters.storage.memory.reports import MemoryReportStore
from imperium.adapters.storage.memory.usage import MemoryUsageStore
from imperium.adapters.storage.migrate import ensure_database, upgrade_database
from imperium.adapters.storage.reports import SqlReportStore
from imperium.adapters.storage.scheduler import SqlSchedulerStore
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.usage import SqlUsageStore
from imperium.agents._file_access import database_files
from imperium.agents.loader import is_local, load_agent_class
from imperium.domain.alerts import TargetKind
from imperium.domain.learning import RouterMode
from imperium.domain.markets import MarketStore
from imperium.domain.models import AgentSpec, Event
from imperium.domain.retry import RetryPolicy
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.teams import TeamRouter
from imperium.ports import Executor, OutcomePredictor, SchedulerStore, Store, TeamStore
from imperium.services.agents import AgentService
from imperium.services.analytics import LearningService
from imperium.services.custody.bank import default_bank
from imperium.services.custody.service import CustodyService
from imperium.services.custody.service import Engine as CustodyEngine
from imperium.services.engine import Engine, EngineConfig
from imperium.services.engine.lock import SchedulerLock
from imperium.services.events import EventBus
from imperium.services.feedback import FeedbackService
from imperium.services.keys import KeyService
from imperium.services.knowledge.routine import ingest_routine
from imperium.services.knowledge.service import KnowledgeLender, KnowledgeService
from imperium.services.learning.service import CycleRunner, Learner, LearnerConfig, LearnerStore
from imperium.services.notifications.ports import Sender
from imperium.services.notifications.queue_wait import queue_wait_routine, reload_routine
from imperium.services.notifications.service import AlertService, DeliveryConfig
from imperium.services.proposals import ProposalService
from imperium.services.reports.ports import ReportStore
from imperium.services.reports.service import (
    REPORT_RULE,
    MailConfig,
    ReportMail,
    ReportService,
)
from imperium.services.routines import Routine, Routines
from imperium.services.schedule import ScheduleConfig, build_routines
from imperium.services.submission import SubmissionService
from imperium.services.swarm.autoscaler import Autoscaler, autoscale_routine
from imperium.services.teams import SubmitWorkflow, TaskReader, TeamService
from imperium.services.usage import UsageService
from imperium.settings import Settings

log = logging.getLogger(__name__)

BUILTIN_AGENTS = (
    AgentSpec(
        id="echo",
        type="echo",
        capabilities=frozenset({"echo"}),
        max_concurrency=1000,
        description="Returns its payload; for smoke tests and benchmarks.",
    ),
    AgentSpec(
        id="guardian",
        type="guardian",
        capabilities=frozenset({"code_review", "security_scan"}),
        max_concurrency=2,
        description="Reviews Python code for security and quality (bandit, ruff, radon).",
    ),
    AgentSpec(
        id="sandbox",
        type="sandbox",
        capabilities=frozenset({"run_code", "run_tests"}),
        max_concurrency=2,
        description="Runs code and test suites isolated (limits, timeout, no network).",
    ),
    AgentSpec(
        id="conquest",
        type="conquest",
        capabilities=frozenset({"log_analysis", "performance_analysis"}),
        max_concurrency=4,
        description="Classifies build and test failures; analyses performance profiles.",
    ),
    AgentSpec(
        id="imperium",
        type="imperium",
        capabilities=frozenset({"learning_cycle"}),
        max_concurrency=1,
        description="Runs learning cycles: predictors, insights, agent metrics.",
    ),
    AgentSpec(
        id="crypto",
        type="crypto",
        capabilities=frozenset({"crypto_predict", "crypto_sentiment"}),
        max_concurrency=2,
        description="Crypto forecasts with intervals, backtest against naive, risk, sentiment.",
    ),
    AgentSpec(
        id="fraud",
        type="fraud",
        capabilities=frozenset({"fraud_train", "fraud_analyze"}),
        max_concurrency=4,
        description="Fraud models trained and evaluated on held-out data; explained scores.",
    ),
)


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


def new_id() -> str:
    """A time-ordered 32-hex-digit id (48-bit milliseconds, 80 random bits), so new rows
    land at the end of the primary-key index."""
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{millis:012x}{os.urandom(10).hex()}"


def scheduler_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and process_is_gone(pid)  # a zombie counts as gone


def tune_gc() -> None:
    """Garbage-collector settings for a long-running scheduler process.

    The scheduler keeps many small objects alive (tasks, heap entries); with CPython's
    default thresholds, full collections keep rescanning them. A larger first-generation
    threshold and freezing what exists after start-up cut that cost (~25% more tasks/s in
    `imperium bench throughput`). Called by `imperium serve` and the benchmarks only: an
    application embedding Imperium keeps its own GC settings.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


FILE_AGENTS = ("guardian", "conquest", "sandbox")


def builtin_config(settings: Settings) -> dict[str, dict[str, object]]:
    """What the built-in agents that read files get: the directories they may read, and
    the server's own database files, which they never read (the default root, the
    directory serve runs in, holds ./imperium.db)."""
    paths = (
        *settings.split(settings.file_roots),
        *settings.split(settings.guardian_paths),
        *settings.split(settings.sandbox_experiments),
    )
    roots = sorted({str(Path(p).expanduser().resolve()) for p in paths})
    database = sqlite_file(settings.database_url)
    denied = database_files(database) if database else []
    config = {"allowed_roots": roots, "denied_files": denied}
    return {agent_type: dict(config) for agent_type in FILE_AGENTS}


def sqlite_file(database_url: str) -> str | None:
    """The file a SQLite ``database_url`` names (None for PostgreSQL)."""
    url = sa.make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # a URI filename: file:path?mode=...
        database = database.removeprefix("file:").partition("?")[0]
    return database


def schedule_config(settings: Settings) -> ScheduleConfig:
    return ScheduleConfig(
        learning_interval=settings.learning_cycle_interval,
        security_scan_interval=settings.security_scan_interval,
        guardian_paths=tuple(settings.split(settings.guardian_paths)),
        performance_interval=settings.performance_interval,
        experiment_interval=settings.experiment_interval,
        sandbox_experiments=tuple(settings.split(settings.sandbox_experiments)),
        cache_interval=settings.cache_interval,
        cleanup_interval=settings.cleanup_interval,
        log_retention_days=settings.log_retention_days,
    )


def sandbox_policy(settings: Settings) -> SandboxPolicy:
    """How the Sandbox isolates code: lent to the sandbox agent (``ctx.services``, which an
    agent's registered config cannot override) and used by custody's unit-test grader."""
    return SandboxPolicy(uid=settings.sandbox_uid, unsafe=settings.sandbox_unsafe)


def run_answer_tests(files: Mapping[str, str], policy: SandboxPolicy | None = None) -> object:
    """Custody's unit-test grader: pytest in the Sandbox, without third-party plugins
    (half the start-up), bounded by a minute (a quadratic answer would run to its CPU
    limit)."""
    from imperium.adapters.sandbox import run_pytest

    return run_pytest(
        dict(files), env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, timeout=60, policy=policy
    )


def make_custody(
    store: Store,
    engine: CustodyEngine,
    clock: SystemClock,
    on_level: Callable[[dict[str, int]], None] | None = None,
    sandbox: SandboxPolicy | None = None,
) -> CustodyService:
    """The custody harness over the shipped test bank; code answers run in the Sandbox."""
    return CustodyService(
        store, engine, default_bank(), clock, new_id,
        run_tests=functools.partial(run_answer_tests, policy=sandbox),
        on_level=on_level, cycles=store,
    )  # fmt: skip


def make_predictor() -> OutcomePredictor:
    """The scikit-learn predictor (imported here: loading scikit-learn takes a second)."""
    from imperium.adapters.learning.sklearn_predictor import SklearnPredictor

    return SklearnPredictor()


def make_learner(
    settings: Settings,
    store: LearnerStore,
    events: EventBus | None = None,
    runner: CycleRunner | None = None,
    teams: TeamStore | None = None,
) -> Learner:
    """The router and learner the settings describe (the router also goes to the engine);
    its cycles record ``runner`` (by default this process, not a scheduler), and learn
    about combinations from ``teams``' recorded outcomes when given."""
    router = Router(
        random.Random(),
        RouterConfig(
            enabled=settings.learning_enabled,
            mode=RouterMode(settings.learning_mode),
            forgetting=settings.router_forgetting,
            feedback_weight=settings.feedback_weight,
        ),
    )
    clock = SystemClock()
    learner = Learner(
        store,
        clock,
        new_id,
        router,
        make_predictor,
        events=LearningService(store, events, clock) if events is not None else None,
        config=LearnerConfig(
            history=settings.learning_history, cycle_timeout=settings.learning_cycle_timeout
        ),
        runner=runner or CycleRunner(scheduler_owner(), is_dead=holder_is_dead),
    )
    learner.teams = teams  # combination insights from team tasks
    return learner


def make_teams(
    teams: TeamStore,
    tasks: TaskReader,
    router: Router,
    submit_workflow: SubmitWorkflow,
    loads: Callable[[], Mapping[str, float]] | None = None,
    qualified: Callable[[str, str], bool] | None = None,
    accepting: Callable[[str], bool] | None = None,
) -> TeamService:
    """Team tasks stored in ``teams``, choosing with ``router``'s knowledge."""
    return TeamService(
        teams, tasks, submit_workflow, TeamRouter(router), SystemClock(),
        loads=loads, qualified=qualified, accepting=accepting, new_id=new_id,
    )  # fmt: skip


def alert_senders(settings: Settings, clock: SystemClock) -> dict[TargetKind, Sender]:
    """Webhooks always; email only when an SMTP server is configured."""
    webhook = WebhookSender(clock)
    senders: dict[TargetKind, Sender] = {TargetKind.WEBHOOK: webhook, TargetKind.SLACK: webhook}
    if settings.smtp_host:
        senders[TargetKind.EMAIL] = SmtpSender(
            SmtpConfig(
                settings.smtp_host, settings.smtp_port, settings.smtp_from,
                security=settings.smtp_security, user=settings.smtp_user or None,
                password_env=settings.smtp_password_env or None,
            )
        )  # fmt: skip
    return senders


def make_alerts(settings: Settings, store: Store, clock: SystemClock) -> AlertService:
    """Alert rules and deliveries kept beside ``store`` (its database, or memory)."""
    kept = SqlAlertStore(store.database) if isinstance(store, SqlStore) else MemoryAlertStore()
    config = DeliveryConfig(max_deliveries=settings.alert_max_deliveries)
    return AlertService(kept, alert_senders(settings, clock), clock, config, new_id=new_id)


def make_reports(settings: Settings, store: Store, clock: SystemClock) -> ReportService:
    """The report over ``store``'s database (or memory), with the configured PDF renderer
    when one is found."""
    figures: ReportStore
    if isinstance(store, SqlStore):
        figures = SqlReportStore(store.database)
    elif isinstance(store, MemoryStore):
        figures = MemoryReportStore(store.state)
    else:
        raise TypeError(f"no report store for {type(store).__name__}")
    renderer, note = find_renderer(settings.report_pdf_renderer)
    return ReportService(figures, store, clock, renderer, note)


def report_mail(settings: Settings, reports: ReportService, alerts: AlertService) -> ReportMail:
    """The periodic report mail (off without recipients or SMTP), recorded beside the
    alerts' deliveries."""
    senders = alert_senders(settings, SystemClock())
    mailer = senders.get(TargetKind.EMAIL)
    config = MailConfig(
        recipients=tuple(settings.split(settings.report_recipients)),
        period_days=settings.report_period_days,
        interval=settings.report_interval,
    )
    return ReportMail(
        reports, mailer if isinstance(mailer, SmtpSender) else None, config, SystemClock(),
        record=alerts.record,
    )  # fmt: skip


_MEMORY_MARKETS: weakref.WeakKeyDictionary[object, MemoryMarketStore] = weakref.WeakKeyDictionary()


async def record_events(store: Store, bus: EventBus, events: Sequence[Event]) -> None:
    """Events an in-process agent raises (``fraud.flagged``): written to ``learning_logs``,
    then published on the bus (the live stream, alert rules), as the registry does."""
    for event in events:
        await store.log_event(event)
    bus.publish(events)


def make_markets(store: Store) -> MarketStore:
    """Market data, texts and ML models beside ``store`` (its database, or one memory
    store per memory ``store``, so the API and the agents share it)."""
    if isinstance(store, SqlStore):
        return SqlMarketStore(store.database)
    return _MEMORY_MARKETS.setdefault(store, MemoryMarketStore())


def make_market_feed(settings: Settings, markets: MarketStore) -> Routine:
    """The ``market_data`` routine: IMPERIUM_MARKET_SYMBOLS' candles from the exchange
    into ``markets`` every IMPERIUM_MARKET_INTERVAL (off until symbols are set)."""
    from imperium.adapters.exchanges.binance import BinanceKlines
    from imperium.services.market_feed import MarketFeed, market_feed_routine, parse_feeds

    try:
        feeds = parse_feeds(settings.market_symbols)
        source = BinanceKlines(settings.market_exchange_url)
        feed = MarketFeed(source, markets, SystemClock(), feeds, settings.market_timeframe)
    except ValueError as exc:  # shown as the routine's off reason in /api/status
        log.warning("market_data routine off: %s", exc)
        return market_feed_routine(None, settings.market_interval, f"misconfigured: {exc}")
    if not feeds:
        why = "no IMPERIUM_MARKET_SYMBOLS configured"
        return market_feed_routine(None, settings.market_interval, why)
    return market_feed_routine(feed, settings.market_interval, "")


def make_knowledge(settings: Settings, store: Store, clock: SystemClock) -> KnowledgeService:
    """The knowledge base beside ``store`` (its database, or memory), its connectors over
    one polite web client (closed with the service)."""
    from imperium.adapters.knowledge.feeds import file_roots, local_refusal
    from imperium.adapters.knowledge.http import HttpConfig, WebClient
    from imperium.adapters.knowledge.registry import DEFAULT_URLS, connectors
    from imperium.adapters.storage.knowledge import SqlKnowledgeStore
    from imperium.adapters.storage.memory.knowledge import MemoryKnowledgeStore
    from imperium.services.knowledge.ingest import Ingester

    kept: SqlKnowledgeStore | MemoryKnowledgeStore
    if isinstance(store, SqlStore):
        kept = SqlKnowledgeStore(store.database)
    else:
        kept = MemoryKnowledgeStore(store.state if isinstance(store, MemoryStore) else None)
    web = WebClient(clock, HttpConfig(timeout=settings.knowledge_http_timeout))
    roots = file_roots(settings.knowledge_file_roots)
    ingester = Ingester(
        kept, connectors(web, settings.model_key_envs, roots), clock,
        settings.max_internet_results,
    )  # fmt: skip
    embedder = None
    if settings.knowledge_embeddings:  # fails at start, saying what to install
        from imperium.adapters.knowledge.embeddings import load_embedder

        embedder = load_embedder(settings.knowledge_embeddings_model_dir or None)
    return KnowledgeService(
        kept, ingester, clock, embedder, on_close=web.close, default_urls=DEFAULT_URLS,
        key_envs=settings.model_key_envs,
        local_refusal=functools.partial(local_refusal, roots=roots),
    )  # fmt: skip


ALERT_CLOSE_GRACE = 2.0
"""Seconds deliveries under way may finish when the server stops (then cancelled)."""


def make_usage(store: Store, clock: SystemClock) -> UsageService:
    """Tokens and cost per agent, task type and day, and daily budgets, over ``store``."""
    kept = SqlUsageStore(store.database) if isinstance(store, SqlStore) else None
    if kept is None:
        state = getattr(store, "state", None)
        return UsageService(MemoryUsageStore(state), store, clock, cycles=store)
    return UsageService(kept, store, clock, cycles=store)


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        lease_seconds=settings.lease_seconds,
        lock_ttl=settings.lock_ttl_seconds,
        poll_interval=settings.poll_interval,
        drain_seconds=settings.drain_seconds,
        max_restarts=settings.max_restarts,
        storage_outage_limit=settings.storage_outage_limit or None,
        retry=RetryPolicy(base=settings.retry_base_seconds, cap=settings.retry_cap_seconds),
    )


def check_agent_type(
    spec: AgentSpec, default_runtime: str = "local", model_key_envs: str | None = None
) -> None:
    """Refuse an agent whose code cannot be found here, or whose runtime is unknown or
    not installed (ray without the ray extra), or whose config its class refuses (the llm
    agent: a key in the config, an api_key_env IMPERIUM_MODEL_KEY_ENVS does not allow)."""
    if is_local(spec.type):
        runtime_of(spec, default_runtime)
        check_config = getattr(load_agent_class(spec.type), "check_config", None)
        if callable(check_config):  # e.g. the llm agent's backend fields
            check_config(spec.config, key_envs=model_key_envs)


def agent_checker(settings: Settings) -> Callable[[AgentSpec], None]:
    return functools.partial(
        check_agent_type,
        default_runtime=settings.default_runtime,
        model_key_envs=settings.model_key_envs,
    )


def make_executor(settings: Settings, local: LocalExecutor) -> RuntimeExecutor:
    """In-process agents run here or on Ray (runtime in their config, else the default)."""

    def make_ray() -> Executor:
        from imperium.adapters.executors.ray import RayExecutor  # its module imports no Ray

        return RayExecutor(settings.ray_address, settings.ray_num_cpus)

    return RuntimeExecutor(local, make_ray, settings.default_runtime)


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

    def __post_init__(self) -> None:
        self.knowledge = make_knowledge(self.settings, self.store, SystemClock())
        self.learner.knowledge_insights = self.knowledge.impact_insights  # in every cycle
        self.autoscaler = Autoscaler(self.engine, self.agents, self.store, self.events)
        self.markets = make_markets(self.store)
        self.reports = make_reports(self.settings, self.store, SystemClock())
        self.usage = make_usage(self.store, SystemClock())
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
        self.routines.add(autoscale_routine(self.autoscaler, self.settings.autoscale_interval))
        self.routines.add(ingest_routine(self.knowledge, self.settings.internet_learning_interval))
        self.routines.add(make_market_feed(self.settings, self.markets))
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
