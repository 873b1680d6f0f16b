"""Artefacts as files in one directory: ``ID.bin`` (the bytes) and ``ID.json`` (the
record: content type, size, sha256, created_at, task id; after retention, when and why
it was removed). Each is written to a temporary file in the same directory, fsynced and
renamed into place, the bytes before the record, so a record always names whole bytes.

The directory is this machine's: servers sharing a PostgreSQL database each keep their
own unless it is a shared volume (NFS, a Kubernetes ReadWriteMany claim); a download
reaching a server without the file answers 404. Retention scans the directory's records
(on every write and in the routine): fine for thousands of files, not millions."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from imperium.adapters.artefacts.memory import gone, random_id
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

log = logging.getLogger(__name__)
TMP_PREFIX = ".tmp-"
STRAY_SECONDS = 3600.0
"""Temporary files and bytes without a record older than this are left-overs of a crash."""


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path`` whole or not at all: a temporary file beside it, fsynced,
    renamed over it, and the directory fsynced so the rename survives a power cut."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{random_id()[:8]}")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileArtefactStore:
    def __init__(
        self,
        root: Path | str,
        clock: Clock,
        policy: RetentionPolicy | None = None,
        new_id: Callable[[], str] = random_id,
    ) -> None:
        self.root = Path(root)
        self.clock = clock
        self.policy = policy or RetentionPolicy()
        self._new_id = new_id
        self._lock = asyncio.Lock()

    def _paths(self, artefact_id: str) -> tuple[Path, Path]:
        check_id(artefact_id)  # nothing but 32 hex digits reaches a path
        return self.root / f"{artefact_id}.bin", self.root / f"{artefact_id}.json"

    async def put(self, data: bytes, content_type: str, *, task_id: str | None) -> Artefact:
        check_fits(len(data), self.policy)
        digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())  # big videos
        artefact = Artefact(
            check_id(self._new_id()), content_type, len(data), digest, self.clock.now(), task_id
        )
        await asyncio.to_thread(self._write, artefact, data)
        await self.enforce_retention()
        return artefact

    def _write(self, artefact: Artefact, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, record_path = self._paths(artefact.id)
        write_atomically(data_path, data)
        write_atomically(record_path, json.dumps(artefact.as_dict()).encode())

    async def get(self, artefact_id: str) -> Artefact:
        return await asyncio.to_thread(self._get, artefact_id)

    def _get(self, artefact_id: str) -> Artefact:
        data_path, record_path = self._paths(artefact_id)
        record = self._load(record_path)
        if record is None:  # the directory is logged, never told to clients
            log.debug("no artefact %s in %s", artefact_id, self.root)
            raise NotFoundError(f"no artefact {artefact_id}")
        if record.removed_at is not None:
            raise gone(record, self.policy)
        if not data_path.is_file():
            log.warning("artefact %s's file is missing from %s", artefact_id, self.root)
            raise ArtefactGoneError(
                f"artefact {artefact_id}'s file is missing (removed outside the server): "
                "generate it again"
            )
        return record

    async def read(self, artefact_id: str) -> bytes:
        artefact = await self.get(artefact_id)
        try:
            return await asyncio.to_thread(self._paths(artefact.id)[0].read_bytes)
        except FileNotFoundError as exc:  # retention removed it after the record was read
            raise ArtefactGoneError(f"artefact {artefact.id} was just removed") from exc

    def file_path(self, artefact: Artefact) -> str | None:
        return str(self._paths(artefact.id)[0])

    @staticmethod
    def _load(record_path: Path) -> Artefact | None:
        try:
            return Artefact.from_dict(json.loads(record_path.read_bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable artefact record", extra={"path": str(record_path),
                                                              "error": str(exc)})  # fmt: skip
            return None

    async def enforce_retention(self) -> RetentionReport:
        async with self._lock:
            return await asyncio.to_thread(self._enforce, self.clock.now())

    def _enforce(self, now: float) -> RetentionReport:
        if not self.root.is_dir():
            return RetentionReport(0, 0, 0, 0)
        records = [r for p in self.root.glob("*.json") if (r := self._load(p)) is not None]
        old = forgotten(records, now)
        for record in old:
            self._paths(record.id)[1].unlink(missing_ok=True)
        removals = to_remove(records, now, self.policy)
        for removal in removals:
            data_path, record_path = self._paths(removal.artefact.id)
            removed = dataclasses.replace(
                removal.artefact, removed_at=now, removed_reason=removal.reason
            )
            write_atomically(record_path, json.dumps(removed.as_dict()).encode())
            data_path.unlink(missing_ok=True)
        self._sweep({r.id for r in records if r.removed_at is None} - {
            r.artefact.id for r in removals})  # fmt: skip
        kept = [r for r in records if r.removed_at is None]
        freed = sum(r.artefact.size for r in removals)
        return RetentionReport(
            len(removals), freed, len(kept) - len(removals),
            sum(r.size for r in kept) - freed, len(old),
        )  # fmt: skip

    def _sweep(self, kept_ids: set[str]) -> None:
        """Left-overs of a crash: temporary files, and bytes with no kept record (written
        just before a crash, or not unlinked after their record said removed)."""
        limit = time.time() - STRAY_SECONDS  # file times are the system's, not the clock's
        for path in self.root.iterdir():
            stray = path.name.startswith(TMP_PREFIX) or (
                path.suffix == ".bin" and path.stem not in kept_ids
            )
            if stray:
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < limit:
                        path.unlink()

    def describe(self) -> str:
        return f"files in {self.root} ({self.policy.describe()})"
