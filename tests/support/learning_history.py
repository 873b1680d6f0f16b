"""A recorded history to learn from, shared by the learning tests: on ``review`` tasks
agent ``good`` succeeds 90% of the time in about 10 s, ``bad`` 30% in about 40 s (its
failures are mostly dependency conflicts). Deterministic for a given seed."""

from __future__ import annotations

import random

from imperium.domain.models import Execution
from imperium.domain.states import Outcome

T0 = 1_760_000_000.0
TRUTH = {"good": (0.9, 10.0), "bad": (0.3, 40.0)}


def history(n: int = 400, seed: int = 5, task_type: str = "review") -> list[Execution]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        agent = "good" if i % 2 == 0 else "bad"
        rate, mean = TRUTH[agent]
        ok = rng.random() < rate
        duration = mean * rng.lognormvariate(0.0, 0.2)
        end = T0 + 60.0 * i
        kind = None if ok else ("dependency_conflict" if rng.random() < 0.8 else "timeout")
        out.append(
            Execution(
                task_id=f"hist-{i:05d}",
                attempt=1,
                agent_id=agent,
                task_type=task_type,
                complexity=round(rng.uniform(1, 5), 2),
                started_at=end - duration,
                finished_at=end,
                outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
                lease_token=1,
                error_kind=kind,
                error_message=None if ok else f"{kind}: requests 2.31 vs urllib3 2.0",
            )
        )
    return out
