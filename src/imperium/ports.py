"""Protocols the core needs from the outside world. Adapters implement them; unit tests use
the in-memory stores in ``adapters/storage/memory/``.

Storage is one port per area (``SchedulerStore`` — all the engine depends on —,
``QueryStore``, ``AgentStore``, ``LearningStore``, ``CycleStore``, ``CustodyStore``,
``ProposalStore``, ``TeamStore``, ``KeyStore``) over one database; a ``UnitOfWork`` lets
the caller own the transaction across areas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from imperium.domain.auth import ApiKey
from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.feedback import Feedback
from imperium.domain.images import ImageRequest, ImageResult
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
    Prediction,
    Query,
)
from imperium.domain.llm import ChatReply, ChatRequest
from imperium.domain.models import JSON, AgentSpec, AttemptResult, Event, Execution, Task
from imperium.domain.proposals import Proposal, ProposalStatus
from imperium.domain.states import Outcome, TaskState
from imperium.domain.teams import TeamRun, TeamState


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (stored times, shown to people and SQL)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (deadlines inside the running process:
        leases, timeouts, backoff), so a change of the wall clock expires nothing."""
        ...


class EventSink(Protocol):
    """Receives events once they are durable (the engine's journal calls it after each
    commit; the agent registry after each change)."""

    def publish(self, events: Sequence[Event]) -> None: ...


class KeyStore(Protocol):
    """API keys (only digests of their secrets)."""

    async def insert_key(self, key: ApiKey) -> None: ...

    async def get_key(self, key_id: str) -> ApiKey | None: ...

    async def list_keys(self) -> list[ApiKey]: ...

    async def revoke_key(self, key_id: str, at: float) -> bool:
        """Revoke an active key; False when it does not exist or is already revoked."""
        ...

    async def count_keys(self) -> int:
        """Every key ever created, revoked ones too (keys stay required once one existed)."""
        ...

    async def delete_keys(self) -> int:
        """Forget every key, active and revoked; returns how many there were."""
        ...


class Rng(Protocol):
    def random(self) -> float:
        """A draw from [0, 1)."""
        ...


class TaskSnapshot(NamedTuple):
    """The mutable part of a task at one instant, as written to storage (a NamedTuple:
    one is taken per changed task per group commit)."""

    id: str
    state: TaskState
    attempts: int
    max_attempts: int
    restarts: int
    lease_token: int
    agent_id: str | None
    lease_expires_at: float | None
    not_before: float | None
    started_at: float | None
    finished_at: float | None
    result: JSON
    error_kind: str | None
    error_message: str | None
    score: float
    updated_at: float

    @classmethod
    def of(cls, t: Task) -> TaskSnapshot:
        return cls(
            t.id,
            t.state,
            t.attempts,
            t.max_attempts,
            t.restarts,
            t.lease_token,
            t.agent_id,
            t.lease_expires_at,
            t.not_before,
            t.started_at,
            t.finished_at,
            t.result,
            t.error_kind,
            t.error_message,
            t.score,
            t.updated_at,
        )


@dataclass(slots=True)
class WriteBatch:
    """Everything one group commit writes, in one transaction."""

    inserts: list[tuple[Task, TaskSnapshot]] = field(default_factory=list)
    updates: list[TaskSnapshot] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    cancel_handled: list[str] = field(default_factory=list)
    teams: list[TeamRun] = field(default_factory=list)
    """Team rows submitted with their member tasks (in ``inserts``): they commit together."""

    def __len__(self) -> int:
        parts = (self.inserts, self.updates, self.executions, self.events, self.teams)
        return sum(len(part) for part in parts)


@dataclass(frozen=True, slots=True)
class LockInfo:
    owner: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class TaskFilter:
    state: TaskState | None = None
    type: str | None = None
    agent_id: str | None = None
    workflow_id: str | None = None
    limit: int = 50
    offset: int = 0
    created_after: float | None = None
    """Only tasks created at or after this time (inclusive)."""
    created_before: float | None = None
    """Only tasks created before this time (exclusive)."""
    id_prefix: str | None = None
    """Only tasks whose id starts with this text."""
    after: tuple[float, str] | None = None
    """Keyset pagination: only tasks after this ``(created_at, id)`` in the listing's
    order (newest first), i.e. the last row of the previous page."""


@dataclass(frozen=True, slots=True)
class AgentStats:
    """Figures computed from ``agent_task_executions`` for one agent."""

    agent_id: str
    executions: int
    succeeded: int
    failed: int
    mean_duration: float | None
    last_success: float | None
    last_failure: float | None


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """Whether the scheduler last managed to load a local agent's code, from its latest
    ``agent.loaded`` or ``agent.load_failed`` event (``error`` says why it did not)."""

    agent_id: str
    loaded: bool
    error: str | None
    at: float

    @classmethod
    def of(cls, agent_id: str, event_type: str, data: object, at: float) -> AgentLoad:
        """From an ``agent.loaded`` or ``agent.load_failed`` event."""
        if event_type != "agent.load_failed":
            return cls(agent_id, True, None, at)
        error = data.get("error") if isinstance(data, dict) else None
        return cls(agent_id, False, str(error or "its code failed to load"), at)


@dataclass(frozen=True, slots=True)
class AgentLearning:
    """The learning columns of an agent's ``agent_metrics`` row, as learning cycles leave
    them (``total_learning_cycles == 0``: no cycle has run, the other figures mean nothing)."""

    agent_id: str
    learning_score: float
    total_learning_cycles: int
    last_learning_cycle: float | None
    learning_patterns: list[JSON]
    improvement_suggestions: list[JSON]


class LearningLog(NamedTuple):
    """A learning event with the seed's columns of ``learning_logs`` filled in."""

    event_type: str
    created_at: float
    agent_id: str | None = None
    agent_type: str | None = None
    topic: str | None = None
    results_count: int = 0
    results_sample: JSON = None
    insights: JSON = None
    error_message: str | None = None
    processing_time: float | None = None
    impact_score: float = 0.0
    event_data: JSON = None

    def as_event(self) -> Event:
        """The event published on the bus: the seed's fields in ``data``."""
        data = {name: getattr(self, name) for name in LEARNING_FIELDS}
        return Event(self.event_type, self.created_at, None, self.agent_id, data)


LEARNING_FIELDS = LearningLog._fields[3:]  # the seed's columns after agent_id


@dataclass(frozen=True, slots=True)
class LearningFilter:
    """Which learning events (never the engine's own) an analytics query covers; ``until``
    is inclusive, ``event_types`` empty means every learning event type."""

    agent_id: str | None = None
    event_types: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class LearningTotals:
    """Events and summed impact of one (event type, agent) pair."""

    event_type: str
    agent_id: str | None
    events: int
    total_impact: float


@dataclass(frozen=True, slots=True)
class LearningAnalytics:
    """Totals of every matching event, and the ``limit`` most recent of them."""

    totals: list[LearningTotals]
    logs: list[LearningLog]


class SchedulerStore(Protocol):
    """What the scheduler reads at start and writes through group commit."""

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        """Write ``batch`` and extend the lock in one transaction.

        Raises LockLostError (writing nothing) when ``owner`` no longer holds the lock.
        """
        ...

    async def read_lock(self) -> LockInfo | None: ...

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        """Set the lock to ``owner`` if its holder is ``expected``; True on success."""
        ...

    async def release_lock(self, owner: str) -> None: ...

    async def load_agents(self) -> list[AgentSpec]: ...

    async def agents_changed_since(self, since: float) -> list[AgentSpec]: ...

    async def load_active_tasks(self) -> list[Task]:
        """Tasks in pending, queued or running state."""
        ...

    async def fetch_submitted(self, limit: int) -> list[Task]: ...

    async def fetch_cancel_requests(self) -> list[str]: ...

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]: ...

    async def get_task(self, task_id: str) -> Task | None:
        """A task as stored (one that ended and left the scheduler's memory, say)."""
        ...

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Ask for a task that is stored but not yet admitted to be cancelled."""
        ...


class AgentStore(Protocol):
    """Agent registry rows (``agent_metrics``)."""

    async def insert_agent(self, spec: AgentSpec) -> None:
        """Raises ConflictError when the id exists."""
        ...

    async def update_agent(self, spec: AgentSpec) -> None: ...

    async def get_agent(self, agent_id: str) -> AgentSpec | None: ...

    async def list_agents(self) -> list[AgentSpec]: ...

    async def log_event(self, event: Event) -> None: ...


class QueryStore(Protocol):
    """Reads for the CLI and API, and the writes other processes may make."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def cancel_requested(self, task_id: str) -> bool: ...

    async def list_tasks(self, flt: TaskFilter) -> list[Task]: ...

    async def count_tasks_by_state(self) -> dict[TaskState, int]: ...

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        """Recorded attempts per outcome, every outcome present (0 when none)."""
        ...

    async def executions_for(self, task_id: str) -> list[Execution]: ...

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]: ...

    async def agent_stats(self, agent_id: str | None = None) -> dict[str, AgentStats]:
        """Figures of every agent with a counted execution, or of ``agent_id`` only."""
        ...

    async def agent_loads(self) -> dict[str, AgentLoad]:
        """Per local agent a scheduler tried to load, how its latest attempt went."""
        ...

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        """Store tasks in state ``submitted`` for the scheduler to admit."""
        ...

    async def request_cancel(self, task_id: str, at: float) -> None: ...

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Put a dead, timed_out or failed task back to ``submitted`` with a new attempt
        budget; False if it is in another state."""
        ...


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """Attempts with ``outcome`` that finished in the bucket starting at ``start``."""

    start: float
    outcome: Outcome
    count: int


@dataclass(frozen=True, slots=True)
class DecisionCount:
    """The attempts of one task type that ``agent_id`` got (the router's choices) and that
    finished in the bucket starting at ``start``: how many, and how many of them succeeded
    and failed (failed, timed out or lost; cancelled ones are in neither)."""

    start: float
    agent_id: str
    attempts: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class AgentWindow:
    """An agent's attempts among the newest ones (succeeded or failed: cancelled and
    interrupted attempts say nothing about it), with nearest-rank duration percentiles
    and the tokens and cost they recorded (``None`` when none recorded any)."""

    agent_id: str
    attempts: int
    succeeded: int
    p50: float | None
    p95: float | None
    tokens: int | None
    cost: float | None
    by_type: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Task type -> (attempts, succeeded) among the same attempts."""

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


WORKFLOW_SCAN = 5000
"""How many of the newest workflow tasks ``recent_workflows`` looks through."""


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """A workflow's tasks counted per state (``created_at``: its first task's creation)."""

    workflow_id: str
    created_at: float
    states: dict[TaskState, int]

    @property
    def tasks(self) -> int:
        return sum(self.states.values())


class StatisticsStore(Protocol):
    """Aggregates over recent history for the dashboard, computed by the database over
    indexed time ranges (never by loading rows)."""

    async def agent_window(self, window: int) -> dict[str, AgentWindow]:
        """Per agent, its figures over the newest ``window`` attempts (by ``finished_at``)
        of all agents: a bounded read, whatever the table holds."""
        ...

    async def recent_workflows(self, limit: int) -> list[WorkflowSummary]:
        """The ``limit`` workflows whose tasks were created most recently (newest first),
        each with its tasks counted per state. Found among the newest
        ``WORKFLOW_SCAN`` workflow tasks, so the cost does not grow with the table."""
        ...

    async def outcome_series(self, since: float, bucket_seconds: float) -> list[OutcomeCount]:
        """Attempts finished at or after ``since``, counted per outcome and per bucket of
        ``bucket_seconds`` (buckets start at multiples of it; empty ones are left out)."""
        ...

    async def count_dead_since(self, since: float) -> int:
        """Tasks that ended ``dead`` (attempts exhausted) at or after ``since``."""
        ...

    async def decisions_series(
        self, task_type: str, since: float, bucket_seconds: float
    ) -> list[DecisionCount]:
        """Attempts of ``task_type`` finished at or after ``since``, counted per agent and
        per bucket of ``bucket_seconds`` (as ``outcome_series``; attempts without an agent
        are left out): which agent the router chose, over time."""
        ...


class LearningStore(Protocol):
    """Learning events in ``learning_logs`` and the learning columns of ``agent_metrics``."""

    async def log_learning(self, entry: LearningLog) -> None: ...

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """Totals computed by the database, and the most recent matching rows."""
        ...

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        """Delete ``learning_logs`` rows (engine and learning events) created before
        ``before``; returns how many. The retention of the daily cleanup."""
        ...

    async def agent_learning(self, agent_id: str | None = None) -> dict[str, AgentLearning]:
        """Every registered agent's learning columns, or ``agent_id``'s only."""
        ...


class CycleStore(Protocol):
    """What learning cycles read and write: executions to learn from, cycles, insights,
    model versions and the learning columns of ``agent_metrics``."""

    async def recent_executions(self, limit: int) -> list[Execution]:
        """The ``limit`` executions that finished last (every outcome), in the order they
        finished (imported history takes its place by time, not by when it was imported)."""
        ...

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """Insert executions not already recorded (same task id and attempt); returns how
        many were new."""
        ...

    async def save_cycle(self, cycle: LearningCycle) -> None:
        """Insert or replace the row of ``cycle.cycle_id``."""
        ...

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        """Newest first."""
        ...

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        """How many cycles are recorded (with that status, if given)."""
        ...

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None: ...

    async def list_insights(
        self,
        limit: int,
        insight_type: InsightType | None = None,
        cycle_id: str | None = None,
    ) -> list[Insight]:
        """Newest first; within one cycle in the order saved (most confident first)."""
        ...

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None: ...

    async def list_models(self, limit: int) -> list[ModelReport]:
        """Newest first."""
        ...

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        """Write the learning columns of each registered agent in ``figures`` (agents no
        longer registered are skipped), add one to its ``total_learning_cycles`` and set
        ``last_learning_cycle``; ``updated_at`` is left alone (the scheduler polls it for
        registry changes). Returns the number of rows updated."""
        ...


class CustodyStore(Protocol):
    """Custody results (one row per graded test) and each agent's standing."""

    async def get_custody(self, agent_id: str) -> CustodyRecord | None: ...

    async def list_custody(self) -> list[CustodyRecord]:
        """Every agent that has been tested, by agent id."""
        ...

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        """Insert ``result`` and replace the agent's standing with ``record``, in one
        transaction; with ``expected_tests``, only if the stored standing still counts that
        many tests (0 when none is stored) — so two processes testing one agent cannot
        overwrite each other's results. False when nothing was written."""
        ...

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        """Newest first."""
        ...

    async def get_custody_result(self, result_id: str) -> CustodyResult | None: ...


class ProposalStore(Protocol):
    async def insert_proposal(self, proposal: Proposal) -> None:
        """A ConflictError when a proposal with the same fingerprint is pending, approved
        or applied (the database enforces it too, so concurrent submissions cannot both
        land)."""
        ...

    async def get_proposal(self, proposal_id: str) -> Proposal | None: ...

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        """Newest first."""
        ...

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        """Store ``proposal`` if the stored one still has status ``expected`` (so two
        people deciding at once cannot both win); False otherwise."""
        ...


class UnitOfWork(Protocol):
    """Opens a unit of work: every store method called inside the ``async with`` block, in
    whatever area, commits together when it ends, or not at all when it raises."""

    def __call__(self) -> AbstractAsyncContextManager[None]: ...


class TeamStore(Protocol):
    async def insert_team(self, run: TeamRun) -> None:
        """Raises ConflictError when the id exists. A team's row is written with its
        member tasks (their ids in ``run.task_ids``) in one unit of work."""
        ...

    async def get_team(self, team_id: str) -> TeamRun | None: ...

    async def list_teams(
        self,
        state: TeamState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TeamRun]:
        """Newest first."""
        ...

    async def running_teams(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[TeamRun]:
        """Running teams oldest first, after the (created_at, team_id) ``after``."""
        ...

    async def finish_team(self, run: TeamRun) -> bool:
        """Store the ended ``run`` if the stored one is still running; False otherwise."""
        ...


class FeedbackStore(Protocol):
    """People's ratings of tasks' results (``task_feedback``)."""

    async def add_feedback(self, feedback: Feedback) -> None:
        """Raises ConflictError when its id exists."""
        ...

    async def feedback_for(self, task_id: str) -> list[Feedback]:
        """The task's ratings, oldest first."""
        ...

    async def recent_feedback(self, limit: int) -> list[Feedback]:
        """The ``limit`` newest ratings, oldest first (the order they are replayed in)."""
        ...


class OutcomePredictor(Protocol):
    """Predicts success probability and duration of an agent on a task."""

    report: ModelReport | None
    """The version in use; None before the first fit."""

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        """Train on ``executions`` (oldest first, any outcome; those that teach nothing
        are ignored), measuring accuracy on the newest ones held out."""
        ...

    def predict(self, queries: Sequence[Query]) -> list[Prediction]: ...


class Store(
    SchedulerStore,
    AgentStore,
    QueryStore,
    LearningStore,
    CycleStore,
    CustodyStore,
    ProposalStore,
    TeamStore,
    KeyStore,
    StatisticsStore,
    FeedbackStore,
    Protocol,
):
    """Every area over one database (``SqlStore``, ``MemoryStore``): what the composition
    root splits into the narrow ports each service takes, and what contract tests run on."""

    def unit_of_work(self) -> AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt handed to an executor."""

    task_id: str
    type: str
    payload: JSON
    attempt: int
    token: int
    agent_id: str
    complexity: float
    deadline: float | None
    resources: dict[str, float]


class AttemptReporter(Protocol):
    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None: ...


class Executor(Protocol):
    """Runs attempts on in-process agents and reports each outcome exactly once."""

    def prepare(self, spec: AgentSpec) -> None:
        """Load the agent's implementation; raises AgentLoadError if it cannot."""
        ...

    def update(self, spec: AgentSpec) -> None:
        """The agent changed in what needs no reload (e.g. ``max_concurrency``)."""
        ...

    def reloadable(self) -> list[str]:
        """Agents whose load failed for a reason gone since (e.g. Ray connected): the
        scheduler loads them again. Each is named once."""
        ...

    def forget(self, agent_id: str) -> None: ...

    def start(self, attempt: Attempt, report: AttemptReporter) -> None: ...

    def cancel(self, task_id: str) -> None:
        """Stop a running attempt; it reports nothing afterwards."""
        ...

    def running(self) -> int: ...

    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        """Why the place ``agent_id`` runs (e.g. a Ray cluster) can never give an attempt
        ``resources``; None when it can, or when the agent's own offer is all that counts."""
        ...

    def capacity_changed(self) -> bool:
        """Whether what the executor can place changed since last asked (e.g. a node
        joined or left); cheap, called at every scheduler poll."""
        ...

    async def close(self) -> None: ...


class ChatModel(Protocol):
    """A language model behind the chat completions protocol (adapters/models). Raises
    ``ModelCallError`` (domain/llm.py) with the provider's reason when no completion came."""

    async def chat(self, request: ChatRequest) -> ChatReply: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Tokens and cost of the attempts in one group (an agent, a task type or a UTC day);
    ``reported`` counts the attempts whose agent reported usage at all."""

    key: str
    attempts: int
    reported: int
    tokens: int
    cost: float


class ImageModel(Protocol):
    """An image model behind the OpenAI-compatible images API (adapters/models). Raises
    ``ModelCallError`` with the provider's reason when no image came."""

    async def generate(self, request: ImageRequest) -> ImageResult: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TypeFigures:
    """A task type's recorded attempts since a time: outcomes, tokens, cost, and the
    durations of the most recent ones (newest first, at most the limit asked)."""

    attempts: int
    succeeded: int
    tokens: int
    cost: float
    durations: list[float]


class UsageStore(Protocol):
    """Tokens and cost as recorded on ``agent_task_executions``."""

    async def type_figures(self, task_type: str, since: float, limit: int) -> TypeFigures:
        """The attempts of ``task_type`` finished since ``since``."""
        ...

    async def usage(self, group: str, since: float, until: float) -> list[UsageRow]:
        """Per ``group`` ("agent", "task_type" or "day"), attempts finished in
        [since, until)."""
        ...

    async def recent_usage(self, window: int) -> list[tuple[str, UsageRow]]:
        """The newest ``window`` attempts per (task type, UTC day): (task type, the row
        keyed by the day). One bounded read, for pages."""
        ...

    async def spent_since(self, since: float) -> dict[str, tuple[int, float]]:
        """Per agent, the tokens and cost of its attempts finished since ``since``."""
        ...

    async def budget_events_since(self, since: float) -> set[str]:
        """Agents with an ``agent.budget_spent`` event since ``since``."""
        ...
