"""Which files the built-in agents may read when a task names a path.

A file is read only when its real path — every symbolic link resolved, the file's own
included — lies under one of the allowed roots (``IMPERIUM_FILE_ROOTS`` and the scheduled
paths), and is never one of the server's own database files (which may well lie under a
root: the default root is the directory ``imperium serve`` runs in). Agent configuration
(set by the server for its built-in agents): ``allowed_roots`` (empty: anywhere) and
``denied_files``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

OUTSIDE_ROOTS = "outside IMPERIUM_FILE_ROOTS"
SERVER_DATABASE = "the server's database"
DATABASE_SIBLINGS = ("", "-wal", "-shm", "-journal")
"""SQLite's database file and the files it keeps beside it."""


def database_files(database: str | Path) -> list[str]:
    """A SQLite database file and its siblings (write-ahead log, shared memory, journal),
    as real paths."""
    path = Path(database).expanduser().resolve()
    return [str(path.with_name(path.name + suffix)) for suffix in DATABASE_SIBLINGS]


@dataclass(frozen=True, slots=True)
class FileAccess:
    roots: tuple[Path, ...] = ()
    """Real paths of the directories that may be read; empty: any."""
    denied: frozenset[Path] = frozenset()
    """Real paths never read."""

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> FileAccess:
        return cls(
            roots=tuple(_real(config.get("allowed_roots"))),
            denied=frozenset(_real(config.get("denied_files"))),
        )

    def refusal(self, path: Path) -> str | None:
        """Why ``path`` may not be read (:data:`OUTSIDE_ROOTS`, :data:`SERVER_DATABASE`),
        or None. Decided on its real path, so a link cannot lead out of the roots."""
        real = path.expanduser().resolve()
        if real in self.denied:
            return SERVER_DATABASE
        if self.roots and not any(real.is_relative_to(root) for root in self.roots):
            return OUTSIDE_ROOTS
        return None

    def describe_roots(self) -> str:
        return ", ".join(map(str, self.roots))


ANYWHERE = FileAccess()
"""No roots and nothing denied: what an agent configured with neither may read."""


def _real(paths: object) -> Iterable[Path]:
    if not isinstance(paths, list | tuple):
        return ()
    return (Path(str(p)).expanduser().resolve() for p in paths)
