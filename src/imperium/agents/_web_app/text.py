"""Filling the code templates: ``@@name@@`` markers (no clash with the braces of Python,
JS or JSON) and literals escaped for the language they land in."""

from __future__ import annotations

import html
import json
import re

_MARKER = re.compile(r"@@([a-z_]+)@@")


def fill(template: str, **values: str) -> str:
    """``template`` with every ``@@name@@`` replaced; a marker without a value is a bug."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _MARKER.sub(value, template)


def py(value: object) -> str:
    """A Python literal (repr of str, int, float, bool, and of tuples/lists/dicts of them)."""
    return repr(value)


def js(value: object) -> str:
    """A JS/JSON literal that cannot close a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def html_text(value: str) -> str:
    return html.escape(value, quote=True)
