"""The generated frontend skeleton: static HTML, JS and CSS served by the backend
(``vanilla``), or a React + Vite source tree (``react``) that is written, not built.
The copy reaches the pages as escaped HTML text or as JSON constants rendered with
``textContent`` / React text nodes, never as markup."""

from __future__ import annotations

from typing import Any

from imperium.agents._web_app.spec import Spec
from imperium.agents._web_app.text import fill, html_text, js
from imperium.agents._web_app.wording import Wording

INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@title@@</title>
<link rel="stylesheet" href="style.css">@@manifest@@
</head>
<body>
<header>
<h1>@@title@@</h1>
<p class="tagline">@@tagline@@</p>
<nav id="nav"></nav>
</header>
<main id="sections"></main>
<script src="app.js"></script>
</body>
</html>
"""

APP_JS = """// The frontend: a section per entity (its rows, a form to add one) and per feature.
// Text from the API is set with textContent, never as HTML.
"use strict";

const SCHEMA = @@schema@@;
const HEADINGS = @@headings@@;
const FEATURES = @@features@@;
let token = sessionStorage.getItem("token");

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error((body && JSON.stringify(body.detail)) || response.statusText);
  return body;
}

function element(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function section(key) {
  const box = element("section");
  box.id = key;
  box.append(element("h2", HEADINGS[key]));
  const link = element("a", HEADINGS[key]);
  link.href = "#" + key;
  document.getElementById("nav").append(link);
  document.getElementById("sections").append(box);
  return box;
}

function form(fields, submit) {
  const node = element("form");
  for (const [name, type] of Object.entries(fields)) {
    const input = element("input");
    input.name = name;
    input.placeholder = name;
    input.type = type === "bool" ? "checkbox" : type === "str" ? "text" : "number";
    if (type === "float") input.step = "any";
    node.append(input);
  }
  node.append(element("button", "Save"));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const [name, type] of Object.entries(fields)) {
      const input = node.elements[name];
      const text = type === "str" ? input.value : Number(input.value);
      values[name] = type === "bool" ? input.checked : text;
    }
    try { await submit(values); node.reset(); } catch (error) { alert(error.message); }
  });
  return node;
}

async function entity(table, fields) {
  const box = section(table);
  const list = element("ul");
  const refresh = async () => {
    const rows = await api("/api/" + table);
    list.replaceChildren(...rows.map((row) => element("li", JSON.stringify(row))));
  };
  box.append(form(fields, async (values) => {
    await api("/api/" + table, { method: "POST", body: JSON.stringify(values) });
    await refresh();
  }), list);
  await refresh().catch((error) => list.replaceChildren(element("li", error.message)));
}

async function figures(key, path) {
  const box = section(key);
  const out = element("pre");
  box.append(out);
  const refresh = async () => { out.textContent = JSON.stringify(await api(path), null, 2); };
  const again = element("button", "Refresh");
  const failed = (error) => { out.textContent = error.message; };
  again.addEventListener("click", () => refresh().catch(failed));
  box.append(again);
  await refresh().catch((error) => { out.textContent = error.message; });
}

function signIn() {
  const box = section("auth");
  const status = element("p", token ? "Signed in." : "Not signed in.");
  const fields = { username: "str", password: "str" };
  const login = form(fields, async (values) => {
    const body = JSON.stringify(values);
    token = (await api("/api/auth/login", { method: "POST", body })).access_token;
    sessionStorage.setItem("token", token);
    status.textContent = "Signed in.";
  });
  const register = form(fields, async (values) => {
    await api("/api/auth/register", { method: "POST", body: JSON.stringify(values) });
    status.textContent = "Registered: now sign in.";
  });
  login.elements.password.type = "password";
  register.elements.password.type = "password";
  box.append(status, element("h3", "Sign in"), login, element("h3", "Register"), register);
}

async function start() {
  if (FEATURES.includes("auth")) signIn();
  for (const [table, fields] of Object.entries(SCHEMA)) await entity(table, fields);
  if (FEATURES.includes("dashboard")) await figures("dashboard", "/api/dashboard");
  if (FEATURES.includes("analytics")) await figures("analytics", "/api/analytics");
  if (FEATURES.includes("payments")) {
    await entity("payments", { amount: "float", currency: "str", description: "str" });
  }
}

start();
"""

STYLE = """body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; }
header { border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
.tagline { color: #555; }
nav a { margin-right: 1rem; }
section { margin-bottom: 2rem; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
pre { background: #f6f6f6; overflow: auto; padding: 0.5rem; }
"""


def schema(spec: Spec) -> dict[str, dict[str, str]]:
    return {e.table: {f.name: f.type for f in e.fields} for e in spec.entities}


def vanilla(spec: Spec, wording: Wording) -> dict[str, str]:
    app = spec.app_type == "app"
    files = {
        "frontend/index.html": fill(
            INDEX, title=html_text(wording.title), tagline=html_text(wording.tagline),
            manifest='\n<link rel="manifest" href="manifest.webmanifest">' if app else ""),
        "frontend/app.js": fill(
            APP_JS, schema=js(schema(spec)), headings=js(dict(wording.headings)),
            features=js(list(spec.features))),
        "frontend/style.css": STYLE,
    }  # fmt: skip
    if app:
        files["frontend/manifest.webmanifest"] = js(manifest(wording)) + "\n"
    return files


def manifest(wording: Wording) -> dict[str, Any]:
    return {"name": wording.title, "short_name": wording.title[:12], "start_url": "/",
            "display": "standalone", "description": wording.tagline}  # fmt: skip


REACT_INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@title@@</title>
</head>
<body>
<div id="root"></div>
<script type="module" src="/src/main.jsx"></script>
</body>
</html>
"""

VITE = """import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the app and forwards /api to the backend on port 8000.
export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": "http://localhost:8000" } },
});
"""

MAIN_JSX = """import React from "react";
import { createRoot } from "react-dom/client";
import App from "./App.jsx";

createRoot(document.getElementById("root")).render(<App />);
"""

API_JS = """// Calls to the backend; the token from /api/auth/login is kept for the session.
let token = sessionStorage.getItem("token");

export function setToken(value) {
  token = value;
  sessionStorage.setItem("token", value);
}

export async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error((body && JSON.stringify(body.detail)) || response.statusText);
  return body;
}
"""

APP_JSX = """import React from "react";
import { COPY, FEATURES, SCHEMA } from "./copy.js";
import EntitySection from "./components/EntitySection.jsx";
import Figures from "./components/Figures.jsx";
import SignIn from "./components/SignIn.jsx";

export default function App() {
  return (
    <div className="app">
      <header>
        <h1>{COPY.title}</h1>
        <p className="tagline">{COPY.tagline}</p>
      </header>
      <main>
        {FEATURES.includes("auth") && <SignIn heading={COPY.headings.auth} />}
        {Object.entries(SCHEMA).map(([table, fields]) => (
          <EntitySection key={table} table={table} fields={fields} heading={COPY.headings[table]} />
        ))}
        {["dashboard", "analytics"].filter((key) => FEATURES.includes(key)).map((key) => (
          <Figures key={key} path={"/api/" + key} heading={COPY.headings[key]} />
        ))}
        {FEATURES.includes("payments") && (
          <EntitySection table="payments" heading={COPY.headings.payments}
            fields={{ amount: "float", currency: "str", description: "str" }} />
        )}
      </main>
    </div>
  );
}
"""

COPY_JS = """// The copy and the schema, as data: React renders them as text, never as markup.
export const COPY = @@copy@@;
export const FEATURES = @@features@@;
export const SCHEMA = @@schema@@;
"""

ENTITY_JSX = """import React, { useEffect, useState } from "react";
import { api } from "../api.js";

function parse(type, input) {
  if (type === "bool") return input.checked;
  return type === "str" ? input.value : Number(input.value);
}

export default function EntitySection({ table, fields, heading }) {
  const [rows, setRows] = useState([]);
  const [error, setError] = useState(null);
  const refresh = () => api("/api/" + table).then(setRows, (e) => setError(e.message));
  useEffect(() => { refresh(); }, [table]);

  async function submit(event) {
    event.preventDefault();
    const values = {};
    for (const [name, type] of Object.entries(fields)) {
      values[name] = parse(type, event.target.elements[name]);
    }
    try {
      await api("/api/" + table, { method: "POST", body: JSON.stringify(values) });
      event.target.reset();
      refresh();
    } catch (e) {
      setError(e.message);
    }
  }

  return (
    <section>
      <h2>{heading}</h2>
      <form onSubmit={submit}>
        {Object.entries(fields).map(([name, type]) => (
          <input key={name} name={name} placeholder={name}
            type={type === "bool" ? "checkbox" : type === "str" ? "text" : "number"} step="any" />
        ))}
        <button>Save</button>
      </form>
      {error && <p className="error">{error}</p>}
      <ul>{rows.map((row) => <li key={row.id}>{JSON.stringify(row)}</li>)}</ul>
    </section>
  );
}
"""

FIGURES_JSX = """import React, { useEffect, useState } from "react";
import { api } from "../api.js";

export default function Figures({ path, heading }) {
  const [figures, setFigures] = useState(null);
  const [error, setError] = useState(null);
  const refresh = () => api(path).then(setFigures, (e) => setError(e.message));
  useEffect(() => { refresh(); }, [path]);
  return (
    <section>
      <h2>{heading}</h2>
      <button onClick={refresh}>Refresh</button>
      {error && <p className="error">{error}</p>}
      <pre>{figures && JSON.stringify(figures, null, 2)}</pre>
    </section>
  );
}
"""

SIGN_IN_JSX = """import React, { useState } from "react";
import { api, setToken } from "../api.js";

export default function SignIn({ heading }) {
  const signedIn = sessionStorage.getItem("token") !== null;
  const [status, setStatus] = useState(signedIn ? "Signed in." : "Not signed in.");

  async function send(event, path) {
    event.preventDefault();
    const form = event.currentTarget.form;
    const { username, password } = form.elements;
    const body = JSON.stringify({ username: username.value, password: password.value });
    try {
      const answer = await api(path, { method: "POST", body });
      if (answer && answer.access_token) {
        setToken(answer.access_token);
        setStatus("Signed in.");
      } else {
        setStatus("Registered: now sign in.");
      }
    } catch (e) {
      setStatus(e.message);
    }
  }

  return (
    <section>
      <h2>{heading}</h2>
      <p>{status}</p>
      <form>
        <input name="username" placeholder="username" />
        <input name="password" type="password" placeholder="password" />
        <button onClick={(e) => send(e, "/api/auth/login")}>Sign in</button>
        <button onClick={(e) => send(e, "/api/auth/register")}>Register</button>
      </form>
    </section>
  );
}
"""

PACKAGE: dict[str, Any] = {
    "private": True,
    "version": "0.1.0",
    "type": "module",
    "scripts": {"dev": "vite", "build": "vite build", "preview": "vite preview"},
    "dependencies": {"react": "^18.3.1", "react-dom": "^18.3.1"},
    "devDependencies": {"@vitejs/plugin-react": "^4.3.1", "vite": "^5.4.0"},
}


def react(spec: Spec, wording: Wording) -> dict[str, str]:
    copy = {"title": wording.title, "tagline": wording.tagline, "headings": dict(wording.headings)}
    package = {"name": spec.slug, **PACKAGE}
    return {
        "frontend/package.json": js(package) + "\n",
        "frontend/index.html": fill(REACT_INDEX, title=html_text(wording.title)),
        "frontend/vite.config.js": VITE,
        "frontend/src/main.jsx": MAIN_JSX,
        "frontend/src/api.js": API_JS,
        "frontend/src/App.jsx": APP_JSX,
        "frontend/src/copy.js": fill(
            COPY_JS, copy=js(copy), features=js(list(spec.features)), schema=js(schema(spec))
        ),
        "frontend/src/components/EntitySection.jsx": ENTITY_JSX,
        "frontend/src/components/Figures.jsx": FIGURES_JSX,
        "frontend/src/components/SignIn.jsx": SIGN_IN_JSX,
    }


def frontend_files(spec: Spec, wording: Wording) -> dict[str, str]:
    if spec.framework == "react":
        return react(spec, wording)
    if spec.framework == "vanilla":
        return vanilla(spec, wording)
    return {}
