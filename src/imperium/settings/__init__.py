"""Settings, read once at start from the environment (and ``.env``) and passed down.

Names follow the seeds where they exist (``DATABASE_URL``, ``LOG_LEVEL``); Imperium's own
settings carry the ``IMPERIUM_`` prefix. Every field here is read by some code.

Each area's fields, with their validators and derived properties, are in a module of their
own (``core``, ``api``, ``learning``, ``agents``, ``market``, ``notify``, ``knowledge``,
``result_cache``); ``Settings`` inherits them all and is the one class the rest imports.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from imperium.settings.agents import BUILTIN_AGENT_IDS, AgentSettings
from imperium.settings.api import ApiSettings
from imperium.settings.core import CoreSettings
from imperium.settings.knowledge import KnowledgeSettings
from imperium.settings.learning import LearningSettings
from imperium.settings.market import MarketSettings
from imperium.settings.notify import NotifySettings
from imperium.settings.result_cache import ResultCacheSettings

__all__ = ["BUILTIN_AGENT_IDS", "Settings"]


# The areas are listed last first: pydantic orders the fields from the last base to the
# first, so Settings.model_fields (and a validation error's list) reads core, api, learning,
# agents, market, notify, knowledge, result_cache.
class Settings(
    ResultCacheSettings,
    KnowledgeSettings,
    NotifySettings,
    MarketSettings,
    AgentSettings,
    LearningSettings,
    ApiSettings,
    CoreSettings,
):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)
