"""Model versions saved at the same time (two trainings finishing together) are numbered
without a clash and leave exactly one current version, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from imperium.domain.markets import ModelRecord
from imperium.ports import Store
from imperium.runtime import make_markets


def record(i: int) -> ModelRecord:
    return ModelRecord(id=f"m{i}", name="fraud", version=0, kind="supervised",
                       algorithm="xgboost", created_at=float(i), current=True,
                       artefact=b"x")  # fmt: skip


async def test_concurrent_saves_get_distinct_versions_and_one_current(store: Store) -> None:
    markets = make_markets(store)
    saved = await asyncio.gather(*(markets.save_model(record(i)) for i in range(8)))
    assert sorted(r.version for r in saved) == list(range(1, 9))
    listed = await markets.models("fraud")
    assert sorted(m.version for m in listed) == list(range(1, 9))
    assert sum(m.current for m in listed) == 1
