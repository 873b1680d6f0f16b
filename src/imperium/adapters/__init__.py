"""Adapters: storage (SQLAlchemy for SQLite and PostgreSQL, plus an in-memory stub) and
executors (in-process now; Ray later). They implement the Protocols in ``imperium.ports``."""
