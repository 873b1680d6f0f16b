"""The CLI in-process: ``cli(*args)`` runs ``imperium`` with Typer's CliRunner against a
migrated database (files that need something else define their own ``cli``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(migrated_database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        env = {"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
        return runner.invoke(app, [*args], env=env)

    return invoke
