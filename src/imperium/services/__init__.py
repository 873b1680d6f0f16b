"""Use cases over the domain: the engine (scheduler, group commit, recovery), agent
registry and read models. May import ``domain`` and ``ports``; never an adapter, FastAPI or
SQLAlchemy — adapters are passed in."""
