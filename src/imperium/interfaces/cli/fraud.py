"""``imperium fraud …``: train fraud models on a file of transactions, list the stored
versions with their held-out evaluation, score a file, and generate labelled test data.

Training and scoring run in this process with the ``fraud`` agent's code and write the
same table (``ml_models``) the server's agent reads: a model trained here answers
``POST /api/v1/fraud/analyze`` at once (the agent loads the current version per request).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from imperium.adapters.storage.markets import SqlMarketStore
from imperium.interfaces.cli._common import console, fail, offline, print_json, run, settings
from imperium.interfaces.cli.crypto import read_rows, run_agent

app = typer.Typer(
    help="Fraud detection: train (XGBoost vs Random Forest on the newest 20% held out, or "
    "IsolationForest without labels), list model versions, score transactions, generate "
    "labelled test data.",
    no_args_is_help=True,
)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _load(file: Path) -> list[dict[str, Any]]:
    rows = read_rows(file, "transactions")
    if not rows:
        raise fail(f"{file} holds no transaction")
    return rows


@app.command("train")
def train(
    file: Annotated[Path, typer.Argument(help="CSV or JSON of transactions.")],
    database: Database = None,
    as_json: Json = False,
    make_current: Annotated[
        bool,
        typer.Option(
            "--make-current",
            help="Make the new best current even if it scored below the current version.",
        ),
    ] = False,
) -> None:
    """Train on FILE (timestamp, account_id, amount, merchant_category, is_fraud); every
    candidate is stored as a version with its metrics; the best (PR-AUC) becomes current
    if it scored at least the current version (or with --make-current)."""
    payload = {"transactions": _load(file), "make_current": make_current}
    result = run(run_agent("fraud", "fraud_train", payload, database))
    if as_json:
        print_json(result)
        return
    _table(result["models"])
    console.print(escape(result["why_current"]))


@app.command("models")
def models(database: Database = None, as_json: Json = False) -> None:
    """Fraud model versions, newest first, with their held-out evaluation."""
    from imperium.agents.fraud import MODEL_NAME, model_dict

    async def go() -> list[dict[str, Any]]:
        async with offline(settings(database)) as im:
            found = await SqlMarketStore(im.store.database).models(MODEL_NAME)
            return [model_dict(m) for m in found]

    rows = run(go())
    if as_json:
        print_json(rows)
    elif not rows:
        console.print("no fraud model yet: imperium fraud train FILE")
    else:
        _table(rows)


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table("version", "algorithm", "kind", "current", "PR-AUC", "ROC-AUC",
                  "recall @1% FPR", "trained on")  # fmt: skip
    for r in rows:
        m, d = r["metrics"], r["data_summary"]
        table.add_row(
            str(r["version"]), r["algorithm"], r["kind"], "yes" if r["current"] else "",
            str(m.get("pr_auc", "-")), str(m.get("roc_auc", "-")),
            str(m.get("recall_at_1pct_fpr", "-")),
            f"{d.get('training_rows')} rows, held out {d.get('holdout_rows')}",
        )  # fmt: skip
    console.print(table)


@app.command("analyze")
def analyze(
    file: Annotated[Path, typer.Argument(help="CSV or JSON of transactions to score.")],
    threshold: Annotated[float | None, typer.Option("--threshold")] = None,
    database: Database = None,
) -> None:
    """Score FILE's transactions with the current model (JSON out)."""
    payload = {"transactions": _load(file), "threshold": threshold}
    print_json(run(run_agent("fraud", "fraud_analyze", payload, database)))


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Argument(help="The CSV to write.")],
    accounts: Annotated[int, typer.Option(min=10, max=100_000)] = 400,
    days: Annotated[int, typer.Option(min=7, max=3650)] = 90,
    fraud_events: Annotated[int, typer.Option(min=0, max=1_000_000)] = 120,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Write generated transactions with injected fraud and known labels (see
    imperium/agents/fraud_data.py for the patterns)."""
    from imperium.agents.fraud_data import generate as make
    from imperium.agents.fraud_data import write_csv

    rows = make(accounts=accounts, days=days, fraud_events=fraud_events, seed=seed)
    try:
        write_csv(rows, out)
    except OSError as exc:
        raise fail(f"cannot write {out}: {escape(str(exc.strerror or exc))}") from None
    frauds = sum(int(r["is_fraud"]) for r in rows)  # type: ignore[call-overload]
    print(f"wrote {len(rows)} transactions ({frauds} fraudulent) to {out}")
