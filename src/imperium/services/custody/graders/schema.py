"""JSON Schema (Draft 2020-12) for ``json_schema`` checks, through ``jsonschema``, imported
only when a check needs it."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = "pip install 'imperium[custody]'"


def _validator_class() -> Any:
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:
        raise ImportError(
            f"json_schema checks need the jsonschema package, which is not installed: "
            f"{INSTALL_HINT}"
        ) from exc
    return Draft202012Validator


def schema_error(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON schema; None when it is one."""
    validator = _validator_class()
    from jsonschema.exceptions import SchemaError  # installed: _validator_class said so

    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


def validation_errors(schema: Any, value: Any) -> list[str]:
    """What makes ``value`` invalid against ``schema``, in path order (none: valid)."""
    errors = _validator_class()(schema).iter_errors(value)
    return [_describe(e) for e in sorted(errors, key=lambda e: list(e.absolute_path))]


def _describe(error: Any) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the value"
    return f"{where}: {error.message}"
