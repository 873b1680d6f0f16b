"""The artefact stores, files and memory, against the port: whole writes, retention by
age and by size (on write and when enforced), 410 for what was removed, ids only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from imperium.adapters.artefacts import files as files_module
from imperium.adapters.artefacts.files import STRAY_SECONDS, FileArtefactStore
from imperium.adapters.artefacts.memory import MemoryArtefactStore
from imperium.domain.artefacts import (
    RECORD_KEEP_SECONDS,
    Artefact,
    ArtefactGoneError,
    ArtefactTooLargeError,
    RetentionPolicy,
)
from imperium.domain.errors import NotFoundError, ValidationError
from imperium.ports import ArtefactStore

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.at = 1_000_000.0

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


def store_of(kind: str, root: Path, clock: Clock, policy: RetentionPolicy) -> ArtefactStore:
    if kind == "files":
        return FileArtefactStore(root, clock, policy)
    return MemoryArtefactStore(clock, policy)


@pytest.fixture(params=["files", "memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_what_is_put_is_read_back_with_its_record(kind: str, tmp_path: Path) -> None:
    store = store_of(kind, tmp_path / "a", Clock(), RetentionPolicy())
    artefact = await store.put(b"\x00video", "video/mp4", task_id="t1")
    assert (artefact.size, artefact.task_id, artefact.content_type) == (6, "t1", "video/mp4")
    assert artefact.sha256 == hashlib.sha256(b"\x00video").hexdigest()
    assert await store.get(artefact.id) == artefact
    assert await store.read(artefact.id) == b"\x00video"
    with pytest.raises(NotFoundError, match="no artefact") as missing:
        await store.get("f" * 32)
    assert str(tmp_path) not in str(missing.value)  # no server path told to clients


async def test_ids_that_could_name_another_file_are_refused(kind: str, tmp_path: Path) -> None:
    store = store_of(kind, tmp_path / "a", Clock(), RetentionPolicy())
    (tmp_path / "secret.json").write_text("{}")
    for bad in ("../secret", "../" * 5 + "etc/passwd", "/etc/passwd", "A" * 32):
        with pytest.raises(ValidationError, match="not an artefact id"):
            await store.read(bad)


async def test_the_age_limit_removes_old_ones_and_they_answer_gone(
    kind: str, tmp_path: Path
) -> None:
    clock = Clock()
    store = store_of(kind, tmp_path / "a", clock, RetentionPolicy(max_age_seconds=DAY))
    old = await store.put(b"old", "image/png", task_id=None)
    clock.at += DAY / 2
    young = await store.put(b"young", "image/png", task_id=None)
    clock.at += DAY / 2 + 1
    report = await store.enforce_retention()
    assert (report.removed, report.freed_bytes, report.kept, report.kept_bytes) == (1, 3, 1, 5)
    with pytest.raises(ArtefactGoneError, match=r"removed by the retention limit \(max_age"):
        await store.read(old.id)
    assert await store.read(young.id) == b"young"
    clock.at += RECORD_KEEP_SECONDS + 1  # long after: the record goes too
    report = await store.enforce_retention()
    assert (report.removed, report.forgotten) == (1, 1)
    with pytest.raises(NotFoundError) as caught:
        await store.get(old.id)
    assert not isinstance(caught.value, ArtefactGoneError)


async def test_the_size_limit_removes_the_oldest_on_write(kind: str, tmp_path: Path) -> None:
    clock = Clock()
    store = store_of(kind, tmp_path / "a", clock, RetentionPolicy(max_total_bytes=10))
    first = await store.put(b"1234", "image/png", task_id=None)
    clock.at += 1
    second = await store.put(b"5678", "image/png", task_id=None)
    clock.at += 1
    third = await store.put(b"9abc", "image/png", task_id=None)  # 12 bytes: the first goes
    with pytest.raises(ArtefactGoneError, match="max_total_bytes"):
        await store.get(first.id)
    assert [await store.read(a.id) for a in (second, third)] == [b"5678", b"9abc"]
    with pytest.raises(ArtefactTooLargeError):
        await store.put(b"x" * 11, "image/png", task_id=None)  # could never be kept


async def test_files_are_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileArtefactStore(tmp_path, Clock())

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        await store.put(b"video", "video/mp4", task_id=None)
    assert os.listdir(tmp_path) == []  # no partial file, no temporary left
    monkeypatch.undo()

    artefact = await store.put(b"video", "video/mp4", task_id="t")
    names = sorted(os.listdir(tmp_path))
    assert names == [f"{artefact.id}.bin", f"{artefact.id}.json"]
    record = json.loads((tmp_path / f"{artefact.id}.json").read_text())
    assert (record["size"], record["task_id"], record["removed_at"]) == (5, "t", None)
    reopened = FileArtefactStore(tmp_path, Clock())  # another process, or a restart
    assert await reopened.read(artefact.id) == b"video"
    assert reopened.file_path(artefact) == str(tmp_path / f"{artefact.id}.bin")


async def test_left_overs_of_a_crash_are_swept_once_old(tmp_path: Path) -> None:
    store = FileArtefactStore(tmp_path, Clock(), RetentionPolicy(max_age_seconds=DAY))
    kept = await store.put(b"kept", "image/png", task_id=None)
    stray_tmp = tmp_path / ".tmp-abc.bin.1.x"
    orphan = tmp_path / f"{'e' * 32}.bin"  # bytes whose record was never written
    fresh = tmp_path / ".tmp-new.bin.1.y"  # maybe another process's write under way
    for path in (stray_tmp, orphan, fresh):
        path.write_bytes(b"x")
    old = (tmp_path / f"{kept.id}.bin").stat().st_mtime - STRAY_SECONDS - 10
    for path in (stray_tmp, orphan):
        os.utime(path, (old, old))
    (tmp_path / f"{'d' * 32}.json").write_text("not json")  # unreadable: skipped, logged
    await store.enforce_retention()
    assert sorted(os.listdir(tmp_path)) == sorted(
        [f"{kept.id}.bin", f"{kept.id}.json", fresh.name, f"{'d' * 32}.json"])  # fmt: skip


async def test_a_file_deleted_outside_the_server_answers_gone(tmp_path: Path) -> None:
    store = FileArtefactStore(tmp_path, Clock())
    artefact = await store.put(b"x", "image/png", task_id=None)
    (tmp_path / f"{artefact.id}.bin").unlink()
    with pytest.raises(ArtefactGoneError, match="missing") as gone:
        await store.get(artefact.id)
    assert str(tmp_path) not in str(gone.value)


async def test_a_file_removed_between_its_record_and_its_read_answers_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileArtefactStore(tmp_path, Clock())
    artefact = await store.put(b"x", "image/png", task_id=None)
    found = await store.get(artefact.id)

    async def record_then_removed(artefact_id: str) -> Artefact:
        (tmp_path / f"{artefact_id}.bin").unlink()  # retention, right after the check
        return found

    monkeypatch.setattr(store, "get", record_then_removed)
    with pytest.raises(ArtefactGoneError, match="just removed"):
        await store.read(artefact.id)


async def test_an_empty_or_missing_directory_has_nothing_to_enforce(tmp_path: Path) -> None:
    store = FileArtefactStore(tmp_path / "never-written", Clock(), RetentionPolicy(1.0, 1))
    report = await store.enforce_retention()
    assert (report.removed, report.kept) == (0, 0)
    assert not (tmp_path / "never-written").exists()
