"""Fraud scoring latency in-process: one transaction per call (features from the account's
history, the current model's probability, the decision and the XGBoost contributions),
as the ``fraud`` agent scores. Trains on generated data first (not timed); prints one JSON
line per model (XGBoost, Random Forest; the better PR-AUC first) with p50/p95/p99 per
transaction and the throughput of one batch, and the same percentiles of the CPU time each
call used (``cpu_*``: the process's CPU clock, so time spent waiting for a core on a busy
machine is left out; the wall-clock figures include it) with the load average at the start.

    python bench/fraud_scoring.py [--transactions 2000] [--accounts 200] [--days 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from imperium.agents import _fraud_models as fm
from imperium.agents.fraud_data import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    rows = generate(accounts=args.accounts, days=args.days, fraud_events=100, seed=11)
    txns = fm.parse(rows)
    cut = int(len(txns) * 0.8)
    scored = txns[cut:][: args.transactions]
    for candidate in fm.train(txns[:cut]):  # each model trained, best (PR-AUC) first
        print(json.dumps(measure(candidate, scored)), flush=True)


def measure(candidate: fm.Trained, scored: list[fm.Txn]) -> dict[str, object]:
    state = fm.load(candidate.artefact)
    fm.score(state, scored[:10], None)  # warm-up
    load = os.getloadavg()[0]
    each, cpu = [], []
    for t in scored:
        start, cpu_start = time.perf_counter(), time.process_time()
        fm.score(state, [t], None)
        each.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
    start = time.perf_counter()
    fm.score(state, scored, None)
    batch = time.perf_counter() - start
    cuts = statistics.quantiles(each, n=100)
    cpu_cuts = statistics.quantiles(cpu, n=100)
    return {
        "model": candidate.algorithm, "pr_auc": candidate.metrics["pr_auc"],
        "transactions": len(each), "p50_ms": round(cuts[49], 3), "p95_ms": round(cuts[94], 3),
        "p99_ms": round(cuts[98], 3), "max_ms": round(max(each), 3),
        "batch_per_second": round(len(scored) / batch, 1), "cpu_p50_ms": round(cpu_cuts[49], 3),
        "cpu_p99_ms": round(cpu_cuts[98], 3), "load_average": round(load, 2),
    }  # fmt: skip


if __name__ == "__main__":
    main()
