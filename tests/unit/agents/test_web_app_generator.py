"""The web/app builder's generator (agents/_web_app), without running anything: the
requirements it refuses and why, the files each feature brings, every file parsing,
the copy escaped where it lands, and the same requirements giving the same bytes."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from imperium.agents._web_app import default_wording, generate, merge_copy, read_spec
from imperium.agents._web_app.archive import tar_gz
from imperium.agents._web_app.spec import RequirementsError
from imperium.domain.generated import check_file

PRODUCT = {"name": "Product", "fields": {"name": "str", "price": "float", "stock": "int"}}
ALL = ["auth", "dashboard", "analytics", "payments", "crud"]
EVERYTHING = {"framework": "vanilla", "requirements": {"features": ALL, "entities": [PRODUCT]}}


def files_of(payload: dict[str, Any]) -> dict[str, str]:
    return generate(read_spec(payload))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, 'needs "requirements"'),
        ({"requirements": {"features": ["shop"]}}, "unknown feature(s) shop; known: crud, auth"),
        ({"framework": "angular", "requirements": {}}, "known: vanilla, react"),
        ({"app_type": "desktop", "requirements": {}}, "app_type must be one of web, app, api"),
        ({"requirements": {"entities": [{"name": "9lives", "fields": {"a": "str"}}]}},
         "must be an identifier"),
        ({"requirements": {"entities": [{"name": "Drop Table", "fields": {"a": "str"}}]}},
         "must be an identifier"),
        ({"requirements": {"entities": [{"name": "User", "fields": {"a": "str"}}]}},
         "is reserved"),
        ({"requirements": {"entities": [{"name": "A", "fields": {"class": "str"}}]}},
         "not a Python keyword"),
        ({"requirements": {"entities": [{"name": "A", "fields": {"Price": "str"}}]}},
         "lower-case identifier"),
        ({"requirements": {"entities": [{"name": "A", "fields": {"json": "str"}}]}},
         "clash with pydantic"),
        ({"requirements": {"entities": [{"name": "A", "fields": {"at": "date"}}]}},
         "use one of str, int, float, bool"),
        ({"requirements": {"entities": [{"name": "Box", "fields": {"a": "str"}},
                                        {"name": "box", "fields": {"b": "int"}}]}},
         "same table: boxes"),
        ({"name": "<script>", "requirements": {}}, "may not hold <"),
        # "$" also matches before a final newline: these passed and broke the generated code
        ({"requirements": {"entities": [{"name": "Item\n", "fields": {"a": "str"}}]}},
         "must be an identifier"),
        ({"requirements": {"entities": [{"name": "A", "fields": {"title\n": "str"}}]}},
         "lower-case identifier"),
    ],
)  # fmt: skip
def test_requirements_it_cannot_generate_are_refused_saying_why(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequirementsError) as refused:
        read_spec(payload)
    assert message in str(refused.value)


def test_each_feature_brings_its_files_and_every_file_parses() -> None:
    files = files_of(EVERYTHING)
    for path in ("backend/app/routes/products.py", "backend/app/routes/auth.py",
                 "backend/app/security.py", "backend/app/routes/dashboard.py",
                 "backend/app/routes/analytics.py", "backend/app/routes/payments.py",
                 "backend/tests/test_products.py", "backend/tests/test_auth.py",
                 "backend/tests/test_dashboard.py", "backend/tests/test_analytics.py",
                 "backend/tests/test_payments.py", "frontend/index.html", "frontend/app.js",
                 "README.md", "Dockerfile", "pytest.ini"):  # fmt: skip
        assert path in files
    assert all(check_file(p, c)["ok"] for p, c in files.items())
    assert "No payment provider is called" in files["README.md"]
    assert "pbkdf2_hmac" in files["backend/app/security.py"]
    api = files_of({"app_type": "api", "requirements": {"features": ["crud"]}})
    assert not any(p.startswith("frontend/") for p in api)
    assert "backend/app/routes/items.py" in api  # the default entity
    assert "backend/app/routes/auth.py" not in api


def test_react_gets_a_package_and_an_installable_app_a_manifest() -> None:
    react = files_of({"framework": "React", "requirements": {"features": ["user_auth"]}})
    assert json.loads(react["frontend/package.json"])["dependencies"]["react"]
    assert "frontend/src/components/SignIn.jsx" in react
    assert "StaticFiles" not in react["backend/app/main.py"]  # the React tree is not served
    app = files_of({"app_type": "app", "requirements": {}})
    assert json.loads(app["frontend/manifest.webmanifest"])["display"] == "standalone"


def test_the_same_requirements_give_the_same_bytes() -> None:
    first, second = files_of(EVERYTHING), files_of(json.loads(json.dumps(EVERYTHING)))
    assert first == second
    assert tar_gz("shop", first) == tar_gz("shop", second)
    with tarfile.open(fileobj=io.BytesIO(tar_gz("shop", first)), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [f"shop/{p}" for p in sorted(first)]
    assert {(m.mtime, m.uid, m.mode) for m in members} == {(0, 0, 0o644)}


def test_model_copy_is_kept_field_by_field_and_escaped_where_it_lands() -> None:
    spec = read_spec(EVERYTHING)
    proposed = {"title": 'Bob\'s "Best" Shop & Co', "tagline": "<b>bold</b>",
                "readme_intro": "x" * 700, "headings": {"products": "Our goods",
                                                         "nowhere": "Lost"}}  # fmt: skip
    wording, refused = merge_copy(default_wording(spec), proposed)
    assert wording.title == 'Bob\'s "Best" Shop & Co'
    assert wording.tagline == default_wording(spec).tagline
    assert wording.heading("products") == "Our goods"
    assert len(refused) == 3  # the markup, the length, the unknown section
    files = generate(spec, wording)
    escaped = "<title>Bob&#x27;s &quot;Best&quot; Shop &amp; Co</title>"
    assert escaped in files["frontend/index.html"]
    assert "TITLE = 'Bob\\'s \"Best\" Shop & Co'" in files["backend/app/config.py"]
    assert all(check_file(p, c)["ok"] for p, c in files.items())
    assert merge_copy(default_wording(spec), None)[1] == ["the reply held no JSON object"]
