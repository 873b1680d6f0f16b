"""Storage adapters for the ``Store`` port.

- ``sql``: ``SqlStore`` on SQLAlchemy Core (SQLite through aiosqlite, PostgreSQL through
  asyncpg), with the schema in ``tables`` and Alembic migrations in ``migrations``
  (applied by ``migrate.upgrade_database``).
- ``memory``: ``MemoryStore``, the same contract in dicts, for unit tests of the core.

Modules here may import the domain, the ports, SQLAlchemy and Alembic; nothing from
``services`` or ``interfaces``. This package's ``__init__`` imports nothing so that using
``MemoryStore`` does not load SQLAlchemy.
"""
