"""JSON Schema (Draft 2020-12) for ``json_schema`` checks, through ``jsonschema`` (the
``custody`` extra), imported only when a check needs it. Without it the bank still loads
(its schemas unchecked) and grading a ``json_schema`` check fails it, naming the extra to
install (MissingExtraError's message)."""

from __future__ import annotations

from typing import Any

from imperium.extras import is_installed, require

PURPOSE = "a json_schema check"


def _validator_class() -> Any:
    return require("jsonschema", PURPOSE).Draft202012Validator


def schema_error(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON schema; None when it is one, or when jsonschema is
    not installed to tell (grading the check then fails, naming the extra)."""
    if not is_installed("jsonschema"):
        return None
    validator = _validator_class()
    exceptions = require("jsonschema.exceptions", PURPOSE)
    try:
        validator.check_schema(schema)
    except exceptions.SchemaError as exc:
        return str(exc.message)
    return None


def validation_errors(schema: Any, value: Any) -> list[str]:
    """What makes ``value`` invalid against ``schema``, in path order (none: valid)."""
    errors = _validator_class()(schema).iter_errors(value)
    return [_describe(e) for e in sorted(errors, key=lambda e: list(e.absolute_path))]


def _describe(error: Any) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the value"
    return f"{where}: {error.message}"
