"""Which files the built-in agents may read: real paths under the roots, never the
server's database files (derived from DATABASE_URL by the server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imperium.agents._file_access import (
    OUTSIDE_ROOTS,
    SERVER_DATABASE,
    FileAccess,
    database_files,
)
from imperium.runtime import builtin_config, sqlite_file
from imperium.settings import Settings


def test_a_link_is_judged_by_where_it_leads(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "sub").symlink_to(outside, target_is_directory=True)
    (root / "ok.txt").write_text("x")
    access = FileAccess.from_config({"allowed_roots": [str(root)]})

    assert access.refusal(root / "ok.txt") is None
    assert access.refusal(root / "link.txt") == OUTSIDE_ROOTS
    assert access.refusal(root / "sub" / "secret.txt") == OUTSIDE_ROOTS  # a linked directory
    assert access.refusal(root / ".." / "outside" / "secret.txt") == OUTSIDE_ROOTS
    assert FileAccess().refusal(root / "link.txt") is None  # no roots: anywhere


def test_the_database_is_refused_under_a_root_and_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "imperium.db").write_text("rows")
    (tmp_path / "copy.log").symlink_to(tmp_path / "imperium.db")
    config = {"allowed_roots": [str(tmp_path)],
              "denied_files": database_files(tmp_path / "imperium.db")}  # fmt: skip
    access = FileAccess.from_config(config)
    for name in ("imperium.db", "imperium.db-wal", "imperium.db-shm", "copy.log"):
        assert access.refusal(tmp_path / name) == SERVER_DATABASE, name
    assert access.refusal(tmp_path / "imperium.dbx") is None


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite+aiosqlite:///./imperium.db", "./imperium.db"),
        ("sqlite:////var/lib/imperium/i.db", "/var/lib/imperium/i.db"),
        ("sqlite+aiosqlite:///file:/srv/i.db?mode=rwc&uri=true", "/srv/i.db"),
        ("postgresql+asyncpg://imperium@db/imperium", None),
    ],
)
def test_the_database_file_comes_from_the_url(url: str, file: str | None) -> None:
    assert sqlite_file(url) == file


def test_the_default_root_holds_the_database_but_the_agents_may_not_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # serve's directory: the default root
    config = builtin_config(Settings(database_url="sqlite+aiosqlite:///./imperium.db"))
    for agent in ("guardian", "conquest", "sandbox"):
        access = FileAccess.from_config(config[agent])
        assert access.roots == (tmp_path.resolve(),)
        assert access.refusal(Path("imperium.db")) == SERVER_DATABASE
        assert access.refusal(Path("imperium.db-wal")) == SERVER_DATABASE
        assert access.refusal(Path("app.py")) is None
    postgres = builtin_config(Settings(database_url="postgresql+asyncpg://u@h/db"))
    assert postgres["guardian"]["denied_files"] == []
