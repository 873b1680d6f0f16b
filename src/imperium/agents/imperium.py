"""``imperium``: the built-in agent whose work is learning.

A task of type ``learning_cycle`` runs one learning cycle (``services/learning``): the
scheduled cycles of ``imperium serve`` reach it as tasks through the engine, so each one is
an execution like any other work (recorded, timed, visible in ``imperium tasks``). It needs
the server's learner, lent to in-process agents through ``ctx.services``; elsewhere it
refuses with a clear error.
"""

from __future__ import annotations

from typing import Any

from imperium.agents.base import Agent, TaskContext, TaskFailed

LEARNING_CYCLE = "learning_cycle"


class ImperiumAgent(Agent):
    description = "Runs learning cycles: refits the predictors, insights and agent metrics."

    async def run(self, ctx: TaskContext) -> Any:
        if ctx.type != LEARNING_CYCLE:
            raise TaskFailed(
                f"the imperium agent does '{LEARNING_CYCLE}' tasks, not '{ctx.type}'",
                kind="bad_input",
                retryable=False,
            )
        learner = ctx.services.get("learner")
        if learner is None:
            raise TaskFailed(
                "the imperium agent runs learning cycles inside `imperium serve` only (it "
                "needs the server's learner)",
                kind="not_configured",
                retryable=False,
            )
        payload = ctx.payload if isinstance(ctx.payload, dict) else {}
        trigger = str(payload.get("trigger", "task"))[:20]
        cycle = await learner.run_cycle(trigger)
        summary = {
            "cycle_id": cycle.cycle_id,
            "status": cycle.status.value,
            "participating_agents": list(cycle.participating_agents),
            "success_count": cycle.success_count,
            "failure_count": cycle.failure_count,
            "insights_generated": cycle.insights_generated,
            "total_learning_value": cycle.total_learning_value,
            "model": cycle.metadata.get("model"),
        }
        if cycle.status.value != "completed":
            raise TaskFailed(
                f"learning cycle {cycle.cycle_id} failed: {cycle.metadata.get('error')}",
                kind="learning_cycle_failed",
            )
        return summary
