"""Where generated files (images, videos) are kept, outside the task rows: a directory
(``adapters/artefacts/files.py``) or memory (``adapters/artefacts/memory.py``, for tests).
A retention limit (``domain.artefacts.RetentionPolicy``) is applied on every write and by
a routine; a removed artefact keeps its record, so a download says it is gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from imperium.domain.artefacts import Artefact, RetentionPolicy


@dataclass(frozen=True, slots=True)
class RetentionReport:
    removed: int
    freed_bytes: int
    kept: int
    kept_bytes: int
    forgotten: int = 0
    """Records of long-removed artefacts deleted as well."""


class ArtefactStore(Protocol):
    policy: RetentionPolicy

    async def put(self, data: bytes, content_type: str, *, task_id: str | None) -> Artefact:
        """Keep ``data`` (whole or not at all), then apply the retention limit.
        ``ArtefactTooLargeError`` when it alone is over the size limit."""
        ...

    async def get(self, artefact_id: str) -> Artefact:
        """Its record: ``ValidationError`` for what is not an id, ``NotFoundError`` for
        one never stored (or long forgotten), ``ArtefactGoneError`` for a removed one."""
        ...

    async def read(self, artefact_id: str) -> bytes:
        """Its bytes (errors as ``get``)."""
        ...

    def file_path(self, artefact: Artefact) -> str | None:
        """The file holding its bytes, for a server to send as is (None: only ``read``)."""
        ...

    async def enforce_retention(self) -> RetentionReport:
        """Remove what the policy no longer keeps."""
        ...

    def describe(self) -> str:
        """Where the files are (for the status and the routine's description)."""
        ...
