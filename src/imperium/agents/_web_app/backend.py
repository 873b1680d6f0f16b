"""The generated backend: a FastAPI app over SQLite (stdlib sqlite3), a router per entity
(create, list, read, update, delete) and one per feature (auth, dashboard, analytics,
payments). Each function returns ``{path: content}``."""

from __future__ import annotations

from imperium.agents._web_app.spec import Entity, Spec
from imperium.agents._web_app.text import fill, py
from imperium.agents._web_app.wording import Wording

SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "INTEGER"}
FEATURE_TABLES = {
    "auth": (
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, user_id INTEGER NOT NULL "
        "REFERENCES users(id) ON DELETE CASCADE, expires_at REAL NOT NULL)",
    ),
    "payments": (
        "CREATE TABLE IF NOT EXISTS payments (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "amount_cents INTEGER NOT NULL CHECK (amount_cents > 0), currency TEXT NOT NULL, "
        "description TEXT NOT NULL, status TEXT NOT NULL, user_id INTEGER, "
        "created_at REAL NOT NULL)",
    ),
}

CONFIG = '''"""Settings: TITLE and TAGLINE, and what create_app reads from the environment
(APP_DATABASE, APP_FRONTEND_DIR, APP_PASSWORD_ITERATIONS, APP_TOKEN_TTL_SECONDS)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TITLE = @@title@@
TAGLINE = @@tagline@@
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    database: str = "app.db"
    frontend_dir: str = str(ROOT / "frontend")
    password_iterations: int = 600_000  # PBKDF2-HMAC-SHA256 (OWASP's 2023 figure)
    token_ttl_seconds: int = 12 * 3600

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            database=env("APP_DATABASE", cls.database),
            frontend_dir=env("APP_FRONTEND_DIR", cls.frontend_dir),
            password_iterations=int(env("APP_PASSWORD_ITERATIONS", cls.password_iterations)),
            token_ttl_seconds=int(env("APP_TOKEN_TTL_SECONDS", cls.token_ttl_seconds)),
        )
'''

DB = '''"""SQLite storage: the schema, created at start, and a connection per request."""

from __future__ import annotations

import sqlite3
from contextlib import closing

SCHEMA = (
@@tables@@
)


def connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def create_schema(path: str) -> None:
    with closing(connect(path)) as connection, connection:
        for statement in SCHEMA:
            connection.execute(statement)
'''

DEPS = '''"""What the routes ask for: Db, the request's connection (committed when the route
succeeds, rolled back when it fails)@@deps_doc@@."""

from __future__ import annotations

import sqlite3
@@deps_imports@@
from collections.abc import Iterator
from typing import Annotated@@any@@

from fastapi import Depends@@exc@@, Request
@@deps_fastapi@@
from app.db import connect
@@deps_app@@


def get_db(request: Request) -> Iterator[sqlite3.Connection]:
    connection = connect(request.app.state.settings.database)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


Db = Annotated[sqlite3.Connection, Depends(get_db)]
@@deps_auth@@'''

DEPS_AUTH = """bearer = HTTPBearer(auto_error=False)


def current_user(
    db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> dict[str, Any]:
    if credentials is None:
        raise _unauthorized("sign in first: send Authorization: Bearer <token>")
    digest = token_digest(credentials.credentials)
    row = db.execute(
        "SELECT users.id, users.username FROM tokens JOIN users ON users.id = tokens.user_id "
        "WHERE tokens.digest = ? AND tokens.expires_at > ?",
        (digest, time.time()),
    ).fetchone()
    if row is None:
        raise _unauthorized("the token is unknown or expired: sign in again")
    return {"id": row["id"], "username": row["username"], "token_digest": digest}


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


CurrentUser = Annotated[dict[str, Any], Depends(current_user)]
"""

SECURITY = '''"""Passwords stored as PBKDF2-HMAC-SHA256 with a random 16-byte salt each (the
iterations are kept in the hash, so raising them later still verifies old ones); bearer
tokens are random and stored only as their SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "pbkdf2_sha256"


def hash_password(password: str, iterations: int) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    iterations, _, rest = rest.partition("$")
    salt, _, expected = rest.partition("$")
    if scheme != SCHEME or not iterations.isdigit():
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
'''

AUTH_ROUTES = '''"""/api/auth: register, sign in for a bearer token, who am I, sign out."""

from __future__ import annotations

import sqlite3
import time

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import CurrentUser, Db
from app.security import hash_password, new_token, token_digest, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)


class User(BaseModel):
    id: int
    username: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/register", status_code=201)
def register(body: Credentials, db: Db, request: Request) -> User:
    iterations = request.app.state.settings.password_iterations
    try:
        cursor = db.execute(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
            (body.username, hash_password(body.password, iterations), time.time()),
        )
    except sqlite3.IntegrityError:
        raise HTTPException(409, f"the username {body.username!r} is taken") from None
    return User(id=cursor.lastrowid, username=body.username)


@router.post("/login")
def login(body: Credentials, db: Db, request: Request) -> Token:
    row = db.execute(
        "SELECT id, password_hash FROM users WHERE username = ?", (body.username,)
    ).fetchone()
    if row is None or not verify_password(body.password, row["password_hash"]):
        challenge = {"WWW-Authenticate": "Bearer"}
        raise HTTPException(401, "wrong username or password", headers=challenge)
    token, ttl = new_token(), request.app.state.settings.token_ttl_seconds
    db.execute(
        "INSERT INTO tokens (digest, user_id, expires_at) VALUES (?, ?, ?)",
        (token_digest(token), row["id"], time.time() + ttl),
    )
    return Token(access_token=token, expires_in=ttl)


@router.get("/me")
def me(user: CurrentUser) -> User:
    return User(id=user["id"], username=user["username"])


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, db: Db) -> Response:
    db.execute("DELETE FROM tokens WHERE digest = ?", (user["token_digest"],))
    return Response(status_code=204)
'''

ENTITY_ROUTES = '''"""/api/@@table@@: @@name@@ records: create, list, read, update, delete."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from app.deps import @@deps@@
from app.models import @@name@@, @@name@@Create, @@name@@Update

router = APIRouter(prefix="/api/@@table@@", tags=[@@tag@@])
TABLE = '"@@table@@"'
COLUMNS = @@columns@@


def _found(db: sqlite3.Connection, item_id: int) -> @@name@@:
    row = db.execute(f"SELECT * FROM {TABLE} WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no @@name@@ with id {item_id}")
    return @@name@@(**dict(row))


@router.get("")
def list_@@table@@(
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[@@name@@]:
    rows = db.execute(f"SELECT * FROM {TABLE} ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    return [@@name@@(**dict(row)) for row in rows]


@router.post("", status_code=201)
def create_@@snake@@(body: @@name@@Create, db: Db@@user@@) -> @@name@@:
    values = body.model_dump()
    names = ", ".join(f'"{column}"' for column in COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    cursor = db.execute(
        f"INSERT INTO {TABLE} ({names}) VALUES ({marks})", [values[c] for c in COLUMNS]
    )
    return @@name@@(id=cursor.lastrowid, **values)


@router.get("/{item_id}")
def read_@@snake@@(item_id: int, db: Db) -> @@name@@:
    return _found(db, item_id)


@router.patch("/{item_id}")
def update_@@snake@@(item_id: int, body: @@name@@Update, db: Db@@user@@) -> @@name@@:
    _found(db, item_id)
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in changes.items() if value is None)
    if nulls:
        raise HTTPException(422, f"{', '.join(nulls)} cannot be null")
    if changes:  # the names are the model's fields, never the client's text
        assignments = ", ".join(f'"{name}" = ?' for name in changes)
        db.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = ?", [*changes.values(), item_id])
    return _found(db, item_id)


@router.delete("/{item_id}", status_code=204)
def delete_@@snake@@(item_id: int, db: Db@@user@@) -> Response:
    _found(db, item_id)
    db.execute(f"DELETE FROM {TABLE} WHERE id = ?", (item_id,))
    return Response(status_code=204)
'''

MODEL_TYPES = {
    "str": ("str", "min_length=1, max_length=500"),
    "int": ("int", "ge=-(2**63), le=2**63 - 1"),
    "float": ("float", "allow_inf_nan=False"),
    "bool": ("bool", ""),
}


def _model_fields(entity: Entity, optional: bool) -> str:
    lines = []
    for field in entity.fields:
        kind, rules = MODEL_TYPES[field.type]
        if optional:
            args = ", ".join(a for a in ("default=None", rules) if a)
            lines.append(f"    {field.name}: {kind} | None = Field({args})")
        else:
            lines.append(f"    {field.name}: {kind}" + (f" = Field({rules})" if rules else ""))
    return "\n".join(lines)


def models(spec: Spec) -> str:
    head = ('"""Request and response models, one set per entity: <Name>Create (every field),\n'
            '<Name>Update (any of them) and <Name> (stored, with its id)."""\n\nfrom __future__ '
            "import annotations\n\nfrom pydantic import BaseModel, ConfigDict, Field\n"
            )  # fmt: skip
    blocks = [head]
    for e in spec.entities:
        blocks.append(
            f'\nclass {e.name}Create(BaseModel):\n    model_config = ConfigDict(extra="forbid")\n\n'
            f"{_model_fields(e, False)}\n\n\nclass {e.name}Update(BaseModel):\n"
            f'    model_config = ConfigDict(extra="forbid")\n\n{_model_fields(e, True)}\n\n\n'
            f'class {e.name}({e.name}Create):\n    model_config = ConfigDict(extra="ignore")\n\n'
            "    id: int\n"
        )
    return "\n".join(blocks)


def _entity_table(entity: Entity) -> str:
    columns = ", ".join(f'"{f.name}" {SQL_TYPES[f.type]} NOT NULL' for f in entity.fields)
    key = "id INTEGER PRIMARY KEY AUTOINCREMENT"
    return f'CREATE TABLE IF NOT EXISTS "{entity.table}" ({key}, {columns})'


def database(spec: Spec) -> str:
    statements = [_entity_table(e) for e in spec.entities]
    for feature, tables in FEATURE_TABLES.items():
        statements += list(tables) if spec.has(feature) else []
    return fill(DB, tables="\n".join(f"    {py(s)}," for s in statements))


def deps(spec: Spec) -> str:
    auth = spec.has("auth")
    return fill(
        DEPS,
        deps_doc=", and CurrentUser, the signed-in user (401 without a valid token)"
        if auth
        else "",
        deps_imports="import time" if auth else "",
        deps_fastapi="from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer\n"
        if auth
        else "",
        deps_app="from app.security import token_digest\n" if auth else "",
        deps_auth=f"\n\n{DEPS_AUTH}" if auth else "",
        any=", Any" if auth else "",
        exc=", HTTPException" if auth else "",
    ).replace("import sqlite3\n\nfrom collections", "import sqlite3\nfrom collections")


def entity_routes(spec: Spec, entity: Entity) -> str:
    auth = spec.has("auth")
    return fill(
        ENTITY_ROUTES, table=entity.table, name=entity.name, snake=entity.snake,
        tag=py(entity.name), columns=py(tuple(f.name for f in entity.fields)),
        deps="CurrentUser, Db" if auth else "Db", user=", user: CurrentUser" if auth else "",
    )  # fmt: skip


def backend_files(spec: Spec, wording: Wording) -> dict[str, str]:
    from imperium.agents._web_app import features

    files = {
        "backend/app/__init__.py": f'"""{spec.slug}: the backend (FastAPI over SQLite)."""\n',
        "backend/app/routes/__init__.py": '"""One router per entity and per feature."""\n',
        "backend/app/config.py": fill(CONFIG, title=py(wording.title), tagline=py(wording.tagline)),
        "backend/app/db.py": database(spec),
        "backend/app/deps.py": deps(spec),
        "backend/app/main.py": features.main(spec),
        "backend/requirements.txt": "fastapi>=0.110\nuvicorn>=0.29\nhttpx>=0.27\npytest>=8\n",
    }
    if spec.entities:
        files["backend/app/models.py"] = models(spec)
    for entity in spec.entities:
        files[f"backend/app/routes/{entity.table}.py"] = entity_routes(spec, entity)
    if spec.has("auth"):
        files["backend/app/security.py"] = SECURITY
        files["backend/app/routes/auth.py"] = AUTH_ROUTES
    files.update(features.feature_routes(spec))
    return files
