"""Commands that take a task id take a unique start of it too (6 characters or more); an
ambiguous one lists candidates, an unknown one says so. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from imperium.interfaces.cli._ids import CANDIDATES


def submitted(cli, task_type: str = "nobody-takes-this") -> str:
    task_id: str = json.loads(cli("submit", task_type, "--json").stdout)["id"]
    return task_id


def shared_start(ids: list[str]) -> str:
    """The longest start every id shares."""
    length = 0
    while all(len(i) > length and i[length] == ids[0][length] for i in ids):
        length += 1
    return ids[0][:length]


def unique_prefix(task_id: str, others: list[str]) -> str:
    shared = max(len(shared_start([task_id, other])) for other in others)
    return task_id[: max(shared + 1, 6)]


@pytest.mark.parametrize("command", [("tasks", "show"), ("tasks", "cancel")])
def test_a_unique_prefix_names_the_task(cli, command: tuple[str, ...]) -> None:
    ids = [submitted(cli) for _ in range(3)]
    prefix = unique_prefix(ids[1], [ids[0], ids[2]])
    shown = cli(*command, prefix)
    assert shown.exit_code == 0, shown.output
    assert ids[1] in shown.stdout
    assert ids[0] not in shown.stdout
    assert ids[2] not in shown.stdout


def test_cancel_and_retry_act_on_the_task_a_prefix_names(cli) -> None:
    task_id = submitted(cli)
    prefix = task_id[:-3]
    assert cli("tasks", "cancel", prefix).exit_code == 0
    shown = json.loads(cli("tasks", "show", prefix, "--json").stdout)
    assert shown["id"] == task_id
    assert shown["cancel_requested"]
    refused = cli("tasks", "retry", prefix)  # not ended: not retriable, but found
    assert refused.exit_code == 1
    assert f"task {task_id} is submitted" in " ".join(refused.output.split())


def test_an_ambiguous_prefix_lists_some_candidates(cli) -> None:
    ids = [submitted(cli) for _ in range(CANDIDATES + 2)]
    shared = shared_start(ids)
    assert len(shared) >= 6  # time-ordered ids: made within the same few hours
    answer = cli("tasks", "show", shared)
    assert answer.exit_code == 1
    text = answer.output
    assert "starts several task ids" in text
    assert f"{CANDIDATES} and more" in text
    listed = sorted((text.index(task_id), task_id) for task_id in ids if task_id in text)
    assert [task_id for _, task_id in listed] == ids[::-1][:CANDIDATES]  # the newest first
    assert "nobody-takes-this" in text


def test_two_candidates_are_both_listed(cli) -> None:
    ids = [submitted(cli) for _ in range(2)]
    answer = cli("tasks", "watch", shared_start(ids))
    assert answer.exit_code == 1
    assert all(task_id in answer.output for task_id in ids)
    assert "(2, newest first)" in answer.output


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ffffff", "no task with id ffffff, nor one whose id starts with it"),  # far ahead
        ("0193a", "at least 6 of its first characters"),  # too short to look for
        ("f" * 32, "nor one whose id starts with it"),
    ],
)
def test_no_match_says_so(cli, text: str, says: str) -> None:
    submitted(cli)
    for command in (("tasks", "show"), ("tasks", "cancel"), ("tasks", "retry")):
        answer = cli(*command, text)
        assert answer.exit_code == 1
        assert says in " ".join(answer.output.split()), answer.output
