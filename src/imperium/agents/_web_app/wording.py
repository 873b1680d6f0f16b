"""The project's copy (title, tagline, README introduction, section headings): written
in code from the Spec, or proposed by a language model and kept field by field when it
passes :func:`merge_copy`'s checks. Every generator escapes it for its context (repr for
Python, JSON for JS, html.escape for HTML); the checks here are a second line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from imperium.agents._web_app.spec import RequirementsError, Spec, safe_text

LIMITS = {"title": 60, "tagline": 140, "readme_intro": 600, "heading": 40}
_FEATURE_HEADINGS = {"auth": "Sign in", "dashboard": "Dashboard", "analytics": "Analytics",
                     "payments": "Payments"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Wording:
    title: str
    tagline: str
    readme_intro: str
    headings: tuple[tuple[str, str], ...]  # (section, heading) in the project's order

    def heading(self, section: str) -> str:
        return dict(self.headings)[section]


def sections(spec: Spec) -> tuple[str, ...]:
    """The frontend's sections: one per entity's table, then the features with pages."""
    pages = tuple(f for f in _FEATURE_HEADINGS if spec.has(f))
    return (*(e.table for e in spec.entities), *pages)


def default_wording(spec: Spec) -> Wording:
    kind = {"web": "A web application", "app": "An installable web app", "api": "An HTTP API"}
    parts = [e.table.replace("_", " ") for e in spec.entities]
    named = {"auth": "sign-in", "dashboard": "a dashboard", "analytics": "analytics",
             "payments": "a payments ledger"}  # fmt: skip
    parts += [named[f] for f in spec.features if f != "crud"]
    listed = (
        ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""
    )
    tagline = f"{kind[spec.app_type]}{' with ' + listed if listed else ''}."
    intro = (f"{spec.name} was generated from its requirements: a FastAPI backend storing its "
             "data in SQLite, with a test for every endpoint.")  # fmt: skip
    headings = tuple(
        (s, _FEATURE_HEADINGS.get(s) or s.replace("_", " ").capitalize()) for s in sections(spec)
    )
    return Wording(spec.name, tagline[: LIMITS["tagline"]], intro, headings)


def copy_request(spec: Spec) -> str:
    """What the model is asked for: a small JSON object, its limits named."""
    keys = ", ".join(f'"{s}"' for s in sections(spec))
    return (
        f"Write the copy for a generated project named {spec.name!r} ({spec.app_type}, "
        f"features: {', '.join(spec.features) or 'none'}). Answer with one JSON object: "
        f'{{"title": at most {LIMITS["title"]} characters, "tagline": at most '
        f'{LIMITS["tagline"]}, "readme_intro": at most {LIMITS["readme_intro"]}, "headings": '
        f"{{one short heading (at most {LIMITS['heading']} characters) for each of: {keys}}}}}. "
        "Plain text only: no HTML, Markdown code, braces or angle brackets."
    )


def merge_copy(default: Wording, proposed: dict[str, Any] | None) -> tuple[Wording, list[str]]:
    """``default`` with each proposed field that passes its checks; the refused ones named."""
    if proposed is None:
        return default, ["the reply held no JSON object"]
    refused: list[str] = []
    kept: dict[str, Any] = {}
    for key in ("title", "tagline", "readme_intro"):
        if key in proposed:
            try:
                kept[key] = safe_text(proposed[key], key, LIMITS[key])
            except RequirementsError as exc:
                refused.append(str(exc))
    headings = dict(default.headings)
    given = proposed.get("headings", {})
    for section, text in given.items() if isinstance(given, dict) else ():
        if section not in headings:
            refused.append(f"headings: no section {section!r}")
            continue
        try:
            headings[section] = safe_text(text, f"heading {section}", LIMITS["heading"])
        except RequirementsError as exc:
            refused.append(str(exc))
    merged = replace(default, **kept, headings=tuple(headings.items()))
    return merged, refused
