"""An in-memory artefact store: the port's behaviour without a disk, for unit tests."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable

from imperium.domain.artefacts import (
    Artefact,
    ArtefactGoneError,
    RetentionPolicy,
    check_fits,
    check_id,
    forgotten,
    to_remove,
)
from imperium.domain.errors import NotFoundError
from imperium.ports import Clock, RetentionReport


def random_id() -> str:
    return uuid.uuid4().hex


def gone(artefact: Artefact, policy: RetentionPolicy) -> ArtefactGoneError:
    return ArtefactGoneError(
        f"artefact {artefact.id} was removed by the retention limit "
        f"({artefact.removed_reason}; {policy.describe()}): generate it again"
    )


class MemoryArtefactStore:
    def __init__(
        self,
        clock: Clock,
        policy: RetentionPolicy | None = None,
        new_id: Callable[[], str] = random_id,
    ) -> None:
        self.clock = clock
        self.policy = policy or RetentionPolicy()
        self._new_id = new_id
        self._records: dict[str, Artefact] = {}
        self._data: dict[str, bytes] = {}

    async def put(self, data: bytes, content_type: str, *, task_id: str | None) -> Artefact:
        check_fits(len(data), self.policy)
        artefact = Artefact(
            check_id(self._new_id()), content_type, len(data),
            hashlib.sha256(data).hexdigest(), self.clock.now(), task_id,
        )  # fmt: skip
        self._records[artefact.id] = artefact
        self._data[artefact.id] = bytes(data)
        await self.enforce_retention()
        return artefact

    async def get(self, artefact_id: str) -> Artefact:
        found = self._records.get(check_id(artefact_id))
        if found is None:
            raise NotFoundError(f"no artefact {artefact_id}")
        if found.removed_at is not None:
            raise gone(found, self.policy)
        return found

    async def read(self, artefact_id: str) -> bytes:
        return self._data[(await self.get(artefact_id)).id]

    def file_path(self, artefact: Artefact) -> str | None:
        return None

    async def enforce_retention(self) -> RetentionReport:
        now = self.clock.now()
        records = list(self._records.values())
        old = forgotten(records, now)
        for record in old:
            del self._records[record.id]
        removals = to_remove(records, now, self.policy)
        for removal in removals:
            self._data.pop(removal.artefact.id, None)
            self._records[removal.artefact.id] = dataclasses.replace(
                removal.artefact, removed_at=now, removed_reason=removal.reason
            )
        kept = [a for a in self._records.values() if a.removed_at is None]
        return RetentionReport(
            len(removals), sum(r.artefact.size for r in removals), len(kept),
            sum(a.size for a in kept), len(old),
        )  # fmt: skip

    def describe(self) -> str:
        return f"in memory ({self.policy.describe()})"
