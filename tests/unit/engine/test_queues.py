"""ReadyQueues: one heap per queue key, highest key first, FIFO among equal keys, lazy
removal and re-keying."""

from __future__ import annotations

from imperium.domain.models import Task
from imperium.services.engine.queues import QueueKey, ReadyQueues, queue_key

JOB: QueueKey = (None, frozenset({"job"}), None)


def task(task_id: str, **fields: object) -> Task:
    return Task(id=task_id, type=str(fields.pop("type", "job")), created_at=0.0, **fields)  # type: ignore[arg-type]


def drain(queues: ReadyQueues, key: QueueKey = JOB) -> list[str]:
    popped = []
    while (found := queues.pop(key)) is not None:
        popped.append(found.id)
    return popped


def test_the_highest_key_comes_first_and_equal_keys_in_push_order() -> None:
    queues = ReadyQueues()
    for task_id, key in [("a", 1.0), ("b", 5.0), ("c", 1.0), ("d", 5.0), ("e", 3.0), ("f", 1.0)]:
        queues.push(task(task_id), key)
    assert len(queues) == 6
    assert drain(queues) == ["b", "d", "e", "a", "c", "f"]
    assert len(queues) == 0


def test_queue_keys_separate_capabilities_and_pinned_agents() -> None:
    summarize = task("s", type="summarize")
    both = task("t", type="x", capabilities=frozenset({"a", "b"}))
    pinned = task("p", capabilities=frozenset({"a", "b"}), pinned_agent="agent-7")
    assert queue_key(summarize) == (None, frozenset({"summarize"}), None)
    assert queue_key(both) == (None, frozenset({"a", "b"}), None)
    assert queue_key(pinned) == ("agent-7", frozenset(), None)

    queues = ReadyQueues()
    for t in (summarize, both, pinned):
        queues.push(t, 1.0)
    assert set(queues.keys()) == {queue_key(summarize), queue_key(both), queue_key(pinned)}
    assert drain(queues, queue_key(both)) == ["t"]
    assert set(queues.keys()) == {queue_key(summarize), queue_key(pinned)}  # only live ones


def test_removal_is_lazy_and_peek_skips_removed_entries() -> None:
    queues = ReadyQueues()
    for task_id, key in [("a", 9.0), ("b", 8.0), ("c", 7.0)]:
        queues.push(task(task_id), key)
    assert queues.remove("a") is True
    assert queues.remove("a") is False
    assert "a" not in queues
    assert len(queues) == 2

    top = queues.peek(JOB)
    assert top is not None
    assert (top[0][0], top[1].id) == (8.0, "b")  # rank = (ordering key, -push order)
    assert queues.peek(JOB) == top  # peeking does not consume

    queues.remove("b")
    queues.remove("c")
    assert queues.peek(JOB) is None
    assert list(queues.keys()) == []
    assert queues.peek((None, frozenset({"unknown"}))) is None


def test_pushing_again_rekeys_the_task() -> None:
    queues = ReadyQueues()
    a, b = task("a"), task("b")
    queues.push(a, 1.0)
    queues.push(b, 2.0)
    queues.push(a, 3.0)  # re-key: the old entry dies
    assert len(queues) == 2
    assert [t.id for t in queues.tasks()] == ["b", "a"]
    assert drain(queues) == ["a", "b"]


def test_a_rekeyed_task_goes_behind_its_equals() -> None:
    queues = ReadyQueues()
    a, b = task("a"), task("b")
    queues.push(a, 1.0)
    queues.push(b, 1.0)
    queues.push(a, 1.0)
    assert drain(queues) == ["b", "a"]


def test_gated_task_types_queue_apart_and_regating_keeps_the_order() -> None:
    gated = task("g", type="deploy", capabilities=frozenset({"job"}))
    assert queue_key(gated, {"deploy"}) == (None, frozenset({"job"}), "deploy")
    assert queue_key(gated) == JOB  # not gated: with the other tasks needing "job"
    pinned = task("p", type="deploy", pinned_agent="a")
    assert queue_key(pinned, {"deploy"}) == ("a", frozenset(), None)  # the agent's anyway

    queues = ReadyQueues()
    for task_id, kind, key in [("a", "job", 1.0), ("b", "deploy", 5.0), ("c", "job", 5.0),
                               ("d", "deploy", 1.0)]:  # fmt: skip
        queues.push(task(task_id, type=kind, capabilities=frozenset({"job"})), key)
    queues.regate({"deploy"})
    deploy: QueueKey = (None, frozenset({"job"}), "deploy")
    assert set(queues.keys()) == {JOB, deploy}
    assert queues.remove("d") is True  # removal finds the task in its new queue
    assert drain(queues, deploy) == ["b"]
    assert drain(queues) == ["c", "a"]
    queues.push(task("e", type="deploy", capabilities=frozenset({"job"})), 1.0)
    assert set(queues.keys()) == {deploy}  # new pushes follow the gating
