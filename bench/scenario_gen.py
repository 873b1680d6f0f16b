"""Random scenarios of the format in ``domain/scenario/__init__.py``, and the regret
ratios of the learned router against greedy and random on them: an evaluation that does
not depend on the six shipped files (which the router's defaults were chosen on).

    python bench/scenario_gen.py                       # TRAIN, HELD-OUT and shipped
    python bench/scenario_gen.py --sets train          # only TRAIN (tune on this one)
    python bench/scenario_gen.py --write DIR --set held-out   # the JSON files, to read
    python bench/scenario_gen.py --router duration_weight=0   # a RouterConfig field
    python bench/scenario_gen.py --sets held-out --seeds 8 --triples 20000  # 3-scenario spread

Generated scenario *i* of a set is ``generate(base + i)``: TRAIN uses generator seeds
1000.., HELD-OUT 5000.. (never tune on it). Each scenario has 1-5 task types, 3-12
agents with overlapping skills (each type has at least two capable agents), success
levels whose gaps to the best are sometimes close (≤ 0.05), sometimes far; a
complexity range with a common slope and, in some, per-skill slopes (best agent
changes with complexity); sometimes a drift (a pair degrades or improves); load
0.3-1.0 and concurrency 1-16 per agent.

Every policy faces the same tasks (same simulation seed); regret is that of the
single tasks (the simulator's ``regret``). The greedy and random runs do not depend
on the router's configuration and are cached in ``--cache`` (default: a file in the
temporary directory). Ratios are of summed regret (as the hidden
evaluation sums over its scenarios); the per-scenario medians and the number of
scenarios meeting both targets (≤ 0.5 x greedy, ≤ 0.1 x random) are printed beside.
The predictor plays no part in any choice, so a constant one stands in for it (a run
of 5,000 tasks then takes about 0.2 s of CPU). One process, no workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.domain.learning import ModelReport, Prediction, Query
from imperium.domain.models import Execution
from imperium.domain.routing import RouterConfig
from imperium.domain.scenario import Scenario, parse_scenario
from imperium.services.learning.simulation import simulate

ROOT = Path(__file__).resolve().parent.parent
SETS = {"train": 1000, "held-out": 5000}
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "imperium_scenario_gen_cache.json"


# ---------------------------------------------------------------------- the generator
def generate(seed: int) -> dict[str, Any]:
    """One random scenario (a JSON-ready dict) from the generator seed ``seed``."""
    rng = random.Random(seed)
    n_types = rng.randint(1, 5)
    n_agents = rng.randint(3, 12)
    types = [f"t{i}" for i in range(n_types)]
    # a capability per type; sometimes two types share one (an agent able to do one can
    # then be given a skill for the other)
    caps = {t: f"cap{i}" for i, t in enumerate(types)}
    if n_types >= 2 and rng.random() < 0.3:
        a, b = rng.sample(types, 2)
        caps[b] = caps[a]
    weights = {t: round(rng.uniform(0.1, 1.0), 2) for t in types}
    # who can take what: every type at least two agents, agents 1..n_types skills
    skills: dict[str, set[str]] = {f"a{j}": set() for j in range(n_agents)}
    agents = list(skills)
    for t in types:
        for agent in rng.sample(agents, min(n_agents, rng.randint(2, max(2, n_agents - 1)))):
            skills[agent].add(t)
    for agent in agents:
        if not skills[agent]:
            skills[agent].add(rng.choice(types))
    cmin = 1.0
    cmax = rng.choice([1.0, 3.0, 5.0, 5.0, 10.0])
    span = cmax - cmin
    common = round(rng.uniform(-0.06, 0.0), 3) if span else 0.0
    per_skill = span > 0 and rng.random() < 0.35
    duration_slope = round(rng.uniform(0.0, 0.3), 3) if span else 0.0
    body_agents = []
    level: dict[tuple[str, str], float] = {}
    for t in types:
        able = [a for a in agents if t in skills[a]]
        best = rng.uniform(0.6, 0.97)
        style = rng.random()
        for k, agent in enumerate(rng.sample(able, len(able))):
            if k == 0:
                p = best
            elif style < 0.35:  # close competitors
                p = best - rng.uniform(0.0, 0.06)
            elif style < 0.7:  # a spread
                p = best - rng.uniform(0.02, 0.3)
            else:  # far
                p = best - rng.uniform(0.1, 0.45)
            level[(t, agent)] = round(min(0.99, max(0.05, p)), 3)
    for agent in agents:
        entry: dict[str, Any] = {
            "id": agent,
            "capabilities": sorted({caps[t] for t in skills[agent]}),
            "max_concurrency": rng.choice([1, 2, 3, 4, 4, 6, 6, 8, 8, 12, 16]),
            "skills": {},
        }
        for t in sorted(skills[agent]):
            skill: dict[str, Any] = {
                "success": level[(t, agent)],
                "duration_mean": round(rng.uniform(5, 120), 1),
                "duration_sigma": round(rng.uniform(0.1, 0.5), 2),
            }
            if per_skill and rng.random() < 0.5:
                skill["success_slope"] = round(rng.uniform(-0.09, 0.03) * 4 / span, 4)
            entry["skills"][t] = skill
        body_agents.append(entry)
    scenario: dict[str, Any] = {
        "name": f"gen{seed}",
        "description": "generated by bench/scenario_gen.py",
        "load": round(rng.uniform(0.3, 1.0), 2),
        "task_types": {t: {"weight": weights[t], "capabilities": [caps[t]]} for t in types},
        "agents": body_agents,
        "complexity": {
            "min": cmin,
            "max": cmax,
            "success_slope": common,
            "duration_slope": duration_slope,
        },
    }
    if rng.random() < 0.3:
        drifts = []
        for _ in range(rng.randint(1, 2)):
            t, agent = rng.choice(sorted(level))
            drifts.append(
                {
                    "agent": agent,
                    "task_type": t,
                    "after_task": rng.choice([500, 1500, 2500, 3500, 5000]),
                    "success": round(rng.uniform(0.2, 0.97), 3),
                }
            )
        scenario["drift"] = drifts
    return scenario


# ---------------------------------------------------------------------- running
class ConstantPredictor:
    """Stands in for the server's predictor: the simulator asks it for predictions (for
    the AUC) but no policy reads them, so regret is the same with any predictor."""

    report: ModelReport | None = None

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        self.report = ModelReport("0", "constant", now, len(executions), 0, *(None,) * 4)
        return self.report

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        return [Prediction(0.5, None, 0) for _ in queries]


def regret(
    scenario: Scenario, policy: str, seed: int, tasks: int, config: RouterConfig
) -> dict[str, Any]:
    result = simulate(
        scenario, tasks=tasks, policy=policy, seed=seed,
        make_predictor=ConstantPredictor, router_config=config,
    )  # fmt: skip
    out = result.as_json()
    return {
        "regret": float(out["regret"]),
        "team_regret": out["teams"]["regret"] if out["teams"] else None,
        "false_alarms": out["drift"]["false_alarms"],
        "delays": [e["delay_tasks"] for e in out["drift"]["scenario"]],
    }


def key(data: dict[str, Any], policy: str, seed: int, tasks: int) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return f"{digest}:{policy}:{seed}:{tasks}"


def router_config(pairs: Sequence[str]) -> RouterConfig:
    """``field=value`` pairs on top of the defaults."""
    fields = {f.name: f for f in dataclasses.fields(RouterConfig)}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"--router: unknown field {name!r}; one of {', '.join(fields)}")
        values[name] = type(getattr(RouterConfig(), name))(text)
    return RouterConfig(**values)


def evaluate(
    label: str,
    scenarios: list[tuple[str, dict[str, Any]]],
    seeds: Sequence[int],
    tasks: int,
    config: RouterConfig,
    cache: dict[str, Any],
    verbose: bool,
) -> dict[str, Any]:
    sums = {"learned": 0.0, "greedy": 0.0, "random": 0.0}
    ratios_g, ratios_r, met = [], [], 0
    false_alarms = 0
    rows = []
    for name, data in scenarios:
        scenario = parse_scenario(data, name)
        per = {}
        runs: dict[str, list[float]] = {}
        for policy in sums:
            total = 0.0
            runs[policy] = []
            for seed in seeds:
                k = key(data, policy, seed, tasks)
                if policy != "learned" and k in cache:
                    run = cache[k]
                else:
                    run = regret(scenario, policy, seed, tasks, config)
                    if policy != "learned":
                        cache[k] = run
                    else:
                        false_alarms += run["false_alarms"]
                total += run["regret"]
                runs[policy].append(run["regret"])
            per[policy] = total
            sums[policy] += total
        rg = per["learned"] / per["greedy"] if per["greedy"] > 0 else float("inf")
        rr = per["learned"] / per["random"] if per["random"] > 0 else float("inf")
        ratios_g.append(rg)
        ratios_r.append(rr)
        met += rg <= 0.5 and rr <= 0.1
        rows.append({"scenario": name, **{p: round(v, 1) for p, v in per.items()}, "runs": runs})
        if verbose:
            print(
                f"  {name:14s} learned {per['learned']:8.1f} greedy {per['greedy']:8.1f} "
                f"random {per['random']:8.1f}  /g {rg:5.2f} /r {rr:5.3f}",
                flush=True,
            )
    summary = {
        "set": label,
        "scenarios": len(scenarios),
        "seeds": list(seeds),
        "tasks": tasks,
        "learned": round(sums["learned"], 1),
        "greedy": round(sums["greedy"], 1),
        "random": round(sums["random"], 1),
        "learned/greedy": round(sums["learned"] / sums["greedy"], 3),
        "learned/random": round(sums["learned"] / sums["random"], 4),
        "median_ratio_greedy": round(statistics.median(ratios_g), 3),
        "median_ratio_random": round(statistics.median(ratios_r), 4),
        "scenarios_meeting_both": met,
        "learned_false_alarms": false_alarms,
    }
    return {"summary": summary, "rows": rows}


def triples(rows: list[dict[str, Any]], draws: int, size: int = 3) -> dict[str, Any]:
    """Percentiles of summed-regret ratios over ``draws`` random picks of ``size``
    scenarios of ``rows`` and one seed (the same for the three), and how often each
    target is met: how far an evaluation on 3 scenarios can be trusted."""
    rng = random.Random(0)
    seeds = len(rows[0]["runs"]["learned"])
    ratios: dict[str, list[float]] = {"greedy": [], "random": []}
    for _ in range(draws):
        picked = rng.sample(rows, min(size, len(rows)))
        seed = rng.randrange(seeds)
        learned = sum(r["runs"]["learned"][seed] for r in picked)
        for policy, values in ratios.items():
            other = sum(r["runs"][policy][seed] for r in picked)
            values.append(learned / other if other > 0 else float("inf"))
    out: dict[str, Any] = {"draws": draws, "size": size}
    for policy, values in ratios.items():
        values.sort()
        target = 0.5 if policy == "greedy" else 0.1
        out[policy] = {
            f"p{q}": round(values[min(len(values) - 1, len(values) * q // 100)], 3)
            for q in (10, 25, 50, 75, 90)
        }
        out[policy]["share_meeting"] = round(sum(v <= target for v in values) / len(values), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3, help="simulation seeds 1..N")
    parser.add_argument("--count", type=int, default=40, help="generated scenarios per set")
    parser.add_argument(
        "--sets", nargs="+", default=["train", "held-out", "shipped"],
        choices=["train", "held-out", "shipped"],
    )  # fmt: skip
    parser.add_argument("--router", nargs="*", default=[], help="RouterConfig field=value")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--verbose", action="store_true", help="one line per scenario")
    parser.add_argument(
        "--triples", type=int, default=0,
        help="also: the spread of the ratios over this many random draws of 3 scenarios "
        "and one seed (what a 3-scenario evaluation can show)",
    )  # fmt: skip
    parser.add_argument("--write", type=Path, help="write the set's scenarios here and stop")
    parser.add_argument("--set", default="train", choices=list(SETS), help="for --write")
    args = parser.parse_args()
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        for i in range(args.count):
            data = generate(SETS[args.set] + i)
            (args.write / f"{data['name']}.json").write_text(json.dumps(data, indent=1))
        return
    config = router_config(args.router)
    cache: dict[str, Any] = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    seeds = range(1, args.seeds + 1)
    started = time.process_time()
    for label in args.sets:
        if label == "shipped":
            files = sorted((ROOT / "scenarios").glob("*.json"))
            scenarios = [(f.stem, json.loads(f.read_text())) for f in files]
        else:
            scenarios = [
                (f"gen{SETS[label] + i}", generate(SETS[label] + i)) for i in range(args.count)
            ]
        if args.verbose:
            print(f"{label}:", flush=True)
        result = evaluate(label, scenarios, seeds, args.tasks, config, cache, args.verbose)
        summary = result["summary"]
        summary["router"] = args.router
        if label == "shipped":
            summary["per_scenario"] = [
                {k: v for k, v in row.items() if k != "runs"} for row in result["rows"]
            ]
        if args.triples and label != "shipped":
            summary["triples"] = triples(result["rows"], args.triples)
        print(json.dumps(summary), flush=True)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    args.cache.write_text(json.dumps(cache, sort_keys=True))
    print(f"cpu {time.process_time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
