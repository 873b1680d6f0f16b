"""Checks on what a language model generated, computed in code: the JSON object a reply
must hold, marketing variants measured against each channel's limits and keywords, and
generated source files validated by parsing them. Pure functions (stdlib only).

File checks: ``.html`` is parsed with :mod:`html.parser`, every non-void element must be
closed in order; ``.css``/``.js``/``.ts``/``.jsx``/``.tsx`` have balanced ``{}``, ``()``
and ``[]`` outside strings and comments (a bracket check, not a full parse: a JS regex
literal holding an unbalanced bracket is misjudged); ``.json`` is parsed; ``.py`` is
compiled with :func:`compile`. Other extensions are kept and reported ``checked: false``.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from imperium.domain.content import words

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.S)

CHANNEL_LIMITS = {
    "social": 280,  # a post (X's limit; most networks cut the preview near it)
    "email": 600,  # a short promotional email body
    "web": 500,  # a landing-page hero block
    "search": 90,  # a responsive search ad description
    "sms": 160,  # one SMS segment
    "display": 90,  # a display ad's text line
}
"""Characters per variant for each channel the marketing intelligence writes for."""


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a reply holds (bare, or in one ``` fence); None when it holds none."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            return None
        body = body[start : end + 1]
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def keyword_present(text: str, keyword: str) -> bool:
    """Whether ``keyword`` (a word or phrase) occurs in ``text`` as whole words."""
    wanted = [w.lower() for w in words(keyword)]
    found = [w.lower() for w in words(text)]
    n = len(wanted)
    return n > 0 and any(found[i : i + n] == wanted for i in range(len(found) - n + 1))


def measure_variant(channel: str, text: str, keywords: list[str]) -> dict[str, Any]:
    limit = CHANNEL_LIMITS[channel]
    present = {k: keyword_present(text, k) for k in keywords}
    return {
        "text": text, "characters": len(text), "limit": limit,
        "within_limit": 0 < len(text) <= limit, "keywords_present": present,
        "ok": 0 < len(text) <= limit and all(present.values()),
    }  # fmt: skip


def measure_campaign(
    reply: dict[str, Any] | None, channels: list[str], variants: int, keywords: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Each requested channel's variants measured, and the constraints broken (in words a
    retry prompt can quote); missing or surplus variants are broken constraints too."""
    if reply is None:
        return {}, ["the reply was not a JSON object"]
    measured: dict[str, list[dict[str, Any]]] = {}
    broken: list[str] = []
    for channel in channels:
        texts = reply.get(channel)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            broken.append(f"{channel}: no list of texts")
            continue
        if len(texts) != variants:
            broken.append(f"{channel}: {len(texts)} variants instead of {variants}")
        measured[channel] = [measure_variant(channel, t.strip(), keywords) for t in texts]
        for i, m in enumerate(measured[channel], 1):
            if not m["within_limit"]:
                broken.append(f"{channel} variant {i}: {m['characters']} characters "
                              f"(limit {m['limit']})")  # fmt: skip
            missing = [k for k, ok in m["keywords_present"].items() if not ok]
            if missing:
                broken.append(f"{channel} variant {i}: lacks keyword(s) {', '.join(missing)}")
    return measured, broken


_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot"}


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag not in self.open:
            line, _ = self.getpos()
            self.errors.append(f"line {line}: </{tag}> closes nothing open")
            return
        while self.open and self.open[-1] != tag:
            left = self.open.pop()
            if left not in _OPTIONAL_END:
                line, _ = self.getpos()
                self.errors.append(f"line {line}: <{left}> is not closed before </{tag}>")
        self.open.pop()


def check_html(text: str) -> str | None:
    parser = _TagBalance()
    parser.feed(text)
    parser.close()
    unclosed = [t for t in parser.open if t not in _OPTIONAL_END]
    if unclosed:
        parser.errors.append(f"not closed at the end: {', '.join(unclosed)}")
    if "<" not in text:
        parser.errors.append("no markup at all")
    return "; ".join(parser.errors[:5]) or None


_PAIRS = {")": "(", "]": "[", "}": "{"}


def check_brackets(text: str, *, line_comments: bool) -> str | None:
    """Balanced brackets outside strings and comments (``//`` too when ``line_comments``)."""
    stack: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return f"line {line}: comment not closed"
            line += text.count("\n", i, end)
            i = end + 2
            continue
        elif line_comments and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and c != "`":
                    return f"line {line}: string not closed"
                j += 1
            if j >= n:
                return f"line {line}: string not closed"
            line += text.count("\n", i, j)
            i = j + 1
            continue
        elif c in "([{":
            stack.append((c, line))
        elif c in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[c]:
                return f"line {line}: unmatched '{c}'"
            stack.pop()
        i += 1
    if stack:
        return f"line {stack[-1][1]}: '{stack[-1][0]}' is never closed"
    return None


def check_file(path: str, content: str) -> dict[str, Any]:
    """``{"path", "checked", "ok", "error"}`` for one generated file."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    error: str | None
    if path.startswith("/") or ".." in path.split("/") or not path.strip():
        return {"path": path, "checked": True, "ok": False,
                "error": "the path must be relative and stay inside the project"}  # fmt: skip
    if suffix in ("html", "htm"):
        error = check_html(content)
    elif suffix == "css":
        error = check_brackets(content, line_comments=False)
    elif suffix in ("js", "mjs", "jsx", "ts", "tsx"):
        error = check_brackets(content, line_comments=True)
    elif suffix == "json":
        try:
            json.loads(content)
            error = None
        except ValueError as exc:
            error = str(exc)
    elif suffix == "py":
        try:
            compile(content, path, "exec")
            error = None
        except (SyntaxError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    else:
        return {"path": path, "checked": False, "ok": True, "error": None}
    return {"path": path, "checked": True, "ok": error is None, "error": error}


def generated_files(reply: dict[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    """The ``{"files": [{"path", "content"}]}`` of a reply as path -> content, and what is
    wrong with its shape (duplicate paths, entries without text)."""
    if reply is None:
        return {}, ["the reply was not a JSON object"]
    entries = reply.get("files")
    if not isinstance(entries, list) or not entries:
        return {}, ['the reply has no "files" list']
    files: dict[str, str] = {}
    problems: list[str] = []
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("content"), str)):  # fmt: skip
            problems.append("a files entry lacks a text path or content")
        elif entry["path"] in files:
            problems.append(f"{entry['path']}: given twice")
        else:
            files[entry["path"]] = entry["content"]
    return files, problems
