"""The seed's master intelligences (``/api/v1/intelligence``): each is a task type served
by agents reached through the engine, so it is routed, recorded and learned from like any
other work. This service lists them, runs one (submit, then wait for the task's end) and
reports its figures from its recorded attempts.

product_content and advanced_media are built over the model backends
(agents/product_content.py, media.py); marketing and web_app_builder do their core work in
code (an allocation, a generated project) and use a model only when one is configured
(``model_required=False``: their agents are ready without one). The seed's
``/api/v1/generate/image`` and ``/video`` run the same way as the task types
``image_generation`` and ``video_generation`` (GENERATORS, not listed as intelligences).
Without an agent or a backend the answer says what to configure, never made-up output.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Protocol

from imperium.domain.errors import ImperiumError, NotFoundError, ValidationError
from imperium.domain.llm import model_config_of
from imperium.domain.models import Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, TaskState
from imperium.ports import UsageStore
from imperium.services.engine.census import Snapshot

METRICS_DAYS = 30
DURATION_SAMPLE = 10_000


@dataclass(frozen=True, slots=True)
class Intelligence:
    type: str
    description: str
    agent_type: str | None
    """The built-in agent type that does it; None while it is not built."""
    model_required: bool = True
    """False when its agent does its core work in code and uses a model only for extras
    (copy, customisation): an agent without a model backend is then ready."""


CATALOGUE = (
    Intelligence("product_content", "Product descriptions, catalogue entries and meta "
                 "descriptions from a language model, measured in code.", "product_content"),
    Intelligence("marketing", "Budget allocation across channels on fitted response curves "
                 "(scipy; default curves, which are assumptions, without history), audience "
                 "segments (k-means), KPIs; the creative plan (campaign copy per channel) from "
                 "a language model when one is configured.", "marketing", model_required=False),
    Intelligence("web_app_builder", "A runnable project (backend, tests, frontend skeleton, "
                 "README, Dockerfile) generated from requirements, its tests run in the "
                 "Sandbox; a language model customises it when configured.", "web_app_builder",
                 model_required=False),
    Intelligence("advanced_media", "A shot plan from a language model checked against its "
                 "schema, then images and an H.264 video through the images API.",
                 "advanced_media"),
)  # fmt: skip
GENERATORS = (
    Intelligence("image_generation", "Images through the OpenAI-compatible images API.",
                 "media"),
    Intelligence("video_generation", "Video from generated frames, encoded with ffmpeg.",
                 "media"),
)  # fmt: skip
BY_TYPE = {i.type: i for i in CATALOGUE + GENERATORS}


class NotConfiguredError(ImperiumError):
    """Nothing can do this intelligence here yet: no agent, or no model backend; the
    message says what to configure (HTTP 503)."""


class NotBuiltError(ImperiumError):
    """This intelligence is not built in this version (HTTP 501)."""


class AttemptFailedError(ImperiumError):
    """The intelligence's task ended without a result (e.g. the provider refused)."""

    def __init__(self, task: Task) -> None:
        super().__init__(f"task {task.id} ended {task.state}: {task.error_kind}: "
                         f"{task.error_message}")  # fmt: skip
        self.task = task


class IntelligenceEngine(Protocol):
    async def submit(self, spec: TaskSpec) -> Task: ...

    async def wait_for(self, task_id: str) -> Task: ...

    def snapshot(self) -> Snapshot: ...


def register_hint(intelligence: Intelligence) -> str:
    if not intelligence.model_required:
        return (
            f"register an agent for it, e.g. imperium agents register {intelligence.type}-1 "
            f"--type {intelligence.agent_type} -c {intelligence.type} (a model backend in its "
            "config is optional; see README, Model backends)"
        )
    model = "dall-e-3" if intelligence.agent_type == "media" else "llama3.1"
    return (
        f"register an agent for it, e.g. imperium agents register {intelligence.type}-1 "
        f"--type {intelligence.agent_type} -c {intelligence.type} --config "
        f'\'{{"base_url": "http://localhost:11434/v1", "model": "{model}"}}\' '
        "(see README, Model backends)"
    )


class IntelligenceService:
    def __init__(self, engine: IntelligenceEngine, usage: UsageStore) -> None:
        self._engine = engine
        self._usage = usage

    def get(self, kind: str) -> Intelligence:
        found = BY_TYPE.get(kind)
        if found is None:
            raise NotFoundError(f"no intelligence '{kind}'; known: {', '.join(BY_TYPE)}")
        return found

    def serving(self, kind: str) -> list[str]:
        """Active agents offering the intelligence's capability (its task type)."""
        return sorted(
            a.spec.id for a in self._engine.snapshot().agents
            if kind in a.spec.capabilities and a.spec.status is AgentStatus.ACTIVE
        )  # fmt: skip

    def _configured(self, intelligence: Intelligence, agent_ids: list[str]) -> list[str]:
        """Those of ``agent_ids`` ready to work: agents of a model-backed type (the
        intelligence's own, or ``llm``) once their config names base_url and model; agents
        of any other type (a remote worker, custom code) need no model config here."""
        if not intelligence.model_required:
            return list(agent_ids)
        needs_model = {intelligence.agent_type, "llm"}
        configured = []
        for agent_id in agent_ids:
            agent = self._engine.snapshot().agent(agent_id)
            if agent is None:
                continue
            if agent.spec.type not in needs_model:
                configured.append(agent_id)
                continue
            try:
                missing = model_config_of(agent.spec.config).missing()
            except ValidationError:
                missing = ["a valid config"]
            if not missing:
                configured.append(agent_id)
        return configured

    def list(self) -> list[dict[str, Any]]:
        rows = []
        for i in CATALOGUE:
            agents = self.serving(i.type) if i.agent_type else []
            status = "not_built" if i.agent_type is None else ("ready" if agents else "no_agent")
            hint = register_hint(i) if status == "no_agent" else None
            if agents and not self._configured(i, agents):
                status = "not_configured"
                hint = (f"set base_url and model in the config of {', '.join(agents)} "
                        "(imperium agents update ID --config ...)")  # fmt: skip
            rows.append(
                {"type": i.type, "description": i.description, "status": status,
                 "built": bool(i.agent_type), "agents": agents, "configure": hint}
            )  # fmt: skip
        return rows

    async def execute(self, kind: str, payload: Any, wait: float) -> Task:
        """Run the intelligence as a task; the task as it is after at most ``wait`` s."""
        intelligence = self.get(kind)
        if intelligence.agent_type is None:
            raise NotBuiltError(f"the {kind} intelligence is not built in this version")
        if not self.serving(kind):
            raise NotConfiguredError(
                f"no active agent serves {kind}: {register_hint(intelligence)}"
            )
        task = await self._engine.submit(TaskSpec(type=kind, payload=payload))
        try:
            task = await asyncio.wait_for(self._engine.wait_for(task.id), wait)
        except TimeoutError:
            return task
        if task.state is TaskState.SUCCEEDED:
            return task
        if task.error_kind == "not_configured":
            raise NotConfiguredError(task.error_message or "no model backend configured")
        if task.error_kind == "bad_payload":
            raise ValidationError(task.error_message or "the payload was refused")
        raise AttemptFailedError(task)

    async def metrics(self, kind: str, now: float) -> dict[str, Any]:
        """Figures of the intelligence's recorded attempts over the last 30 days."""
        self.get(kind)
        since = now - METRICS_DAYS * 86_400
        figures = await self._usage.type_figures(kind, since, DURATION_SAMPLE)
        spans = sorted(figures.durations)
        return {
            "type": kind, "since": since, "attempts": figures.attempts,
            "succeeded": figures.succeeded,
            "success_rate": figures.succeeded / figures.attempts if figures.attempts else None,
            "duration_p50": percentile(spans, 0.50), "duration_p95": percentile(spans, 0.95),
            "tokens": figures.tokens, "cost": round(figures.cost, 10),
        }  # fmt: skip


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values; None without values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return round(ordered[rank - 1], 6)
