"""Agents: the base class and decorator users write agents with, the loader that finds them
(entry-point group ``imperium.agents`` or an import path), and the built-in agents.

Built-in agents use exactly the interface user agents use. May import ``domain``.
"""
