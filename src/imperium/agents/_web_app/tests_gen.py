"""The generated project's own tests (pytest, fastapi.testclient): every endpoint of
every entity and feature, each test on a fresh SQLite database."""

from __future__ import annotations

from typing import Any

from imperium.agents._web_app.spec import Entity, Spec
from imperium.agents._web_app.text import fill, py

CONFTEST = '''"""Fixtures: settings for a fresh SQLite database per test, a client on them, and the
headers the writes send@@doc@@."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # few PBKDF2 iterations: these tests check the flow, not the cost of a hash
    return Settings(database=str(tmp_path / "test.db"), password_iterations=1_000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def headers(client: TestClient) -> dict[str, str]:
@@headers@@'''

HEADERS_AUTH = """    return sign_in(client, "tester")


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    user = {"username": username, "password": "a long enough password"}
    assert client.post("/api/auth/register", json=user).status_code == 201
    token = client.post("/api/auth/login", json=user).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}
"""
HEADERS_OPEN = """    return {}  # no auth feature: the API is open
"""

HEALTH = '''"""/api/health@@doc@@."""

from __future__ import annotations
@@html@@
from fastapi.testclient import TestClient

from app.config import TITLE


def test_health_names_the_app(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "title": TITLE}
@@frontend@@'''

FRONTEND = """

def test_the_frontend_is_served_at_the_root(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"<title>{html.escape(TITLE)}</title>" in page.text
    assert client.get("/app.js").status_code == 200
"""

ENTITY = '''"""/api/@@table@@: create, read, list with paging, update, delete, validation."""

from __future__ import annotations

from fastapi.testclient import TestClient

URL = "/api/@@table@@"
SAMPLES = @@samples@@
FIRST = @@first@@
WRONG = @@wrong@@  # a value of the wrong type for FIRST


def test_create_then_read(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(URL, json=SAMPLES[0], headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {name: body[name] for name in SAMPLES[0]} == SAMPLES[0]
    assert client.get(f"{URL}/{body['id']}").json() == body


def test_list_in_order_with_paging(client: TestClient, headers: dict[str, str]) -> None:
    ids = [client.post(URL, json=sample, headers=headers).json()["id"] for sample in SAMPLES]
    assert [row["id"] for row in client.get(URL).json()] == ids
    assert [row["id"] for row in client.get(URL, params={"limit": 1}).json()] == ids[:1]
    assert [row["id"] for row in client.get(URL, params={"offset": 1}).json()] == ids[1:]
    assert client.get(URL, params={"limit": 0}).status_code == 422


def test_update(client: TestClient, headers: dict[str, str]) -> None:
    item = client.post(URL, json=SAMPLES[0], headers=headers).json()
    changed = client.patch(f"{URL}/{item['id']}", json={FIRST: SAMPLES[1][FIRST]}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**item, FIRST: SAMPLES[1][FIRST]}
    assert client.get(f"{URL}/{item['id']}").json() == changed.json()
    for refused in ({FIRST: None}, {FIRST: WRONG}, {"no_such_field": 1}):
        assert client.patch(f"{URL}/{item['id']}", json=refused, headers=headers).status_code == 422
    assert client.patch(f"{URL}/999", json={}, headers=headers).status_code == 404


def test_delete(client: TestClient, headers: dict[str, str]) -> None:
    item = client.post(URL, json=SAMPLES[0], headers=headers).json()
    assert client.delete(f"{URL}/{item['id']}", headers=headers).status_code == 204
    assert client.get(f"{URL}/{item['id']}").status_code == 404
    assert client.delete(f"{URL}/{item['id']}", headers=headers).status_code == 404


def test_refuses_what_it_cannot_store(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post(URL, json={}, headers=headers).status_code == 422
    assert client.post(URL, json={**SAMPLES[0], FIRST: WRONG}, headers=headers).status_code == 422
    assert client.get(URL).json() == []
    assert client.get(f"{URL}/999").status_code == 404
@@auth@@'''

ENTITY_AUTH = """

def test_writes_need_a_signed_in_user(client: TestClient) -> None:
    assert client.post(URL, json=SAMPLES[0]).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert client.post(URL, json=SAMPLES[0], headers=wrong).status_code == 401
"""

AUTH = '''"""/api/auth: register, sign in, who am I, sign out, expiry; passwords hashed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

USER = {"username": "ada", "password": "correct horse battery"}


def test_register_then_sign_in(client: TestClient) -> None:
    created = client.post("/api/auth/register", json=USER)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "ada"
    assert client.post("/api/auth/register", json=USER).status_code == 409
    signed = client.post("/api/auth/login", json=USER)
    assert signed.status_code == 200, signed.text
    assert signed.json()["token_type"] == "bearer"
    token = signed.json()["access_token"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == created.json()


def test_wrong_passwords_and_users_are_refused(client: TestClient) -> None:
    client.post("/api/auth/register", json=USER)
    wrong = {**USER, "password": "not the password"}
    assert client.post("/api/auth/login", json=wrong).status_code == 401
    assert client.post("/api/auth/login", json={**USER, "username": "bob"}).status_code == 401
    short = {"username": "bob", "password": "short"}
    assert client.post("/api/auth/register", json=short).status_code == 422


def test_me_then_sign_out(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers=headers).json()["username"] == "tester"
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_an_expired_token_is_refused(settings: Settings) -> None:
    with TestClient(create_app(replace(settings, token_ttl_seconds=-1))) as client:
        client.post("/api/auth/register", json=USER)
        token = client.post("/api/auth/login", json=USER).json()["access_token"]
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401


def test_passwords_are_stored_salted_and_hashed(client: TestClient, settings: Settings) -> None:
    client.post("/api/auth/register", json=USER)
    client.post("/api/auth/register", json={**USER, "username": "eve"})
    with closing(sqlite3.connect(settings.database)) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("pbkdf2_sha256$1000$") for h in hashes)
    assert all(USER["password"] not in h for h in hashes)
    assert hashes[0] != hashes[1]  # same password, different salts
'''

DASHBOARD = '''"""/api/dashboard: counts and the newest rows, from what is stored."""

from __future__ import annotations

from fastapi.testclient import TestClient

ROWS = @@rows@@


def test_dashboard_counts_the_stored_rows(client: TestClient, headers: dict[str, str]) -> None:
    empty = client.get("/api/dashboard", headers=headers).json()
    assert [(e["count"], e["latest"]) for e in empty["entities"]] == [(0, [])] * len(ROWS)
    ids = {}
    for table, samples in ROWS.items():
        ids[table] = [
            client.post(f"/api/{table}", json=row, headers=headers).json()["id"] for row in samples
        ]
    body = client.get("/api/dashboard", headers=headers).json()
    counts = {e["table"]: e["count"] for e in body["entities"]}
    assert counts == {table: len(samples) for table, samples in ROWS.items()}
    for entity in body["entities"]:
        assert [row["id"] for row in entity["latest"]] == ids[entity["table"]][::-1]
@@extra@@'''

DASHBOARD_AUTH = """    assert body["users"] == 1
    assert client.get("/api/dashboard").status_code == 401
"""
DASHBOARD_PAYMENTS = """    paid = {"amount": 12.5, "currency": "EUR"}
    client.post("/api/payments", json=paid, headers=headers)
    payments = client.get("/api/dashboard", headers=headers).json()["payments"]
    assert payments == [{"currency": "EUR", "count": 1, "net_cents": 1250}]
"""

ANALYTICS = '''"""/api/analytics: aggregates of the stored rows, null when there are none."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ENTITIES = @@entities@@  # name: (table, ((field, type), ...), rows)


def test_no_rows_no_figures(client: TestClient, headers: dict[str, str]) -> None:
    body = client.get("/api/analytics", headers=headers).json()
    for name, (_, fields, _) in ENTITIES.items():
        assert body["entities"][name]["count"] == 0
        for field, kind in fields:
            measured = body["entities"][name]["fields"][field]
            if kind in ("int", "float"):
                assert (measured["count"], measured["sum"], measured["mean"]) == (0, None, None)


def test_aggregates_of_the_stored_rows(client: TestClient, headers: dict[str, str]) -> None:
    for table, _, rows in ENTITIES.values():
        for row in rows:
            assert client.post(f"/api/{table}", json=row, headers=headers).status_code == 201
    body = client.get("/api/analytics", headers=headers).json()
    for name, (_, fields, rows) in ENTITIES.items():
        assert body["entities"][name]["count"] == len(rows)
        for field, kind in fields:
            values = [row[field] for row in rows]
            measured = body["entities"][name]["fields"][field]
            if kind in ("int", "float"):
                assert measured["sum"] == pytest.approx(sum(values))
                assert measured["mean"] == pytest.approx(sum(values) / len(values))
                assert (measured["min"], measured["max"]) == (min(values), max(values))
            elif kind == "str":
                assert measured["distinct"] == len(set(values))
                assert {top["value"] for top in measured["top"]} == set(values)
            else:
                assert (measured["true"], measured["false"]) == (values.count(True),
                                                                 values.count(False))
@@extra@@'''

ANALYTICS_AUTH = """

def test_analytics_need_a_signed_in_user(client: TestClient) -> None:
    assert client.get("/api/analytics").status_code == 401
"""
ANALYTICS_PAYMENTS = """

def test_payments_per_currency(client: TestClient, headers: dict[str, str]) -> None:
    for amount in (10, 20):
        client.post("/api/payments", json={"amount": amount, "currency": "USD"}, headers=headers)
    [usd] = client.get("/api/analytics", headers=headers).json()["payments"]
    assert (usd["count"], usd["recorded_cents"], usd["mean_cents"]) == (2, 3000, 1500)
"""

PAYMENTS = '''"""/api/payments: the ledger: record, list, read, refund once, summary, validation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

URL = "/api/payments"


def test_record_list_and_read(client: TestClient, headers: dict[str, str]) -> None:
    made = client.post(URL, json={"amount": 12.5, "currency": "EUR", "description": "order 1"},
                       headers=headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["amount"], body["amount_cents"], body["status"]) == ("12.50", 1250, "recorded")
    assert client.get(URL, headers=headers).json() == [body]
    assert client.get(f"{URL}/{body['id']}", headers=headers).json() == body


@pytest.mark.parametrize("amount", [0, -5, 1.234, 2_000_000, "ten"])
def test_amounts_are_validated(client: TestClient, headers: dict[str, str], amount: object) -> None:
    response = client.post(URL, json={"amount": amount, "currency": "EUR"}, headers=headers)
    assert response.status_code == 422


def test_the_currency_is_an_iso_code(client: TestClient, headers: dict[str, str]) -> None:
    for currency in ("euro", "eur", ""):
        response = client.post(URL, json={"amount": 1, "currency": currency}, headers=headers)
        assert response.status_code == 422


def test_a_payment_is_refunded_once(client: TestClient, headers: dict[str, str]) -> None:
    paid = client.post(URL, json={"amount": 7.25, "currency": "EUR"}, headers=headers).json()
    refunded = client.post(f"{URL}/{paid['id']}/refund", headers=headers)
    assert refunded.json()["status"] == "refunded"
    assert client.post(f"{URL}/{paid['id']}/refund", headers=headers).status_code == 409
    assert client.post(f"{URL}/999/refund", headers=headers).status_code == 404


def test_summary_per_currency(client: TestClient, headers: dict[str, str]) -> None:
    ids = [client.post(URL, json={"amount": a, "currency": c}, headers=headers).json()["id"]
           for a, c in ((12.5, "EUR"), (7.25, "EUR"), (3, "USD"))]
    client.post(f"{URL}/{ids[1]}/refund", headers=headers)
    assert client.get(f"{URL}/summary", headers=headers).json()["currencies"] == [
        {"currency": "EUR", "count": 2, "recorded_cents": 1250, "refunded_cents": 725},
        {"currency": "USD", "count": 1, "recorded_cents": 300, "refunded_cents": 0},
    ]
@@auth@@'''

PAYMENTS_AUTH = """

def test_payments_are_private_to_their_user(client: TestClient, headers: dict[str, str]) -> None:
    from conftest import sign_in

    paid = client.post(URL, json={"amount": 5, "currency": "EUR"}, headers=headers).json()
    other = sign_in(client, "other")
    assert client.get(URL, headers=other).json() == []
    assert client.get(f"{URL}/{paid['id']}", headers=other).status_code == 404
    assert client.get(URL).status_code == 401
"""

SAMPLE_VALUES: dict[str, tuple[Any, Any]] = {
    "int": (3, 7), "float": (1.5, 4.25), "bool": (True, False), "str": ("", "")}  # fmt: skip
WRONG_VALUES = {"str": "", "int": "many", "float": "much", "bool": "maybe"}


def samples(entity: Entity) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in (0, 1):
        rows.append({f.name: f"{entity.name} {f.name} {n + 1}" if f.type == "str"
                     else SAMPLE_VALUES[f.type][n] for f in entity.fields})  # fmt: skip
    return rows


def entity_tests(spec: Spec, entity: Entity) -> str:
    first = entity.fields[0]
    return fill(ENTITY, table=entity.table, samples=py(samples(entity)), first=py(first.name),
                wrong=py(WRONG_VALUES[first.type]),
                auth=ENTITY_AUTH if spec.has("auth") else "")  # fmt: skip


def tests_files(spec: Spec) -> dict[str, str]:
    auth, payments = spec.has("auth"), spec.has("payments")
    files = {
        "backend/tests/conftest.py": fill(
            CONFTEST, headers=HEADERS_AUTH if auth else HEADERS_OPEN,
            doc=" (a signed-in user's bearer token)" if auth else " (none: the API is open)"),
        "backend/tests/test_health.py": fill(
            HEALTH, frontend=FRONTEND if spec.framework == "vanilla" else "",
            doc=", and the frontend served at /" if spec.framework == "vanilla" else "",
            html="\nimport html\n" if spec.framework == "vanilla" else ""),
    }  # fmt: skip
    for entity in spec.entities:
        files[f"backend/tests/test_{entity.table}.py"] = entity_tests(spec, entity)
    rows = {e.table: samples(e) for e in spec.entities}
    if auth:
        files["backend/tests/test_auth.py"] = AUTH
    if spec.has("dashboard"):
        extra = (DASHBOARD_AUTH if auth else "") + (DASHBOARD_PAYMENTS if payments else "")
        files["backend/tests/test_dashboard.py"] = fill(DASHBOARD, rows=py(rows), extra=extra)
    if spec.has("analytics"):
        entities = {e.name: (e.table, tuple((f.name, f.type) for f in e.fields), rows[e.table])
                    for e in spec.entities}  # fmt: skip
        extra = (ANALYTICS_AUTH if auth else "") + (ANALYTICS_PAYMENTS if payments else "")
        files["backend/tests/test_analytics.py"] = fill(ANALYTICS, entities=py(entities),
                                                        extra=extra)  # fmt: skip
    if payments:
        files["backend/tests/test_payments.py"] = fill(PAYMENTS, auth=PAYMENTS_AUTH if auth else "")
    return files
