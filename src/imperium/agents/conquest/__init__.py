"""The Conquest agent (``conquest``): build and test log diagnosis and performance analysis.

``agent`` is the agent (payloads, file access, results). The analyses it runs are its own
logic, not the core domain's: ``classify`` (a log's failure category, evidence and
confidence) with ``rules`` (the categories and the rule table), ``evidence`` (reading a log
into matched lines) and ``advice`` (recommendations and the summary); ``profiles``
(cProfile output, read from a ``.prof`` file) and ``timings`` (duration samples against a
baseline). Everything here may import the standard library, ``imperium.domain`` and
``imperium.agents``; only ``agent`` and ``profiles`` touch files.
"""

from imperium.agents.conquest.agent import TASK_TYPES, ConquestAgent

__all__ = ["TASK_TYPES", "ConquestAgent"]
