"""The artefact store's retention limit as a routine (it is also applied on every write,
so the routine matters for the age limit while nothing is generated)."""

from __future__ import annotations

import dataclasses

from imperium.ports import ArtefactStore
from imperium.services.routines import Routine

NAME = "artefact_retention"


def retention_routine(store: ArtefactStore, interval: float) -> Routine:
    async def enforce() -> dict[str, object]:
        report = await store.enforce_retention()
        return {"status": "ok", **dataclasses.asdict(report)}

    limited = store.policy.max_age_seconds or store.policy.max_total_bytes
    return Routine(
        NAME, interval, enforce,
        f"removes generated images and videos the retention limit no longer keeps "
        f"({store.describe()})",
        off_reason=None if limited else "no retention limit set (IMPERIUM_ARTEFACT_MAX_AGE_DAYS"
        ", IMPERIUM_ARTEFACT_MAX_BYTES)",
        first_delay=min(interval, 60.0),
    )  # fmt: skip
