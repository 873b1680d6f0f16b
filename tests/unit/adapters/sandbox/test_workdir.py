"""Reading results back from the work directory, which the sandboxed code controlled."""

from __future__ import annotations

import os
from pathlib import Path

from imperium.adapters.sandbox.workdir import collect_files


def test_collected_files_are_never_read_through_a_link_nor_block(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("only the server may read this")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "report.xml").write_text("<testsuite/>")
    (workdir / "linked.xml").symlink_to(secret)
    (workdir / "dir").symlink_to(tmp_path)
    os.mkfifo(workdir / "fifo.xml")  # opening a FIFO to read would wait for a writer
    names = ["report.xml", "linked.xml", "dir/secret", "fifo.xml", "missing.xml"]
    assert collect_files(workdir, names) == {"report.xml": "<testsuite/>"}
