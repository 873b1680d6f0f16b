"""Storage adapters for the storage ports (``imperium.ports``): one store per area over a
shared connection.

- ``database``: ``Database``, the one ``AsyncEngine`` the SQL stores share, and its unit of
  work (``transaction``/``unit_of_work``: the caller owns the transaction).
- one module per area on SQLAlchemy Core (SQLite through aiosqlite, PostgreSQL through
  asyncpg): ``scheduler`` (the engine's narrow port: group commit, lock, start-up reads),
  ``tasks``, ``agents``, ``learning``, ``cycles``, ``custody``, ``proposals``, ``teams``,
  ``keys``; ``sql``: ``SqlStore``, all of them over one ``Database``. The schema is in
  ``tables``, Alembic migrations in ``migrations`` (applied by ``migrate.upgrade_database``).
- ``memory``: the same areas in dicts over one shared state, and ``MemoryStore``, for unit
  tests of the core and the API without a database.

Modules here may import the domain, the ports, SQLAlchemy and Alembic; nothing from
``services`` or ``interfaces``. This package's ``__init__`` imports nothing, and ``memory``
imports no SQLAlchemy.
"""
