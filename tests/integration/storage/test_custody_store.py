"""Contract of ``CustodyStore`` (graded custody results, each agent's standing) and
``ProposalStore`` (improvement proposals and their lifecycle) for every store, and the
migration that adds their tables."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import custody_state, proposals
from imperium.domain.custody import Category, CustodyRecord, CustodyResult, Difficulty
from imperium.domain.errors import ConflictError
from imperium.domain.learning import CycleStatus, LearningCycle
from imperium.domain.proposals import Proposal, ProposalStatus, decide, new_proposal
from imperium.domain.states import Outcome
from imperium.ports import Store, WriteBatch
from tests.integration.storage.storage_factories import T0, make_agent, make_execution

OWNER = "scheduler-1"
# JSON that must come back exactly: floats whole or not exactly representable, nulls at
# every depth, booleans, unicode.
GRADER_OUTPUT: dict[str, object] = {
    "checks": [
        {"name": "parses", "passed": True, "weight": 0.1, "detail": None},
        {"name": "complete", "passed": False, "weight": 1.0, "detail": "missing ✓ field"},
    ],
    "score": 0.3,
    "tiny": 1e-300,
    "nested": {"deep": {"deeper": [None, 2.0, -2.5, {"x": None}]}},
    "empty": {},
    "notes": [],
}


def make_result(result_id: str = "result-1", **overrides: Any) -> CustodyResult:
    fields: dict[str, Any] = {
        "result_id": result_id,
        "agent_id": "alpha",
        "test_id": "kv-capitals",
        "test_version": 3,
        "category": Category.SECURITY_AWARENESS,
        "difficulty": Difficulty.EXPERT,
        "task_id": "task-0001",
        "answer": {"text": "Paris, héllo", "values": [0.1, 2.0, None], "ok": True},
        "score": 0.8333333333333334,
        "passed": True,
        "threshold": 0.7,
        "grader_output": GRADER_OUTPUT,
        "duration": 12.345678901,
        "xp_awarded": 50,
        "created_at": T0 + 10.25,
    }
    fields.update(overrides)
    return CustodyResult(**fields)


def make_record(agent_id: str = "alpha", **overrides: Any) -> CustodyRecord:
    fields: dict[str, Any] = {
        "agent_id": agent_id,
        "xp": 203,
        "level": 3,
        "tests": 9,
        "passed": 4,
        "consecutive_successes": 2,
        "consecutive_failures": 0,
        "recent": (False, True, False, True, True),
        "last_test_at": T0 + 10.25,
    }
    fields.update(overrides)
    return CustodyRecord(**fields)


def make_proposal(
    proposal_id: str = "prop-1",
    title: str = "Cache the router's scores",
    at: float = T0 + 1.5,
    **overrides: Any,
) -> Proposal:
    """A pending proposal from ``new_proposal`` (so its fingerprint follows the title,
    diff and action given); other overrides are applied afterwards."""
    made: dict[str, Any] = {
        "agent_id": "alpha",
        "description": "Scoring recomputes every agent per task; cache per task type.",
        "diff": "--- a/router.py\n+++ b/router.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n",
        "action": {"kind": "config", "set": {"cache": True, "ttl": 2.0, "skip": None}},
        "evidence": [{"metric": "p99", "before": 0.1, "after": 0.05}, "seen in cycle-7", None],
    }
    for name in list(made):
        if name in overrides:
            made[name] = overrides.pop(name)
    proposal = new_proposal(proposal_id=proposal_id, title=title, at=at, **made)
    return dataclasses.replace(proposal, **overrides)


# ------------------------------------------------------------------------- custody results
async def test_a_result_and_a_record_round_trip_exactly(store: Store) -> None:
    result, record = make_result(), make_record()

    await store.save_custody_result(result, record)

    stored = await store.get_custody_result("result-1")
    assert stored == result
    assert stored is not None
    assert isinstance(stored.category, Category)
    assert isinstance(stored.difficulty, Difficulty)
    assert stored.passed is True
    output = stored.grader_output
    assert output == GRADER_OUTPUT
    assert isinstance(output["nested"], dict)
    checks = output["checks"]
    assert isinstance(checks, list)
    assert checks[0]["passed"] is True
    assert isinstance(checks[1]["weight"], float)
    assert await store.get_custody("alpha") == record
    assert await store.list_custody_results() == [result]


async def test_a_result_without_answer_or_task_round_trips(store: Store) -> None:
    result = make_result(
        answer=None,
        task_id=None,
        passed=False,
        score=0.0,
        xp_awarded=1,
        grader_output={"error": "no answer", "checks": []},
        category=Category.KNOWLEDGE_VERIFICATION,
        difficulty=Difficulty.BASIC,
    )
    await store.save_custody_result(result, make_record(tests=1, passed=0, recent=(False,)))

    stored = await store.get_custody_result("result-1")

    assert stored == result
    assert stored is not None
    assert stored.answer is None
    assert stored.task_id is None
    assert stored.passed is False


async def test_answers_of_any_json_shape_round_trip(store: Store) -> None:
    answers: list[object] = ["just text", 42, 0.1, [1, "two", None], False]
    for n, answer in enumerate(answers):
        await store.save_custody_result(
            make_result(f"r-{n}", answer=answer, created_at=T0 + n), make_record()
        )

    stored = {r.result_id: r.answer for r in await store.list_custody_results(limit=10)}

    assert stored == {f"r-{n}": answer for n, answer in enumerate(answers)}
    assert stored["r-4"] is False


async def test_a_new_record_of_a_fresh_agent(store: Store) -> None:
    fresh = CustodyRecord("bravo")
    await store.save_custody_result(make_result(agent_id="bravo"), fresh)

    stored = await store.get_custody("bravo")

    assert stored == fresh
    assert stored is not None
    assert stored.recent == ()
    assert stored.last_test_at is None


async def test_saving_again_replaces_the_agents_record(store: Store) -> None:
    await store.save_custody_result(make_result("r-1"), make_record(xp=50, recent=(True,)))
    later = make_record(
        xp=51,
        level=1,
        tests=2,
        passed=1,
        consecutive_successes=0,
        consecutive_failures=1,
        recent=(True, False),
        last_test_at=T0 + 99.5,
    )

    await store.save_custody_result(make_result("r-2", created_at=T0 + 99.5), later)

    assert await store.get_custody("alpha") == later
    assert await store.list_custody() == [later]
    assert [r.result_id for r in await store.list_custody_results()] == ["r-2", "r-1"]


async def test_records_list_by_agent_id(store: Store) -> None:
    for n, agent in enumerate(["charlie", "alpha", "bravo"]):
        await store.save_custody_result(
            make_result(f"r-{n}", agent_id=agent), make_record(agent, xp=n)
        )

    listed = await store.list_custody()

    assert [r.agent_id for r in listed] == ["alpha", "bravo", "charlie"]
    assert [r.xp for r in listed] == [1, 2, 0]


async def test_results_list_newest_first_by_agent_up_to_the_limit(store: Store) -> None:
    # (id, agent, time): equal times fall back to the id, descending
    for result_id, agent, at in [
        ("r-a", "alpha", 5.0),
        ("r-b", "bravo", 9.0),
        ("r-c", "alpha", 1.0),
        ("r-d", "alpha", 5.0),
        ("r-e", "bravo", 3.0),
    ]:
        await store.save_custody_result(
            make_result(result_id, agent_id=agent, created_at=T0 + at), make_record(agent)
        )

    everything = await store.list_custody_results()
    alpha = await store.list_custody_results(agent_id="alpha")

    assert [r.result_id for r in everything] == ["r-b", "r-d", "r-a", "r-e", "r-c"]
    assert [r.result_id for r in alpha] == ["r-d", "r-a", "r-c"]
    assert [r.result_id for r in await store.list_custody_results(limit=2)] == ["r-b", "r-d"]
    assert [r.result_id for r in await store.list_custody_results("bravo", 1)] == ["r-b"]
    assert await store.list_custody_results(agent_id="nobody") == []


async def test_missing_results_and_records_are_none(store: Store) -> None:
    assert await store.get_custody_result("nope") is None
    assert await store.get_custody("nobody") is None
    assert await store.list_custody() == []
    assert await store.list_custody_results() == []


async def test_a_result_recorded_twice_is_refused_and_changes_nothing(store: Store) -> None:
    await store.save_custody_result(make_result(), make_record(xp=50))

    with pytest.raises(ConflictError, match="result-1"):
        await store.save_custody_result(make_result(score=0.1), make_record(xp=999))

    assert (await store.get_custody("alpha")) == make_record(xp=50)
    stored = await store.get_custody_result("result-1")
    assert stored is not None
    assert stored.score == make_result().score


async def test_stored_results_do_not_alias_what_was_saved(store: Store) -> None:
    output: dict[str, object] = {"checks": [1, 2]}
    await store.save_custody_result(make_result(grader_output=output), make_record())
    output["checks"] = "changed"

    first = await store.get_custody_result("result-1")
    assert first is not None
    assert first.grader_output == {"checks": [1, 2]}
    first.grader_output["checks"] = "changed too"
    second = await store.get_custody_result("result-1")
    assert second is not None
    assert second.grader_output == {"checks": [1, 2]}


# ------------------------------------------------------------------------- proposals
async def test_a_proposal_round_trips_exactly(store: Store) -> None:
    proposal = make_proposal()

    await store.insert_proposal(proposal)

    stored = await store.get_proposal("prop-1")
    assert stored == proposal
    assert stored is not None
    assert stored.status is ProposalStatus.PENDING
    assert stored.decided_at is None
    assert await store.list_proposals() == [proposal]


async def test_a_proposal_without_diff_or_action_round_trips(store: Store) -> None:
    bare = make_proposal(diff=None, action=None, evidence=[])

    await store.insert_proposal(bare)

    stored = await store.get_proposal("prop-1")
    assert stored == bare
    assert stored is not None
    assert (stored.diff, stored.action, stored.evidence) == (None, None, [])


async def test_a_decided_and_applied_proposal_round_trips(store: Store) -> None:
    proposal = make_proposal()
    await store.insert_proposal(proposal)
    approved = decide(proposal, ProposalStatus.APPROVED, "ops@example", T0 + 7.25, "fine ✓")
    applied = decide(approved, ProposalStatus.APPLIED, "deployer", T0 + 8.5)

    assert await store.update_proposal(approved, ProposalStatus.PENDING)
    assert await store.get_proposal("prop-1") == approved
    assert await store.update_proposal(applied, ProposalStatus.APPROVED)

    stored = await store.get_proposal("prop-1")
    assert stored == applied
    assert stored is not None
    assert stored.status is ProposalStatus.APPLIED
    assert (stored.decided_by, stored.decided_at) == ("ops@example", T0 + 7.25)
    assert (stored.applied_by, stored.applied_at) == ("deployer", T0 + 8.5)
    assert stored.decision_note == "fine ✓"


async def test_missing_proposal_is_none(store: Store) -> None:
    assert await store.get_proposal("nope") is None
    assert await store.list_proposals() == []


async def test_proposals_list_newest_first_by_status_and_agent(store: Store) -> None:
    for proposal_id, agent, at in [
        ("p-1", "alpha", 1.0),
        ("p-2", "bravo", 4.0),
        ("p-3", "alpha", 3.0),
        ("p-4", "alpha", 4.0),
        ("p-5", "bravo", 2.0),
    ]:
        await store.insert_proposal(
            make_proposal(proposal_id, title=f"idea {proposal_id}", at=T0 + at, agent_id=agent)
        )
    p3 = await store.get_proposal("p-3")
    p5 = await store.get_proposal("p-5")
    assert p3 is not None
    assert p5 is not None
    rejected = decide(p3, ProposalStatus.REJECTED, "ops", T0 + 10)
    assert await store.update_proposal(rejected, ProposalStatus.PENDING)
    assert await store.update_proposal(
        decide(p5, ProposalStatus.APPROVED, "ops", T0 + 11), ProposalStatus.PENDING
    )

    def ids(listed: list[Proposal]) -> list[str]:
        return [p.proposal_id for p in listed]

    # equal times fall back to the id, descending
    assert ids(await store.list_proposals()) == ["p-4", "p-2", "p-3", "p-5", "p-1"]
    assert ids(await store.list_proposals(limit=2)) == ["p-4", "p-2"]
    assert ids(await store.list_proposals(ProposalStatus.PENDING)) == ["p-4", "p-2", "p-1"]
    assert ids(await store.list_proposals(ProposalStatus.REJECTED)) == ["p-3"]
    assert ids(await store.list_proposals(ProposalStatus.APPROVED)) == ["p-5"]
    assert ids(await store.list_proposals(agent_id="alpha")) == ["p-4", "p-3", "p-1"]
    assert ids(await store.list_proposals(ProposalStatus.PENDING, "bravo")) == ["p-2"]
    assert ids(await store.list_proposals(ProposalStatus.APPLIED)) == []
    assert await store.list_proposals(ProposalStatus.REJECTED) == [rejected]


async def test_a_duplicate_of_a_live_proposal_is_refused(store: Store) -> None:
    first = make_proposal("prop-1")
    await store.insert_proposal(first)
    # same title (case and spacing aside) and the same change: the same fingerprint
    same = make_proposal("prop-2", title="  cache THE router's   scores ", at=T0 + 9)
    assert same.fingerprint == first.fingerprint

    with pytest.raises(ConflictError) as refused:
        await store.insert_proposal(same)

    assert str(refused.value) == (
        "a proposal with the same title and change already exists: prop-1 (pending)"
    )
    assert await store.get_proposal("prop-2") is None
    assert [p.proposal_id for p in await store.list_proposals()] == ["prop-1"]


async def test_a_duplicate_of_an_approved_or_applied_proposal_is_refused(store: Store) -> None:
    first = make_proposal("prop-1")
    await store.insert_proposal(first)
    approved = decide(first, ProposalStatus.APPROVED, "ops", T0 + 2)
    assert await store.update_proposal(approved, ProposalStatus.PENDING)

    with pytest.raises(ConflictError, match=r"prop-1 \(approved\)"):
        await store.insert_proposal(make_proposal("prop-2"))

    assert await store.update_proposal(
        decide(approved, ProposalStatus.APPLIED, "ops", T0 + 3), ProposalStatus.APPROVED
    )
    with pytest.raises(ConflictError, match=r"prop-1 \(applied\)"):
        await store.insert_proposal(make_proposal("prop-3"))
    assert [p.proposal_id for p in await store.list_proposals()] == ["prop-1"]


async def test_a_rejected_proposal_may_be_proposed_again(store: Store) -> None:
    first = make_proposal("prop-1")
    await store.insert_proposal(first)
    rejected = decide(first, ProposalStatus.REJECTED, "ops", T0 + 2, "not now")
    assert await store.update_proposal(rejected, ProposalStatus.PENDING)

    again = make_proposal("prop-2", at=T0 + 5)
    await store.insert_proposal(again)

    assert await store.get_proposal("prop-2") == again
    assert await store.get_proposal("prop-1") == rejected
    with pytest.raises(ConflictError, match=r"prop-2 \(pending\)"):
        await store.insert_proposal(make_proposal("prop-3"))


async def test_a_different_change_with_the_same_title_is_not_a_duplicate(store: Store) -> None:
    await store.insert_proposal(make_proposal("prop-1"))
    other = make_proposal("prop-2", diff=None)
    assert other.fingerprint != make_proposal("prop-1").fingerprint

    await store.insert_proposal(other)

    assert {p.proposal_id for p in await store.list_proposals()} == {"prop-1", "prop-2"}


async def test_a_duplicate_id_is_refused(store: Store) -> None:
    await store.insert_proposal(make_proposal("prop-1"))

    with pytest.raises(ConflictError, match="prop-1"):
        await store.insert_proposal(make_proposal("prop-1", title="something else"))

    stored = await store.get_proposal("prop-1")
    assert stored is not None
    assert stored.title == "Cache the router's scores"


async def test_an_update_expecting_another_status_changes_nothing(store: Store) -> None:
    proposal = make_proposal()
    await store.insert_proposal(proposal)
    approved = decide(proposal, ProposalStatus.APPROVED, "ops", T0 + 2)
    rejected = decide(proposal, ProposalStatus.REJECTED, "someone else", T0 + 3)

    assert await store.update_proposal(approved, ProposalStatus.PENDING) is True
    # a second decider who read it as pending loses
    assert await store.update_proposal(rejected, ProposalStatus.PENDING) is False
    assert await store.update_proposal(rejected, ProposalStatus.REJECTED) is False

    assert await store.get_proposal("prop-1") == approved


async def test_updating_a_missing_proposal_returns_false(store: Store) -> None:
    proposal = make_proposal()

    assert await store.update_proposal(proposal, ProposalStatus.PENDING) is False
    assert await store.get_proposal("prop-1") is None


async def test_an_update_that_would_make_two_live_duplicates_is_refused(store: Store) -> None:
    """The lifecycle never revives a rejected proposal; the store refuses it anyway."""
    first = make_proposal("prop-1")
    await store.insert_proposal(first)
    rejected = decide(first, ProposalStatus.REJECTED, "ops", T0 + 2)
    assert await store.update_proposal(rejected, ProposalStatus.PENDING)
    await store.insert_proposal(make_proposal("prop-2", at=T0 + 3))

    revived = dataclasses.replace(rejected, status=ProposalStatus.APPROVED)
    with pytest.raises(ConflictError, match=r"prop-2 \(pending\)"):
        await store.update_proposal(revived, ProposalStatus.REJECTED)

    assert await store.get_proposal("prop-1") == rejected


# ------------------------------------------------------------------------- SQL only
async def test_concurrent_identical_submissions_land_once(sql_store: SqlStore) -> None:
    submissions = [make_proposal(f"prop-{n}", at=T0 + n) for n in range(4)]

    outcomes = await asyncio.gather(
        *(sql_store.insert_proposal(p) for p in submissions), return_exceptions=True
    )

    stored = await sql_store.list_proposals()
    assert len(stored) == 1
    assert sum(o is None for o in outcomes) == 1
    refused = [o for o in outcomes if o is not None]
    assert len(refused) == 3
    assert all(isinstance(o, ConflictError) for o in refused)
    assert all(stored[0].proposal_id in str(o) for o in refused)


async def test_the_database_itself_refuses_a_live_duplicate(sql_store: SqlStore) -> None:
    """The partial unique index, not only the store's code, keeps live fingerprints
    unique; rejected rows are outside it."""
    row = {
        "agent_id": "alpha",
        "title": "t",
        "description": "d",
        "evidence": [],
        "fingerprint": "f" * 64,
        "created_at": T0,
    }
    async with sql_store.engine.begin() as conn:
        await conn.execute(
            sa.insert(proposals),
            [
                {**row, "proposal_id": "a", "status": "rejected"},
                {**row, "proposal_id": "b", "status": "rejected"},
                {**row, "proposal_id": "c", "status": "pending"},
            ],
        )
    with pytest.raises(sa.exc.IntegrityError):
        async with sql_store.engine.begin() as conn:
            await conn.execute(
                sa.insert(proposals), [{**row, "proposal_id": "d", "status": "applied"}]
            )
    async with sql_store.engine.connect() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(proposals))).scalar()
    assert count == 3


async def test_the_record_is_stored_as_columns_and_a_json_list(sql_store: SqlStore) -> None:
    result = make_result(created_at=T0 + 50.5)
    await sql_store.save_custody_result(result, make_record(recent=(True, False, True)))

    async with sql_store.engine.connect() as conn:
        row = (await conn.execute(sa.select(custody_state))).one()

    assert row.recent == [True, False, True]
    assert [type(v) for v in row.recent] == [bool, bool, bool]
    assert row.updated_at == T0 + 50.5  # the result's time
    assert (row.xp, row.level, row.tests, row.passed) == (203, 3, 9, 4)


async def test_upgrade_from_0005_keeps_the_data_and_adds_the_tables(database_url: str) -> None:
    await upgrade_database(database_url, "0005")
    store = await SqlStore.connect(database_url)
    try:
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        assert not {"custody_results", "custody_state", "proposals"} & tables
        await store.insert_agent(make_agent("alpha"))
        assert await store.swap_lock(None, OWNER, T0 + 3600)
        await store.apply(
            WriteBatch(
                executions=[
                    make_execution("t1"),
                    make_execution("t2", outcome=Outcome.SUCCEEDED),
                ]
            ),
            OWNER,
            T0 + 3600,
        )
        cycle = LearningCycle(
            cycle_id="cycle-1",
            start_time=T0,
            end_time=T0 + 1,
            participating_agents=("alpha",),
            total_learning_value=0.5,
            success_count=1,
            failure_count=1,
            insights_generated=0,
            status=CycleStatus.COMPLETED,
            metadata={"k": 1.0},
            trigger="manual",
        )
        await store.save_cycle(cycle)
    finally:
        await store.close()

    await upgrade_database(database_url)

    store = await SqlStore.connect(database_url)
    try:
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        assert {"custody_results", "custody_state", "proposals"} <= tables
        assert [(e.task_id, e.attempt) for e in await store.recent_executions(10)] == [
            ("t1", 1),
            ("t2", 1),
        ]
        agent = await store.get_agent("alpha")
        assert agent is not None
        assert dataclasses.asdict(agent) == dataclasses.asdict(make_agent("alpha"))
        assert await store.list_cycles(5) == [cycle]
        await store.save_custody_result(make_result(), make_record())
        assert await store.get_custody("alpha") == make_record()
        await store.insert_proposal(make_proposal())
        with pytest.raises(ConflictError, match="prop-1"):
            await store.insert_proposal(make_proposal("prop-2"))
    finally:
        await store.close()


async def test_a_duplicate_inside_a_unit_of_work_is_a_conflict_and_nothing_lands(
    store: Store,
) -> None:
    """On PostgreSQL the refused insert aborts the caller's transaction, so the store must
    not run its lookup of the live duplicate there: the caller still gets a ConflictError
    (not the driver's 'transaction is aborted'), and the unit of work writes nothing."""
    await store.insert_proposal(make_proposal("prop-1"))
    other = make_proposal("prop-2", title="a different change", at=T0 + 5)
    assert other.fingerprint != make_proposal("prop-1").fingerprint

    async def both() -> None:
        async with store.unit_of_work():
            await store.insert_proposal(other)
            await store.insert_proposal(make_proposal("prop-3", at=T0 + 9))

    with pytest.raises(ConflictError, match="already exists"):
        await both()

    assert [p.proposal_id for p in await store.list_proposals()] == ["prop-1"]
