"""The artefact store's retention as a routine: off without a limit, reporting otherwise."""

from __future__ import annotations

from imperium.adapters.artefacts.memory import MemoryArtefactStore
from imperium.domain.artefacts import RetentionPolicy
from imperium.services.artefacts import retention_routine


class Clock:
    at = 0.0

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


async def test_the_routine_removes_what_the_limit_no_longer_keeps() -> None:
    clock = Clock()
    store = MemoryArtefactStore(clock, RetentionPolicy(max_age_seconds=10))
    await store.put(b"12345", "image/png", task_id=None)
    routine = retention_routine(store, 3600)
    assert routine.active
    assert routine.first_delay == 60
    assert "in memory (kept" in routine.description
    clock.at = 11
    assert await routine.action() == {"status": "ok", "removed": 1, "freed_bytes": 5,
                                      "kept": 0, "kept_bytes": 0, "forgotten": 0}  # fmt: skip


def test_without_a_limit_the_routine_is_off_saying_which_settings() -> None:
    routine = retention_routine(MemoryArtefactStore(Clock()), 3600)
    assert not routine.active
    assert routine.off_reason is not None
    assert "IMPERIUM_ARTEFACT_MAX_BYTES" in routine.off_reason
