"""Wiring: the one place where settings become objects. Nothing here runs at import time.

``imperium.runtime`` assembles these into the embedded application (``Imperium``); the
CLI calls them one at a time over an ``Offline`` store. ``services`` builds each service
from settings and a store, ``agents`` the built-in agents and the executors,
``process`` what the running process provides (clock, ids, lock owner)."""

from imperium.wiring.agents import (
    BUILTIN_AGENTS,
    FILE_AGENTS,
    agent_checker,
    builtin_config,
    check_agent_type,
    make_executor,
)
from imperium.wiring.process import (
    SystemClock,
    holder_is_dead,
    new_id,
    scheduler_owner,
    sqlite_file,
    tune_gc,
)
from imperium.wiring.services import (
    ALERT_CLOSE_GRACE,
    alert_senders,
    engine_config,
    make_alerts,
    make_artefacts,
    make_custody,
    make_knowledge,
    make_learner,
    make_market_feed,
    make_markets,
    make_predictor,
    make_reports,
    make_teams,
    make_usage,
    record_events,
    report_mail,
    run_answer_tests,
    sandbox_policy,
    schedule_config,
)

__all__ = [
    "ALERT_CLOSE_GRACE",
    "BUILTIN_AGENTS",
    "FILE_AGENTS",
    "SystemClock",
    "agent_checker",
    "alert_senders",
    "builtin_config",
    "check_agent_type",
    "engine_config",
    "holder_is_dead",
    "make_alerts",
    "make_artefacts",
    "make_custody",
    "make_executor",
    "make_knowledge",
    "make_learner",
    "make_market_feed",
    "make_markets",
    "make_predictor",
    "make_reports",
    "make_teams",
    "make_usage",
    "new_id",
    "record_events",
    "report_mail",
    "run_answer_tests",
    "sandbox_policy",
    "schedule_config",
    "scheduler_owner",
    "sqlite_file",
    "tune_gc",
]
