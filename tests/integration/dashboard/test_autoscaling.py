"""The Agents page's Autoscaling panel, in-process on a started runtime over SQLite: each
autoscaled pool with its bounds, its size now and its last decision (or why its config is
not used), and the recent ``swarm.scaled`` decisions with the numbers behind them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard import create_app
from imperium.interfaces.dashboard.autoscaling import scaled_row
from imperium.ports import LearningLog
from imperium.runtime import Imperium
from tests.integration.dashboard.test_pages import Inline

BOUNDS = {"min": 1, "max": 4, "cooldown_seconds": 60, "target_wait_seconds": 0.1,
          "idle_seconds": 60}  # fmt: skip
BURST = 8
WAIT = 20


def row_of(page: str, attribute: str, agent_id: str) -> str:
    found = re.search(rf'{attribute}="{agent_id}".*?</tr>', page, re.S)
    assert found, f"no row for {agent_id}"
    return found.group(0)


def cell(row: str, name: str) -> str:
    found = re.search(rf'class="{name}">(.*?)</td>', row, re.S)
    assert found, name
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def test_the_panel_shows_each_pool_and_the_decision_a_burst_caused(
    im: Imperium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await im.agents.register(
        AgentSpec("slow", "tests.support.agents:sleepy", frozenset({"slow"}),
                  config={"autoscale": BOUNDS})
    )  # fmt: skip
    # registration refuses a malformed autoscale config now; one stored before it did
    # still shows, with its error
    with monkeypatch.context() as before_the_check:
        before_the_check.setattr("imperium.services.agents.policy_of", lambda *_: None)
        await im.agents.register(
            AgentSpec("odd", "echo", frozenset({"odd"}), config={"autoscale": {"min": 5, "max": 2}})
        )
    app = create_app(im)
    autoscaler = services_of(app).swarm.autoscaler  # the one /api/v1/swarm/status shows
    log = tmp_path / "log"
    tasks = await im.engine.submit_many(
        [TaskSpec("slow", {"sleep": 0.2, "log": str(log)}) for _ in range(BURST)]
    )
    async with asyncio.timeout(WAIT):  # a round of the autoscale routine, until it acts
        while True:
            if (await autoscaler.run())["changes"]:
                break
            await asyncio.sleep(0.01)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        response = await http.get("/agents")
        status = (await http.get("/api/v1/swarm/status")).json()
    for task in tasks:
        await asyncio.wait_for(im.engine.wait_for(task.id), WAIT)
    page = response.text
    parser = Inline()
    parser.feed(page)
    assert parser.problems == []
    [shown] = [p for p in status["autoscaling"] if p["agent_id"] == "slow"]
    last = shown["last_decision"]
    assert last["trigger"] == "autoscale"
    assert last["action"] == "grow"

    pool = row_of(page, "data-pool-agent-id", "slow")
    assert (cell(pool, "pool-min"), cell(pool, "pool-max")) == ("1", "4")
    assert cell(pool, "pool-size") == str(last["after"])
    assert f"grow 1 → {last['after']} (autoscale): {last['reason']}" in cell(pool, "pool-last")
    odd = row_of(page, "data-pool-agent-id", "odd")
    assert "autoscale needs 1 &lt;= min &lt;= max" in odd
    assert cell(odd, "pool-min") == "—"

    decisions = re.search(r'id="scaled-decisions".*?</table>', page, re.S)
    assert decisions
    [decision] = re.findall(r"<tr data-scaled-agent-id.*?</tr>", decisions.group(0), re.S)
    assert cell(decision, "scaled-change") == f"grow 1 → {last['after']}"
    assert cell(decision, "scaled-trigger") == "autoscale"
    assert f"<td>{last['backlog']:g}</td>" in decision
    assert "the newest 1 of 1 in the last 24 h" in page


def test_a_decision_with_missing_or_odd_fields_is_listed_with_what_it_has() -> None:
    log = LearningLog("swarm.scaled", 10.0, "a", event_data={"before": 2, "after": True,
                                                              "wait": "soon"})  # fmt: skip
    row = scaled_row(log)
    assert (row.at, row.agent_id, row.before, row.after, row.wait) == (10.0, "a", 2, None, None)
    assert scaled_row(LearningLog("swarm.scaled", 1.0, event_data=None)).action is None
