"""What a simulation run measured: :class:`SimulationResult` and its JSON."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

from imperium.domain.scenario import Drift

WINDOWS = 10


def rounded(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded for JSON; None stays None."""
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class DetectedDrift:
    agent: str
    task_type: str
    at_task: int
    """Decisions made when the alarm fired."""
    direction: str
    before_rate: float
    recent_rate: float
    z: float
    confidence: float
    delay_tasks: int | None
    """at_task - after_task of the matching scenario entry; None for a false alarm."""
    entry: int | None = None
    """Index of the matching entry in the scenario's drift list."""

    def as_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "task_type": self.task_type,
            "at_task": self.at_task,
            "direction": self.direction,
            "before_rate": rounded(self.before_rate),
            "recent_rate": rounded(self.recent_rate),
            "z": rounded(self.z),
            "confidence": rounded(self.confidence),
            "delay_tasks": self.delay_tasks,
        }


@dataclass(frozen=True, slots=True)
class AgentTally:
    tasks: int
    successes: int
    peak_running: int
    """The most attempts it ever ran at once (never above max_concurrency)."""
    max_concurrency: int


@dataclass(frozen=True, slots=True)
class SimulationResult:
    scenario: str
    policy: str
    seed: int
    tasks: int
    load: float
    successes: int
    expected_reward: float
    """Σ over decisions of the chosen agent's true success probability."""
    oracle_expected_reward: float
    """Σ over decisions of the highest true success among the same candidates."""
    regret_per_decision: tuple[float, ...] = field(repr=False)
    mean_wait: float
    """Mean simulated seconds between a task's arrival and its start."""
    simulated_seconds: float
    prediction: dict[str, float | None]
    models: tuple[dict[str, object], ...]
    drift_scenario: tuple[Drift, ...]
    detected: tuple[DetectedDrift, ...]
    agents: dict[str, AgentTally]
    teams: dict[str, object] | None = None
    """The team tasks' figures (regret against the best team), when the scenario has
    teams (see ``simulation.teams``)."""

    @property
    def regret(self) -> float:
        return self.oracle_expected_reward - self.expected_reward

    @property
    def success_rate(self) -> float:
        return self.successes / self.tasks

    def regret_by_window(self, windows: int = WINDOWS) -> list[dict[str, float | int]]:
        """Regret per task over ``windows`` equal spans of decisions (fewer when there are
        fewer decisions); ``from`` inclusive, ``to`` exclusive."""
        n = len(self.regret_per_decision)
        k = max(1, min(windows, n))
        bounds = [round(j * n / k) for j in range(k + 1)]
        result: list[dict[str, float | int]] = []
        for lo, hi in itertools.pairwise(bounds):
            span = self.regret_per_decision[lo:hi]
            result.append(
                {"from": lo, "to": hi, "regret_per_task": round(sum(span) / len(span), 6)}
            )
        return result

    @property
    def false_alarms(self) -> int:
        return sum(1 for d in self.detected if d.delay_tasks is None)

    def drift_json(self) -> dict[str, object]:
        """The scenario's drift entries, each with the first alarm that matched it
        (``detected_at_task`` and ``delay_tasks``, null when none did), and every alarm."""
        entries: list[dict[str, object]] = []
        for i, entry in enumerate(self.drift_scenario):
            first = next((d for d in self.detected if d.entry == i), None)
            entries.append(
                {
                    **entry.as_json(),
                    "detected_at_task": first.at_task if first else None,
                    "delay_tasks": first.delay_tasks if first else None,
                }
            )
        return {
            "scenario": entries,
            "detected": [d.as_json() for d in self.detected],
            "false_alarms": self.false_alarms,
        }

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "tasks": self.tasks,
            "load": self.load,
            "successes": self.successes,
            "success_rate": rounded(self.success_rate),
            "expected_reward": rounded(self.expected_reward),
            "oracle_expected_reward": rounded(self.oracle_expected_reward),
            "regret": rounded(self.regret),
            "regret_per_task": rounded(self.regret / self.tasks),
            "regret_by_window": self.regret_by_window(),
            "mean_wait": rounded(self.mean_wait),
            "simulated_seconds": rounded(self.simulated_seconds),
            "prediction": self.prediction,
            "models": list(self.models),
            "drift": self.drift_json(),
            "agents": {agent_id: asdict(tally) for agent_id, tally in self.agents.items()},
            "teams": self.teams,
        }
