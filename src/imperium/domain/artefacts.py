"""Generated files (images, videos) kept outside the task rows: what one is, which ids are
valid, and which ones a retention limit removes (pure: the stores apply it).

A task's result holds a reference to each file (``reference``), not its bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from imperium.domain.errors import NotFoundError, ValidationError

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
"""An artefact id: 32 lowercase hex digits (the server's time-ordered ids). Nothing else
reaches a path, so no id can name a file outside the store's directory."""

DOWNLOAD_PREFIX = "/api/v1/artefacts/"


class ArtefactGoneError(NotFoundError):
    """The artefact existed and was removed by the retention limit (HTTP 410)."""


class ArtefactTooLargeError(ValidationError):
    """One file is larger than the store's whole size limit: it could never be kept."""


@dataclass(frozen=True, slots=True)
class Artefact:
    """A stored file's metadata (the file itself is the store's business)."""

    id: str
    content_type: str
    size: int
    sha256: str
    created_at: float
    task_id: str | None = None
    removed_at: float | None = None
    """Set once retention removed the bytes (the record stays, so downloads answer 410)."""
    removed_reason: str | None = None

    def reference(self) -> dict[str, Any]:
        """What a task's result holds instead of the bytes."""
        return {
            "artefact_id": self.id,
            "content_type": self.content_type,
            "bytes": self.size,
            "sha256": self.sha256,
            "url": f"{DOWNLOAD_PREFIX}{self.id}",
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "task_id": self.task_id,
            "removed_at": self.removed_at,
            "removed_reason": self.removed_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artefact:
        return cls(
            id=str(data["id"]),
            content_type=str(data["content_type"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            created_at=float(data["created_at"]),
            task_id=data.get("task_id"),
            removed_at=data.get("removed_at"),
            removed_reason=data.get("removed_reason"),
        )


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long and how much is kept; 0 means no limit of that kind."""

    max_age_seconds: float = 0.0
    max_total_bytes: int = 0

    def describe(self) -> str:
        parts = []
        if self.max_age_seconds:
            parts.append(f"kept {self.max_age_seconds / 86400:g} day(s)")
        if self.max_total_bytes:
            parts.append(f"at most {self.max_total_bytes} bytes in all")
        return ", ".join(parts) or "no retention limit"


@dataclass(frozen=True, slots=True)
class Removal:
    artefact: Artefact
    reason: str


def check_id(artefact_id: str) -> str:
    """``artefact_id`` if it is one (ValidationError otherwise: nothing else reaches a path)."""
    if not ID_PATTERN.fullmatch(artefact_id):
        raise ValidationError(
            f"{artefact_id[:80]!r} is not an artefact id (32 lowercase hex digits)"
        )
    return artefact_id


def to_remove(artefacts: list[Artefact], now: float, policy: RetentionPolicy) -> list[Removal]:
    """Which of the kept ``artefacts`` the policy removes: every one older than the maximum
    age, then the oldest until the rest fit in the total size."""
    kept = sorted((a for a in artefacts if a.removed_at is None), key=lambda a: a.created_at)
    removals: list[Removal] = []
    if policy.max_age_seconds:
        limit = now - policy.max_age_seconds
        removals = [Removal(a, "max_age") for a in kept if a.created_at < limit]
        kept = [a for a in kept if a.created_at >= limit]
    if policy.max_total_bytes:
        total = sum(a.size for a in kept)
        for artefact in kept:
            if total <= policy.max_total_bytes:
                break
            removals.append(Removal(artefact, "max_total_bytes"))
            total -= artefact.size
    return removals


def check_fits(size: int, policy: RetentionPolicy) -> None:
    if policy.max_total_bytes and size > policy.max_total_bytes:
        raise ArtefactTooLargeError(
            f"a generated file of {size} bytes is larger than the artefact store's whole "
            f"limit ({policy.max_total_bytes} bytes, IMPERIUM_ARTEFACT_MAX_BYTES): raise it, "
            "or ask for a shorter or smaller video"
        )


RECORD_KEEP_SECONDS = 30 * 86400.0
"""How long a removed artefact's record stays (so its download answers 410, not 404)."""


def forgotten(artefacts: list[Artefact], now: float) -> list[Artefact]:
    """Records of removed artefacts old enough to delete too."""
    return [
        a
        for a in artefacts
        if a.removed_at is not None and a.removed_at < now - RECORD_KEEP_SECONDS
    ]
