"""The web/app builder's deterministic generator (pure Python, no model): requirements
(``spec``) → the project's files (``backend``, ``features``, ``tests_gen``, ``frontend``,
``docs``) with their copy (``wording``) → a reproducible archive (``archive``). The same
requirements and copy give byte-identical files and archive."""

from __future__ import annotations

from imperium.agents._web_app.backend import backend_files
from imperium.agents._web_app.docs import docs_files, endpoints
from imperium.agents._web_app.frontend import frontend_files
from imperium.agents._web_app.spec import RequirementsError, Spec, read_spec
from imperium.agents._web_app.tests_gen import tests_files
from imperium.agents._web_app.wording import Wording, copy_request, default_wording, merge_copy


def generate(spec: Spec, wording: Wording | None = None) -> dict[str, str]:
    """The project's files by path (sorted), from ``spec`` and its copy."""
    wording = wording or default_wording(spec)
    files = {**backend_files(spec, wording), **tests_files(spec), **frontend_files(spec, wording),
             **docs_files(spec, wording)}  # fmt: skip
    return dict(sorted(files.items()))


__all__ = [
    "RequirementsError",
    "Spec",
    "Wording",
    "copy_request",
    "default_wording",
    "endpoints",
    "generate",
    "merge_copy",
    "read_spec",
]
