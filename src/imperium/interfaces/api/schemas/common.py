"""What the bodies of several seed resources share: the strict base, the seed's priority
(L20, swarm and orchestrate take the same), and the cap on tasks per request."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt, StrictStr

from imperium.domain.errors import ValidationError
from imperium.interfaces.api.limits import MAX_TASKS_PER_REQUEST
from imperium.services.planning.priority import parse_priority

MAX_TASKS = MAX_TASKS_PER_REQUEST


class Strict(BaseModel):
    """A request body: unknown fields are refused (a typo is a 422, not ignored)."""

    model_config = ConfigDict(extra="forbid")


def _known_priority(value: object) -> object:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(
            f"priority must be a level name or a number 1 (critical) to 5 (background), "
            f"not {value!r}"
        )
    try:
        parse_priority(value)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None
    return value


PriorityIn = Annotated[StrictStr | StrictInt, BeforeValidator(_known_priority)]
"""A level name (critical, high, normal or medium, low, background) or 1..5 (1 = critical)."""
