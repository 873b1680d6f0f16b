"""Normalising an answer item's answer by the question's ``format`` before any check looks
at it.

``{"answer": x}`` is unwrapped (except for ``json``); ``text``: a string (a number is
turned into one); ``number``: a number, or a string that is one number (``"429"``,
``"about 4.71"``); ``json``: a JSON value or a string holding one (a Markdown code fence
around it is dropped); ``python``: source code as a string or ``{"code": "..."}`` (a
Markdown code fence is dropped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from imperium.services.custody.graders.show import show
from imperium.services.custody.graders.values import as_number, is_number, type_name

ANSWER = "answer"
"""The task type of answer items."""
FORMATS = ("text", "number", "json", "python")

_FENCE = re.compile(r"```[ \t]*(?:[\w+-]+)?[ \t]*\n(.*?)```", re.DOTALL)


class UnusableAnswerError(Exception):
    """The answer cannot be graded at all (wrong type, invalid JSON): every check fails."""


def _python(answer: Any) -> str:
    code = code_of(answer)
    if code is None:
        raise UnusableAnswerError(
            f"expected Python source as a string or {{'code': ...}}, got {type_name(answer)}"
        )
    return code


def _json(answer: Any) -> Any:
    if isinstance(answer, str):
        try:
            return json.loads(unfenced(answer))
        except ValueError as exc:
            raise UnusableAnswerError(f"the answer is not valid JSON: {exc}") from None
    if answer is None or isinstance(answer, bool | int | float | str | list | dict):
        return answer
    raise UnusableAnswerError(f"expected a JSON value, got {type(answer).__name__}")


def _number(answer: Any) -> int | float:
    number = as_number(answer)
    if number is None:
        raise UnusableAnswerError(f"expected a number, got {show(answer)}")
    return int(number) if number.is_integer() and abs(number) < 2**63 else number


def _text(answer: Any) -> str:
    if isinstance(answer, str):
        return answer
    if is_number(answer):
        return str(answer)
    raise UnusableAnswerError(f"expected a text answer (a string), got {type_name(answer)}")


_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "python": _python,
    "json": _json,
    "number": _number,
    "text": _text,
}


def normalise_answer(answer: Any, answer_format: str) -> Any:
    """The agent's answer in the shape the item's checks expect; UnusableAnswerError (a
    failed grade) when it cannot be that."""
    if isinstance(answer, Mapping) and answer_format != "json" and set(answer) == {"answer"}:
        answer = answer["answer"]
    normalise: Callable[[Any], Any] = _NORMALISERS.get(answer_format, _text)
    return normalise(answer)


def code_of(value: Any) -> str | None:
    """Python source from a string or ``{"code": "..."}``, its Markdown fence dropped;
    None when there is none."""
    if isinstance(value, Mapping) and isinstance(value.get("code"), str):
        value = value["code"]
    if not isinstance(value, str) or not value.strip():
        return None
    return unfenced(value)


def unfenced(text: str) -> str:
    """The inside of the first Markdown code fence in ``text``; ``text`` when none."""
    match = _FENCE.search(text)
    return match.group(1) if match else text
