"""``web_app_builder``: the seed's web/app builder intelligence. It generates a runnable
project from requirements in code (``agents/_web_app``; no model needed), runs the
project's own tests in the Sandbox, and returns the files, the archive and the report.

Payload (the seed's fields, plus ``entities`` and ``name``)::

    {"app_type": "web", "framework": "React", "name": "Shop",
     "requirements": {"features": ["user_auth", "dashboard"], "requires_payments": true,
                      "entities": [{"name": "Product",
                                    "fields": {"name": "str", "price": "float"}}]}}

``features`` among crud, auth, dashboard, analytics, payments; ``framework`` vanilla or
react (none for ``app_type`` api); field types str, int, float, bool. What cannot be
generated fails the task at once (``bad_payload``) saying what to change.

The project: a FastAPI backend over SQLite with a router per entity and feature and a
pytest test per endpoint, a frontend skeleton, a README and a Dockerfile, packed as a
reproducible tar.gz (same requirements and copy, same bytes). Every file is parsed
(domain/generated.py). The tests run with the server's interpreter in the Sandbox under
the policy the server lends (``ctx.services["sandbox_policy"]``); tests that fail make a
failed attempt (``tests_failed``, not retried: the generator is deterministic), carrying
the counts and the output's tail. A host that cannot isolate code fails it as the
sandbox agent does (``sandbox_unavailable``).

With a model configured (the ``llm`` config: base_url, model...), one call asks for the
copy (title, tagline, README introduction, headings) as a small JSON object; each field
is kept only if it passes the checks (``_web_app/wording.py``), the rest stays the
deterministic copy, and a model that fails or is not reachable leaves all of it
deterministic: the result says which. Config ``limits`` may change the Sandbox limits
(``timeout``, ``cpu_seconds``, ``memory_mb``, ``file_size_mb``, ``max_processes``).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from imperium.adapters.sandbox import (
    SandboxPolicy,
    TestRun,
    run_pytest,
)
from imperium.agents._web_app import (
    RequirementsError,
    Spec,
    Wording,
    copy_request,
    default_wording,
    endpoints,
    generate,
    merge_copy,
    read_spec,
)
from imperium.agents._web_app.archive import sha256, tar_gz
from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent, not_configured_reason
from imperium.agents.sandbox import MAX_LIMITS, lent_policy, sandbox_failures
from imperium.domain.errors import ValidationError
from imperium.domain.generated import check_file, json_object
from imperium.domain.llm import ChatReply

SYSTEM = "You write product copy. Answer with one JSON object and nothing else."
LIMITS: dict[str, float] = {
    "timeout": 120,
    "cpu_seconds": 120,
    "memory_mb": 2048,  # address space: FastAPI's worker threads reserve their stacks
    "file_size_mb": 64,
    "max_processes": 128,  # threads count: the test client's thread pool
}
OUTPUT_TAIL = 2000


def sandbox_limits(config: dict[str, Any]) -> dict[str, float]:
    """The Sandbox limits: LIMITS with the config's ``limits``, clamped to the maxima."""
    given = config.get("limits", {})
    unknown = sorted(set(given) - set(LIMITS)) if isinstance(given, dict) else ["(not an object)"]
    if unknown:
        raise ValidationError(f"web_app_builder config 'limits': unknown {unknown}; "
                              f"known: {sorted(LIMITS)}")  # fmt: skip
    limits = {**LIMITS, **given}
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValidationError(f"web_app_builder limit {name!r} must be a positive number")
    return {n: min(float(v), float(MAX_LIMITS[n])) for n, v in limits.items()}


class WebAppBuilderAgent(LlmAgent):
    description = "A runnable project from requirements, its own tests run in the Sandbox."

    @classmethod
    def check_config(cls, config: dict[str, Any], *, key_envs: str | None = None) -> None:
        super().check_config(config, key_envs=key_envs)
        sandbox_limits(config)

    async def run(self, ctx: TaskContext) -> Output:
        try:
            spec = read_spec(ctx.payload)
        except RequirementsError as exc:
            raise TaskFailed(str(exc), kind="bad_payload", retryable=False) from exc
        replies: list[ChatReply] = []
        wording, copy = await self._wording(spec, replies)
        limits, policy = sandbox_limits(self.config), lent_policy(ctx)
        built = await self.in_thread(build, spec, wording, limits, policy)
        return self.output({**built, "copy": copy}, replies)

    async def _wording(
        self, spec: Spec, replies: list[ChatReply]
    ) -> tuple[Wording, dict[str, Any]]:
        """The copy: the model's where it passes the checks, else the deterministic one."""
        default = default_wording(spec)
        if self.model_config.missing():
            return default, {"source": "deterministic", "model": None}
        reason = not_configured_reason(self.model_config)
        if reason is not None:
            return default, {"source": "deterministic", "model": None, "model_skipped": reason}
        try:
            reply = await self.ask(copy_request(spec), replies, SYSTEM)
        except TaskFailed as exc:
            return default, {"source": "deterministic", "model": None, "model_error": str(exc)}
        wording, refused = merge_copy(default, json_object(reply.text))
        source = "deterministic" if wording == default else "model"
        return wording, {"source": source, "model": reply.model, "refused": refused}


def build(
    spec: Spec, wording: Wording, limits: dict[str, float], policy: SandboxPolicy
) -> dict[str, Any]:
    """Generate, check, pack and test the project (blocking: run in a worker thread)."""
    files = generate(spec, wording)
    checks = {path: check_file(path, content) for path, content in files.items()}
    broken = [f"{p}: {c['error']}" for p, c in checks.items() if not c["ok"]]
    if broken:  # a generator bug, never the requirements' fault
        raise TaskFailed(f"generated files failed their checks: {'; '.join(broken)[:1500]}",
                         kind="invalid_output", retryable=False)  # fmt: skip
    archive = tar_gz(spec.slug, files)
    tests = _run_tests(files, limits, policy)
    return {
        "project": spec.slug, "name": spec.name, "app_type": spec.app_type,
        "framework": spec.framework, "features": list(spec.features),
        "entities": [{"name": e.name, "table": e.table, "fields": {f.name: f.type for f in
                      e.fields}} for e in spec.entities],
        "endpoints": endpoints(spec),
        "files": [{"path": p, "bytes": len(c.encode()), "sha256": hashlib.sha256(c.encode())
                   .hexdigest(), "check": checks[p]} for p, c in files.items()],
        "archive": {"format": "tar.gz", "root": spec.slug, "bytes": len(archive),
                    "sha256": sha256(archive), "base64": base64.b64encode(archive).decode()},
        "tests": tests,
    }  # fmt: skip


def _run_tests(
    files: dict[str, str], limits: dict[str, float], policy: SandboxPolicy
) -> dict[str, Any]:
    whole: dict[str, Any] = {n: int(v) for n, v in limits.items() if n != "timeout"}
    with sandbox_failures():
        run = run_pytest(files, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
                         timeout=limits["timeout"], policy=policy, **whole)  # fmt: skip
    report = report_of(run)
    if not report["ok"]:
        raise TaskFailed(_failure_message(report), kind="tests_failed", retryable=False)
    return report


def report_of(run: TestRun) -> dict[str, Any]:
    """The counts of a pytest run, whether it passed, and the output's tail when not."""
    counts = run.counts()
    ok = (run.run.exit_code == 0 and run.reason is None and not run.failed and not run.errors
          and bool(run.passed))  # fmt: skip
    output = (run.run.stdout + run.run.stderr)[-OUTPUT_TAIL:]
    return {**counts, "ok": ok, "exit_code": run.run.exit_code, "duration": run.run.duration,
            "isolation": run.run.isolation, "output_tail": None if ok else output}  # fmt: skip


def _failure_message(report: dict[str, Any]) -> str:
    counts = ", ".join(f"{report[k]} {k}" for k in ("passed", "failed", "errors", "total"))
    named = "; ".join(f"{f['name']}: {f['message']}" for f in report["failures"][:10])
    message = f"the generated project's own tests failed in the Sandbox ({counts})"
    message += f": {report['reason']}" if report["reason"] else ""
    message += f". Failures: {named}" if named else ""
    return f"{message}. Output tail: {report['output_tail']}"[:4000]
