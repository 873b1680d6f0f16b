"""What the routes depend on: one ``Annotated`` alias per resource (the FastAPI template's
``SessionDep``), each naming exactly the service or store port a route uses.

Everything is built once, by :func:`ApiServices.of` in ``create_app``, and kept on
``app.state.services``; a dependency only hands out its part (async, so FastAPI calls it
on the event loop: a plain ``def`` dependency runs in its thread pool, on every request).
Route modules never see the runtime, so none of them depends on which store is behind
the ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from imperium.adapters.storage.diagnostics import ReportCache
from imperium.domain.errors import NotFoundError
from imperium.domain.markets import MarketStore
from imperium.interfaces.api.views.imperium import SeedSources
from imperium.ports import ArtefactStore, CustodyStore, QueryStore, SchedulerStore, StatisticsStore
from imperium.runtime import Imperium
from imperium.services.agents import AgentService
from imperium.services.analytics import LearningService
from imperium.services.custody.service import CustodyService
from imperium.services.engine import Engine
from imperium.services.events import EventBus
from imperium.services.feedback import FeedbackService
from imperium.services.keys import KeyService
from imperium.services.knowledge.service import KnowledgeService
from imperium.services.learning.service import Learner, LearnerStore
from imperium.services.notifications.service import AlertService
from imperium.services.planning.service import PlanningService
from imperium.services.proposals import ProposalService
from imperium.services.reports.service import ReportService
from imperium.services.routines import Routines
from imperium.services.swarm.service import SwarmService
from imperium.services.teams import TeamService
from imperium.services.usage import UsageService
from imperium.settings import Settings


@dataclass(frozen=True, eq=False)
class ApiServices:
    """The parts of a runtime the API serves, each typed as narrowly as its routes use it."""

    settings: Settings
    engine: Engine
    agents: AgentService
    keys: KeyService
    events: EventBus
    queries: QueryStore
    statistics: StatisticsStore
    """Aggregates over recent history (the dashboard's charts)."""
    locks: SchedulerStore
    learning_records: LearnerStore
    custody_records: CustodyStore
    learner: Learner
    learning_logs: LearningService
    custody: CustodyService
    proposals: ProposalService
    teams: TeamService
    feedback: FeedbackService
    """Ratings of tasks' results (the live router learns from them)."""
    alerts: AlertService
    knowledge: KnowledgeService
    """The knowledge base (trusted sources, ingestion, search)."""
    reports: ReportService
    usage: UsageService
    """Tokens and cost per agent, task type and day; daily budgets."""
    swarm: SwarmService
    planning: PlanningService
    seed: SeedSources
    database_reports: ReportCache | None
    """None when the runtime runs on in-memory stores (no database to look at)."""
    routines: Callable[[], Routines | None]
    """The periodic routines once the runtime has started them (``None`` before)."""
    markets: MarketStore
    """Market candles, texts and ML models (the crypto and fraud routes)."""
    artefacts: ArtefactStore
    """Generated images and videos (their downloads)."""

    @classmethod
    def of(cls, runtime: Imperium) -> ApiServices:
        store, engine, agents = runtime.store, runtime.engine, runtime.agents
        return cls(
            settings=runtime.settings,
            engine=engine,
            agents=agents,
            keys=runtime.keys,
            events=runtime.events,
            queries=store,
            statistics=store,
            locks=store,
            learning_records=store,
            custody_records=store,
            learner=runtime.learner,
            learning_logs=LearningService(store, runtime.events, engine.clock),
            custody=runtime.custody,
            proposals=runtime.proposals,
            teams=runtime.teams,
            feedback=runtime.feedback,
            alerts=runtime.alerts,
            knowledge=runtime.knowledge,
            reports=runtime.reports,
            usage=runtime.usage,
            swarm=SwarmService(engine, agents, store, runtime.autoscaler),
            planning=PlanningService(engine, agents, store),
            seed=SeedSources(
                agents=agents,
                queries=store,
                learning=store,
                custody=store,
                cycles=store,
                engine=engine,
                learner=runtime.learner,
                routines=lambda: runtime.routines,
                learning_cycle_interval=runtime.settings.learning_cycle_interval,
            ),
            database_reports=runtime.database_reports,
            routines=lambda: runtime.routines,
            markets=runtime.markets,
            artefacts=runtime.artefacts,
        )


def services_of(app: Any) -> ApiServices:
    """The services ``create_app`` wired onto ``app`` (for WebSocket routes too)."""
    services: ApiServices = app.state.services
    return services


async def get_settings(request: Request) -> Settings:
    return services_of(request.app).settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def get_scheduler(request: Request) -> Engine:
    return services_of(request.app).engine


async def get_markets(request: Request) -> MarketStore:
    return services_of(request.app).markets


Markets = Annotated[MarketStore, Depends(get_markets)]
"""Market candles, texts and the versioned ML models."""


async def get_artefacts(request: Request) -> ArtefactStore:
    return services_of(request.app).artefacts


Artefacts = Annotated[ArtefactStore, Depends(get_artefacts)]
"""Generated files kept outside the task rows, with a retention limit."""

Scheduler = Annotated[Engine, Depends(get_scheduler)]
"""The engine: every write to tasks (submit, cancel, retry, lease, complete) and its live
state (``snapshot()``)."""


async def get_agents(request: Request) -> AgentService:
    return services_of(request.app).agents


Agents = Annotated[AgentService, Depends(get_agents)]
"""The agent registry (changes reach the engine at once)."""


async def get_keys(request: Request) -> KeyService:
    return services_of(request.app).keys


Keys = Annotated[KeyService, Depends(get_keys)]


async def get_events(request: Request) -> EventBus:
    return services_of(request.app).events


Events = Annotated[EventBus, Depends(get_events)]


async def get_queries(request: Request) -> QueryStore:
    return services_of(request.app).queries


Queries = Annotated[QueryStore, Depends(get_queries)]
"""Reads of tasks, their attempts and events, and counts (what is durable)."""


async def get_ratings(request: Request) -> FeedbackService:
    return services_of(request.app).feedback


Ratings = Annotated[FeedbackService, Depends(get_ratings)]
"""People's ratings of tasks' results."""


async def get_alerts(request: Request) -> AlertService:
    return services_of(request.app).alerts


Alerts = Annotated[AlertService, Depends(get_alerts)]


async def get_reports(request: Request) -> ReportService:
    return services_of(request.app).reports


Reports = Annotated[ReportService, Depends(get_reports)]


async def get_usage(request: Request) -> UsageService:
    return services_of(request.app).usage


Usage = Annotated[UsageService, Depends(get_usage)]
"""Alert rules (changes apply at once) and the record of their deliveries."""


async def get_locks(request: Request) -> SchedulerStore:
    return services_of(request.app).locks


Locks = Annotated[SchedulerStore, Depends(get_locks)]
"""The scheduler's store, for reading who holds the scheduler lock."""


async def get_learning_records(request: Request) -> LearnerStore:
    return services_of(request.app).learning_records


LearningRecords = Annotated[LearnerStore, Depends(get_learning_records)]
"""Stored learning cycles, insights, model reports and recent executions."""


async def get_custody_records(request: Request) -> CustodyStore:
    return services_of(request.app).custody_records


CustodyRecords = Annotated[CustodyStore, Depends(get_custody_records)]
"""Stored custody standings and graded results."""


async def get_learning(request: Request) -> Learner:
    return services_of(request.app).learner


Learning = Annotated[Learner, Depends(get_learning)]
"""The learner: its router, predictor and cycles."""


async def get_learning_logs(request: Request) -> LearningService:
    return services_of(request.app).learning_logs


LearningLogs = Annotated[LearningService, Depends(get_learning_logs)]
"""Learning events: logged, published, analysed."""


async def get_custody(request: Request) -> CustodyService:
    return services_of(request.app).custody


Custody = Annotated[CustodyService, Depends(get_custody)]


async def get_proposals(request: Request) -> ProposalService:
    return services_of(request.app).proposals


Proposals = Annotated[ProposalService, Depends(get_proposals)]


async def get_teams(request: Request) -> TeamService:
    return services_of(request.app).teams


Teams = Annotated[TeamService, Depends(get_teams)]


async def get_swarm(request: Request) -> SwarmService:
    return services_of(request.app).swarm


Swarm = Annotated[SwarmService, Depends(get_swarm)]
"""The swarm's slots, queues and batches (``/api/v1/swarm``, ``/api/v1/orchestrate``)."""


async def get_planning(request: Request) -> PlanningService:
    return services_of(request.app).planning


Planning = Annotated[PlanningService, Depends(get_planning)]
"""The L20 planning calculations (``/api/v1/l20``)."""


async def get_seed(request: Request) -> SeedSources:
    return services_of(request.app).seed


Seed = Annotated[SeedSources, Depends(get_seed)]
"""What the seed's agent metrics and orchestrator status are read from."""


async def get_database_reports(request: Request) -> ReportCache:
    reports = services_of(request.app).database_reports
    if reports is None:
        raise NotFoundError("no database to report on: this server keeps its data in memory")
    return reports


DatabaseReports = Annotated[ReportCache, Depends(get_database_reports)]


async def get_schedules(request: Request) -> Routines | None:
    return services_of(request.app).routines()


Schedules = Annotated[Routines | None, Depends(get_schedules)]
"""The periodic routines, or ``None`` while the runtime has not started them."""


async def get_knowledge(request: Request) -> KnowledgeService:
    return services_of(request.app).knowledge


Knowledge = Annotated[KnowledgeService, Depends(get_knowledge)]
"""The knowledge base: trusted sources, topics, ingestion, search and its use."""
