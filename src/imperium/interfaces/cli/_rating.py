"""The options a rating takes on the command line (``tasks rate``, ``teams rate``)."""

from __future__ import annotations

from typing import Annotated

import typer

from imperium.interfaces.cli._common import fail

Up = Annotated[bool, typer.Option("--up", help="Thumbs up (score 1).")]
Down = Annotated[bool, typer.Option("--down", help="Thumbs down (score 0).")]
Score = Annotated[
    float | None, typer.Option(min=0.0, max=1.0, help="A score from 0 (bad) to 1 (good).")
]
Comment = Annotated[str | None, typer.Option(help="What was good or bad about it.")]


def thumbs_of(up: bool, down: bool, score: float | None) -> str | None:
    """``up``, ``down`` or None (a score was given); exactly one of the three is needed."""
    if up + down + (score is not None) != 1:
        raise fail("give one of --up, --down or --score 0..1")
    return "up" if up else "down" if down else None
