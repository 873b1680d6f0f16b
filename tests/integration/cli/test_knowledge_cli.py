"""``imperium knowledge sources | topics | ingest | search | impact`` in-process against
SQLite and PostgreSQL, offline: a directory of notes and a feed file as sources."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.knowledge_server import RSS


def test_offline_sources_ingest_and_search(cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leases.md").write_text("# Leases\n\nA lease expires unless renewed by a heartbeat.")
    (docs / "pools.md").write_text("# Pools\n\nA pool bounds the open database connections.")
    (tmp_path / "feed.xml").write_text(RSS)
    assert (
        cli("knowledge", "sources", "add", "notes", "files", str(docs), "--trust", "0.9").exit_code
        == 0
    )
    added = cli("knowledge", "sources", "add", "blog", "rss", str(tmp_path / "feed.xml"))
    assert added.exit_code == 0, added.output
    listed = json.loads(cli("knowledge", "sources", "list", "--json").stdout)
    assert [(s["id"], s["kind"]) for s in listed] == [("blog", "rss"), ("notes", "files")]

    assert cli("knowledge", "topics", "add", "asyncio").exit_code == 0
    assert cli("knowledge", "topics", "add", "sql", "--agent", "dba").exit_code == 0
    topics = json.loads(cli("knowledge", "topics", "list", "--json").stdout)
    assert topics == [{"name": "asyncio", "agent_id": None}, {"name": "sql", "agent_id": "dba"}]

    ingested = cli("knowledge", "ingest", "--json")
    assert ingested.exit_code == 0, ingested.output
    records = {r["source"]: r for r in json.loads(ingested.stdout)}
    assert (records["notes"]["stored"], records["blog"]["stored"]) == (2, 2)
    again = json.loads(cli("knowledge", "ingest", "--source", "notes", "--json").stdout)
    assert (again[0]["stored"], again[0]["merged"]) == (0, 2)
    table = cli("knowledge", "ingest")
    assert table.exit_code == 0
    assert "notes" in table.stdout

    found = json.loads(cli("knowledge", "search", "lease heartbeat", "--json").stdout)
    assert found[0]["title"] == "Leases"
    shown = cli("knowledge", "search", "task group cancels")
    assert "Asyncio task groups" in shown.stdout
    assert "no attempt has used" in cli("knowledge", "impact").stdout


def test_errors_are_one_line_and_exit_1(cli, tmp_path: Path) -> None:
    bad = cli("knowledge", "sources", "add", "x", "github", "ftp://nowhere")
    assert bad.exit_code == 1
    assert "url must be http(s)" in bad.output
    assert cli("knowledge", "sources", "remove", "none").exit_code == 1
    assert "key=value" in cli("knowledge", "sources", "add", "y", "arxiv", "--param", "q").output
    assert cli("knowledge", "search", "x", "-k", "0").exit_code == 1
    missing = tmp_path / "nowhere"
    assert cli("knowledge", "sources", "add", "gone", "files", str(missing)).exit_code == 0
    failed = cli("knowledge", "ingest")
    assert failed.exit_code == 1
    assert "no file or directory" in failed.stdout
