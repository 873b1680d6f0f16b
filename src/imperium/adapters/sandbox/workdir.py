"""The run's directory: filled with the given files (or a copy of a project), handed to
the sandbox's uid, read back (collected files, capped stdout and stderr) and removed."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from imperium.adapters.sandbox.errors import SandboxError, UnsafePathError

log = logging.getLogger(__name__)

OUTPUT_CAP = 1_000_000  # bytes kept of stdout and of stderr (half from the head, half tail)
COLLECT_CAP = 8_000_000  # bytes read of a file collected from the working directory
_COPY_IGNORE = (".git", ".venv", "venv", "node_modules", "__pycache__", ".*_cache")


def safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or "\x00" in name or path.is_absolute() or ".." in path.parts or not path.parts:
        raise UnsafePathError(
            f"file name {name!r} must be a relative path inside the sandbox "
            "(no leading '/', no '..')"
        )
    return path


def populate(workdir: Path, files: Mapping[str, str] | None, copy_from: Path | None) -> None:
    if copy_from is not None:
        try:
            shutil.copytree(
                copy_from,
                workdir,
                symlinks=True,
                ignore=shutil.ignore_patterns(*_COPY_IGNORE),
                dirs_exist_ok=True,
            )
        except (OSError, shutil.Error) as exc:
            raise SandboxError(f"cannot copy {copy_from} into the sandbox: {exc}") from exc
    for name, content in (files or {}).items():
        target = workdir / safe_relative(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        except OSError as exc:  # e.g. both "a" and "a/b" given
            raise ValueError(f"cannot write file {name!r}: {exc.strerror}") from exc


def hand_over(paths: Sequence[Path], uid: int) -> None:
    """Give the sandbox's uid (and gid) its directories and everything in them."""
    for top in paths:
        os.chown(top, uid, uid)
        for root, dirs, names in os.walk(top):
            for name in dirs + names:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def remove_tree(base: Path) -> None:
    if os.geteuid() != 0:  # a child may have left directories we cannot list
        for root, dirs, _names in os.walk(base):
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    with contextlib.suppress(OSError):
                        os.chmod(path, 0o700)
    try:
        shutil.rmtree(base)
    except OSError:
        log.warning("could not remove sandbox directory", exc_info=True, extra={"path": base})


def collect_files(workdir: Path, names: Sequence[str]) -> dict[str, str]:
    """Regular files the command left, read up to COLLECT_CAP; never through a symlink
    (the command could point one at a file only the server may read)."""
    found: dict[str, str] = {}
    inside = os.path.realpath(workdir)
    for name in names:
        path = os.path.join(inside, safe_relative(name))
        if os.path.dirname(os.path.realpath(path)) != os.path.dirname(path):
            continue  # a directory on the way is a symlink
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with open(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                found[name] = handle.read(COLLECT_CAP).decode("utf-8", "replace")
    return found


def read_capped(path: Path) -> tuple[str, bool]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= OUTPUT_CAP:
            return handle.read().decode("utf-8", "replace"), False
        head = handle.read(OUTPUT_CAP // 2)
        handle.seek(size - OUTPUT_CAP // 2)
        tail = handle.read()
    omitted = size - len(head) - len(tail)
    text = head + f"\n[... {omitted} bytes omitted ...]\n".encode() + tail
    return text.decode("utf-8", "replace"), True
