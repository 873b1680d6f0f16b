"""The generated project's README, Dockerfile and pytest configuration."""

from __future__ import annotations

from imperium.agents._web_app import features
from imperium.agents._web_app.spec import Spec
from imperium.agents._web_app.wording import Wording

PYTEST_INI = "[pytest]\ntestpaths = backend/tests\npythonpath = backend\n"
DOCKERIGNORE = "**/__pycache__\n**/*.db\nfrontend/node_modules\n.pytest_cache\n"


def endpoints(spec: Spec) -> list[str]:
    found = ["GET /api/health"]
    for e in spec.entities:
        base = f"/api/{e.table}"
        found += [f"GET {base}", f"POST {base}", f"GET {base}/{{id}}", f"PATCH {base}/{{id}}",
                  f"DELETE {base}/{{id}}"]  # fmt: skip
    if spec.has("auth"):
        found += [f"POST /api/auth/{n}" for n in ("register", "login", "logout")]
        found.append("GET /api/auth/me")
    found += [f"GET /api/{f}" for f in ("dashboard", "analytics") if spec.has(f)]
    if spec.has("payments"):
        found += ["POST /api/payments", "GET /api/payments", "GET /api/payments/summary",
                  "GET /api/payments/{id}", "POST /api/payments/{id}/refund"]  # fmt: skip
    return found


def dockerfile(spec: Spec) -> str:
    frontend = "COPY frontend frontend\n" if spec.framework == "vanilla" else ""
    return (
        "# The backend (and the static frontend when there is one) on port 8000.\n"
        "FROM python:3.12-slim\n"
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_DATABASE=/data/app.db\n"
        "WORKDIR /app\n"
        "COPY backend/requirements.txt backend/requirements.txt\n"
        "RUN pip install --no-cache-dir -r backend/requirements.txt\n"
        f"COPY backend backend\n{frontend}"
        "RUN useradd --create-home app && mkdir /data && chown app /data\n"
        "USER app\n"
        "WORKDIR /app/backend\n"
        "EXPOSE 8000\n"
        'CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", '
        '"--port", "8000"]\n'
    )


def _frontend_section(spec: Spec) -> list[str]:
    if spec.framework == "vanilla":
        return ["## Frontend", "", "Static HTML, JS and CSS in `frontend/`, served by the backend "
                "at `/` (no build step). Text from the API is set with `textContent`."]  # fmt: skip
    if spec.framework == "react":
        return ["## Frontend", "", "A React + Vite skeleton in `frontend/`. It was generated, "
                "not built or run: `cd frontend && npm install && npm run dev` (the dev server "
                "forwards `/api` to the backend on port 8000). The Dockerfile serves the backend "
                "only; build the frontend (`npm run build`) and serve `frontend/dist` as you "
                "prefer."]  # fmt: skip
    return ["## Frontend", "", "None: this project is an API."]


def _notes(spec: Spec) -> list[str]:
    notes = []
    if spec.has("auth"):
        notes.append("- Auth: passwords are stored as PBKDF2-HMAC-SHA256 with a random salt "
                     "(600,000 iterations; `APP_PASSWORD_ITERATIONS`); bearer tokens are random, "
                     "stored as SHA-256 digests, valid for `APP_TOKEN_TTL_SECONDS` (12 h). Writes, "
                     "the dashboard, analytics and payments need a signed-in user.")  # fmt: skip
    else:
        notes.append("- No auth feature: every endpoint is open. Add authentication before "
                     "exposing it.")  # fmt: skip
    if spec.has("payments"):
        notes.append("- Payments: a ledger in this app's database. **No payment provider is "
                     "called; nothing is charged.** Connect one (e.g. Stripe) before taking "
                     "real money.")  # fmt: skip
    if spec.has("dashboard") or spec.has("analytics"):
        notes.append("- Dashboard and analytics are computed by SQL over the stored rows on "
                     "each request; with no rows their aggregates are null.")  # fmt: skip
    return notes


def readme(spec: Spec, wording: Wording) -> str:
    lines = [f"# {wording.title}", "", wording.tagline, "", wording.readme_intro, "",
             "## Run", "", "```sh", "python -m venv .venv && . .venv/bin/activate",
             "pip install -r backend/requirements.txt", "python -m pytest",
             "cd backend && APP_DATABASE=app.db uvicorn app.main:create_app --factory --reload",
             "```", "", "Or with Docker: `docker build -t " + spec.slug + " . && docker run -p "
             "8000:8000 " + spec.slug + "` (the Dockerfile was generated, not built here).", "",
             "## API", "", "OpenAPI documentation at `/docs` when it runs.", ""]  # fmt: skip
    lines += [f"- `{e}`" for e in endpoints(spec)]
    lines += ["", "## Data", ""]
    lines += [f"- `{e.name}` (table `{e.table}`): " + ", ".join(f"`{f.name}` {f.type}"
              for f in e.fields) for e in spec.entities] or ["No entities."]  # fmt: skip
    lines += ["", "SQLite (Python's `sqlite3`), one file: `APP_DATABASE` (default `app.db`).", ""]
    lines += [*_frontend_section(spec), "", "## Notes", "", *_notes(spec), "",
              "## Tests", "", "`python -m pytest` at the root runs `backend/tests` (a fresh "
              "database per test; routers: "
              + ", ".join(features.router_modules(spec)) + ")."]  # fmt: skip
    return "\n".join(lines) + "\n"


def docs_files(spec: Spec, wording: Wording) -> dict[str, str]:
    return {"README.md": readme(spec, wording), "Dockerfile": dockerfile(spec),
            ".dockerignore": DOCKERIGNORE, "pytest.ini": PYTEST_INI}  # fmt: skip
