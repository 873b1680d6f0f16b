"""``imperium simulate``: routing measured against simulated agents whose truth a scenario
file gives (``services.learning.simulation``); a summary, or ``--json``. No database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import orjson
import typer

from imperium.domain.errors import ValidationError
from imperium.interfaces.cli._common import (
    console,
    fail,
    pct,
    print_json,
    progress,
    read_json_file,
    settings,
)

if TYPE_CHECKING:
    from imperium.domain.scenario import Scenario

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def simulate(
    scenario: Annotated[Path, typer.Option("--scenario", help="Scenario JSON (see scenarios/).")],
    tasks: Annotated[int, typer.Option("--tasks", min=1, max=10_000_000)] = 10_000,
    policy: Annotated[
        str, typer.Option("--policy", help="learned, greedy, random or oracle.")
    ] = "learned",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write one JSON line per decision here.")
    ] = None,
    retrain_every: Annotated[
        int, typer.Option("--retrain-every", min=1, help="Refit the predictor every N tasks.")
    ] = 1000,
    forgetting: Annotated[
        float | None,
        typer.Option(
            "--forgetting",
            min=0.9,
            max=1.0,
            help="The router's forgetting (default: IMPERIUM_ROUTER_FORGETTING).",
        ),
    ] = None,
    json_out: Json = False,
) -> None:
    """Measure routing against simulated agents whose truth the scenario gives: success,
    regret against the oracle, prediction accuracy, drift detection."""
    from imperium.domain.routing import RouterConfig
    from imperium.runtime import make_predictor
    from imperium.services.learning.simulation import simulate as run_simulation

    chosen_forgetting = forgetting if forgetting is not None else settings().router_forgetting
    parsed = _read_scenario(scenario)
    sink = _open_trace(trace)
    try:
        with progress() as bar:
            job = bar.add_task(f"simulating ({policy})", total=tasks)
            try:
                result = run_simulation(
                    parsed,
                    tasks=tasks,
                    policy=policy,
                    seed=seed,
                    make_predictor=make_predictor,
                    retrain_every=retrain_every,
                    router_config=RouterConfig(forgetting=chosen_forgetting),
                    trace=_writer(sink),
                    progress=lambda done: bar.update(job, completed=done),
                )
            except ValidationError as exc:
                raise fail(str(exc)) from None
    finally:
        if sink is not None:
            sink.close()
    out: dict[str, Any] = result.as_json()
    if json_out:
        print_json(out)
        return
    _print_summary(out, scenario.stem)


def _read_scenario(scenario: Path) -> Scenario:
    from imperium.domain.scenario import parse_scenario

    data = read_json_file(scenario)
    try:
        return parse_scenario(data, scenario.stem)
    except ValidationError as exc:
        raise fail(f"{scenario}: {exc}") from None


def _open_trace(trace: Path | None) -> IO[bytes] | None:
    try:
        return trace.open("wb") if trace is not None else None
    except OSError as exc:
        raise fail(f"cannot write {trace}: {exc.strerror}") from None


def _writer(sink: IO[bytes] | None) -> Callable[[dict[str, Any]], None] | None:
    """One JSON line per decision into ``sink``; None (no trace kept) without one."""
    if sink is None:
        return None

    def write(line: dict[str, Any]) -> None:
        sink.write(orjson.dumps(line) + b"\n")

    return write


def _print_summary(out: dict[str, Any], stem: str) -> None:
    console.print(
        f"{out['policy']} on {out.get('scenario') or stem}: {out['tasks']} tasks, "
        f"success {pct(out['success_rate'])}, regret {out['regret']:.1f} "
        f"(expected reward {out['expected_reward']:.1f} of the oracle's "
        f"{out['oracle_expected_reward']:.1f})"
    )
    windows = out.get("regret_by_window") or []
    if windows:
        console.print(
            "regret per task by window: " + " ".join(f"{w['regret_per_task']:.3f}" for w in windows)
        )
    teams = out.get("teams")
    if teams:
        console.print(
            f"team tasks: {teams['tasks']} (teams of {teams['size']}, quorum {teams['quorum']}), "
            f"success {pct(teams['success_rate'])}, regret against the best team "
            f"{teams['regret']:.1f}"
        )
