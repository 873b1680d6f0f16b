"""Contract of the counting queries behind /metrics and /api/status, on every ``Store``."""

from __future__ import annotations

from imperium.domain.states import Outcome
from imperium.ports import Store, WriteBatch
from tests.integration.storage.storage_factories import T0, inserting, make_execution, make_task

OWNER = "scheduler-1"


async def test_executions_are_counted_by_outcome(store: Store) -> None:
    assert await store.count_executions_by_outcome() == dict.fromkeys(Outcome, 0)
    assert await store.swap_lock(None, OWNER, T0 + 30)
    first, second = make_task(), make_task()
    await store.apply(inserting(first, second), OWNER, T0 + 30)
    outcomes = [Outcome.FAILED, Outcome.LOST, Outcome.SUCCEEDED]
    executions = [make_execution(first.id, n, outcome=o) for n, o in enumerate(outcomes, 1)]
    executions.append(make_execution(second.id, 1, outcome=Outcome.SUCCEEDED))
    await store.apply(WriteBatch(executions=executions), OWNER, T0 + 30)

    counts = await store.count_executions_by_outcome()

    assert counts == {
        **dict.fromkeys(Outcome, 0),
        Outcome.SUCCEEDED: 2,
        Outcome.FAILED: 1,
        Outcome.LOST: 1,
    }
    assert list(counts) == list(Outcome)  # every outcome, in a stable order
