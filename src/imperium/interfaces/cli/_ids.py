"""A task named on the command line by its id or by a unique start of it, as git takes a
commit: ``imperium tasks show 0193a2f4c1``.

Ids are time-ordered (their first 12 hex digits are the creation time in milliseconds),
so tasks created close together share a long start: the candidates listed when a prefix
is ambiguous say which to tell apart. The lookup is a range over the primary key (the
listing's ``id_prefix``), a handful of rows whatever the table holds."""

from __future__ import annotations

from imperium.domain.errors import NotFoundError, ValidationError
from imperium.domain.models import Task
from imperium.interfaces.cli._common import short_time
from imperium.ports import QueryStore, TaskFilter

MIN_PREFIX = 6
CANDIDATES = 5  # listed when a prefix is ambiguous


class AmbiguousIdError(ValidationError):
    """A prefix starts more than one task's id."""


async def resolve_task_id(store: QueryStore, text: str) -> str:
    """The id of the task ``text`` names: its whole id, or the only id starting with it.

    :class:`NotFoundError` when none does (or ``text`` is shorter than
    :data:`MIN_PREFIX` and no whole id), :class:`AmbiguousIdError` when several do."""
    text = text.strip()
    if await store.get_task(text) is not None:
        return text
    if len(text) < MIN_PREFIX:
        raise NotFoundError(
            f"no task with id {text}; give the whole id or at least {MIN_PREFIX} of its "
            "first characters (`imperium tasks list` shows them)"
        )
    found = await store.list_tasks(TaskFilter(id_prefix=text, limit=CANDIDATES + 1))
    matches = [task for task in found if task.id.startswith(text)]
    if not matches:
        raise NotFoundError(
            f"no task with id {text}, nor one whose id starts with it "
            "(`imperium tasks list` shows them)"
        )
    if len(matches) > 1:
        raise AmbiguousIdError(_ambiguous(text, matches))
    return matches[0].id


def _ambiguous(prefix: str, matches: list[Task]) -> str:
    more = " and more" if len(matches) > CANDIDATES else ""
    listed = "\n".join(
        f"  {t.id}  {t.type}  {t.state}  {short_time(t.created_at)}" for t in matches[:CANDIDATES]
    )
    return (
        f"{prefix!r} starts several task ids ({len(matches[:CANDIDATES])}{more}, newest "
        f"first); give more characters:\n{listed}"
    )
