"""A transaction flagged by the fraud agent raises ``fraud.flagged``, which an alert rule
delivers to a webhook (a local HTTP receiver), from a started runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.agents import _fraud_models as fm
from imperium.agents.fraud import save_trained
from imperium.agents.fraud_data import generate
from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.notify.test_delivery import Receiver
from tests.integration.notify.test_event_types import alerts_at, hook, rule_on

__all__ = ["hook"]  # the fixture, imported to be used here


@pytest.fixture
async def im(tmp_path: Path) -> AsyncIterator[Imperium]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", poll_interval=0.05,
                        drain_seconds=0.2, builtin_agents="fraud")  # fmt: skip
    runtime = Imperium.build(settings, MemoryStore())
    await runtime.start()
    yield runtime
    await runtime.close()


async def test_a_flagged_transaction_reaches_a_webhook(im: Imperium, hook: Receiver) -> None:
    rows = generate(accounts=30, days=30, fraud_events=30, seed=2)
    await save_trained(im.markets, fm.train(fm.parse(rows), trees=20))
    await rule_on(im, "fraud.flagged", hook)
    fraud = next(r for r in reversed(rows) if r["is_fraud"])
    task = await im.engine.submit(
        TaskSpec(
            type="fraud_analyze",
            payload={"transactions": [fraud], "threshold": 0.0},
            max_attempts=1,
        )
    )
    done = await im.engine.wait_for(task.id)
    assert done.result["flagged"] == 1, done.result
    [alert] = await alerts_at(hook)
    assert alert["event_type"] == "fraud.flagged"
    data = alert["data"]
    assert data["transaction_id"] == fraud["transaction_id"]
    assert data["account_id"] == fraud["account_id"]
    assert data["drivers"]
    assert data["task_id"] == task.id
