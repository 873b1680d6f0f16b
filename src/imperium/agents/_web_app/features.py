"""The generated backend's application module and its feature routers: dashboard and
analytics (aggregates computed by SQL over the stored rows) and the payments ledger."""

from __future__ import annotations

from imperium.agents._web_app.spec import Spec
from imperium.agents._web_app.text import fill, py

MAIN = '''"""The application: create_app(settings) builds it (the schema is created then);
`uvicorn app.main:create_app --factory` serves it."""

from __future__ import annotations
@@path_import@@
from fastapi import FastAPI
@@static_import@@
from app.config import TAGLINE, TITLE, Settings
from app.db import create_schema
from app.routes import @@modules@@


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    create_schema(settings.database)
    app = FastAPI(title=TITLE, description=TAGLINE)
    app.state.settings = settings

    @app.get("/api/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "title": TITLE}

    for module in (@@modules@@,):
        app.include_router(module.router)
@@mount@@    return app
'''

MOUNT = """    frontend = Path(settings.frontend_dir)
    if frontend.is_dir():  # the static frontend, served at / beside the API
        app.mount("/", StaticFiles(directory=frontend, html=True), name="frontend")
"""

DASHBOARD = '''"""/api/dashboard: per entity the number of rows and the newest ones@@doc@@; all
read from the database on each request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.config import TITLE
from app.deps import @@deps@@
from app.models import @@models@@

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])
ENTITIES = {@@entities@@}
LATEST = 5


@router.get("")
def dashboard(db: Db@@user@@) -> dict[str, Any]:
    entities = []
    for name, (table, model) in ENTITIES.items():
        count = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        rows = db.execute(f'SELECT * FROM "{table}" ORDER BY id DESC LIMIT ?', (LATEST,))
        latest = [model(**dict(row)).model_dump() for row in rows]
        entities.append({"name": name, "table": table, "count": count, "latest": latest})
    body: dict[str, Any] = {"title": TITLE, "entities": entities}
@@extra@@    return body
'''

DASHBOARD_USERS = """    body["users"] = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
"""
DASHBOARD_PAYMENTS = """    body["payments"] = [dict(row) for row in db.execute(
        "SELECT currency, COUNT(*) AS count, "
        "SUM(CASE WHEN status = 'recorded' THEN amount_cents ELSE 0 END) AS net_cents "
        "FROM payments GROUP BY currency ORDER BY currency"
    )]
"""

ANALYTICS = '''"""/api/analytics: per entity the row count and, per field, what its type allows:
numbers (count, sum, mean, min, max), text (distinct values, the most common), booleans
(how many true, how many false)@@doc@@. Computed by SQL over the stored rows on each
request; with no rows the aggregates are null (nothing is estimated)."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter

from app.deps import @@deps@@

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
ENTITIES = {@@entities@@}
TOP = 5


def _number(db: sqlite3.Connection, table: str, field: str) -> dict[str, Any]:
    count, total, mean, low, high = db.execute(
        f'SELECT COUNT("{field}"), SUM("{field}"), AVG("{field}"), MIN("{field}"), '
        f'MAX("{field}") FROM "{table}"'
    ).fetchone()
    return {"kind": "number", "count": count, "sum": total, "mean": mean, "min": low, "max": high}


def _text(db: sqlite3.Connection, table: str, field: str) -> dict[str, Any]:
    distinct = db.execute(f'SELECT COUNT(DISTINCT "{field}") FROM "{table}"').fetchone()[0]
    top = db.execute(
        f'SELECT "{field}" AS value, COUNT(*) AS count FROM "{table}" '
        f'GROUP BY "{field}" ORDER BY count DESC, value LIMIT ?',
        (TOP,),
    )
    return {"kind": "text", "distinct": distinct, "top": [dict(row) for row in top]}


def _flag(db: sqlite3.Connection, table: str, field: str) -> dict[str, Any]:
    true, false = db.execute(
        f'SELECT COALESCE(SUM("{field}" = 1), 0), COALESCE(SUM("{field}" = 0), 0) FROM "{table}"'
    ).fetchone()
    return {"kind": "boolean", "true": true, "false": false}


MEASURES = {"str": _text, "int": _number, "float": _number, "bool": _flag}


@router.get("")
def analytics(db: Db@@user@@) -> dict[str, Any]:
    entities = {}
    for name, (table, fields) in ENTITIES.items():
        count = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        measured = {field: MEASURES[kind](db, table, field) for field, kind in fields}
        entities[name] = {"count": count, "fields": measured}
    body: dict[str, Any] = {"entities": entities}
@@extra@@    return body
'''

ANALYTICS_PAYMENTS = """    body["payments"] = [dict(row) for row in db.execute(
        "SELECT currency, COUNT(*) AS count, "
        "SUM(CASE WHEN status = 'recorded' THEN amount_cents ELSE 0 END) AS recorded_cents, "
        "SUM(CASE WHEN status = 'refunded' THEN amount_cents ELSE 0 END) AS refunded_cents, "
        "AVG(amount_cents) AS mean_cents FROM payments GROUP BY currency ORDER BY currency"
    )]
"""

PAYMENTS = '''"""/api/payments: a payments ledger kept in this app's database. Amounts are validated
(positive, at most 1,000,000, two decimals, an ISO 4217 currency code) and stored in
cents; a refund marks one refunded, once. No payment provider is called: nothing is
charged or paid out. Connect a provider before taking real money@@doc@@."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.deps import @@deps@@

router = APIRouter(prefix="/api/payments", tags=["payments"])
OWNER = @@owner@@


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, le=Decimal("1000000"), decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    description: str = Field(default="", max_length=200)


class Payment(BaseModel):
    id: int
    amount: str
    amount_cents: int
    currency: str
    description: str
    status: str


def _scope(user: Any) -> tuple[Any, ...]:
    return () if user is None else (user["id"],)


def _payment(row: sqlite3.Row) -> Payment:
    cents = row["amount_cents"]
    return Payment(
        id=row["id"], amount=f"{cents // 100}.{cents % 100:02d}", amount_cents=cents,
        currency=row["currency"], description=row["description"], status=row["status"],
    )


def _found(db: sqlite3.Connection, payment_id: int, user: Any) -> Payment:
    row = db.execute(
        f"SELECT * FROM payments WHERE id = ? AND {OWNER}", (payment_id, *_scope(user))
    ).fetchone()
    if row is None:
        raise HTTPException(404, f"no payment with id {payment_id}")
    return _payment(row)


@router.post("", status_code=201)
def record_payment(body: PaymentIn, db: Db@@user@@) -> Payment:
    cents = int(body.amount * 100)
    cursor = db.execute(
        "INSERT INTO payments (amount_cents, currency, description, status, user_id, created_at)"
        " VALUES (?, ?, ?, 'recorded', ?, ?)",
        (cents, body.currency, body.description, @@user_id@@, time.time()),
    )
    return _found(db, cursor.lastrowid or 0, @@user_arg@@)


@router.get("")
def list_payments(db: Db@@user@@) -> list[Payment]:
    rows = db.execute(f"SELECT * FROM payments WHERE {OWNER} ORDER BY id", _scope(@@user_arg@@))
    return [_payment(row) for row in rows]


@router.get("/summary")
def summary(db: Db@@user@@) -> dict[str, Any]:
    rows = db.execute(
        "SELECT currency, COUNT(*) AS count, "
        "SUM(CASE WHEN status = 'recorded' THEN amount_cents ELSE 0 END) AS recorded_cents, "
        "SUM(CASE WHEN status = 'refunded' THEN amount_cents ELSE 0 END) AS refunded_cents "
        f"FROM payments WHERE {OWNER} GROUP BY currency ORDER BY currency",
        _scope(@@user_arg@@),
    )
    return {"currencies": [dict(row) for row in rows]}


@router.get("/{payment_id}")
def read_payment(payment_id: int, db: Db@@user@@) -> Payment:
    return _found(db, payment_id, @@user_arg@@)


@router.post("/{payment_id}/refund")
def refund(payment_id: int, db: Db@@user@@) -> Payment:
    if _found(db, payment_id, @@user_arg@@).status == "refunded":
        raise HTTPException(409, f"payment {payment_id} is already refunded")
    db.execute("UPDATE payments SET status = 'refunded' WHERE id = ?", (payment_id,))
    return _found(db, payment_id, @@user_arg@@)
'''


def _auth(spec: Spec) -> dict[str, str]:
    auth = spec.has("auth")
    return {"deps": "CurrentUser, Db" if auth else "Db",
            "user": ", user: CurrentUser" if auth else ""}  # fmt: skip


def router_modules(spec: Spec) -> list[str]:
    modules = [e.table for e in spec.entities]
    return modules + [f for f in ("auth", "dashboard", "analytics", "payments") if spec.has(f)]


def main(spec: Spec) -> str:
    static = spec.framework == "vanilla"
    return fill(
        MAIN, modules=", ".join(router_modules(spec)),
        path_import="\nfrom pathlib import Path\n" if static else "",
        static_import="from fastapi.staticfiles import StaticFiles\n" if static else "",
        mount=MOUNT if static else "",
    )  # fmt: skip


def dashboard(spec: Spec) -> str:
    entities = ", ".join(f"{py(e.name)}: ({py(e.table)}, {e.name})" for e in spec.entities)
    extra = (DASHBOARD_USERS if spec.has("auth") else "") + (
        DASHBOARD_PAYMENTS if spec.has("payments") else "")  # fmt: skip
    doc = ", the users" if spec.has("auth") else ""
    doc += ", the payments per currency" if spec.has("payments") else ""
    return fill(DASHBOARD, entities=entities, models=", ".join(e.name for e in spec.entities),
                extra=extra, doc=doc, **_auth(spec))  # fmt: skip


def analytics(spec: Spec) -> str:
    entities = ", ".join(
        f"{py(e.name)}: ({py(e.table)}, {py(tuple((f.name, f.type) for f in e.fields))})"
        for e in spec.entities
    )
    payments = spec.has("payments")
    return fill(ANALYTICS, entities=entities, extra=ANALYTICS_PAYMENTS if payments else "",
                doc="; and the payments per currency" if payments else "",
                **_auth(spec))  # fmt: skip


def payments(spec: Spec) -> str:
    auth = spec.has("auth")
    return fill(
        PAYMENTS, owner=py("user_id = ?" if auth else "user_id IS NULL"),
        user_id='user["id"]' if auth else "None", user_arg="user" if auth else "None",
        doc="; each signed-in user sees only their own payments" if auth else "",
        **_auth(spec),
    )  # fmt: skip


def feature_routes(spec: Spec) -> dict[str, str]:
    makers = {"dashboard": dashboard, "analytics": analytics, "payments": payments}
    return {f"backend/app/routes/{name}.py": make(spec) for name, make in makers.items()
            if spec.has(name)}  # fmt: skip
