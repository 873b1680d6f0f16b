"""Imperium: an orchestration server for fleets of AI agents that learns from every run."""

from imperium.agents.base import Agent, TaskContext, agent

__all__ = ["Agent", "TaskContext", "agent"]
__version__ = "0.1.0"
