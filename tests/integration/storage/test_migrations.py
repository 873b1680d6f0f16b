"""The Alembic migrations create exactly ``tables.metadata``, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    code_heads,
    upgrade_database,
)
from imperium.adapters.storage.tables import KNOWLEDGE_SEARCH_OBJECTS, metadata


def _same_json_default(
    _context: Any,
    _inspected_column: sa.Column[Any],
    metadata_column: sa.Column[Any],
    inspected_default: str | None,
    _metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic compares server defaults on PostgreSQL with ``SELECT a = b``, which JSON
    cannot do; compare the text ('[]'::json against '[]') instead."""
    if isinstance(metadata_column.type, sa.JSON):
        return (inspected_default or "").split("::")[0] != rendered_metadata_default
    return None


async def _differences(url: str, target: sa.MetaData) -> list[Any]:
    engine = create_engine(url)
    opts = {
        "compare_type": True,
        "compare_server_default": _same_json_default,
        # full-text search objects are per dialect, outside the metadata (migration 0019)
        "include_name": lambda name, _type, _parent: name not in KNOWLEDGE_SEARCH_OBJECTS,
    }
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts=opts), target)
            )
    finally:
        await engine.dispose()


async def _scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.exec_driver_sql(sql)).scalar_one()
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    await upgrade_database(database_url)

    assert await _differences(database_url, metadata) == []


async def test_the_comparison_sees_a_difference(database_url: str) -> None:
    """Guards the test above against comparing nothing."""
    await upgrade_database(database_url)
    changed = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["tasks"].append_column(sa.Column("extra", sa.Integer()))
    changed.tables["learning_logs"].c.topic.type = sa.String(10)

    kinds = {
        diff[0] if isinstance(diff, tuple) else diff[0][0]
        for diff in await _differences(database_url, changed)
    }

    assert kinds == {"add_column", "modify_type"}


async def test_upgrade_is_idempotent_and_reaches_head(database_url: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    newest = max(p.name.split("_")[0] for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))
    assert head == newest  # one linear history: the newest file is the head
    assert code_heads() == (head,)  # what a start compares with, without loading Alembic
    for revision in script.walk_revisions():  # each file's number is its revision
        assert Path(revision.path).name.startswith(f"{revision.revision}_")
    assert await _scalar(database_url, "SELECT version_num FROM alembic_version") == head


async def test_concurrent_upgrades_all_succeed(database_url: str) -> None:
    await asyncio.gather(*(upgrade_database(database_url) for _ in range(3)))

    assert await _scalar(database_url, "SELECT count(*) FROM alembic_version") == 1
    assert await _differences(database_url, metadata) == []


async def test_downgrade_removes_every_table(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def downgrade(sync: sa.Connection) -> list[str]:
                config = alembic_config()
                config.attributes["connection"] = sync
                command.downgrade(config, "base")
                return sa.inspect(sync).get_table_names()

            remaining = await conn.run_sync(downgrade)
            await conn.commit()
    finally:
        await engine.dispose()

    assert remaining == ["alembic_version"]
    await upgrade_database(database_url)
    assert await _differences(database_url, metadata) == []


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert MIGRATIONS_DIR.parent.name == "storage"


async def test_ensure_database_migrates_once_and_then_only_reads(database_url: str) -> None:
    from imperium.adapters.storage.migrate import ensure_database, is_current

    assert await is_current(database_url) is False
    await ensure_database(database_url)
    assert await is_current(database_url) is True
    await ensure_database(database_url)  # a no-op: already at head
    assert await is_current(database_url) is True


def test_a_start_on_a_current_database_does_not_load_alembic(migrated_database_url: str) -> None:
    """Alembic (with Mako and Pygments) is half a second of every CLI command's start: it
    is imported only when there is something to migrate."""
    script = (
        "import asyncio, sys\n"
        "from imperium.adapters.storage.migrate import ensure_database\n"
        f"asyncio.run(ensure_database({migrated_database_url!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
