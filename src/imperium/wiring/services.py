"""Factories that build each service from :class:`Settings` and a store (``make_*``), and
the configuration of the engine and the schedule."""

from __future__ import annotations

import functools
import logging
import random
import weakref
from collections.abc import Callable, Mapping, Sequence

from imperium.adapters.artefacts.files import FileArtefactStore
from imperium.adapters.notify.smtp import SmtpConfig, SmtpSender
from imperium.adapters.notify.webhook import WebhookSender
from imperium.adapters.render.chromium import find_renderer
from imperium.adapters.sandbox import SandboxPolicy
from imperium.adapters.storage.alerts import SqlAlertStore
from imperium.adapters.storage.markets import SqlMarketStore
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.adapters.storage.memory.markets import MemoryMarketStore
from imperium.adapters.storage.memory.reports import MemoryReportStore
from imperium.adapters.storage.memory.result_cache import MemoryResultCache
from imperium.adapters.storage.memory.usage import MemoryUsageStore
from imperium.adapters.storage.redis_cache import RedisResultCache
from imperium.adapters.storage.reports import SqlReportStore
from imperium.adapters.storage.result_cache import SqlResultCache
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.usage import SqlUsageStore
from imperium.domain.alerts import TargetKind
from imperium.domain.artefacts import RetentionPolicy
from imperium.domain.learning import RouterMode
from imperium.domain.markets import MarketStore
from imperium.domain.models import Event
from imperium.domain.retry import RetryPolicy
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.teams import TeamRouter
from imperium.ports import OutcomePredictor, ResultCacheStore, Store, TeamStore
from imperium.services.analytics import LearningService
from imperium.services.custody.bank import default_bank
from imperium.services.custody.service import CustodyService
from imperium.services.custody.service import Engine as CustodyEngine
from imperium.services.engine import EngineConfig
from imperium.services.engine.cache import ResultCache
from imperium.services.events import EventBus
from imperium.services.knowledge.service import KnowledgeService
from imperium.services.learning.service import CycleRunner, Learner, LearnerConfig, LearnerStore
from imperium.services.notifications.ports import Sender
from imperium.services.notifications.service import AlertService, DeliveryConfig
from imperium.services.reports.ports import ReportStore
from imperium.services.reports.service import MailConfig, ReportMail, ReportService
from imperium.services.routines import Routine
from imperium.services.schedule import ScheduleConfig
from imperium.services.teams import SubmitWorkflow, TaskReader, TeamService
from imperium.services.usage import UsageService
from imperium.settings import Settings
from imperium.wiring.process import SystemClock, holder_is_dead, new_id, scheduler_owner

log = logging.getLogger(__name__)


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
            duration_weight=settings.router_duration_weight,
            duration_fade=settings.router_duration_fade,
            cost_weight=settings.router_cost_weight,
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


def make_result_cache(settings: Settings, store: Store, clock: SystemClock) -> ResultCache:
    """The result cache: in Redis when ``IMPERIUM_RESULT_CACHE_URL`` names one (the redis
    extra is imported here, so a server configured for it without it refuses to start),
    else beside the rest of the data (the database, or memory for a ``MemoryStore``)."""
    kept: ResultCacheStore
    if settings.result_cache_url:
        kept = RedisResultCache(settings.result_cache_url)
    elif isinstance(store, SqlStore):
        kept = SqlResultCache(store.database, clock)
    else:
        kept = MemoryResultCache()
    return ResultCache(
        kept, settings.result_cache_ttls, clock, max_entries=settings.result_cache_max_entries
    )


def result_cache_routine(settings: Settings, cache: ResultCache) -> Routine:
    off = None if cache.ttls else "no task type opted in (IMPERIUM_RESULT_CACHE)"
    return Routine(
        "result_cache_purge", settings.result_cache_purge_interval, cache.purge,
        "expired cached results are deleted, then the oldest beyond "
        "IMPERIUM_RESULT_CACHE_MAX_ENTRIES", off_reason=off,
    )  # fmt: skip


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


def make_artefacts(settings: Settings, clock: SystemClock) -> FileArtefactStore:
    """Generated images and videos as files in ``settings.artefact_path`` (created at the
    first write), with the retention limit the settings give."""
    policy = RetentionPolicy(
        max_age_seconds=settings.artefact_max_age_days * 86400.0,
        max_total_bytes=settings.artefact_max_bytes,
    )
    return FileArtefactStore(settings.artefact_path, clock, policy, new_id)
