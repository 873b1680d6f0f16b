"""How well Imperium learns: every policy on every shipped scenario, over several seeds,
with the scikit-learn predictor the server uses. Prints one JSON line per (scenario,
policy) with the mean over seeds.

    python bench/learning.py --tasks 10000 --seeds 3
    python bench/learning.py --forgetting 0.9995      # the router's forgetting option
    python bench/learning.py --half-life 1000         # the predictor's recency (or "off")
    python bench/learning.py --complexity-prior 0     # the router without complexity
    python bench/learning.py --micro                  # the cost of one choice (µs)

Each run is `imperium simulate --scenario FILE --tasks N --policy P --seed S --json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from imperium.adapters.learning.sklearn_predictor import HALF_LIFE, SklearnPredictor
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.scenario import parse_scenario
from imperium.ports import OutcomePredictor
from imperium.runtime import make_predictor
from imperium.services.learning.simulation import POLICIES, simulate

ROOT = Path(__file__).resolve().parent.parent


def mean(values: list[float]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.mean(known), 4) if known else None


def half_life(text: str) -> float | None:
    """A positive number of executions, or "off"."""
    if text.strip().lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0 or off, got {text!r}")
    return value


def micro(complexity_prior: float, agents: int = 5, rounds: int = 20_000) -> None:
    """Mean cost of ``Router.choose`` among ``agents`` candidates that have each seen 200
    attempts at varied complexity, one of them with a steeper slope, so the complexity
    shift is in use (one JSON line per setting: without and with complexity)."""
    import random
    import timeit

    from imperium.domain.models import AgentSpec, AgentState, Execution, Task
    from imperium.domain.states import Outcome

    for prior in (0.0, complexity_prior):
        router = Router(random.Random(1), RouterConfig(complexity_prior=prior))
        env = random.Random(2)
        for i in range(200 * agents):
            agent = f"a{i % agents}"
            c = env.uniform(1, 5)
            slope = 0.2 if agent == "a0" else 0.02
            ok = env.random() < 0.95 - slope * (c - 1)
            router.observe(
                Execution(
                    task_id=f"t{i}", attempt=1, agent_id=agent, task_type="code",
                    complexity=c, started_at=i, finished_at=i + 1.0,
                    outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED, lease_token=1,
                )
            )  # fmt: skip
        candidates = [AgentState(AgentSpec(id=f"a{j}", type="x")) for j in range(agents)]
        task = Task(id="t", type="code", created_at=0.0, complexity=3.0)
        # the best of 5 repeats: the least disturbed by whatever else the machine runs
        seconds = min(
            timeit.repeat(partial(router.choose, task, candidates), number=rounds, repeat=5)
        )
        print(
            json.dumps(
                {
                    "micro": "Router.choose",
                    "candidates": agents,
                    "complexity_prior": prior,
                    "microseconds_per_choice": round(seconds / rounds * 1e6, 2),
                    "shifted": router._shifts(
                        [router.arms[("code", a.spec.id)] for a in candidates], 3.0
                    )
                    is not None,
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--scenarios", nargs="+", default=None, help="default: scenarios/*.json")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--forgetting", type=float, default=1.0)
    parser.add_argument(
        "--complexity-prior",
        type=float,
        default=RouterConfig().complexity_prior,
        help="the router's complexity prior (0: complexity ignored)",
    )
    parser.add_argument(
        "--micro", action="store_true", help="time Router.choose instead (no simulation)"
    )
    parser.add_argument(
        "--half-life",
        type=half_life,
        default=HALF_LIFE,
        help=f"the predictor's recency half-life in executions, or off (default: the "
        f"server's, {HALF_LIFE:g})",
    )
    args = parser.parse_args()
    if args.micro:
        micro(args.complexity_prior)
        return
    predictor: Callable[[], OutcomePredictor] = (
        make_predictor
        if args.half_life == HALF_LIFE
        else partial(SklearnPredictor, half_life=args.half_life)
    )
    files = (
        [Path(p) for p in args.scenarios]
        if args.scenarios
        else sorted((ROOT / "scenarios").glob("*.json"))
    )
    config = RouterConfig(forgetting=args.forgetting, complexity_prior=args.complexity_prior)
    for file in files:
        scenario = parse_scenario(json.loads(file.read_text()), file.stem)
        for policy in args.policies:
            runs: list[dict[str, Any]] = [
                simulate(
                    scenario, tasks=args.tasks, policy=policy, seed=seed,
                    make_predictor=predictor, router_config=config,
                ).as_json()
                for seed in range(1, args.seeds + 1)
            ]  # fmt: skip
            windows = [r["regret_by_window"] for r in runs]
            delays = [e["delay_tasks"] for r in runs for e in r["drift"]["scenario"]]
            print(
                json.dumps(
                    {
                        "scenario": file.stem,
                        "policy": policy,
                        "tasks": args.tasks,
                        "seeds": args.seeds,
                        "forgetting": args.forgetting,
                        "half_life": args.half_life,
                        "regret": mean([r["regret"] for r in runs]),
                        "success_rate": mean([r["success_rate"] for r in runs]),
                        "regret_per_task_first_window": mean(
                            [w[0]["regret_per_task"] for w in windows]
                        ),
                        "regret_per_task_last_window": mean(
                            [w[-1]["regret_per_task"] for w in windows]
                        ),
                        "auc": mean([r["prediction"]["auc"] for r in runs]),
                        "auc_true": mean([r["prediction"]["auc_true"] for r in runs]),
                        "brier": mean([r["prediction"]["brier"] for r in runs]),
                        "brier_true": mean([r["prediction"]["brier_true"] for r in runs]),
                        "drift_delay_tasks": delays or None,
                        "false_alarms": sum(r["drift"]["false_alarms"] for r in runs),
                        "complexity_prior": args.complexity_prior,
                        "team_regret": mean(
                            [r["teams"]["regret"] for r in runs if r["teams"] is not None]
                        ),
                        "team_success_rate": mean(
                            [r["teams"]["success_rate"] for r in runs if r["teams"] is not None]
                        ),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
