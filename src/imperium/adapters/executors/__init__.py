"""Executors run attempts and report each outcome once (``imperium.ports.Executor``)."""
