"""The checks of a bank item: one pydantic model per kind, told apart by ``kind``.

Every check has a ``path`` (default ``$``, see :mod:`.paths`) and an optional ``note``;
unknown keys are refused. What each kind holds is in the package's docstring.
:func:`parse_check` turns a check as the bank file writes it into its model, or raises
ValueError saying what is wrong in the bank's words (``check #2 (regex) lacks pattern``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from imperium.services.custody.graders.check_errors import explain
from imperium.services.custody.graders.paths import PathError, parse_path
from imperium.services.custody.graders.schema import schema_error
from imperium.services.custody.graders.values import is_number

KINDS = (
    "exact",
    "contains",
    "regex",
    "numeric",
    "json_schema",
    "unit_tests",
    "catches_bug",
    "not",
)
CODE_KINDS = ("unit_tests", "catches_bug")
"""Kinds that run the answer's code (or tests) in the Sandbox."""
NUMERIC_KEYS = ("expected", "abs_tol", "rel_tol", "min", "max")
REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def _valid_path(path: Any) -> str:
    try:
        parse_path(path)
    except PathError as exc:
        raise ValueError(str(exc)) from None
    return str(path)


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "$"
    note: str | None = None

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, path: Any) -> str:
        return _valid_path(path)

    @property
    def path_given(self) -> bool:
        """The file set ``path`` (rather than the default ``$``)."""
        return "path" in self.model_fields_set


class _Compared(_Check):
    expected: Any
    case_sensitive: bool = False

    @field_validator("case_sensitive", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("case_sensitive must be true or false")
        return value


class ExactCheck(_Compared):
    """``expected`` equals the value."""

    kind: Literal["exact"]


class ContainsCheck(_Compared):
    """``expected`` is an element, a substring or a key of the value."""

    kind: Literal["contains"]


class RegexCheck(_Check):
    """``pattern`` is found in the text (in any element of a list)."""

    kind: Literal["regex"]
    pattern: str
    flags: str = ""

    @field_validator("pattern", mode="before")
    @classmethod
    def _compiles(cls, pattern: Any) -> str:
        if not isinstance(pattern, str):
            raise ValueError("pattern must be a string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"the pattern does not compile: {exc}") from None
        return pattern

    @field_validator("flags", mode="before")
    @classmethod
    def _known_flags(cls, flags: Any) -> str:
        if not isinstance(flags, str) or set(flags) - set(REGEX_FLAGS):
            raise ValueError(f"flags must be a string of {''.join(REGEX_FLAGS)}")
        return flags

    def compiled(self) -> re.Pattern[str]:
        flags = 0
        for letter in self.flags:
            flags |= REGEX_FLAGS[letter]
        return re.compile(self.pattern, flags)


class NumericCheck(_Check):
    """The number equals ``expected`` within a tolerance and/or lies in ``min`` .. ``max``."""

    kind: Literal["numeric"]
    expected: int | float | None = None
    abs_tol: int | float | None = None
    rel_tol: int | float | None = None
    min: int | float | None = None
    max: int | float | None = None

    @field_validator(*NUMERIC_KEYS, mode="before")
    @classmethod
    def _finite(cls, value: Any, info: ValidationInfo) -> Any:
        if not is_number(value):
            raise ValueError(f"{info.field_name} must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NumericCheck:
        if self.expected is None and self.min is None and self.max is None:
            raise ValueError("numeric needs expected, min or max")
        for key, tolerance in (("abs_tol", self.abs_tol), ("rel_tol", self.rel_tol)):
            if tolerance is not None and tolerance < 0:
                raise ValueError(f"{key} must not be negative")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self

    def given(self) -> dict[str, int | float]:
        """The numbers the file gave, by key, in :data:`NUMERIC_KEYS` order."""
        return {k: v for k in NUMERIC_KEYS if (v := getattr(self, k)) is not None}


class JsonSchemaCheck(_Check):
    """The value is valid against ``schema``; each path of ``fields`` holds its value."""

    kind: Literal["json_schema"]
    json_schema: Any = Field(alias="schema")
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: Any) -> Any:
        problem = schema_error(schema)
        if problem is not None:
            raise ValueError(f"invalid JSON schema: {problem}")
        return schema

    @field_validator("fields", mode="before")
    @classmethod
    def _paths(cls, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, Mapping):
            raise ValueError("fields must be an object of path: value")
        for path in fields:
            try:
                parse_path(path)
            except PathError as exc:
                raise ValueError(f"fields: {exc}") from None
        return dict(fields)


class UnitTestsCheck(_Check):
    """The answer's code passes ``tests`` (pytest source importing from ``solution``)."""

    kind: Literal["unit_tests"]
    tests: str

    @field_validator("tests", mode="before")
    @classmethod
    def _pytest_source(cls, tests: Any) -> str:
        if not isinstance(tests, str) or "def test" not in tests:
            raise ValueError("tests must be pytest source with test functions")
        return tests


_SOURCES = "buggy (one or a list) and correct must be Python source"


def _source(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


class CatchesBugCheck(_Check):
    """The answer's tests pass on ``correct`` and fail on every ``buggy`` version."""

    kind: Literal["catches_bug"]
    buggy: tuple[str, ...]
    correct: str

    @field_validator("buggy", mode="before")
    @classmethod
    def _versions(cls, buggy: Any) -> tuple[str, ...]:
        versions = [buggy] if isinstance(buggy, str) else buggy
        if not isinstance(versions, list) or not versions or not all(map(_source, versions)):
            raise ValueError(_SOURCES)
        return tuple(versions)

    @field_validator("correct", mode="before")
    @classmethod
    def _correct(cls, correct: Any) -> str:
        if not _source(correct):
            raise ValueError(_SOURCES)
        return str(correct)


class NotCheck(_Check):
    """``check`` must fail (and be evaluable)."""

    kind: Literal["not"]
    check: Check

    @field_validator("check", mode="before")
    @classmethod
    def _not_code(cls, inner: Any) -> Any:
        if isinstance(inner, Mapping) and inner.get("kind") in CODE_KINDS:
            raise ValueError(f"'not' cannot wrap a {inner['kind']} check")
        return inner


Check = Annotated[
    ExactCheck
    | ContainsCheck
    | RegexCheck
    | NumericCheck
    | JsonSchemaCheck
    | UnitTestsCheck
    | CatchesBugCheck
    | NotCheck,
    Field(discriminator="kind"),
]
"""Any check, chosen by its ``kind``."""

NotCheck.model_rebuild()
_CHECK: TypeAdapter[Check] = TypeAdapter(Check)


def parse_check(raw: Any, *, where: str = "check") -> Check:
    """The check ``raw`` describes; ValueError saying what is wrong with it, if anything."""
    try:
        return _CHECK.validate_python(raw)
    except PydanticValidationError as exc:
        raise ValueError(explain(exc.errors(), where, KINDS)) from None


def iter_checks(checks: Iterable[Check]) -> Iterator[Check]:
    """Every check, the ones wrapped by ``not`` included."""
    for check in checks:
        yield check
        if isinstance(check, NotCheck):
            yield from iter_checks([check.check])
