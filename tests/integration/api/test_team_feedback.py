"""Rating a team task's result (SQLite and PostgreSQL): through the API each member task
with a result gets the rating, and the live router hears it for each member; a team with
no member result, an unknown team and a bad rating are refused; the CLI rates offline."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from typer.testing import CliRunner

from imperium.interfaces.cli.main import app
from imperium.runtime import Imperium

from .conftest import problem
from .test_teams_api import FATAL, reviewers, team


async def test_a_team_rating_reaches_each_member(client: httpx.AsyncClient, im: Imperium) -> None:
    await reviewers(client, "a1", "a2")
    ran = await team(client, members=["a1", "a2"], payload={"doc": 1})
    assert ran["state"] == "succeeded"
    before = {m: im.learner.router.estimate("review", m).success for m in ("a1", "a2")}

    response = await client.post(
        f"/api/v1/teams/{ran['id']}/feedback", json={"thumbs": "down", "comment": "wrong"}
    )
    assert response.status_code == 201, response.text
    rated: list[dict[str, Any]] = response.json()["items"]
    assert sorted((r["agent_id"], r["task_id"]) for r in rated) == sorted(
        (m, t) for m, t in ran["task_ids"].items()
    )
    assert {(r["score"], r["comment"], r["success"]) for r in rated} == {(0.0, "wrong", True)}
    for member in ("a1", "a2"):  # the live router took the rating for each member
        assert im.learner.router.estimate("review", member).success < before[member]
    listed = (await client.get(f"/api/v1/teams/{ran['id']}/feedback")).json()["items"]
    assert len(listed) == 2
    for task_id in ran["task_ids"].values():
        assert len(await im.store.feedback_for(task_id)) == 1  # stored per member task


async def test_team_ratings_that_cannot_be_given_are_refused(client: httpx.AsyncClient) -> None:
    await reviewers(client, "f1", "f2", agent_type=FATAL)
    failed = await team(client, members=["f1", "f2"])
    assert failed["state"] == "failed"
    nothing = await client.post(f"/api/v1/teams/{failed['id']}/feedback", json={"score": 1})
    problem(nothing, 409, "no member", "nothing to rate")
    unknown = await client.post("/api/v1/teams/nope/feedback", json={"thumbs": "up"})
    problem(unknown, 404, "no team task with id nope")
    both = await client.post(
        f"/api/v1/teams/{failed['id']}/feedback", json={"thumbs": "up", "score": 0.5}
    )
    problem(both, 422)
    problem(await client.get("/api/v1/teams/nope/feedback"), 404)


async def test_the_cli_rates_a_team(
    client: httpx.AsyncClient, im: Imperium, migrated_database_url: str
) -> None:
    await reviewers(client, "c1", "c2")
    ran = await team(client, members=["c1", "c2"])
    env = {"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
    runner = CliRunner()
    args = ["teams", "rate", ran["id"], "--score", "0.9", "--json"]
    result = await asyncio.to_thread(runner.invoke, app, args, env=env)  # its own loop
    assert result.exit_code == 0, result.output
    assert sorted(r["agent_id"] for r in json.loads(result.stdout)) == ["c1", "c2"]
    refused = await asyncio.to_thread(runner.invoke, app, ["teams", "rate", ran["id"]], env=env)
    assert refused.exit_code == 1
    assert "give one of --up, --down or --score" in refused.output
