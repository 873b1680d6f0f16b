"""What a project is generated from: the payload's requirements read into a :class:`Spec`,
or a :class:`RequirementsError` saying what to change."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

FEATURES = ("crud", "auth", "dashboard", "analytics", "payments")
FEATURE_ALIASES = {"user_auth": "auth", "login": "auth", "authentication": "auth",
                   "payment": "payments", "admin_dashboard": "dashboard"}  # fmt: skip
FRAMEWORKS = ("vanilla", "react")
APP_TYPES = ("web", "app", "api")
FIELD_TYPES = ("str", "int", "float", "bool")
FIELD_ALIASES = {"string": "str", "text": "str", "integer": "int", "number": "float",
                 "decimal": "float", "boolean": "bool"}  # fmt: skip
MAX_ENTITIES = 8
MAX_FIELDS = 16
MAX_NAME = 40
# Tables and routes the features own, and names a pydantic model cannot use as fields.
RESERVED_ENTITIES = {"user", "token", "payment", "auth", "dashboard", "analytics", "health"}
RESERVED_FIELDS = {"id", "json", "dict", "copy", "schema", "construct", "validate", "fields"}
DEFAULT_ENTITY: dict[str, Any] = {
    "name": "Item", "fields": {"name": "str", "quantity": "int", "price": "float"}}  # fmt: skip
_ENTITY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_UNSAFE_TEXT = re.compile(r"[<>`{}\x00-\x1f\x7f]")


class RequirementsError(ValueError):
    """The requirements cannot be generated from; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # one of FIELD_TYPES


@dataclass(frozen=True, slots=True)
class Entity:
    name: str  # PascalCase as given: the model's class name
    snake: str  # product_line: module and test names
    table: str  # product_lines: table and route (/api/product_lines)
    fields: tuple[Field, ...]

    @property
    def numeric(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.type in ("int", "float"))


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    slug: str
    app_type: str
    framework: str | None  # None for an API without a frontend
    features: tuple[str, ...]  # in FEATURES order
    entities: tuple[Entity, ...]

    def has(self, feature: str) -> bool:
        return feature in self.features


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def plural(word: str) -> str:
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def safe_text(value: Any, what: str, limit: int) -> str:
    """``value`` as a one-line text of at most ``limit`` characters with no markup
    characters (< > ` { }) nor control characters; RequirementsError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise RequirementsError(f"{what} must be a non-empty string")
    text = " ".join(value.split())
    if len(text) > limit:
        raise RequirementsError(f"{what} is {len(text)} characters; at most {limit}")
    if _UNSAFE_TEXT.search(text):
        raise RequirementsError(f"{what} may not hold < > ` {{ }} or control characters")
    return text


def read_spec(payload: Any) -> Spec:
    """The payload (``app_type``, ``framework``, ``name``, ``requirements``) as a Spec."""
    if not isinstance(payload, dict) or not isinstance(payload.get("requirements"), dict):
        raise RequirementsError(
            'the payload needs "requirements": an object with "features" (among '
            f'{", ".join(FEATURES)}) and "entities" ([{{"name": "Product", "fields": '
            '{"name": "str", "price": "float"}}])'
        )
    wanted: dict[str, Any] = payload["requirements"]
    app_type = payload.get("app_type", "web")
    if app_type not in APP_TYPES:
        raise RequirementsError(f"app_type must be one of {', '.join(APP_TYPES)}, not {app_type!r}")
    name = safe_text(payload.get("name", wanted.get("name", "Generated App")), "name", MAX_NAME)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"
    features = _features(wanted)
    entities = _entities(wanted.get("entities"), features)
    if entities and "crud" not in features:
        features = ("crud", *features)
    return Spec(name, slug, app_type, _framework(payload, wanted, app_type), features, entities)


def _framework(payload: dict[str, Any], wanted: dict[str, Any], app_type: str) -> str | None:
    given = payload.get("framework", wanted.get("framework"))
    if given is None:
        return None if app_type == "api" else "vanilla"
    framework = given.strip().lower() if isinstance(given, str) else given
    aliases = {"react.js": "react", "reactjs": "react", "html": "vanilla", "plain": "vanilla"}
    framework = aliases.get(framework, framework)
    if framework not in FRAMEWORKS:
        raise RequirementsError(
            f"framework {given!r} is not one this builder generates; known: {', '.join(FRAMEWORKS)}"
        )
    return None if app_type == "api" else framework


def _features(wanted: dict[str, Any]) -> tuple[str, ...]:
    given = wanted.get("features", ["crud"])
    if not isinstance(given, list) or not all(isinstance(f, str) for f in given):
        raise RequirementsError(f"features must be a list of names among {', '.join(FEATURES)}")
    chosen = {FEATURE_ALIASES.get(f.strip().lower(), f.strip().lower()) for f in given}
    if wanted.get("requires_payments") is True:
        chosen.add("payments")
    unknown = sorted(chosen - set(FEATURES))
    if unknown:
        raise RequirementsError(
            f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)} "
            f"(also accepted: {', '.join(sorted(FEATURE_ALIASES))})"
        )
    return tuple(f for f in FEATURES if f in chosen)


def _entities(given: Any, features: tuple[str, ...]) -> tuple[Entity, ...]:
    if given is None or given == []:
        needs_rows = {"crud", "dashboard", "analytics"} & set(features)
        given = [DEFAULT_ENTITY] if needs_rows else []
    if not isinstance(given, list) or len(given) > MAX_ENTITIES:
        raise RequirementsError(f"entities must be a list of at most {MAX_ENTITIES} objects")
    entities = tuple(_entity(item, n) for n, item in enumerate(given, 1))
    tables = [e.table for e in entities]
    twice = sorted({t for t in tables if tables.count(t) > 1})
    if twice:
        raise RequirementsError(f"two entities map to the same table: {', '.join(twice)}")
    return entities


def _entity(item: Any, n: int) -> Entity:
    if not isinstance(item, dict) or not isinstance(item.get("fields"), dict):
        raise RequirementsError(
            f'entity {n} must be {{"name": "Product", "fields": {{"name": "str", ...}}}}'
        )
    name = item.get("name")
    if not isinstance(name, str) or not _ENTITY_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise RequirementsError(
            f"entity {n}'s name {name!r} must be an identifier of letters and digits starting "
            f"with a letter (at most {MAX_NAME} characters), e.g. Product or OrderLine"
        )
    name = name[0].upper() + name[1:]
    snake = snake_case(name)
    if snake in RESERVED_ENTITIES:
        raise RequirementsError(
            f"entity name {name!r} is reserved (the generated features use "
            f"{', '.join(sorted(RESERVED_ENTITIES))}); choose another"
        )
    fields = item["fields"]
    if not fields or len(fields) > MAX_FIELDS:
        raise RequirementsError(f"entity {name} needs 1 to {MAX_FIELDS} fields")
    return Entity(name, snake, plural(snake), tuple(_field(name, k, v) for k, v in fields.items()))


def _field(entity: str, name: str, kind: Any) -> Field:
    if not _FIELD_NAME.fullmatch(name) or keyword.iskeyword(name) or len(name) > MAX_NAME:
        raise RequirementsError(
            f"{entity}.{name}: a field name must be a lower-case identifier (letters, digits, "
            f"underscores, starting with a letter; at most {MAX_NAME} characters), not a "
            "Python keyword"
        )
    if name in RESERVED_FIELDS or name.startswith("model_"):
        raise RequirementsError(
            f"{entity}.{name}: the field name is reserved (id is generated; "
            f"{', '.join(sorted(RESERVED_FIELDS - {'id'}))} and model_* clash with pydantic)"
        )
    kind = FIELD_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in FIELD_TYPES:
        raise RequirementsError(
            f"{entity}.{name}: type {kind!r} is not supported; use one of {', '.join(FIELD_TYPES)}"
        )
    return Field(name, kind)
